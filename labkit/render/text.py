"""Plain-text views: for terminals, screen readers, diffs and doctests.

Every picture the lab draws has a text twin here, so nothing is shown only as
colour or shape. These functions import nothing heavier than the engine: the
command line (``python -m labkit replay``) prints them without matplotlib.

>>> from labkit.cases import program
>>> from labkit.trace import replay
>>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
>>> print(timeline_text(t))
     CPU0                  CPU1
     ----                  ----
  1  mutex_lock(&A);
  2                        mutex_lock(&B);
  3  mutex_lock(&B); ..
  4                        mutex_lock(&A); ..
                           *** DEADLOCK ***
"""

from __future__ import annotations

from ..semantics import DONE, READ, WAIT, blocked_reason, current_op, wait_for_edges
from ..lockdep import LOCK_PRIMITIVE_FRAMES
from .events import trace_events
from .style import EVENT_STYLE

__all__ = ["trace_text", "timeline_text", "lock_table_text", "graph_text",
           "held_text", "wait_text", "finding_text", "cpu_status_text", "caller_frame"]

# The code column of trace_text is padded to the widest line, up to this many
# characters; longer lines just push their lock notes to the right.
_CODE_WIDTH_CAP = 64


# ---------------------------------------------------------------------------
# Small pieces, shared with the graphical views (same words everywhere)

def _lock_label(prog, l: int, mode: int) -> str:
    """``A``, or ``sem (read)`` / ``sem (write)``: the mode only matters for rwsems."""
    decl = prog.locks[l]
    if decl.kind == "rwsem":
        return f"{decl.name} ({'read' if mode == READ else 'write'})"
    return decl.name


def held_text(prog, state, cpu: int) -> str:
    """The locks ``cpu`` holds in ``state``, in the order taken.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> p = program("rwsem_fairness", "writer_pref")
    >>> held_text(p, replay(p, "CPU0").final, 0)
    'sem (read)'
    """
    held = state.threads[cpu].held
    return ", ".join(_lock_label(prog, l, m) for l, m in held) if held else "nothing"


def wait_text(prog, state, cpu: int) -> str | None:
    """What ``cpu`` waits for in ``state``, or ``None`` when it is not waiting.

    Distinguishes a lock *held* by another cpu from one it must wait for
    because a writer is *queued ahead* of it (an rwsem's waiters queue in
    order: a new reader waits behind a queued writer).

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> p = program("abba", "before")
    >>> wait_text(p, replay(p, "CPU0 CPU1 CPU0").final, 0)
    'waits for B held by CPU1'
    """
    th = state.threads[cpu]
    if th.status != WAIT:
        return None
    op = current_op(prog, state, cpu)
    if op.kind == "wait":
        return f"sleeps until {op.args[0]}"
    l = prog.lock_index[op.args[0]]
    lock = prog.locks[l].name
    who = [h for w, h, _ in wait_for_edges(prog, state) if w == cpu]
    if not who:
        # Queued, but the lock is free for it now: its next step takes it.
        return f"waits for {lock} (free now: it takes it next)"
    names = prog.cpu_names
    held = [h for h in who if h == state.owner[l] or h in state.readers[l]]
    queued = [h for h in who if h not in held]
    parts = []
    if [h for h in held if h != cpu]:
        parts.append("held by " + ", ".join(names[h] for h in held if h != cpu))
    if queued:
        parts.append("behind " + ", ".join(names[h] for h in queued) + " (queued ahead)")
    if cpu in held:   # AA: waiting for itself
        return f"waits for {lock}, which it already holds" + "".join("; " + p for p in parts)
    return f"waits for {lock} " + " and ".join(parts)


def finding_text(finding) -> str:
    """``deadlock: ...``: the finding's message, led by its kind when the
    message does not already say it."""
    label = EVENT_STYLE.get(finding.kind, {}).get("label", finding.kind)
    head = finding.message.split(":", 1)[0]
    if label.lower() in head.lower() or (finding.kind == "warn" and "WARN" in head):
        return finding.message
    return f"{label}: {finding.message}"


def cpu_status_text(prog, state, cpu: int) -> str:
    """One cpu at the end of a run: finished, blocked (and why), or able to run."""
    name = prog.cpu_names[cpu]
    th = state.threads[cpu]
    if th.status == DONE:
        return f"{name} finished"
    why = blocked_reason(prog, state, cpu)
    if why is None:
        op = current_op(prog, state, cpu)
        return f"{name} can run; next: {op.text.strip()}"
    if not state.broken:
        # Sharper than blocked_reason: says "held by" apart from "queued ahead".
        why = wait_text(prog, state, cpu) or why
    if why.startswith(name + " "):
        why = why[len(name) + 1:]
    return f"{name} blocked: {why}"


def _depth(prog, step) -> int:
    """Call depth of the step's line (0 = the cpu's entry function)."""
    return len(step.before.threads[prog.cpu_id(step.cpu)].frames) - 1


# ---------------------------------------------------------------------------

