"""Per-cpu timelines of a trace, drawn with matplotlib.

One horizontal lane per cpu (CPU0 on top), x = step number. In each lane:

* a **bar per lock hold**, from the step that took the lock to the step that
  released it (or on past the last step if it is still held), in the lock's
  colour *and* hatch from :mod:`labkit.render.style`, named on or beside the
  bar. A *read* hold of an rwsem is paler, with half the hatch density, and
  says ``(read)``;
* a **hollow dashed bar per wait**, from the step that blocked to the step
  that got the lock (or on past the end), saying ``waits for <lock>``;
  a ``wait_event`` sleep is hollow and dotted;
* **event markers** with a word (``kfree``, ``use after free``, ``WARN``,
  ``deadlock``) from ``EVENT_STYLE``; small ticks along the lane's foot show
  which steps that cpu took;
* after a deadlock, the **wait-for edges** as arrows from each waiter's wait
  bar to the bar of the lock it waits for, at the end;
* with ``upto``, a **cursor** line at that step.

Nested holds stack inside the lane (outermost on top); a wait and the hold it
turns into share a row, so a lock reads as one line from "wants" to "drops".
Nothing here calls ``show()``: each function takes ``ax=None`` and returns
what it drew on. ``theme="dark"`` picks light text for JupyterLab's dark
theme; the palette's mid-tones work on both.

>>> from labkit.cases import program
>>> from labkit.trace import replay
>>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
>>> [(i.cpu, i.kind, i.lock, i.start, i.end) for i in lock_intervals(t)]
[('CPU0', 'hold', 'A', 1, None), ('CPU1', 'hold', 'B', 2, None), ('CPU0', 'wait', 'B', 3, None), ('CPU1', 'wait', 'A', 4, None)]
"""

from __future__ import annotations

import textwrap
from typing import NamedTuple

from ..semantics import READ, deadlock_cycles
from .graphs import _text_on, _theme
from .style import THEMES
from .style import EVENT_STYLE, FINDING_COLOR, style_table

__all__ = ["Interval", "lock_intervals", "draw_timeline", "draw_before_after", "replay_prefix"]

# How far past the last step an unfinished bar runs, and the room kept for
# the wait-for arrows beyond it (in steps).
_END_PAD = 0.6
_ARROW_ROOM = 1.3
_BAR_FONT = 8
_EVENT_KINDS_FROM_EVENTS = {"free": "free"}


class Interval(NamedTuple):
    """A bar of the timeline: a lock hold, a wait for a lock, or a sleep.

    ``start``/``end`` are 1-based step numbers; ``end`` is ``None`` when the
    trace ends first. ``level`` is the row inside the cpu's lane (0 = top).
    """

    cpu: str
    kind: str            # "hold", "wait" or "sleep"
    lock: str | None     # None for a sleep
    mode: int            # WRITE (0) or READ (1)
    start: int
    end: int | None
    level: int
    label: str


