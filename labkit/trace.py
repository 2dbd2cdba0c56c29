"""Schedules and traces: replaying a schedule rebuilds everything.

A *schedule* is plain data: the cpus that took each step, written
``"CPU0 CPU1 CPU1 CPU0"``. :func:`replay` runs it from the initial state and
returns a :class:`Trace` with the state before and after every step, so
stepping back is just showing a shorter prefix. As input, ``CPU0*`` means
"CPU0 runs until it finishes or blocks" (handy for serial runs); traces always
print the expanded form.

>>> from labkit.cases import program
>>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
>>> [f.kind for f in t.findings]
['deadlock']
>>> t.schedule
'CPU0 CPU1 CPU0 CPU1'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from .errors import LabError, ModelError, ScheduleError
from .model import Op, Program
from .semantics import (Finding, State, apply, blocked_reason, can_step, current_op, initial_state,
                        stack_of, state_findings)

__all__ = ["schedule_words", "parse_schedule", "format_schedule", "Step", "Stop", "Trace", "replay",
           "serial_schedule", "run_until", "MAX_RUN_STEPS", "MAX_CALL_DEPTH", "check_depth", "quote_schedule"]

# A ``CPU0*`` entry runs a cpu until it finishes or blocks; a model whose cpu
# loops (``goto``) would never do either. The kernel cases need well under a
# hundred steps per cpu, so ten thousand means the model loops.
MAX_RUN_STEPS = 10_000
# Modelled calls nest a few deep; past this a function recurses without end
# (and every state would carry the ever-longer stack).
MAX_CALL_DEPTH = 100


def schedule_words(text: str | list | tuple) -> list:
    """The entries of a schedule as written: spaces, commas or newlines
    separate them (a list or tuple is taken as it is)."""
    return list(text) if isinstance(text, (list, tuple)) else str(text).replace(",", " ").split()


def parse_schedule(prog: Program, text: str | list | tuple) -> list[str | tuple[str, str]]:
    """Split a schedule into cpu names (``("CPU0", "*")`` for ``CPU0*``).

    Accepts spaces, commas or newlines between entries; cpu names are matched
    case-insensitively (``cpu0`` is ``CPU0``). An entry is a cpu name, or a
    cpu name and one ``*``; anything else is malformed and says so.
    """
    names = {n.upper(): n for n in prog.cpu_names}
    return [_parse_entry(prog, names, i, w) for i, w in enumerate(schedule_words(text))]


def _parse_entry(prog: Program, names: dict, i: int, w) -> str | tuple[str, str]:
    """Entry ``i`` (0-based) of a schedule: a cpu name, or ``(name, "*")``."""
    head = f"schedule entry {i + 1} ({w!r})"
    if not isinstance(w, str):
        raise ScheduleError(f"{head}: malformed: an entry is a cpu name such as 'CPU0', not a {type(w).__name__}")
    star = w.endswith("*")
    name = w[:-1] if star else w
    if not name or "*" in name:
        raise ScheduleError(f"{head}: malformed: write a cpu name, or a cpu name and one '*' "
                            f"(e.g. 'CPU0' or 'CPU0*'; cpus: {', '.join(prog.cpu_names)})")
    key = name.upper()
    if key not in names:
        raise ScheduleError(f"{head}: no cpu named {name!r} in "
                            f"{prog.case}/{prog.variant} (cpus: {', '.join(prog.cpu_names)})")
    return (names[key], "*") if star else names[key]


def format_schedule(cpus) -> str:
    return " ".join(cpus)


@dataclass(frozen=True)
class Step:
    """One step of a trace: who ran which line, what happened, what it found."""

    index: int                 # 0-based position in the trace
    cpu: str
    op: Op
    stack: tuple[str, ...]     # kernel call stack, outermost first
    event: str                 # acquire, block, release, put, free, use, ...
    detail: dict
    before: State
    after: State
    findings: tuple[Finding, ...] = ()

    @property
    def text(self) -> str:
        return self.op.text


class Stop(NamedTuple):
    """Where a partial replay stopped: entry ``entry`` (1-based) of
    ``entries``, written ``word``, could not run; ``error`` says why."""

    entry: int
    entries: int
    word: str
    error: LabError
    unit: str          # "step", or "entry" when the schedule has CPU0* entries
    cpu: int | None    # the cpu the entry names, if it names one

    def sentence(self, why: str | None = None) -> str:
        """``stops at step 3 of 3 (CPU1): <why>`` (``why`` defaults to the error)."""
        return f"stops at {self.unit} {self.entry} of {self.entries} ({self.word}): {why or self.error}"


@dataclass
class Trace:
    """The replay of a schedule: every step and every state along the way.
    ``stop`` says where a partial replay stopped (``None``: it all ran)."""

    program: Program
    steps: list[Step] = field(default_factory=list)
    initial: State | None = None
    stop: Stop | None = None

    @property
    def schedule(self) -> str:
        return format_schedule(s.cpu for s in self.steps)

    @property
    def final(self) -> State:
        return self.steps[-1].after if self.steps else self.initial

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.steps for f in s.findings]

    def state_at(self, n: int) -> State:
        """The state after ``n`` steps (``n = 0`` is the initial state)."""
        return self.initial if n == 0 else self.steps[n - 1].after

    def prefix(self, n: int) -> "Trace":
        """The first ``n`` steps: stepping back is showing a shorter prefix."""
        return Trace(self.program, self.steps[:n], self.initial)

    def runnable(self, n: int | None = None) -> dict[str, str | None]:
        """For each cpu, ``None`` if it may step after ``n`` steps, else why not."""
        st = self.state_at(len(self.steps) if n is None else n)
        return {c: blocked_reason(self.program, st, i) for i, c in enumerate(self.program.cpu_names)}


def _where(prog: Program, state: State, cpu: int, op: Op) -> str:
    """``file:line: CPU0 in f(), step 'text'``: the start of a model error."""
    fname = prog.functions[state.threads[cpu].frames[-1][0]].name
    return f"{op.where}: {prog.cpus[cpu].name} in {fname}(), step {op.text!r}"


def check_depth(prog: Program, state: State, cpu: int) -> None:
    """Raise :class:`ModelError` naming the call line when ``cpu``'s call
    stack is deeper than :data:`MAX_CALL_DEPTH` (unbounded recursion)."""
    frames = state.threads[cpu].frames
    if len(frames) <= MAX_CALL_DEPTH:
        return
    f, pc = frames[-2]                 # the caller's pc is at the call (or put) that pushed
    caller = prog.functions[f]
    op = caller.ops[pc]
    callee = prog.functions[frames[-1][0]].name
    raise ModelError(f"{op.where}: {prog.cpus[cpu].name} in {caller.name}(), step {op.text!r}: the call "
                     f"depth passed {MAX_CALL_DEPTH} frames ({caller.name}() -> {callee}() again and "
                     f"again): unbounded recursion in the model")


def quote_schedule(schedule: str, keep: int = 10) -> str:
    """A schedule quoted for an error message; a long one shows its two ends."""
    words = schedule.split()
    if len(words) <= 3 * keep:
        return repr(schedule)
    return repr(f"{' '.join(words[:keep])} ... {' '.join(words[-keep:])}") + f", {len(words)} steps"


def _step(prog: Program, trace: Trace, state: State, cpu: int, seen: set) -> State:
    op = current_op(prog, state, cpu)
    stack = stack_of(prog, state, cpu)
    n = len(trace.steps) + 1

    def sched():   # built only when needed: joining it every step is quadratic
        return format_schedule([s.cpu for s in trace.steps] + [prog.cpus[cpu].name])
    try:
        out = apply(prog, state, cpu)
        check_depth(prog, out.state, cpu)
    except ModelError as e:
        # Name the step that was being taken and the schedule that got there.
        raise ModelError(f"{e} (step {n} of schedule {quote_schedule(sched())})") from None
    findings = list(out.findings) + [f for f in state_findings(prog, out.state) if f.key not in seen]
    if findings:
        at = sched()
        findings = [replace(f, schedule=at, step=n) for f in findings]
    seen.update(f.key for f in findings)
    trace.steps.append(Step(n - 1, prog.cpus[cpu].name, op, stack, out.event, out.detail,
                            state, out.state, tuple(findings)))
    return out.state


def _loop_error(prog: Program, steps: list[Step], cpu: int, entry: int) -> ModelError:
    """The error for a ``CPU0*`` entry that ran out of steps: name the line that
    jumps back most often in the steps it took (the loop), else the busiest line."""
    from collections import Counter
    window = steps[-(MAX_RUN_STEPS // 2):]
    jumps = Counter(s.op for s in window if s.op.kind == "goto" or (s.op.kind == "if" and s.detail.get("taken")))
    busiest = (jumps or Counter(s.op for s in window)).most_common(1)[0][0]
    at = next(s for s in reversed(window) if s.op is busiest)
    name = prog.cpus[cpu].name
    return ModelError(f"{_where(prog, at.before, cpu, busiest)}: {name}* (schedule entry {entry}) took "
                      f"{MAX_RUN_STEPS} steps without finishing or blocking: {name} loops here. A loop must "
                      f"end by itself; to wait for another cpu, use wait_event()")


def replay(prog: Program, schedule="", partial: bool = False) -> Trace:
    """Run ``schedule`` from the initial state and return the whole trace.

    Raises :class:`ScheduleError` naming the step and the cpu when the
    schedule asks a cpu to step that cannot (finished, blocked, unknown), and
    :class:`ModelError` naming the model line when a ``CPU0*`` entry takes
    more than :data:`MAX_RUN_STEPS` steps (a loop) or a cpu's calls nest
    deeper than :data:`MAX_CALL_DEPTH` (unbounded recursion).

    ``partial=True`` raises nothing for the schedule's entries: the trace is
    that of the entries that ran, up to the first that could not, and its
    ``stop`` says which and why (one pass over the schedule).

    >>> from labkit.cases import program
    >>> t = replay(program("abba", "after"), "CPU0 CPU1 CPU1", partial=True)
    >>> len(t.steps), t.stop.entry, t.stop.word, t.stop.cpu
    (2, 3, 'CPU1', 1)
    """
    words = schedule_words(schedule)
    state = initial_state(prog)
    trace = Trace(prog, [], state)
    seen: set = set()
    names = {n.upper(): n for n in prog.cpu_names}
    if not partial:
        entries = [_parse_entry(prog, names, i, w) for i, w in enumerate(words)]
        for i, entry in enumerate(entries):
            state = _run_entry(prog, trace, state, i, entry, seen)
        return trace
    unit = "entry" if any(isinstance(w, str) and w.endswith("*") for w in words) else "step"
    for i, w in enumerate(words):
        mark = len(trace.steps)
        try:
            state = _run_entry(prog, trace, state, i, _parse_entry(prog, names, i, w), seen)
        except LabError as e:
            del trace.steps[mark:]          # an entry runs whole or not at all
            name = str(w).rstrip("*").upper()
            cpu = prog.cpu_id(names[name]) if name in names else None
            trace.stop = Stop(i + 1, len(words), w, e, unit, cpu)
            break
    return trace


def _run_entry(prog: Program, trace: Trace, state: State, i: int, entry, seen: set) -> State:
    """Run entry ``i`` of a schedule (a cpu's step, or ``CPU0*``: as far as it goes)."""
    if isinstance(entry, tuple):
        cpu = prog.cpu_id(entry[0])
        start = len(trace.steps)
        while can_step(prog, state, cpu):
            if len(trace.steps) - start >= MAX_RUN_STEPS:
                raise _loop_error(prog, trace.steps[start:], cpu, i + 1)
            state = _step(prog, trace, state, cpu, seen)
        return state
    cpu = prog.cpu_id(entry)
    if not can_step(prog, state, cpu):
        why = blocked_reason(prog, state, cpu)
        raise ScheduleError(f"step {len(trace.steps) + 1} of the schedule: {entry} cannot run: {why} "
                            f"(after {trace.schedule or 'no steps'!r})")
    return _step(prog, trace, state, cpu, seen)


def serial_schedule(prog: Program, order=None) -> str:
    """``"CPU0* CPU1* ..."``: each cpu in turn runs as far as it can."""
    order = order or prog.cpu_names
    return " ".join(f"{c}*" for c in order)


def run_until(prog: Program, schedule: str, cpu: str) -> Trace:
    """Replay ``schedule`` then let ``cpu`` run as far as it can."""
    return replay(prog, f"{schedule} {cpu}*".strip())
