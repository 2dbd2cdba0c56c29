"""Per-cpu timelines of a trace: laid out once as a scene, painted as SVG or PNG.

:func:`timeline_scene` lays a trace out (pure Python, see
:mod:`labkit.render.scene`); :func:`labkit.render.svg.to_svg` paints it for
notebooks and :func:`draw_timeline` with matplotlib for PNG export. Layout:

* a **lane per cpu** (CPU0 on top), x = step number, labelled with the cpu,
  its task and the function it runs. In each lane:

  - a **bar per lock hold**, from the step that took the lock to the step
    that released it (or on past the last step), in the lock's colour *and*
    hatch from :mod:`labkit.render.style`, named on or beside the bar; a
    *read* hold of an rwsem is paler, with half the hatch density, and says
    ``(read)``; nested holds stack (outermost on top);
  - a **hollow dashed bar per wait** (a ``wait_event`` sleep: dotted), on the
    row of the hold it turns into;
  - **markers with a word** in the strip above the bars: findings
    (``deadlock``, ``WARN``, ``use after free`` ..., vermillion) and what
    carries a bug besides locks (:mod:`labkit.render.events`): ``get`` /
    ``put`` with the count after, the **last put** and the release it runs,
    ``kfree``, ``use``, reads and writes of the shared variables the model
    branches on — each a shape of its own (hollow: reads and counting;
    filled: what changes or ends something);
  - a **bracket** under the bars for the steps a release callback runs;
  - ticks along the foot for the steps that cpu took; a step whose line is
    only a comment is a hollow circle marked ``no-op``;

* a **lane per shared thing** the trace touches, under the cpus: a
  refcount's count, an object's life (a bar that ends at ``kfree``; a use
  after it marked), a branched-on variable's value, each change or read
  marked at its step and named with the cpu that did it;
* after a deadlock, the **wait-for arrows**: each from the waiter's wait bar
  to the bar of the cpu it waits for, drawn *at the step it began to wait*
  (so three cpus' arrows stand apart instead of piling up at the end);
* with ``upto``, a **cursor** at that step; a legend of what is used.

>>> from labkit.cases import program
>>> from labkit.trace import replay
>>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
>>> [(i.cpu, i.kind, i.lock, i.start, i.end) for i in lock_intervals(t)]
[('CPU0', 'hold', 'A', 1, None), ('CPU1', 'hold', 'B', 2, None), ('CPU0', 'wait', 'B', 3, None), ('CPU1', 'wait', 'A', 4, None)]
>>> s = timeline_scene(t)
>>> len(s.find("hold:")), len(s.find("wait:")), len(s.find("cycle:"))
(2, 2, 2)
"""

from __future__ import annotations

from typing import NamedTuple

from ..semantics import READ, deadlock_cycles
from .events import release_spans, show_value, state_lanes, trace_events
from .fonts import fit, text_width, wrap
from .scene import Curve, Line, Rect, Scene, Text, marker
from .style import EVENT_STYLE, FINDING_COLOR, STATE_STYLE, style_table, text_on
from .svg import mix

__all__ = ["Interval", "lock_intervals", "timeline_scene", "before_after_scene", "before_after_runs",
           "draw_timeline", "draw_before_after", "replay_prefix", "figure_png"]

# Geometry, in CSS px.
PAD = 14            # outer margin
FONT = 12           # bar labels, words
SMALL = 10.5        # secondary labels, step numbers
TITLE = 14.5
ROW = 21            # a bar row
BAR = 16            # a bar's height
LINE = 17           # a line of the marker strip
TICKS = 14          # the row of step ticks
RELEASE = 26        # the row of a release bracket
STATE_BAR = 18
TARGET_W = 1000     # wider timelines are shrunk by the page: keep most within a notebook's width
MIN_W = 660
LABEL_MIN, LABEL_MAX = 84, 176
OPEN_END = 0.6      # how far past the last step an unfinished bar runs, in steps
_AA_ROOM = 34       # room right of the bars for an AA deadlock's arrow


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
# Layout helpers

class _Strip:
    """Lines of labelled markers: each unit goes on the first line where it
    does not overlap another (nor a ``blocked`` x range, where an arrow
    runs), right of its marker if it fits, else left."""

    def __init__(self, lo: float, hi: float, blocked=()):
        self.lo, self.hi = lo, hi
        self.blocked = list(blocked)
        self.lines: list[list[tuple[float, float]]] = []

    def place(self, x: float, r: float, width: float, gap: float = 5.0) -> tuple[int, str]:
        unit = 2 * r + 4 + width
        sides = (("right", x - r, x - r + unit), ("left", x + r - unit, x + r))
        fits = [sd for sd in sides if sd[1] >= self.lo and sd[2] <= self.hi] or [sides[0]]
        for avoid in (self.blocked, ()):
            for i in range(len(self.lines) + 1):
                taken = (self.lines[i] if i < len(self.lines) else []) + list(avoid)
                for side, a, b in fits:
                    if all(b + gap <= u or a >= v + gap for u, v in taken):
                        if i == len(self.lines):
                            self.lines.append([])
                        self.lines[i].append((a, b))
                        return i, side
        self.lines.append([(fits[0][1], fits[0][2])])      # not reached: a new line is always free
        return len(self.lines) - 1, fits[0][0]


