"""The notebook API: one call per cell, named by case id.

Every function takes a case id (and a variant), and returns something a
notebook shows well *and* a terminal can print: a :class:`View` carries its
picture (SVG drawn in pure Python, so it works without matplotlib, numpy or
graphviz, as in JupyterLite; ``.png`` on request) together with a plain-text
rendering of the same thing (for screen readers, diffs and offline copies;
it is also the SVG's ``<desc>``). ``schedule=None`` means "the
explorer's shortest way to the bug", so ``lab.timeline("mm_iommu")`` shows
the deadlock without the learner first copying a schedule.

    from labkit import lab
    lab.story("mm_iommu")                 # what happened, the fix, the links
    lab.explore("mm_iommu", "before")     # every interleaving: what can go wrong
    lab.timeline("mm_iommu", "before")    # the shortest way into it, per cpu
    lab.before_after("mm_iommu")          # the same schedule on the fixed code
    lab.lockdep("mm_iommu", "before")     # what lockdep prints, from a serial run
    lab.stepper("mm_iommu")               # be the scheduler yourself

>>> bug("abba", "before")
'CPU0 CPU1 CPU0 CPU1'
>>> print(explore("abba", "after"))
abba/after: 20 states, 20 transitions; every interleaving explored
no findings: no deadlock, use after free, double free, refcount bug or WARN in any interleaving
"""

from __future__ import annotations

import html

from .cases import all_cases, get_case, program
from .errors import LabError

__all__ = ["View", "cases", "story", "code", "explore", "bug", "replay", "timeline", "before_after",
           "lockdep", "lock_order", "wait_for", "compare", "stepper", "set_theme",
           "before_after_plan", "check", "solution", "check_schedule", "check_verdict", "check_fix", "check_chain",
           "fix_template", "rarity", "from_splat"]

_THEME = {"name": "auto"}


def _one_line_errors() -> None:
    """In IPython, show a :class:`LabError` as one line naming what is wrong,
    not a traceback from deep inside labkit (other errors keep theirs)."""
    import sys
    if "IPython" not in sys.modules:
        return
    ip = sys.modules["IPython"].get_ipython()
    if ip is None:
        return

    def show(shell, etype, value, tb, tb_offset=None):
        print(f"{etype.__name__}: {value}", file=sys.stderr)

    ip.set_custom_exc((LabError,), show)


_one_line_errors()


def set_theme(name: str) -> None:
    """The colours pictures are drawn in: ``"auto"`` (the default) or a fixed ``"light"`` / ``"dark"``.

    ``"auto"`` pictures take the colour of the text around them, so they
    follow JupyterLab's light or dark theme (and VS Code's) with nothing to
    set; ``"dark"`` paints its own dark background, for a page that shows
    pictures as images (and for PNG export).
    """
    if name not in ("auto", "light", "dark"):
        raise LabError(f"theme must be 'light' or 'dark' (or 'auto': follow the page), not {name!r}")
    _THEME["name"] = name


class View:
    """A picture and its text rendering: Jupyter shows the picture, ``print`` the text.

    A picture of the lab's own (a timeline, a before/after, a graph) is SVG
    drawn in pure Python: Jupyter gets it inline (``text/html``, so it takes
    the page's colours; JupyterLab would put ``image/svg+xml`` in an
    ``<img>``, out of reach of the theme), ``.svg`` is the same picture as a
    standalone file, and ``.png`` a matplotlib rendering of it, made on first
    use (PNG export on the desktop; a notebook never needs matplotlib).
    """

    def __init__(self, text: str, png: bytes | None = None, svg: str | None = None, markdown: str | None = None,
                 html: str | None = None, scene=None):
        self.text, self._png, self.svg, self.markdown, self.html = text, png, svg, markdown, html
        self.scene = scene

    @property
    def png(self) -> bytes | None:
        if self._png is None and self.scene is not None:
            from .render.mpl import figure_png, to_axes
            self._png = figure_png(to_axes(self.scene, theme=_THEME["name"]).figure)
        return self._png

    @png.setter
    def png(self, value) -> None:
        self._png = value

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": self.text}
        if self.html is not None:
            bundle["text/html"] = self.html
        elif self.svg is not None:
            bundle["image/svg+xml"] = self.svg
        elif self._png is not None:
            bundle["image/png"] = self._png
        elif self.markdown is not None:
            bundle["text/markdown"] = self.markdown
        else:
            bundle["text/html"] = f"<pre>{html.escape(self.text)}</pre>"
        return bundle