def lock_intervals(trace) -> list[Interval]:
    """Every hold, wait and sleep of a trace, in the order they start.

    Parameters
    ----------
    trace : labkit.trace.Trace

    Returns
    -------
    list of Interval
        One per lock hold (``acquire`` or a successful trylock → its
        ``release``), per wait (``block`` → the ``acquire`` that ends it) and
        per sleep (``sleep`` → ``wake``).
    """
    prog = trace.program
    out: list[dict] = []
    open_: dict[str, list[dict]] = {c: [] for c in prog.cpu_names}   # per cpu: open intervals
    used: dict[str, set] = {c: set() for c in prog.cpu_names}        # per cpu: occupied rows

    def start(cpu, kind, lock, mode, k, level=None):
        if level is None:
            level = min(set(range(len(used[cpu]) + 1)) - used[cpu])
        used[cpu].add(level)
        iv = dict(cpu=cpu, kind=kind, lock=lock, mode=mode, start=k, end=None, level=level)
        out.append(iv)
        open_[cpu].append(iv)
        return iv

    def close(iv, k, free_row=True):
        iv["end"] = k
        open_[iv["cpu"]].remove(iv)
        if free_row:
            used[iv["cpu"]].discard(iv["level"])

    for s in trace.steps:
        k, cpu, ev, d = s.index + 1, s.cpu, s.event, s.detail
        if ev == "block":
            start(cpu, "wait", d["lock"], d["mode"], k)
        elif ev == "sleep":
            start(cpu, "sleep", None, 0, k).update(cond=d.get("cond", ""))
        elif ev == "wake":
            for iv in open_[cpu]:
                if iv["kind"] == "sleep":
                    close(iv, k)
                    break
        elif ev == "acquire" or (ev == "trylock" and d.get("ok")):
            level = None
            for iv in open_[cpu]:
                if iv["kind"] == "wait" and iv["lock"] == d["lock"]:
                    # The hold continues the wait on the same row.
                    level = iv["level"]
                    close(iv, k, free_row=False)
                    break
            start(cpu, "hold", d["lock"], d["mode"], k, level)
        elif ev == "release":
            for iv in reversed(open_[cpu]):
                if iv["kind"] == "hold" and iv["lock"] == d["lock"] and iv["mode"] == d["mode"]:
                    close(iv, k)
                    break
    res = []
    for iv in out:
        if iv["kind"] == "hold":
            label = iv["lock"] + (" (read)" if iv["mode"] == READ else "")
        elif iv["kind"] == "wait":
            label = "waits for " + iv["lock"] + (" (read)" if iv["mode"] == READ else "")
        else:
            label = "sleeps: " + iv.get("cond", "")
        res.append(Interval(iv["cpu"], iv["kind"], iv["lock"], iv["mode"], iv["start"], iv["end"],
                            iv["level"], label))
    return res


# ---------------------------------------------------------------------------
# Drawing helpers

def _mix(color: str, other: str, t: float) -> str:
    """``color`` moved a fraction ``t`` towards ``other`` (both ``#RRGGBB``)."""
    a = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02X}" for x, y in zip(a, b))


def _bar_look(style: dict, mode: int, th: dict) -> dict:
    """Fill, hatch and edge of a hold bar. Reads: paler (towards the page) and half the hatch."""
    color = style["color"]
    if mode == READ:
        face = _mix(color, th["bg"], 0.5)
        hatch = style["hatch"][0]
    else:
        face, hatch = color, style["hatch"]
    # Hatch lines a darker shade of the lock's own colour: visible on the bar in either theme.
    return {"facecolor": face, "hatch": hatch, "edgecolor": _mix(color, "#000000", 0.45),
            "hatchcolor": _mix(color, "#000000", 0.35)}


def _px_per_step(ax, xlim) -> float:
    fig = ax.figure
    w_px = ax.get_position().width * fig.get_figwidth() * fig.dpi
    return w_px / (xlim[1] - xlim[0])


def _text_px(text: str, size: float, dpi: float) -> float:
    # DejaVu Sans averages about 0.6 em per character.
    return len(text) * 0.6 * size * dpi / 72


def _cpu_label(c) -> str:
    return f"{c.name}\n{c.comm}/{c.pid}" if c.comm and c.comm != "task" else c.name


def _finding_events(trace):
    """(step, cpu, kind, label) for every marker: kfree events and findings."""
    out = []
    for s in trace.steps:
        k = s.index + 1
        if s.event in _EVENT_KINDS_FROM_EVENTS:
            kind = _EVENT_KINDS_FROM_EVENTS[s.event]
            out.append((k, s.cpu, kind, EVENT_STYLE[kind]["label"]))
        for f in s.findings:
            st = EVENT_STYLE.get(f.kind, {"label": f.kind})
            out.append((k, s.cpu, f.kind, st["label"]))
    return out