def trace_text(trace) -> str:
    """A replayed trace as text: header, one line per step, a summary.

    Each step line gives the step number, the cpu, the pseudo-C line
    (indented two spaces per call level), then what that cpu holds after the
    step and what it waits for. Findings follow on their own ``!!`` lines.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
    >>> print(trace_text(t))  # doctest: +NORMALIZE_WHITESPACE
    abba/before: ABBA: two locks taken in opposite orders
      CPU0  task_one/100 runs path_one() from sys_ioctl
      CPU1  task_two/101 runs path_two() from sys_ioctl
    schedule: CPU0 CPU1 CPU0 CPU1
    <BLANKLINE>
    step  cpu   line
       1  CPU0  mutex_lock(&A);  holds A
       2  CPU1  mutex_lock(&B);  holds B
       3  CPU0  mutex_lock(&B);  holds A; waits for B held by CPU1
       4  CPU1  mutex_lock(&A);  holds B; waits for A held by CPU0
                !! deadlock: CPU0 waits for B held by CPU1; CPU1 waits for A held by CPU0
    <BLANKLINE>
    after step 4:
      CPU0 blocked: waits for B held by CPU1
      CPU1 blocked: waits for A held by CPU0
      findings: deadlock
    """
    prog = trace.program
    out = [f"{prog.case}/{prog.variant}: {prog.title}" if prog.title else f"{prog.case}/{prog.variant}"]
    for c in prog.cpus:
        line = f"  {c.name}  {c.comm}/{c.pid} runs {c.entry}()"
        if c.stack:
            line += " from " + " > ".join(c.stack)
        out.append(line)
        if c.context:
            out.append(f"  {' ' * len(c.name)}  {c.context}")
    out.append(f"schedule: {trace.schedule or '(empty)'}")
    out.append("")
    steps = trace.steps
    codes = ["  " * _depth(prog, s) + s.text.rstrip() for s in steps]
    width = min(max((len(c) for c in codes), default=0), _CODE_WIDTH_CAP)
    numw = max(4, len(str(len(steps))))
    cpuw = max(len(n) for n in prog.cpu_names)
    out.append(f"{'step':>{numw}}  {'cpu':<{cpuw}}  line")
    pad = " " * (numw + 2 + cpuw + 2)
    for s, code in zip(steps, codes):
        cpu = prog.cpu_id(s.cpu)
        notes = "holds " + held_text(prog, s.after, cpu)
        w = wait_text(prog, s.after, cpu)
        if w:
            notes += "; " + w
        out.append(f"{s.index + 1:>{numw}}  {s.cpu:<{cpuw}}  {code:<{width}}  {notes}".rstrip())
        for f in s.findings:
            out.append(f"{pad}!! {finding_text(f)}")
    out.append("")
    final = trace.final
    out.append(f"after step {len(steps)}:" if steps else "before any step:")
    for i in range(len(prog.cpus)):
        out.append("  " + cpu_status_text(prog, final, i))
    kinds = [f.kind for f in trace.findings]
    out.append("  findings: " + (", ".join(kinds) if kinds else "none"))
    return "\n".join(out)


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def timeline_text(trace, upto: int | None = None, width: int = 40) -> str:
    """One column per cpu, one row per step: lockdep's "unsafe scenario" table.

    A step that blocks ends in ``..`` (the cpu waits there). ``upto`` marks
    the row of that step with ``*`` (``upto=0``: a ``start`` row before the
    first step). Cells longer than ``width`` characters are cut with ``...``
    (``trace_text`` always has the whole line). Under a step, in its cpu's
    column, what it did besides locking (:func:`labkit.render.events.trace_events`:
    ``[put] kvm->users_count 2 -> 1``, ``[kfree] mirror: freed from here on``,
    ``[write] zdev->s390_domain = NULL`` ...), then its findings.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> t = replay(program("abba", "after"), "CPU0 CPU1")
    >>> print(timeline_text(t, upto=1))
         CPU0                  CPU1
         ----                  ----
    * 1  mutex_lock(&A);
      2                        mutex_lock(&A); ..
    """
    prog = trace.program
    names = prog.cpu_names
    cells = []
    for s in trace.steps:
        text = s.text.strip()
        if s.event in ("block", "sleep"):
            text += " .."
        cells.append(_cell(text, width))
    colw = max([len(n) for n in names] + [len(c) for c in cells] + [len("*** DEADLOCK ***")]) + 4
    numw = len(str(len(trace.steps)))
    lead = " " * (2 + numw + 2)
    out = [lead + "".join(f"{n:<{colw}}" for n in names).rstrip(),
           lead + "".join(f"{'-' * len(n):<{colw}}" for n in names).rstrip()]
    if upto == 0:
        out.append(f"* {'0':>{numw}}  (start)")
    by_step: dict[int, list] = {}
    for e in trace_events(trace):
        by_step.setdefault(e.step, []).append(e)
    for s, cell in zip(trace.steps, cells):
        col = prog.cpu_id(s.cpu)
        mark = "*" if upto == s.index + 1 else " "
        out.append(f"{mark} {s.index + 1:>{numw}}  " + " " * (colw * col) + cell)
        for e in by_step.get(s.index + 1, ()):
            out.append(lead + " " * (colw * col) + e.text)
        for f in s.findings:
            label = EVENT_STYLE.get(f.kind, {}).get("label", f.kind).upper()
            out.append(lead + " " * (colw * col) + f"*** {label} ***")
    return "\n".join(line.rstrip() for line in out)