def _picture(text: str, svg: str, scene=None) -> View:
    """A view of an SVG picture: inline in the notebook, standalone in ``.svg``."""
    return View(text, svg=svg, html=f'<div class="labkit-view">{svg}</div>', scene=scene)


# --- words ---------------------------------------------------------------------

def cases() -> View:
    """The cases and their variants."""
    rows = ["| case | variants | title |", "| --- | --- | --- |"]
    lines = []
    for c in all_cases():
        rows.append(f"| `{c.id}` | {', '.join(c.variant_ids)} | {c.title} |")
        lines.append(f"{c.id:16} {', '.join(c.variant_ids):40} {c.title}")
    return View("\n".join(lines), markdown="\n".join(rows))


def _fix_line(label: str, fx) -> str:
    if fx is None:
        return ""
    commit = f"{fx.commit} " if fx.commit else ""
    status = "" if fx.status == "merged" else f" **({fx.status})**"
    link = f" — {fx.link}" if fx.link else ""
    note = f" {fx.note}" if fx.note else ""
    return f"- {label}: {commit}“{fx.subject}”{status}{link}{note}\n"


def story(case_id: str) -> View:
    """The case's story: summary, variants, the fix and what came after, links,
    and what the model leaves out."""
    c = get_case(case_id)
    md = f"### {c.title}\n\n{c.summary}\n\n"
    if c.kernels:
        md += f"*Kernels:* {c.kernels}\n\n"
    md += "".join(f"- **{v.id}**: {v.title} — the explorer finds {v.expect or '…'}"
                  + (f" (*{v.note}*)" if v.note else "") + "\n" for v in c.variants)
    md += "\n" + _fix_line("Fix" if c.fix is None or c.fix.status == "merged" else "Proposed fix", c.fix)
    md += _fix_line("Fixes", c.fixes)
    md += "".join(_fix_line("Later", fx) for fx in c.later)
    if c.links:
        md += "\nArchives: " + ", ".join(f"<{u}>" for u in c.links) + "\n"
    if c.simplifications:
        md += f"\n*What the model leaves out:* {c.simplifications}\n"
    return View(md, markdown=md)


def code(case_id: str, variant: str = "before") -> View:
    """The pseudo-C each cpu runs: its entry function and what it calls."""
    prog = program(case_id, variant)
    out = []
    for cpu in prog.cpus:
        out.append(f"== {cpu.name}: {cpu.comm}/{cpu.pid} — {cpu.context or cpu.entry}")
        for name in prog.reachable(cpu.entry):
            fn = prog.function(name)
            out.append(f"{name}()" + (f"   [via {' > '.join(fn.via)}]" if fn.via else ""))
            out.extend(f"    {op.text}" for op in fn.ops)
        out.append("")
    return View("\n".join(out).rstrip())


# --- the explorer and traces ---------------------------------------------------

def _explored(prog):
    from .explore import explored     # imported late: `import labkit` stays cheap
    return explored(prog)


def explore(case_id: str, variant: str = "before", **budget) -> View:
    """Explore every interleaving; list each finding with its shortest schedule."""
    from .explore import explore as _explore
    prog = program(case_id, variant)
    r = _explore(prog, **budget) if budget else _explored(prog)
    head = (f"{case_id}/{variant}: {r.states} states, {r.transitions} transitions; "
            + ("every interleaving explored" if r.complete else r.stopped))
    lines = [head]
    if not r.findings:
        lines.append("no findings: no deadlock, use after free, double free, refcount bug or WARN in any interleaving"
                     if r.complete else "no findings so far")
    for f in r.findings:
        lines += [f"{f.kind}: {f.message}", f"    shortest schedule ({f.step} steps): {f.schedule}"]
    view = View("\n".join(lines))
    view.result = r
    return view


def bug(case_id: str, variant: str = "before") -> str:
    """The shortest schedule to the variant's first finding ("" when it has none)."""
    r = _explored(program(case_id, variant))
    return r.findings[0].schedule if r.findings else ""


def _schedule(case_id, variant, schedule):
    if schedule is not None:
        return schedule
    s = bug(case_id, variant)
    if not s:
        # A fixed variant has no bug: show the bug schedule of the first variant.
        s = bug(case_id, get_case(case_id).variant_ids[0])
    return s