def draw_timeline(trace, ax=None, upto: int | None = None, title: str | None = None,
                  theme: str = "light", rows: int | None = None):
    """Draw a trace as per-cpu lanes of lock holds, waits and events.

    Parameters
    ----------
    trace : labkit.trace.Trace
    ax : matplotlib Axes, optional
        Drawn on a new figure (sized to the trace) when omitted.
    upto : int, optional
        The current step (the state after ``upto`` steps), shown as a
        vertical cursor; ``0`` is the start.
    title : str, optional
        Default: ``case/variant: title`` and what the trace found.
    theme : ``"light"`` or ``"dark"``
        Text, grid and background colours (dark: for JupyterLab's dark theme).
    rows : int, optional
        Bar rows per lane; default: as many as the trace's deepest nesting.
        Pass the same value to timelines that are compared side by side.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.patches`` holds exactly one Rectangle per bar, with ``gid``
        ``"hold:CPU0:A:3"`` / ``"wait:..."`` / ``"sleep:..."`` (kind, cpu,
        lock, start step).

    Examples
    --------
    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
    >>> ax = draw_timeline(t, upto=2)
    >>> len(ax.patches), [tl.get_text() for tl in ax.get_yticklabels()]
    (4, ['CPU1\\ntask_two/101', 'CPU0\\ntask_one/100'])
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.transforms import ScaledTranslation

    th = _theme(theme)
    prog = trace.program
    names = prog.cpu_names
    ncpu = len(names)
    n = len(trace.steps)
    styles = style_table([l.name for l in prog.locks])
    ivs = lock_intervals(trace)
    rows = max([iv.level + 1 for iv in ivs] + [rows or 1])

    created = ax is None
    if created:
        width = min(18.0, max(7.5, 3.2 + 0.5 * n))
        height = 1.1 + ncpu * (0.75 + 0.35 * rows) + 0.9
        _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    fig = ax.figure
    ax.set_facecolor(th["bg"])
    if created or theme == "dark":
        # A caller's light figure is theirs; a dark theme cannot be read on one.
        fig.set_facecolor(th["bg"])

    end = n + _END_PAD
    cycles = deadlock_cycles(prog, trace.final) if trace.steps else []
    xlim = (0.4, end + (_ARROW_ROOM if cycles else 0.4))
    lane_y = {name: ncpu - 1 - i for i, name in enumerate(names)}   # CPU0 on top
    row_h = 0.62 / rows

    def row_span(cpu, level):
        """(bottom, height) of a row inside a lane: rows below a strip kept for event markers."""
        top = lane_y[cpu] + 0.2 - level * row_h
        return top - row_h * 0.86, row_h * 0.86

    # Lanes: separators and the ticks of the steps each cpu took.
    for i in range(ncpu + 1):
        ax.axhline(i - 0.5, color=th["grid"], lw=0.8, zorder=0)
    for k in range(1, n + 1):
        ax.axvline(k, color=th["grid"], lw=0.5, zorder=0, alpha=0.7)
    for name in names:
        xs = [s.index + 1 for s in trace.steps if s.cpu == name]
        ax.plot(xs, [lane_y[name] - 0.46] * len(xs), ls="none", marker="|", ms=7, mew=1.2,
                color=th["muted"], zorder=1)

    px = _px_per_step(ax, xlim)
    bars = []
    bar_end: dict = {}
    for iv in ivs:
        x0 = iv.start
        x1 = iv.end if iv.end is not None else end
        y0, h = row_span(iv.cpu, iv.level)
        st = styles[iv.lock] if iv.lock else None
        gid = f"{iv.kind}:{iv.cpu}:{iv.lock or ''}:{iv.start}"
        if iv.kind == "hold":
            look = _bar_look(st, iv.mode, th)
            ax.add_patch(Rectangle((x0, y0), x1 - x0, h, lw=1.0, zorder=2, gid=gid, **look))
            text_color, box = _text_on(look["facecolor"]), look["facecolor"]
        else:
            edge = st["color"] if st else th["muted"]
            ax.add_patch(Rectangle((x0, y0), x1 - x0, h, facecolor="none", edgecolor=edge, lw=1.8,
                                   ls="--" if iv.kind == "wait" else ":", zorder=2, gid=gid))
            text_color, box = th["fg"], th["bg"]
        bar_end[(iv.cpu, iv.lock, iv.kind)] = (x1, y0 + h / 2)
        bars.append((iv, x0, x1, y0, h, text_color, box))

    # Names: inside the bar when they fit, on a patch of the bar's own fill so the
    # hatch does not run through the letters; otherwise beside it, where the row
    # is free — left of a bar that runs to the end, whose right is the arrows' room.
    occupied: dict = {}
    for iv, x0, x1, *_ in bars:
        occupied.setdefault((iv.cpu, iv.level), []).append((x0, x1))
    for iv, x0, x1, y0, h, text_color, box in bars:
        label = iv.label
        w = (_text_px(label, _BAR_FONT, fig.dpi) + 6) / px
        yc = y0 + h / 2
        if w <= x1 - x0:
            ax.text((x0 + x1) / 2, yc, label, ha="center", va="center", fontsize=_BAR_FONT,
                    color=text_color, zorder=4, clip_on=True,
                    bbox=dict(boxstyle="square,pad=0.15", facecolor=box, edgecolor="none"))
            continue
        row = occupied[(iv.cpu, iv.level)]
        gap = 0.1

        def free(a, b, row=row):
            return a >= xlim[0] and b <= xlim[1] and all(b <= u or a >= v for u, v in row)
        right = (x1 + gap, x1 + gap + w)
        left = (x0 - gap - w, x0 - gap)
        order = [left, right] if iv.end is None else [right, left]
        a, b = next((c for c in order if free(*c)), order[0])
        ax.text(a if (a, b) == right else b, yc, label, ha="left" if (a, b) == right else "right",
                va="center", fontsize=_BAR_FONT, color=th["fg"], zorder=4)
        row.append((a, b))

    # Events: marker and word in the strip at the top of the lane.
    kinds_seen = []
    for k, cpu, kind, word in _finding_events(trace):
        st = EVENT_STYLE.get(kind, {"marker": "*"})
        color = th["fg"] if kind == "free" else FINDING_COLOR
        y = lane_y[cpu] + 0.33
        ax.plot([k], [y], ls="none", marker=st["marker"], ms=9, mew=1.8, color=color, zorder=5)
        # At the last step the word goes left: the right is where the wait-for arrows run.
        last = k == n
        ax.text(k - 0.15 if last else k + 0.15, y, word, ha="right" if last else "left", va="center",
                fontsize=8.5, color=color, zorder=5, fontweight="bold" if kind != "free" else "normal")
        if kind not in kinds_seen:
            kinds_seen.append(kind)

    # The deadlock: arrows from each waiter's wait bar to the bar of the lock it waits for.
    for cyc in cycles:
        for w, h, l in cyc:
            lock = prog.locks[l].name
            a = bar_end.get((names[w], lock, "wait"))
            b = bar_end.get((names[h], lock, "hold")) or bar_end.get((names[h], lock, "wait"))
            if a is None or b is None:
                continue
            dy = b[1] - a[1]
            # arc3's bulge grows with the distance: damp it so long arrows stay near the bars.
            rad = (0.5 if dy >= 0 else -0.5) / max(1.0, abs(dy)) ** 0.6
            ax.annotate("", xy=(b[0] + 0.02, b[1]), xytext=(a[0] + 0.02, a[1]), zorder=6,
                        arrowprops=dict(arrowstyle="-|>", color=FINDING_COLOR, lw=2.0, ls="--",
                                        mutation_scale=14, shrinkA=0, shrinkB=1,
                                        connectionstyle=f"arc3,rad={rad}"))

    # Cursor.
    if upto is not None:
        xc = upto if upto > 0 else 0.5
        # Above the bars, below their names.
        ax.axvline(xc, color=th["fg"], lw=2.0, zorder=3, gid="cursor")
        ax.text(xc, ncpu - 0.5, f" step {upto}" if upto else " start", ha="left", va="bottom",
                fontsize=8.5, color=th["fg"], fontweight="bold", zorder=7)

    # Axes, title, legend.
    ax.set_xlim(*xlim)
    ax.set_ylim(-0.5, ncpu - 0.5 + (0.28 if upto is not None else 0))
    ax.set_xticks(range(1, n + 1))
    ax.set_yticks([lane_y[c.name] for c in prog.cpus][::-1], [_cpu_label(c) for c in prog.cpus][::-1])
    ax.set_xlabel("step", color=th["fg"])
    ax.tick_params(colors=th["fg"], labelcolor=th["fg"], length=0)
    for sp in ax.spines.values():
        sp.set_color(th["grid"])
    if title is None:
        title = f"{prog.case}/{prog.variant}: {prog.title}" if prog.title else f"{prog.case}/{prog.variant}"
        found = [f"{f.kind.replace('_', ' ')} at step {f.step}" for f in trace.findings]
        title += "\n" + ("; ".join(found) if found else f"{n} steps, nothing found")
    ax.set_title(_wrap(title, ax), color=th["fg"], fontsize=10.5, loc="left")

    handles = []
    holds = {(iv.lock, iv.mode) for iv in ivs if iv.kind == "hold"}
    for lk in prog.locks:
        for mode in (0, READ):
            if (lk.name, mode) in holds:
                handles.append(Patch(label=lk.name + (" (read)" if mode == READ else ""), lw=1.0,
                                     **_bar_look(styles[lk.name], mode, th)))
    if any(iv.kind == "wait" for iv in ivs):
        handles.append(Patch(facecolor="none", edgecolor=th["fg"], ls="--", lw=1.5, label="waiting for a lock"))
    if any(iv.kind == "sleep" for iv in ivs):
        handles.append(Patch(facecolor="none", edgecolor=th["muted"], ls=":", lw=1.5, label="sleeping"))
    for kind in kinds_seen:
        st = EVENT_STYLE.get(kind, {"marker": "*", "label": kind})
        handles.append(Line2D([], [], ls="none", marker=st["marker"], ms=8, mew=1.8,
                              color=th["fg"] if kind == "free" else FINDING_COLOR, label=st["label"]))
    if cycles:
        handles.append(Line2D([], [], color=FINDING_COLOR, lw=2.0, ls="--", label="waits for (deadlock cycle)"))
    if upto is not None:
        handles.append(Line2D([], [], color=th["fg"], lw=2.0, label="current step"))
    if handles:
        ncol = min(len(handles), 4)
        nrow = -(-len(handles) // ncol)
        # Legends fill column by column; reorder so they read left to right, row by row.
        grid = [handles[r * ncol + c] if r * ncol + c < len(handles) else None
                for c in range(ncol) for r in range(nrow)]
        handles = [h for h in grid if h is not None]
        # Below the "step" label, a fixed distance in inches whatever the axes' height.
        below = ax.transAxes + ScaledTranslation(0, -0.5, fig.dpi_scale_trans)
        leg = ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below,
                        ncol=ncol, frameon=False, fontsize=8.5, labelcolor=th["fg"],
                        handlelength=2.6, handleheight=1.2, columnspacing=1.6)
        leg.set_zorder(10)
    return ax


def _wrap(title: str, ax) -> str:
    """Wrap a title to the axes' width (about 0.55 em per character at 10.5 pt)."""
    fig = ax.figure
    width_px = ax.get_position().width * fig.get_figwidth() * fig.dpi
    chars = max(30, int(width_px / (10.5 * 0.6 * fig.dpi / 72)))
    return "\n".join(textwrap.fill(line, chars) for line in title.split("\n"))