def _hatch_color(color: str) -> str:
    return mix(color, "#000000", 0.35)


def _cpu_label(c) -> list[tuple[str, float, str, str]]:
    """The lines of a cpu's label: (text, size, weight, colour)."""
    out = [(c.name, 12.5, "bold", "fg")]
    if c.comm and c.comm != "task":
        out.append((f"{c.comm}/{c.pid}", SMALL, "normal", "muted"))
    out.append((f"{c.entry}()", SMALL, "normal", "muted"))
    return out


def _short(name: str) -> str:
    """A variable's last member: ``zdev->s390_domain`` -> ``s390_domain`` (its lane has the full name)."""
    return name.replace("->", ".").split(".")[-1]


def _finding_word(kind: str) -> str:
    return EVENT_STYLE.get(kind, {}).get("label", kind.replace("_", " "))


def _title_lines(prog, trace, title):
    if title is None:
        head = f"{prog.case}/{prog.variant}: {prog.title}" if prog.title else f"{prog.case}/{prog.variant}"
        found = list(dict.fromkeys(f"{f.kind.replace('_', ' ')} at step {f.step_no}" for f in _findings(trace)))
        tail = "; ".join(found) if found else f"{len(trace.steps)} steps, nothing found"
        return head, tail
    head, _, tail = title.partition("\n")
    return head, tail


class _F(NamedTuple):
    kind: str
    cpu: str
    step_no: int
    message: str


def _findings(trace) -> list[_F]:
    return [_F(f.kind, s.cpu, s.index + 1, f.message) for s in trace.steps for f in s.findings]


# ---------------------------------------------------------------------------
# The layout