def lock_table_text(prog, state) -> str:
    """Every lock in ``state``: its owner, its readers, its queue of waiters.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> p = program("abba", "before")
    >>> print(lock_table_text(p, replay(p, "CPU0 CPU1 CPU0").final))
    lock  kind   owner  readers  waiters
    A     mutex  CPU0   -        -
    B     mutex  CPU1   -        CPU0
    """
    names = prog.cpu_names
    rows = [("lock", "kind", "owner", "readers", "waiters")]
    for i, decl in enumerate(prog.locks):
        owner = names[state.owner[i]] if state.owner[i] >= 0 else "-"
        readers = ", ".join(names[c] for c in state.readers[i]) or "-"
        if decl.kind == "rwsem":
            waiters = ", ".join(f"{names[c]} ({'read' if m == READ else 'write'})" for c, m in state.queue[i])
        else:
            waiters = ", ".join(names[c] for c, _ in state.queue[i])
        rows.append((decl.name, decl.kind, owner, readers, waiters or "-"))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    return "\n".join("  ".join(f"{v:<{w}}" for v, w in zip(r, widths)).rstrip() for r in rows)


def cycle_edges(cycle) -> set[tuple]:
    """A cycle given as edges ``[(a, b), (b, a)]`` or as nodes ``[a, b]``."""
    if not cycle:
        return set()
    cycle = list(cycle)
    if isinstance(cycle[0], tuple):
        return {(e[0], e[1]) for e in cycle}
    return {(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))}


def caller_frame(stack) -> str | None:
    """The innermost frame of a stack (innermost first) that is not a locking primitive."""
    return next((f for f in stack if f not in LOCK_PRIMITIVE_FRAMES), None)


def graph_text(graph, cycle=None) -> str:
    """The edges of a lock-order or wait-for graph, one a line.

    ``graph`` is a networkx ``DiGraph``: a lock-order graph (nodes: lock
    classes; an edge ``a -> b``: ``b`` taken while holding ``a``, with
    ``cpu`` and ``stack``) as built by :func:`labkit.render.graphs.lock_order_graph`
    or :mod:`labkit.lockdep`, or a wait-for graph from
    :func:`labkit.render.graphs.wait_for_graph` (nodes: cpus; edge attribute
    ``lock``). ``cycle`` (edges, or nodes in order) marks edges ``(cycle)``;
    without it, edges whose ``cycle`` attribute is true are marked. A cycle
    edge missing from the graph is the acquisition lockdep refused to add
    because it closes the cycle; it is listed as ``(attempted, closes the
    cycle)``. Cpus that wait for nothing and are waited for by nobody are
    listed as idle.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> from labkit.render.graphs import wait_for_graph
    >>> p = program("abba", "before")
    >>> print(graph_text(wait_for_graph(p, replay(p, "CPU0 CPU1 CPU0 CPU1").final)))
    CPU0 --waits for B--> CPU1  (cycle)
    CPU1 --waits for A--> CPU0  (cycle)
    """
    marked = cycle_edges(cycle)
    lines = []
    edges = list(graph.edges(data=True))
    for a, b, d in edges:
        on_cycle = (a, b) in marked if cycle else bool(d.get("cycle"))
        if d.get("interrupted"):
            line = f"{a} --interrupted by--> {b}"
        elif "lock" in d:
            line = f"{a} --waits for {d['lock']}--> {b}"
            if d.get("queued"):
                line += " (queued ahead)"
        else:
            line = f"{a} --> {b}"
            where = []
            if d.get("cpu"):
                where.append(str(d["cpu"]))
            fn = caller_frame(d.get("stack") or ())
            if fn:
                where.append("in " + fn + "()")
            if where:
                line += "  [" + " ".join(where) + "]"
        if on_cycle:
            line += "  (cycle)"
        lines.append(line)
    for a, b in sorted(marked - {(a, b) for a, b, _ in edges}, key=str):
        lines.append(f"{a} --> {b}  (attempted, closes the cycle)")
    touched = {n for a, b, _ in edges for n in (a, b)} | {n for e in marked for n in e}
    idle = [n for n in graph.nodes if n not in touched]
    if idle and graph.graph.get("kind") == "wait_for":
        lines.append("not waiting, not waited for: " + ", ".join(map(str, idle)))
    elif idle:
        lines.append("no edges: " + ", ".join(map(str, idle)))
    return "\n".join(lines) if lines else "(no edges)"