def replay(case_id: str, variant: str = "before", schedule: str | None = None) -> View:
    """A schedule (default: the shortest way to the bug), step by step; ``.trace`` holds the trace."""
    from .render import trace_text
    from .trace import replay as _replay
    trace = _replay(program(case_id, variant), _schedule(case_id, variant, schedule))
    view = View(trace_text(trace))
    view.trace = trace
    return view


def timeline(case_id: str, variant: str = "before", schedule: str | None = None, upto: int | None = None) -> View:
    """The per-cpu timeline of a schedule: lock holds and waits, refcounts, object
    lifetimes, shared variables, findings (and its text, listing the same events)."""
    from .render import timeline_scene, to_svg
    from .trace import replay as _replay
    prog = program(case_id, variant)
    # The schedule must run as written: a bad one is the same error as replay's.
    trace = _replay(prog, _schedule(case_id, variant, schedule))
    sc = timeline_scene(trace, upto=upto)
    return _picture(sc.desc, to_svg(sc, theme=_THEME["name"]), sc)


def _same_threads(a, b) -> bool:
    return [(c.name, c.entry) for c in a.cpus] == [(c.name, c.entry) for c in b.cpus]


def before_after_plan(case_id: str, schedule: str | None = None, variants=None) -> list[tuple[str, str, str]]:
    """What :func:`before_after` shows for each variant: ``(variant, schedule, why)``.

    Where a variant's cpus run the same entry functions as the first one, it
    replays the first one's schedule (and the picture says where it stops).
    Where the threads differ, replaying that schedule would compare different
    programs, so the variant shows its own shortest bug, or, when it has none,
    each cpu running in turn, and ``why`` says so.

    >>> [(v, why.split(':')[0]) for v, _, why in before_after_plan("abba")]
    [('before', 'the schedule'), ('after', 'the schedule')]
    """
    from .render import replay_prefix
    case = get_case(case_id)
    variants = tuple(variants or case.variant_ids)
    for v in variants:
        case.variant(v)
    sched = _schedule(case_id, variants[0], schedule)
    first = program(case_id, variants[0])
    plan = []
    for v in variants:
        prog = program(case_id, v)
        r = _explored(prog)
        if _same_threads(first, prog):
            trace, _ = replay_prefix(prog, sched)
            if trace.findings or not r.findings:
                plan.append((v, sched, "the schedule: " + (sched or "(none)")))
                continue
            # Never let the picture say "nothing found" where the explorer finds a bug.
            f = r.findings[0]
            plan.append((v, f.schedule, f"the first schedule finds nothing here, but another does: its own "
                                        f"shortest bug, {f.kind.replace('_', ' ')} at step {f.step}"))
            continue
        if r.findings:
            f = r.findings[0]
            plan.append((v, f.schedule, f"other threads run here, so its own shortest bug: "
                                        f"{f.kind.replace('_', ' ')} at step {f.step}"))
        else:
            plan.append((v, " ".join(f"{c}*" for c in prog.cpu_names),
                         "other threads run here; the explorer finds no bug in any interleaving "
                         "(shown: each cpu in turn)"))
    return plan


def before_after(case_id: str, schedule: str | None = None, variants=None) -> View:
    """Each variant under the same schedule, one timeline above the other —
    or, where a variant runs different threads, under its own bug schedule
    (see :func:`before_after_plan`; the titles say which)."""
    from .render import before_after_runs, before_after_scene, timeline_text, to_svg
    plan = before_after_plan(case_id, schedule, variants)
    variants = tuple(v for v, _, _ in plan)
    scheds = {v: s for v, s, _ in plan}
    notes = {v: why for v, _, why in plan if not why.startswith("the schedule: ")}
    runs = before_after_runs(case_id, scheds, variants)
    sc = before_after_scene(runs, notes=notes)
    parts = []
    for v, (trace, stop) in zip(variants, runs):
        head = f"--- {case_id}/{v}: " + (notes.get(v) or (stop or f"whole schedule ({len(trace.steps)} steps)"))
        parts.append(head + "\n" + timeline_text(trace))
    text = "\n\n".join(parts)
    sc.desc = text
    return _picture(text, to_svg(sc, theme=_THEME["name"]), sc)


def lockdep(case_id: str, variant: str = "before") -> View:
    """What lockdep prints for the variant's serial runs (the kernel's layout)."""
    from .lockdep import lockdep_run
    return View(lockdep_run(case_id, variant).text())