class _Layout:
    """Computes one timeline panel; ``scene()`` returns it, ``legend`` what it used."""

    def __init__(self, trace, upto=None, title=None, rows=None, steps=None, step_w=None, label_w=None,
                 stop=None, width=None):
        self.trace = trace
        self.prog = prog = trace.program
        self.names = prog.cpu_names
        self.upto = upto
        self.stop = stop
        self.m = len(trace.steps)
        self.n = max(self.m, steps or 0, 1)
        self.styles = style_table([l.name for l in prog.locks])
        self.ivs = lock_intervals(trace)
        # Bar rows per lane: as deep as that cpu's nesting (at least ``rows``).
        self.rows = {c: max([iv.level + 1 for iv in self.ivs if iv.cpu == c] + [rows or 1]) for c in self.names}
        self.events = trace_events(trace)
        self.lanes = state_lanes(trace, self.events)
        self.spans = release_spans(trace)
        self.findings = _findings(trace)
        self.cycles = deadlock_cycles(prog, trace.final) if trace.steps else []
        self.legend: dict[str, tuple] = {}

        # Label column.
        blocks = [_cpu_label(c) for c in prog.cpus]
        blocks += [[(STATE_STYLE[ln.kind]["label"], SMALL, "normal", "muted"), (ln.name, 11.5, "bold", "fg")]
                   for ln in self.lanes]
        natural = max(text_width(t, s, w == "bold") for b in blocks for t, s, w, _ in b) + 6
        self.label_w = label_w or max(LABEL_MIN, min(LABEL_MAX, natural))
        self.x0 = PAD + self.label_w + 12
        if step_w is None:
            target = max(MIN_W, min(TARGET_W, self.x0 + PAD + 70 * self.n))
            step_w = max(24.0, min(110.0, (target - self.x0 - PAD - 16) / (self.n + 0.2)))
        self.sw = step_w
        # Unfinished bars run a little past this trace's last step (in a
        # before/after, a shorter trace's bars stop short of the longest's).
        self.xend = self.P(max(self.m, 1)) + OPEN_END * self.sw
        aa = any(w == h for cyc in self.cycles for w, h, _ in cyc)
        self.width = max(width or 0, MIN_W, self.P(self.n) + OPEN_END * self.sw + 16 + PAD + (_AA_ROOM if aa else 0))
        self.title = _title_lines(prog, trace, title)

    def P(self, k: float) -> float:
        """The x of step ``k`` (step 0: just before the first)."""
        return self.x0 + (k - 0.5) * self.sw

    # -- pieces -------------------------------------------------------------

    def _label_block(self, lines, y_top, gid):
        items = []
        y = y_top
        for text, size, weight, color in lines:
            parts = wrap(text, self.label_w, size, weight == "bold")
            if len(parts) > 2:        # two lines at most; the rest is cut at a break point, with "…"
                parts = [parts[0], fit("".join(parts[1:]), self.label_w, size, weight == "bold") or parts[1] + "…"]
            for part in parts:
                y += size * 1.2
                items.append(Text(PAD, y, part, size=size, weight=weight, color=color, gid=gid))
                gid = ""
        return items, y - y_top + 6

    def _cpu_units(self, cpu):
        """(step, shape, filled, colour, word, bold, gid) for the markers in a cpu's strip."""
        units = []
        bad_use = {(f.cpu, f.step_no) for f in self.findings if f.kind == "use_after_free"}
        for f in self.findings:
            if f.cpu == cpu:
                st = EVENT_STYLE.get(f.kind, {"marker": "*"})
                units.append((f.step_no, st["marker"], True, FINDING_COLOR, _finding_word(f.kind), True,
                              f"finding:{f.kind}:{cpu}:{f.step_no}"))
                self.legend[f"f:{f.kind}"] = ("marker", st["marker"], True, FINDING_COLOR, _finding_word(f.kind))
        lane_vars = {ln.name for ln in self.lanes if ln.kind == "var"}
        for e in self.events:
            if e.cpu != cpu or e.kind == "noop":
                continue
            if e.kind == "use" and (cpu, e.step) in bad_use:
                continue
            if e.kind == "read" and e.subject not in lane_vars:
                continue
            st = EVENT_STYLE[e.kind]
            if e.kind == "last_put":
                word = f"last put: runs {e.release}()"
            elif e.kind == "free":
                word = f"kfree({e.subject})"
            elif e.kind == "alloc":
                word = f"alloc {e.subject}"
            elif e.kind == "write":
                word = f"{_short(e.subject)} = {show_value(e.value)}"
            elif e.kind == "read":
                word = f"reads {_short(e.subject)}"
            else:
                word = e.word
            if e.model_only:
                word += " (model only)"
            units.append((e.step, st["marker"], not st.get("hollow"), "fg", word, e.kind == "last_put",
                          f"event:{e.kind}:{cpu}:{e.step}"))
            self.legend[f"e:{e.kind}"] = ("marker", st["marker"], not st.get("hollow"), "fg", st["label"])
        units.sort(key=lambda u: u[0])
        return units

    def _state_units(self, lane):
        units = []
        for e in lane.events:
            st = EVENT_STYLE[e.kind]
            if e.kind == "read":
                word = f"{e.cpu} reads {show_value(e.value)}"
            elif e.kind == "write":
                word = f"{e.cpu} writes {show_value(e.value)}"
            elif e.kind == "free":
                word = f"{e.cpu} kfree"
            elif e.kind == "use":
                word = f"{e.cpu} " + ("use after free" if e.bad else "use")
            else:
                word = f"{e.cpu} {e.word}"
            bad = e.bad
            color = FINDING_COLOR if bad else "fg"
            shape = "*" if (bad and e.kind == "use") else st["marker"]
            units.append((e.step, shape, bad or not st.get("hollow"), color, word, e.kind == "last_put" or bad,
                          f"state:{e.kind}:{e.subject}:{e.step}"))
            if bad and e.kind == "use":
                self.legend["f:use_after_free"] = ("marker", "*", True, FINDING_COLOR, _finding_word("use_after_free"))
            else:
                self.legend[f"e:{e.kind}"] = ("marker", st["marker"], not st.get("hollow"), "fg", st["label"])
        return units

    def _place(self, units, avoid_arrows: bool = False):
        blocked = [(x - 2, x + 2) for x in self.arrow_xs] if avoid_arrows else ()
        strip = _Strip(self.x0 - 0.5 * self.sw, self.width - PAD, blocked)
        placed = []
        for u in units:
            step, shape, filled, color, word, bold, gid = u
            w = text_width(word, FONT, bold)
            line, side = strip.place(self.P(step), 6, w)
            placed.append((u, line, side))
        return placed, len(strip.lines)

    def _draw_units(self, placed, y_top):
        items = []
        for (step, shape, filled, color, word, bold, gid), line, side in placed:
            x = self.P(step)
            yc = y_top + line * LINE + LINE / 2
            items += marker(shape, x, yc, 5.5, fill=color if filled else None, stroke=None if filled else color,
                            width=1.4, gid=gid)
            tx = x + 10 if side == "right" else x - 10
            items.append(Text(tx, yc + 4, word, size=FONT, anchor="start" if side == "right" else "end",
                              weight="bold" if bold else "normal", color=color, gid="word:" + gid))
        return items

    def _bar_items(self, cpu, y_bars):
        """The cpu's bars and their names; records each bar's box for the arrows."""
        items = []
        boxes = []
        for iv in self.ivs:
            if iv.cpu != cpu:
                continue
            x0 = self.P(iv.start)
            x1 = self.P(iv.end) if iv.end is not None else self.xend
            y = y_bars + iv.level * ROW + (ROW - BAR) / 2
            gid = f"{iv.kind}:{iv.cpu}:{iv.lock or ''}:{iv.start}"
            st = self.styles[iv.lock] if iv.lock else None
            if iv.kind == "hold":
                color = st["color"]
                read = iv.mode == READ
                items.append(Rect(x0, y, x1 - x0, BAR, fill=f"pale:{color}" if read else color,
                                  stroke=mix(color, "#000000", 0.45), width=1.0, hatch=st["pattern"],
                                  hatch_color=_hatch_color(color), hatch_dense=not read, gid=gid))
                text_color, box = ("fg", None) if read else (text_on(color), color)
                self.legend[f"l:{iv.lock}:{iv.mode}"] = ("hold", color, st["pattern"], read, iv.label)
            else:
                edge = st["color"] if st else "muted"
                items.append(Rect(x0, y, x1 - x0, BAR, fill=None, stroke=edge, width=1.8,
                                  dash="dash" if iv.kind == "wait" else "dot", gid=gid))
                text_color, box = "fg", None
                self.legend[f"w:{iv.kind}"] = ("wait", iv.kind)
            boxes.append((iv, x0, x1, y, text_color, box))
            self.bar_box[(iv.cpu, iv.kind, iv.lock, iv.start)] = (x0, x1, y, y + BAR)
        occupied: dict[int, list] = {}
        for iv, x0, x1, *_ in boxes:
            occupied.setdefault(iv.level, []).append((x0, x1))
        for iv, x0, x1, y, text_color, box in boxes:
            w = text_width(iv.label, FONT)
            yb = y + BAR / 2 + 4.2
            gid = f"label:{iv.kind}:{iv.cpu}:{iv.lock or ''}:{iv.start}"
            if w + 10 <= x1 - x0:
                # Centred, unless a wait-for arrow crosses there: then where none does.
                cands = [(x0 + x1) / 2 + f * (x1 - x0 - w - 10) / 2 for f in (0, 1, -1, 0.5, -0.5)]
                xc = next((c for c in cands if all(abs(ax - c) > w / 2 + 6 for ax in self.arrow_xs)), cands[0])
                items.append(Text(xc, yb, iv.label, size=FONT, anchor="middle", color=text_color,
                                  box=box, gid=gid))
                continue
            row = occupied[iv.level]
            right = (x1 + 4, x1 + 4 + w)
            left = (x0 - 4 - w, x0 - 4)

            def free(a, b, row=row):
                return a >= self.x0 - 0.5 * self.sw and b <= self.width - PAD and \
                    all(b <= u or a >= v for u, v in row)
            if free(*right):
                items.append(Text(right[0], yb, iv.label, size=FONT, gid=gid))
                row.append(right)
            elif free(*left):
                items.append(Text(left[1], yb, iv.label, size=FONT, anchor="end", gid=gid))
                row.append(left)
            else:
                short = fit(iv.label, x1 - x0 - 8, FONT)
                if short:
                    items.append(Text((x0 + x1) / 2, yb, short, size=FONT, anchor="middle", color=text_color,
                                      box=box, gid=gid))
        return items

    def _segments(self, lane, y):
        items = []
        st = STATE_STYLE[lane.kind]
        color = st["color"]
        for start, end, value in lane.segments:
            x0 = self.P(start) if start else self.P(0) + 0.3 * self.sw
            x1 = self.P(end) if end is not None else self.xend
            x0 += 1.5
            x1 -= 1.5
            gid = f"segment:{lane.kind}:{lane.name}:{start}"
            if lane.kind == "ref":
                word = str(value)
                if value == 0:
                    items.append(Rect(x0, y, x1 - x0, STATE_BAR, stroke="muted", width=1.2, dash="dash", gid=gid))
                else:
                    items.append(Rect(x0, y, x1 - x0, STATE_BAR, fill=f"pale:{color}", stroke=color, width=1.2,
                                      gid=gid))
                self.legend["s:ref"] = ("state", "ref", "refcount: the count")
            elif lane.kind == "object":
                word = {"alive": "alive", "freed": "freed", "unallocated": "not allocated"}[value]
                if value == "alive":
                    items.append(Rect(x0, y, x1 - x0, STATE_BAR, fill=color, stroke=mix(color, "#000000", 0.4),
                                      hatch=st["pattern"], hatch_color=_hatch_color(color), gid=gid))
                    self.legend["s:alive"] = ("state", "object", "object alive (kfree ends it)")
                elif value == "freed":
                    items.append(Rect(x0, y, x1 - x0, STATE_BAR, stroke=FINDING_COLOR, width=1.4, dash="dash",
                                      gid=gid))
                    self.legend["s:freed"] = ("freed",)
                else:
                    items.append(Rect(x0, y, x1 - x0, STATE_BAR, stroke="grid", width=1, dash="dot", gid=gid))
            else:
                word = show_value(value)
                items.append(Rect(x0, y, x1 - x0, STATE_BAR, fill=f"pale:{color}", stroke=color, width=1.2,
                                  rx=4, gid=gid))
                self.legend["s:var"] = ("state", "var", "a shared variable's value")
            if value == "unallocated":
                short = next((w for w in ("not allocated", "none") if text_width(w, FONT) <= x1 - x0 - 6), "")
            else:
                short = fit(word, x1 - x0 - 6, FONT)
            if short:
                on = text_on(color) if (lane.kind == "object" and value == "alive") else "fg"
                items.append(Text((x0 + x1) / 2, y + STATE_BAR / 2 + 4.2, short, size=FONT, anchor="middle",
                                  color=on, box=color if on != "fg" else None, gid="value:" + gid))
        return items

    # -- the whole panel ------------------------------------------------------

    def _arrow_plan(self):
        """``(waiter interval, holder interval, x)`` per wait-for edge of a deadlock cycle:
        each at the step its wait began (apart from the others), an AA one right of the bars."""
        plan = []
        seen_x: dict = {}
        names = self.names
        for cyc in self.cycles:
            for w, h, l in cyc:
                lock = self.prog.locks[l].name
                wn, hn = names[w], names[h]
                wait = next((iv for iv in reversed(self.ivs) if iv.cpu == wn and iv.kind == "wait"
                             and iv.lock == lock and iv.end is None), None)
                hold = next((iv for iv in reversed(self.ivs) if iv.cpu == hn and iv.lock == lock and iv.end is None
                             and iv is not wait), None)
                if wait is None or hold is None:
                    continue
                if wn == hn:
                    plan.append((wait, hold, None))
                    continue
                x = max(self.P(wait.start), self.P(hold.start)) + min(14.0, 0.3 * self.sw)
                n_here = seen_x.get(round(x), 0)
                seen_x[round(x)] = n_here + 1
                plan.append((wait, hold, x + 7 * n_here))
        return plan

    def scene(self, legend: bool = True) -> Scene:
        W = self.width
        items: list = []
        self.bar_box: dict = {}
        self.arrows = self._arrow_plan()
        self.arrow_xs = [x for _, _, x in self.arrows if x is not None]
        y = PAD
        head, tail = self.title
        for i, part in enumerate(wrap(head, W - 2 * PAD, TITLE, True)):
            y += TITLE * 1.25
            items.append(Text(PAD, y, part, size=TITLE, weight="bold", gid="title" if i == 0 else "title+"))
        for part in wrap(tail, W - 2 * PAD, FONT + 0.5) if tail else []:
            y += (FONT + 0.5) * 1.3
            items.append(Text(PAD, y, part, size=FONT + 0.5, gid="subtitle"))
        y += 10
        if self.upto is not None:
            y += 16
        lanes_top = y
        lane_rows = []

        # CPU lanes.
        spans_by_cpu: dict = {}
        for sp in self.spans:
            spans_by_cpu.setdefault(sp.cpu, []).append(sp)
        noops = [e for e in self.events if e.kind == "noop"]
        for c in self.prog.cpus:
            placed, nlines = self._place(self._cpu_units(c.name), avoid_arrows=True)
            label, label_h = self._label_block(_cpu_label(c), y, f"lane:{c.name}")
            strip_h = nlines * LINE if nlines else 6
            rel_h = RELEASE * len(spans_by_cpu.get(c.name, ()))
            h = max(4 + strip_h + self.rows[c.name] * ROW + rel_h + TICKS + 4, label_h)
            lane_rows.append((y, h))
            items += label
            items += self._draw_units(placed, y + 4)
            y_bars = y + 4 + strip_h
            items += self._bar_items(c.name, y_bars)
            yr = y_bars + self.rows[c.name] * ROW
            for sp in spans_by_cpu.get(c.name, ()):
                x0 = self.P(sp.start)
                x1 = self.P(sp.end) if sp.end is not None else self.xend
                gid = f"release:{c.name}:{sp.function}:{sp.start}"
                ly = yr + 19
                items += [Line(x0, ly, x1, ly, stroke="fg", width=1.6, gid=gid),
                          Line(x0, ly - 5, x0, ly + 1, stroke="fg", width=1.6)]
                if sp.end is not None:
                    items.append(Line(x1, ly - 5, x1, ly + 1, stroke="fg", width=1.6))
                room = W - PAD - x0 - 4
                phrases = [f"{sp.function}(): the release, run by the last put", f"{sp.function}(): the release",
                           f"{sp.function}()"]
                words = next((p for p in phrases if text_width(p, SMALL) <= room), None) or fit(phrases[-1], room, SMALL)
                items.append(Text(x0 + 4, ly - 5, words, size=SMALL, color="fg", gid="word:" + gid))
                self.legend["release"] = ("release",)
                yr += RELEASE
            # Ticks: the steps this cpu took; a comment-only step is a hollow circle, "no-op".
            ty = yr + TICKS / 2
            mine = {s.index + 1 for s in self.trace.steps if s.cpu == c.name}
            nop_steps = {e.step for e in noops if e.cpu == c.name}
            for k in sorted(mine):
                if k in nop_steps:
                    items += marker("o", self.P(k), ty, 4.2, fill=None, stroke="muted", width=1.3,
                                    gid=f"noop:{c.name}:{k}")
                    items.append(Text(self.P(k) + 6, ty + 3.5, "no-op", size=SMALL - 0.5, color="muted",
                                      italic=True))
                    self.legend["e:noop"] = ("marker", "o", False, "muted", EVENT_STYLE["noop"]["label"])
                else:
                    items.append(Line(self.P(k), ty - 5, self.P(k), ty + 5, stroke="muted", width=1.4,
                                      gid=f"tick:{c.name}:{k}"))
            y += h

        # Shared state lanes.
        for ln in self.lanes:
            placed, nlines = self._place(self._state_units(ln))
            label, label_h = self._label_block(
                [(STATE_STYLE[ln.kind]["label"], SMALL, "normal", "muted"), (ln.name, 11.5, "bold", "fg")],
                y, f"lane:{ln.kind}:{ln.name}")
            strip_h = nlines * LINE
            h = max(4 + strip_h + STATE_BAR + 8, label_h)
            lane_rows.append((y, h))
            items += label
            items += self._draw_units(placed, y + 4)
            items += self._segments(ln, y + 4 + strip_h)
            y += h
        lanes_bottom = y

        # Lane separators and the step grid, under everything drawn so far.
        under = []
        for k in range(1, self.n + 1):
            under.append(Line(self.P(k), lanes_top, self.P(k), lanes_bottom, stroke="grid", width=0.8,
                              opacity=0.8))
        for i, (ly, lh) in enumerate(lane_rows):
            strong = i == len(self.prog.cpus)
            under.append(Line(PAD - 4, ly, W - PAD + 4, ly, stroke="muted" if strong else "grid",
                              width=1.4 if strong else 1.0))
        under.append(Line(PAD - 4, lanes_bottom, W - PAD + 4, lanes_bottom, stroke="grid", width=1.0))
        items = under + items

        # The wait-for arrows, at the step each wait began.
        items += self._arrows()

        # Cursor and the end of a schedule that stopped.
        cursor = []
        if self.upto is not None:
            xc = self.P(self.upto) if self.upto > 0 else self.P(0) + 0.2 * self.sw
            cursor.append(Line(xc, lanes_top - 4, xc, lanes_bottom, stroke="fg", width=2.2, gid="cursor"))
            items.append(Text(xc + 4, lanes_top - 6, f"step {self.upto}" if self.upto else "start", size=FONT,
                              weight="bold", gid="cursor-label"))
            self.legend["cursor"] = ("cursor",)
        # Step numbers.
        y = lanes_bottom + 4
        every = 1 if self.sw >= 22 else 2
        for k in range(1, self.n + 1):
            if k % every == 0 or k == 1:
                items.append(Text(self.P(k), y + SMALL + 1, str(k), size=SMALL, anchor="middle", color="muted",
                                  gid=f"stepno:{k}"))
        items.append(Text(self.x0 - 16, y + SMALL + 1, "step", size=SMALL, anchor="end", color="muted"))
        y += SMALL + 10
        if self.stop:
            # Where the schedule stopped: a dotted line through the lanes, its words under the step numbers.
            xs = self.P(self.m) + 0.5 * self.sw
            items.append(Line(xs, lanes_top, xs, y + 2, stroke="muted", width=1.6, dash="dot", gid="stop"))
            words = f"the schedule stops here (after step {self.m})"
            wl = text_width(words, SMALL, True)
            right = xs + 4 + wl <= W - PAD
            items.append(Text(xs + 4 if right else xs - 4, y + SMALL, words, size=SMALL, weight="bold",
                              anchor="start" if right else "end", gid="stop-label"))
            y += SMALL + 6

        # Painting order: grid, shapes, the cursor, then every word (above the cursor and the arrows).
        items = [i for i in items if not isinstance(i, Text)] + cursor + [i for i in items if isinstance(i, Text)]
        sc = Scene(W, y, f"{head}. {tail}".strip(". "), "", items)
        sc.meta.update(x0=self.x0, step_w=self.sw, steps=self.n, lanes=(lanes_top, lanes_bottom),
                       legend=dict(self.legend), label_w=self.label_w)
        if legend:
            _add_legend(sc, self.legend)
        return sc

    def _arrows(self):
        items = []
        for wait, hold, x in self.arrows:
            a = self.bar_box[(wait.cpu, wait.kind, wait.lock, wait.start)]
            b = self.bar_box[(hold.cpu, hold.kind, hold.lock, hold.start)]
            gid = f"cycle:{wait.cpu}->{hold.cpu}:{wait.lock}"
            if x is None:
                # AA: every row between is held too, so go round them on the
                # right: from the end of the wait to the end of its own hold.
                p0, p2 = (a[1] + 2, (a[2] + a[3]) / 2), (b[1] + 2, (b[2] + b[3]) / 2)
                ctrl = (self.xend + _AA_ROOM, (p0[1] + p2[1]) / 2)
            else:
                p0, p2 = ((x, a[3]), (x, b[2])) if a[2] < b[2] else ((x, a[2]), (x, b[3]))
                ctrl = (x + min(16.0, 0.25 * self.sw), (p0[1] + p2[1]) / 2)
            items.append(Curve(p0, ctrl, p2, stroke=FINDING_COLOR, width=2.2, dash="dash", head_size=10, gid=gid))
            self.legend["cycle"] = ("cycle",)
        return items


