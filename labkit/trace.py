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

from .errors import ModelError, ScheduleError
from .model import Op, Program
from .semantics import (Finding, State, apply, blocked_reason, can_step, current_op, initial_state,
                        stack_of, state_findings)

__all__ = ["parse_schedule", "format_schedule", "Step", "Trace", "replay", "serial_schedule", "run_until"]


def parse_schedule(prog: Program, text: str | list | tuple) -> list[str | tuple[str, str]]:
    """Split a schedule into cpu names (``("CPU0", "*")`` for ``CPU0*``).

    Accepts spaces, commas or newlines between entries; cpu names are matched
    case-insensitively (``cpu0`` is ``CPU0``).
    """
    words = text if isinstance(text, (list, tuple)) else str(text).replace(",", " ").split()
    names = {n.upper(): n for n in prog.cpu_names}
    out: list = []
    for i, w in enumerate(words):
        star = w.endswith("*")
        key = (w[:-1] if star else w).upper()
        if key not in names:
            raise ScheduleError(f"schedule entry {i + 1} ({w!r}): no cpu named {w.rstrip('*')!r} in "
                                f"{prog.case}/{prog.variant} (cpus: {', '.join(prog.cpu_names)})")
        out.append((names[key], "*") if star else names[key])
    return out


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


@dataclass
class Trace:
    """The replay of a schedule: every step and every state along the way."""

    program: Program
    steps: list[Step] = field(default_factory=list)
    initial: State | None = None

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


def _step(prog: Program, trace: Trace, state: State, cpu: int, seen: set) -> State:
    op = current_op(prog, state, cpu)
    stack = stack_of(prog, state, cpu)
    sched = format_schedule([s.cpu for s in trace.steps] + [prog.cpus[cpu].name])
    n = len(trace.steps) + 1
    try:
        out = apply(prog, state, cpu)
    except ModelError as e:
        # Name the step that was being taken and the schedule that got there.
        raise ModelError(f"{e} (step {n} of schedule {sched!r})") from None
    findings = list(out.findings) + [f for f in state_findings(prog, out.state) if f.key not in seen]
    findings = [replace(f, schedule=sched, step=n) for f in findings]
    seen.update(f.key for f in findings)
    trace.steps.append(Step(n - 1, prog.cpus[cpu].name, op, stack, out.event, out.detail,
                            state, out.state, tuple(findings)))
    return out.state


def replay(prog: Program, schedule="") -> Trace:
    """Run ``schedule`` from the initial state and return the whole trace.

    Raises :class:`ScheduleError` naming the step and the cpu when the
    schedule asks a cpu to step that cannot (finished, blocked, unknown).
    """
    entries = parse_schedule(prog, schedule)
    state = initial_state(prog)
    trace = Trace(prog, [], state)
    seen: set = set()
    for entry in entries:
        if isinstance(entry, tuple):
            cpu = prog.cpu_id(entry[0])
            while can_step(prog, state, cpu):
                state = _step(prog, trace, state, cpu, seen)
            continue
        cpu = prog.cpu_id(entry)
        if not can_step(prog, state, cpu):
            why = blocked_reason(prog, state, cpu)
            raise ScheduleError(f"step {len(trace.steps) + 1} of the schedule: {entry} cannot run: {why} "
                                f"(after {trace.schedule or 'no steps'!r})")
        state = _step(prog, trace, state, cpu, seen)
    return trace


def serial_schedule(prog: Program, order=None) -> str:
    """``"CPU0* CPU1* ..."``: each cpu in turn runs as far as it can."""
    order = order or prog.cpu_names
    return " ".join(f"{c}*" for c in order)


def run_until(prog: Program, schedule: str, cpu: str) -> Trace:
    """Replay ``schedule`` then let ``cpu`` run as far as it can."""
    return replay(prog, f"{schedule} {cpu}*".strip())