def lock_order(case_id: str, variant: str = "before") -> View:
    """Lockdep's lock-order graph for the variant's serial runs, the cycle marked."""
    from .lockdep import lockdep_schedules
    from .render import graph_text, lock_order_graph
    from .trace import replay as _replay
    prog = program(case_id, variant)
    g = lock_order_graph([_replay(prog, s) for s in lockdep_schedules(case_id, variant)])
    text = graph_text(g) or "(no lock is taken while another is held)"
    return _graph_view(text, g, prog, f"{case_id}/{variant}: lockdep's lock-order graph")


def wait_for(case_id: str, variant: str = "before", schedule: str | None = None) -> View:
    """Who waits for whom at the end of a schedule (default: the bug)."""
    from .render import graph_text, replay_prefix, wait_for_graph
    prog = program(case_id, variant)
    trace, _ = replay_prefix(prog, _schedule(case_id, variant, schedule))
    g = wait_for_graph(prog, trace.final)
    text = graph_text(g) or "nobody waits"
    return _graph_view(text, g, prog, f"{case_id}/{variant}: who waits for whom after step {len(trace.steps)}")


def _graph_view(text: str, graph, prog, title: str) -> View:
    """graphviz's SVG when ``dot`` is there; else the same graph laid out in pure
    Python (JupyterLite has no ``dot``): SVG either way, no matplotlib."""
    from .render import graph_scene, graph_svg
    view = _picture(text, graph_svg(graph, theme=_THEME["name"], prog=prog, title=title, desc=text))
    view.graph = graph
    # PNG export: the pure-Python layout painted by matplotlib (the same words and styles).
    view.scene = graph_scene(graph, prog=prog, title=title, desc=text)
    return view


def compare(case_id: str, variant: str, path) -> View:
    """The emulator's report next to a real one (does the model agree with the kernel?)."""
    from .compare import compare as _compare
    return View(_compare(case_id, variant, path).text())


def stepper(case_id: str, variant: str = "before", schedule: str = ""):
    """The stepper widget: you are the scheduler (works without a kernel once drawn)."""
    from .stepper import stepper as _stepper
    return _stepper(case_id, variant, schedule)


# --- self-checks -----------------------------------------------------------------
# The engine judges every answer; see labkit.exercises.

def check(case_id: str, number: int, answer):
    """Judge your answer to exercise ``number`` of a case's notebook."""
    from .exercises import check as _check
    return _check(case_id, number, answer)


def solution(case_id: str, number: int) -> View:
    """A right answer to exercise ``number`` and why, folded away until you open it."""
    from .exercises import solution as _solution
    return _solution(case_id, number)


def check_schedule(case_id: str, variant: str, answer, goal: str = "deadlock", about: str | None = None,
                   shortest: bool = False):
    """Does your schedule (a string, or a stepper: what it shows) reach ``goal``?"""
    from .exercises import check_schedule as _cs
    return _cs(case_id, variant, answer, goal=goal, about=about, shortest=shortest)


def check_verdict(case_id: str, variant: str, answer):
    """Predict what the explorer finds in a variant (``"deadlock"``, ``"clean"``, ``"warn"`` ...)."""
    from .exercises import check_verdict as _cv
    return _cv(case_id, variant, answer)


def check_fix(case_id: str, variant: str, function: str, text: str, must_hold=(), same_section=()):
    """Your edit of one function's pseudo-C, judged by the explorer (see :func:`fix_template`)."""
    from .exercises import check_fix as _cf
    return _cf(case_id, variant, function, text, must_hold=must_hold, same_section=same_section)


def check_chain(path, answer):
    """The lock classes of a real report's chain, in order (any rotation)."""
    from .exercises import check_chain as _cc
    return _cc(path, answer)


def fix_template(case_id: str, variant: str, function: str) -> str:
    """One function's pseudo-C, one step a line: copy it into a string and edit it."""
    from .exercises import fix_template as _ft
    return _ft(case_id, variant, function)


def rarity(case_id: str, variant: str = "before", goal: str | None = None) -> View:
    """Why testing missed it: how many complete schedules reach the bug, the
    chance a random scheduler hits it, and the fewest preemptions it needs."""
    from .exercises import rarity as _rarity
    r = _rarity(case_id, variant, goal)
    view = View(r.text())
    view.result = r
    return view


# --- your own report ---------------------------------------------------------------

def from_splat(path_or_text):
    """A real circular or recursive lockdep report (a path, or its text) as a model you can
    step: ``.explore()``, ``.bug()``, ``.stepper()``, ``.compare()``, ``.source()``.
    See :mod:`labkit.fromsplat`."""
    from .fromsplat import from_splat as _from_splat
    return _from_splat(path_or_text)