def _add_legend(sc: Scene, legend: dict) -> None:
    """A legend under the picture: only what it uses, left to right, wrapping."""
    if not legend:
        return
    W = sc.width
    x, y = PAD, sc.height + 2
    line_h = 20
    items = []

    def entry(kind_items, label, gid):
        nonlocal x, y
        w = 30 + 6 + text_width(label, SMALL + 0.5)
        if x + w > W - PAD and x > PAD:
            x, y = PAD, y + line_h
        yc = y + line_h / 2
        items.extend(kind_items(x, yc))
        items.append(Text(x + 36, yc + 4, label, size=SMALL + 0.5, gid=gid))
        x += w + 18

    order = sorted(legend.items(), key=lambda kv: "lwsfe".find(kv[0][0]) if kv[0][0] in "lwsfe" else 9)
    for key, spec in order:
        kind = spec[0]
        gid = f"legend:{key}"
        if kind == "hold":
            _, color, pattern, read, label = spec
            entry(lambda x, yc, c=color, p=pattern, r=read: [
                Rect(x, yc - 6, 30, 12, fill=f"pale:{c}" if r else c, stroke=mix(c, "#000000", 0.45), hatch=p,
                     hatch_color=_hatch_color(c), hatch_dense=not r)], label, gid)
        elif kind == "wait":
            sleep = spec[1] == "sleep"
            entry(lambda x, yc, s=sleep: [Rect(x, yc - 6, 30, 12, stroke="fg", width=1.6, dash="dot" if s else "dash")],
                  "sleeping (wait_event)" if sleep else "waiting for a lock", gid)
        elif kind == "marker":
            _, shape, filled, color, label = spec
            entry(lambda x, yc, s=shape, f=filled, c=color: marker(s, x + 15, yc, 5.5, fill=c if f else None,
                                                                   stroke=None if f else c, width=1.4),
                  label, gid)
        elif kind == "state":
            st = STATE_STYLE[spec[1]]
            c = st["color"]
            if spec[1] == "object":
                entry(lambda x, yc, c=c, p=st["pattern"]: [Rect(x, yc - 6, 30, 12, fill=c, stroke=mix(c, "#000000", .4),
                                                                 hatch=p, hatch_color=_hatch_color(c))], spec[2], gid)
            else:
                entry(lambda x, yc, c=c: [Rect(x, yc - 6, 30, 12, fill=f"pale:{c}", stroke=c, width=1.2)], spec[2], gid)
        elif kind == "freed":
            entry(lambda x, yc: [Rect(x, yc - 6, 30, 12, stroke=FINDING_COLOR, width=1.4, dash="dash")],
                  "freed (a use here is the bug)", gid)
        elif kind == "release":
            entry(lambda x, yc: [Line(x, yc + 3, x + 30, yc + 3, width=1.6), Line(x, yc - 3, x, yc + 3, width=1.6),
                                 Line(x + 30, yc - 3, x + 30, yc + 3, width=1.6)],
                  "a release callback runs", gid)
        elif kind == "cycle":
            entry(lambda x, yc: [Curve((x, yc), (x + 15, yc), (x + 30, yc), stroke=FINDING_COLOR, width=2.2,
                                       dash="dash", head_size=9)], "waits for (deadlock cycle)", gid)
        elif kind == "cursor":
            entry(lambda x, yc: [Line(x + 15, yc - 8, x + 15, yc + 8, stroke="fg", width=2.2)], "current step", gid)
    sc.items += items
    sc.height = y + line_h + PAD - 4