# ---------------------------------------------------------------------------
# Before / after

def replay_prefix(prog, schedule: str):
    """Replay as much of ``schedule`` as ``prog`` allows.

    Returns ``(trace, stop)``: the trace of the longest prefix of the
    schedule's entries that replays, and ``None`` when all of it did, or else
    a sentence saying at which entry it stopped and why.

    >>> from labkit.cases import program
    >>> t, stop = replay_prefix(program("abba", "after"), "CPU0 CPU1 CPU1")
    >>> len(t.steps), stop
    (2, 'stops at step 3 of 3 (CPU1): CPU1 waits for A held by CPU0')
    """
    from ..errors import LabError
    from ..trace import replay
    from .text import cpu_status_text

    words = str(schedule).replace(",", " ").split()
    starred = any(w.endswith("*") for w in words)
    unit = "entry" if starred else "step"
    good = replay(prog, "")
    for i in range(len(words)):
        try:
            good = replay(prog, " ".join(words[:i + 1]))
        except LabError as e:
            cpu = words[i].rstrip("*")
            if cpu.upper() in {c.upper() for c in prog.cpu_names}:
                cid = [c.upper() for c in prog.cpu_names].index(cpu.upper())
                why = cpu_status_text(prog, good.final, cid).replace(" blocked:", "")
            else:
                why = str(e)
            return good, f"stops at {unit} {i + 1} of {len(words)} ({words[i]}): {why}"
    return good, None