# ---------------------------------------------------------------------------
# Public layout functions

def timeline_scene(trace, upto: int | None = None, title: str | None = None, rows: int | None = None,
                   legend: bool = True):
    """The timeline of a trace as a :class:`~labkit.render.scene.Scene`.

    Parameters
    ----------
    trace : labkit.trace.Trace
    upto : int, optional
        The current step (the state after ``upto`` steps), drawn as a cursor.
    title : str, optional
        Two lines (``head\\ntail``); default: ``case/variant: title`` and the
        findings, each named once (``nothing found`` when there are none).
    rows : int, optional
        Bar rows per lane, at least (each lane is otherwise as deep as its
        cpu's nesting of locks).
    legend : bool
        Add a legend of what the picture uses.
    """
    from .text import timeline_text
    sc = _Layout(trace, upto=upto, title=title, rows=rows).scene(legend=legend)
    sc.desc = timeline_text(trace, upto=upto)
    return sc


def before_after_scene(runs, notes=None, upto: int | None = None) -> Scene:
    """Several timelines one above the other, on one x scale, with one legend.

    ``runs`` is a list of ``(trace, stop)`` (``stop``: where the schedule
    stopped, or ``None``); ``notes`` per variant id, the sentence that
    replaces a panel's default second title line; ``upto`` a cursor step.
    """
    from .text import timeline_text
    n = max([len(t.steps) for t, _ in runs] + [1])
    rows = 1
    probe = [_Layout(t, steps=n, rows=rows) for t, _ in runs]
    label_w = max(p.label_w for p in probe)
    step_w = min(p.sw for p in probe)
    width = max(_Layout(t, steps=n, rows=rows, step_w=step_w, label_w=label_w).width for t, _ in runs)
    panels = []
    legend: dict = {}
    for (trace, stop) in runs:
        prog = trace.program
        head = f"{prog.case}/{prog.variant}: {prog.title}" if prog.title else f"{prog.case}/{prog.variant}"
        found = list(dict.fromkeys(f"{f.kind.replace('_', ' ')} at step {f.step_no}" for f in _findings(trace)))
        if notes and notes.get(prog.variant):
            tail = notes[prog.variant]
        else:
            tail = f"the schedule {stop}" if stop else f"whole schedule ({len(trace.steps)} steps)"
            tail += "; " + ("; ".join(found) if found else "nothing found")
        lay = _Layout(trace, title=head + "\n" + tail, rows=rows, steps=n, step_w=step_w, label_w=label_w,
                      stop=stop, width=width, upto=None if upto is None else min(upto, len(trace.steps)))
        panels.append(lay.scene(legend=False))
        legend.update(lay.legend)
    sc = Scene(width, 0, " / ".join(p.title for p in panels), "", [])
    y = 0.0
    for i, p in enumerate(panels):
        if i:
            sc.add(Line(PAD, y + 2, width - PAD, y + 2, stroke="muted", width=1.2, gid="panel-rule"))
            y += 6
        sc.place(p, 0, y)
        y += p.height
    sc.height = y
    sc.meta.update(panels=[(p.meta, p.title) for p in panels], step_w=step_w, steps=n)
    _add_legend(sc, legend)
    sc.desc = "\n\n".join(timeline_text(t) for t, _ in runs)
    return sc