def draw_before_after(case_id: str, schedule, variants=("before", "after"), upto: int | None = None,
                      theme: str = "light", notes: dict | None = None):
    """The same schedule on several variants of a case, one timeline above the other.

    Each variant replays the schedule as far as it goes; where it cannot go
    on (the fix changed the code, so that cpu is already finished, or waits),
    the axes' title says where and why.

    Parameters
    ----------
    case_id : str
    schedule : str or dict
        E.g. a finding's ``schedule`` on the ``before`` variant; or one
        schedule per variant id (when the variants run different threads).
    notes : dict, optional
        Per variant id, a sentence for its title in place of the default.
    variants : sequence of str
    upto : int, optional
        Cursor step, drawn on every timeline.
    theme : ``"light"`` or ``"dark"``

    Returns
    -------
    matplotlib.figure.Figure
        With one axes per variant, in order (``fig.axes[:len(variants)]``).
    """
    import matplotlib.pyplot as plt

    from ..cases import program

    runs = []
    for v in variants:
        prog = program(case_id, v)
        trace, stop = replay_prefix(prog, schedule[v] if isinstance(schedule, dict) else schedule)
        runs.append((prog, trace, stop))
    n = max(len(t.steps) for _, t, _ in runs)
    rows = max(1, max((iv.level + 1 for _, t, _ in runs for iv in lock_intervals(t)), default=1))
    ncpu = max(len(p.cpus) for p, _, _ in runs)
    width = min(18.0, max(8.0, 3.2 + 0.5 * n))
    per = 1.5 + ncpu * (0.75 + 0.35 * rows) + 0.9
    fig, axes = plt.subplots(len(variants), 1, figsize=(width, per * len(variants)), layout="constrained")
    axes = [axes] if len(variants) == 1 else list(axes)
    for ax, (prog, trace, stop) in zip(axes, runs):
        head = f"{prog.case}/{prog.variant}: {prog.title}" if prog.title else f"{prog.case}/{prog.variant}"
        found = list(dict.fromkeys(f"{f.kind.replace('_', ' ')} at step {f.step}" for f in trace.findings))
        if notes and notes.get(prog.variant):
            tail = notes[prog.variant]
        else:
            tail = f"the schedule {stop}" if stop else f"whole schedule ({len(trace.steps)} steps)"
            tail += "; " + ("; ".join(found) if found else "nothing found")
        draw_timeline(trace, ax=ax, upto=upto if upto is None else min(upto, len(trace.steps)),
                      title=head + "\n" + tail, theme=theme, rows=rows)
        if stop:
            th = _theme(theme)
            x = len(trace.steps) + _END_PAD
            ax.axvline(x, color=th["muted"], lw=1.5, ls=(0, (1, 2)), zorder=1, gid="stop")
            ax.text(x + 0.08, -0.45, "schedule\nstops here", ha="left", va="bottom", fontsize=8,
                    color=th["fg"], zorder=4)
    # One x scale for all, so step k is at the same place in every timeline.
    right = max(ax.get_xlim()[1] for ax in axes)
    for ax in axes:
        ax.set_xlim(ax.get_xlim()[0], right)
        ax.set_xticks(range(1, n + 1))
    if theme == "dark":
        fig.set_facecolor(THEMES["dark"]["bg"])
    return fig


def figure_png(fig, dpi: int = 110) -> bytes:
    """The figure as PNG bytes; the figure is closed (so a notebook shows it once)."""
    import io

    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor=fig.get_facecolor())
    plt.close(fig)
    return buf.getvalue()