# ---------------------------------------------------------------------------
# Before / after: replaying one schedule on another variant

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
    from ..trace import replay
    from .text import cpu_status_text

    t = replay(prog, str(schedule), partial=True)     # one pass; t.stop: where it stopped
    return t, t.stop and t.stop.sentence(None if t.stop.cpu is None else
                                         cpu_status_text(prog, t.final, t.stop.cpu).replace(" blocked:", ""))


def before_after_runs(case_id: str, schedule, variants=("before", "after")):
    """``[(trace, stop), ...]``: each variant replaying its schedule as far as it goes."""
    from ..cases import program
    runs = []
    for v in variants:
        prog = program(case_id, v)
        runs.append(replay_prefix(prog, schedule[v] if isinstance(schedule, dict) else schedule))
    return runs


# ---------------------------------------------------------------------------
# The matplotlib painter of the same scenes (PNG export on the desktop)

def draw_timeline(trace, ax=None, upto: int | None = None, title: str | None = None,
                  theme: str = "light", rows: int | None = None):
    """Paint :func:`timeline_scene` with matplotlib; returns the axes.

    Nothing calls ``show()``. ``ax.patches`` holds one ``Rectangle`` per
    bar with ``gid`` ``"hold:CPU0:A:3"`` / ``"wait:..."`` / ``"sleep:..."``
    (kind, cpu, lock, start step), as the scene's items; the axes' data
    coordinates are the scene's pixels (y down).

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
    >>> ax = draw_timeline(t, upto=2)
    >>> sorted(p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith(("hold:", "wait:")))
    ['hold:CPU0:A:1', 'hold:CPU1:B:2', 'wait:CPU0:B:3', 'wait:CPU1:A:4']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    from .mpl import to_axes
    return to_axes(timeline_scene(trace, upto=upto, title=title, rows=rows), ax=ax, theme=theme)


def draw_before_after(case_id: str, schedule, variants=("before", "after"), upto: int | None = None,
                      theme: str = "light", notes: dict | None = None):
    """Paint :func:`before_after_scene` with matplotlib; returns the figure.

    ``schedule`` is one schedule for every variant, or one per variant id
    (a dict); each variant replays it as far as it goes and its title says
    where and why it stopped (or, from ``notes``, why it runs its own).
    """
    from .mpl import to_axes
    sc = before_after_scene(before_after_runs(case_id, schedule, variants), notes=notes, upto=upto)
    return to_axes(sc, theme=theme).figure


def figure_png(fig, dpi: int = 150) -> bytes:
    """The figure as PNG bytes; the figure is closed (so a notebook shows it once)."""
    from .mpl import figure_png as _png
    return _png(fig, dpi=dpi)
