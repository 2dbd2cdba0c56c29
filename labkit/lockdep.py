"""A lockdep emulator: from any trace, the reports the kernel's lockdep would print.

Lockdep's whole point is that it needs no unlucky timing. It watches every
lock acquisition, remembers for each lock *class* which classes were held when
it was taken (a dependency ``held -> new``, with the stack that created it),
and complains as soon as a new dependency would close a cycle — even in a
serial, bug-free run. This module does the same over labkit traces:

* at each acquisition *attempt* (before blocking, as ``lock_acquire()`` does),
  check recursive locking, then add the edge from the most recently taken
  lock still held to the new one, unless a path back already exists;
* lockdep's read/write rules: an edge records whether the held lock was held
  exclusively (E) or shared (S) and whether the new one is taken by a
  recursive reader (R) or not (N); a cycle is only a deadlock if it is
  *strong* — no ``-(?R)->`` edge followed by a ``-(S?)->`` edge. A
  ``down_read()`` of a Linux rwsem is a non-recursive reader (it waits behind
  a queued writer); readers of a reader-preferring lock are recursive;
* like the kernel, it reports once and then turns itself off (``keep_going``
  reports every cycle, for teaching);
* reports are printed in the kernel's layout: banner, ``... is trying to
  acquire lock:``, ``but task is already holding lock:``, the dependency chain
  in reverse order with ``-> #N (class){usage}:`` entries and their stacks,
  ``Chain exists of:`` for three or more classes, the "Possible unsafe locking
  scenario" table, ``*** DEADLOCK ***`` and the locks held.

Addresses in the report are stable stand-ins (a hash of the lock's name), and
stacks have no offsets: the model has neither.

The dependency graph is a :class:`networkx.DiGraph` over class names (node
attributes ``locks``, the instance names, and ``index``, the declaration order
that picks a lock's colour). Edge ``(a, b)`` means "b was taken while holding
a", from the first acquisition that made it: ``cpu``, ``task``, ``stack``
(function names, innermost first), ``primitive`` (the lock frames above
them), ``step`` (1-based, in its run), ``text`` (the pseudo-C line), ``mode``
and ``types``. The attempt that would have closed a cycle is kept too, marked
``closes_cycle`` (the kernel drops it; a picture needs it).

>>> ld = lockdep_run("abba", "before")
>>> r = ld.reports[0]
>>> r.kind, r.acquiring, r.held, r.chain
('circular', 'A', 'B', ('B', 'A'))
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass

import networkx as nx

from .errors import ModelError
from .model import Program
from .primitives import LOCK_KINDS, OPS, lock_frames
from .semantics import RUN
from .trace import Trace, replay, serial_schedule

__all__ = ["HeldLock", "Report", "Lockdep", "lockdep_run", "lockdep_schedules", "LOCK_PRIMITIVE_FRAMES"]

# The frames a kernel stack shows above the caller for each lock operation:
# the table's ``frames`` column (labkit.primitives).
LOCK_PRIMITIVE_FRAMES = lock_frames()


@dataclass(frozen=True)
class HeldLock:
    """One entry of a task's held-lock stack, as lockdep keeps it."""

    cls: str
    name: str
    read: int          # 0 exclusive, 1 non-recursive read, 2 recursive read
    at: str            # the function that took it
    kind: str          # mutex, spinlock, rwsem
    trylock: bool = False


@dataclass
class Report:
    """One lockdep report: its facts (for comparison) and its text (for people)."""

    kind: str                          # "circular" or "recursive"
    task: str                          # comm/pid
    cpu: str                           # the model cpu that tripped it
    step: int                          # 1-based step of the run (across lockdep runs)
    acquiring: str
    held: str
    chain: tuple[str, ...] = ()        # classes of the -> #N entries, #N first
    chain_stacks: tuple[tuple[str, ...], ...] = ()
    chain_exists_of: tuple[str, ...] = ()
    scenario: tuple[tuple[str, str], ...] = ()
    locks_held: tuple[str, ...] = ()
    cycle: tuple[tuple[str, str], ...] = ()   # dependency edges of the cycle, in order
    text: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "task_comm": self.task, "acquiring_lock": self.acquiring,
                "held_lock": self.held, "chain": list(self.chain),
                "chain_exists_of": list(self.chain_exists_of),
                "scenario": [list(r) for r in self.scenario],
                "locks_held_count": len(self.locks_held), "locks_held": list(self.locks_held)}


def _addr(name: str) -> str:
    # Kernels print hashed pointers; a hash of the instance name plays that part.
    return f"{zlib.crc32(name.encode()):016x}"


def _wait_type(kind: str) -> str:
    # LD_WAIT_SLEEP (3) for sleeping locks, LD_WAIT_CONFIG (2) for spinlock_t.
    return LOCK_KINDS[kind].wait_type


class Lockdep:
    """Feed it traces (:meth:`observe`); read :attr:`reports` and :attr:`graph`."""

    def __init__(self, keep_going: bool = False):
        self.graph = nx.DiGraph()
        self.reports: list[Report] = []
        self.keep_going = keep_going
        self.off = False
        self._usage: dict[str, set] = {}   # class -> {"write", "read"}
        self._kind: dict[str, str] = {}
        self._steps = 0

    # -- feeding ---------------------------------------------------------------
    def observe(self, trace: Trace) -> "Lockdep":
        """Run lockdep over one trace (a fresh start of the model; classes persist)."""
        prog = trace.program
        held: dict[str, list[HeldLock]] = {c: [] for c in prog.cpu_names}
        for s in trace.steps:
            self._steps += 1
            op = s.op
            cpu_i = prog.cpu_id(s.cpu)
            first_attempt = s.before.threads[cpu_i].status == RUN
            family = OPS[op.kind].family
            if family in ("acquire", "trylock"):
                decl = prog.locks[prog.lock_index[op.args[0]]]
                read = 0 if s.detail.get("mode", 0) == 0 else (2 if decl.reader_pref else 1)
                at = s.stack[-1] if s.stack else "?"
                hl = HeldLock(decl.cls, decl.name, read, at, decl.kind, family == "trylock")
                if family == "trylock":
                    if s.detail.get("ok"):
                        self._mark(hl, prog)
                        held[s.cpu].append(hl)
                    continue
                if first_attempt:
                    self._mark(hl, prog)
                    self._acquire(prog, cpu_i, held[s.cpu], hl, s, op.kind)
                if s.event == "acquire":
                    held[s.cpu].append(hl)
            elif s.event == "release":
                decl = prog.locks[prog.lock_index[op.args[0]]]
                stack = held[s.cpu]
                for i in range(len(stack) - 1, -1, -1):
                    if stack[i].name == decl.name:
                        del stack[i]
                        break
        return self

    def _mark(self, hl: HeldLock, prog: Program):
        self._usage.setdefault(hl.cls, set()).add("read" if hl.read else "write")
        self._kind[hl.cls] = hl.kind
        if hl.cls not in self.graph:
            self.graph.add_node(hl.cls, locks=(hl.name,), index=prog.lock_index[hl.name])
        elif hl.name not in self.graph.nodes[hl.cls]["locks"]:
            self.graph.nodes[hl.cls]["locks"] += (hl.name,)

    def _acquire(self, prog: Program, cpu: int, held: list, new: HeldLock, step, opkind):
        if self.off:
            return
        primitive = OPS[opkind].frames or (opkind,)
        stack = tuple(reversed(step.stack))
        frames = primitive + stack
        c = prog.cpus[cpu]
        edge = dict(cpu=c.name, task=f"{c.comm}/{c.pid}", stack=stack, primitive=primitive,
                    step=step.index + 1, text=step.text.strip(), mode=step.detail.get("mode", 0))
        task = f"{c.comm}/{c.pid}"
        # Recursive locking: the same class held already (two recursive reads excepted).
        for h in held:
            if h.cls == new.cls and not (new.read == 2 and h.read):
                self._report_recursive(prog, cpu, task, held, new, frames)
                return
        # Dependencies from the held stack, newest first, up to the first non-trylock.
        for h in reversed(held):
            t = ("S" if h.read else "E", "R" if new.read == 2 else "N")
            path = self._strong_path(new, h)
            if path is not None:
                self._report_circular(prog, cpu, task, held, new, h, path, frames)
                if not self.graph.has_edge(h.cls, new.cls):
                    self.graph.add_edge(h.cls, new.cls, types={t}, closes_cycle=True, **edge)
                if not self.keep_going:
                    return
                continue
            if self.graph.has_edge(h.cls, new.cls):
                self.graph.edges[h.cls, new.cls]["types"].add(t)
            else:
                self.graph.add_edge(h.cls, new.cls, types={t}, closes_cycle=False, **edge)
            if not h.trylock:
                break

    def _strong_path(self, new: HeldLock, prev: HeldLock):
        """Shortest strong path new -> ... -> prev closing a cycle with edge prev -> new.

        States of the search are (class, how it was entered: 'R' recursive
        read or 'N'). A path may not leave a class entered by a recursive read
        through an edge where that class was held shared.
        """
        if new.cls not in self.graph or prev.cls not in self.graph:
            return None
        x0 = "S" if prev.read else "E"
        y0 = "R" if new.read == 2 else "N"
        start = (new.cls, y0)
        parent = {start: None}
        q = deque([start])
        while q:
            node, ly = q.popleft()
            for nxt in self.graph.successors(node):
                e = self.graph.edges[node, nxt]
                if e["closes_cycle"]:
                    continue   # an attempt lockdep refused, not a dependency it knows
                for x, y in e["types"]:
                    if ly == "R" and x == "S":
                        continue
                    st = (nxt, y)
                    if st in parent:
                        continue
                    parent[st] = (node, ly)
                    if nxt == prev.cls and not (y == "R" and x0 == "S"):
                        path = [st]
                        while parent[path[-1]] is not None:
                            path.append(parent[path[-1]])
                        return [p[0] for p in reversed(path)]
                    q.append(st)
        return None

    # -- reports ---------------------------------------------------------------
    def _usage_str(self, cls: str) -> str:
        u = self._usage.get(cls, set())
        w = "+" if "write" in u else "."
        r = "+" if "read" in u else "."
        return "{" + w + r + w + r + "}" + _wait_type(self._kind.get(cls, "mutex"))

    def _lock_line(self, h: HeldLock) -> str:
        return f"{_addr(h.name)} ({h.cls}){self._usage_str(h.cls)}, at: {h.at}"

    def _held_block(self, task: str, held: list) -> list[str]:
        if not held:
            return [f"no locks held by {task}."]
        lines = [f"{len(held)} lock{'s' if len(held) > 1 else ''} held by {task}:"]
        for i, h in enumerate(held):
            lines.append(f" #{i}: {self._lock_line(h)}")
        return lines

    @staticmethod
    def _stack_lines(frames) -> list[str]:
        return [f"       {f}" for f in frames]

    def _backtrace(self, prog: Program, cpu: int, frames) -> list[str]:
        c = prog.cpus[cpu]
        return (["", "stack backtrace:", f"CPU: {cpu} PID: {c.pid} Comm: {c.comm} (labkit model)", "Call Trace:"]
                + [f" {f}" for f in frames])

    def _header(self, prog: Program, title: str) -> list[str]:
        bar = "=" * (len("WARNING: ") + len(title))
        return ["", bar, f"WARNING: {title}",
                f"labkit lockdep emulator: {prog.case}/{prog.variant} (a model, not a kernel)",
                "-" * len(bar)]

    def _report_recursive(self, prog, cpu, task, held, new, frames):
        prev = next(h for h in held if h.cls == new.cls)
        lines = self._header(prog, "possible recursive locking detected")
        lines += [f"{task} is trying to acquire lock:", self._lock_line(new), "",
                  "but task is already holding lock:", self._lock_line(prev), "",
                  "other info that might help us debug this:",
                  " Possible unsafe locking scenario:", "",
                  "       CPU0", "       ----",
                  # The kernel's print_deadlock_scenario() prints lock() for reads too.
                  f"  lock({prev.cls});",
                  f"  lock({new.cls});", "",
                  " *** DEADLOCK ***", "", " May be due to missing lock nesting notation", ""]
        lines += self._held_block(task, held)
        lines += self._backtrace(prog, cpu, frames)
        self.reports.append(Report(
            "recursive", task, prog.cpus[cpu].name, self._steps, new.cls, prev.cls,
            scenario=(("CPU0", f"lock({prev.cls})"), ("CPU0", f"lock({new.cls})")),
            locks_held=tuple(h.cls for h in held), cycle=((new.cls, new.cls),),
            text="\n".join(lines) + "\n"))
        self.off = not self.keep_going

    def _report_circular(self, prog, cpu, task, held, new, prev, path, frames):
        # path: new.cls = c0 -> c1 -> ... -> ck = prev.cls
        k = len(path) - 1
        lines = self._header(prog, "possible circular locking dependency detected")
        lines += [f"{task} is trying to acquire lock:", self._lock_line(new), "",
                  "but task is already holding lock:", self._lock_line(prev), "",
                  "which lock already depends on the new lock.", "", "",
                  "the existing dependency chain (in reverse order) is:"]
        chain, stacks = [], []
        for i in range(k, 0, -1):
            e = self.graph.edges[path[i - 1], path[i]]
            efr = e["primitive"] + e["stack"]
            lines += ["", f"-> #{i} ({path[i]}){self._usage_str(path[i])}:"] + self._stack_lines(efr)
            chain.append(path[i])
            stacks.append(efr)
        lines += ["", f"-> #0 ({new.cls}){self._usage_str(new.cls)}:"] + self._stack_lines(frames)
        chain.append(new.cls)
        stacks.append(tuple(frames))
        lines += ["", "other info that might help us debug this:", ""]
        src, tgt, parent = new.cls, prev.cls, path[k - 1]
        exists = ()
        if parent != src:
            exists = (src, parent, tgt)
            lines += ["Chain exists of:", f"  {src} --> {parent} --> {tgt}", ""]
        tl = "rlock" if prev.read else "lock"
        sl = "rlock" if new.read else "lock"
        # print_circular_lock_scenario(): only CPU0's lines say rlock; CPU1's are always lock().
        scenario = (("CPU0", f"{tl}({tgt})"), ("CPU1", f"lock({parent})"),
                    ("CPU1", f"lock({tgt})"), ("CPU0", f"{sl}({src})"))
        lines += [" Possible unsafe locking scenario:", "",
                  "       CPU0                    CPU1",
                  "       ----                    ----",
                  f"  {tl}({tgt});",
                  f"                               lock({parent});",
                  f"                               lock({tgt});",
                  f"  {sl}({src});", "", " *** DEADLOCK ***", ""]
        lines += self._held_block(task, held)
        lines += self._backtrace(prog, cpu, frames)
        cycle = tuple((path[i], path[i + 1]) for i in range(k)) + ((prev.cls, new.cls),)
        self.reports.append(Report(
            "circular", task, prog.cpus[cpu].name, self._steps, new.cls, prev.cls,
            chain=tuple(chain), chain_stacks=tuple(stacks), chain_exists_of=exists,
            scenario=scenario, locks_held=tuple(h.cls for h in held), cycle=cycle,
            text="\n".join(lines) + "\n"))
        self.off = not self.keep_going

    # -- views -------------------------------------------------------------------
    def text(self) -> str:
        """Every report, or a line saying lockdep stayed quiet."""
        if not self.reports:
            return "lockdep: no report (no circular dependency, no recursive locking seen)\n"
        return "".join(r.text for r in self.reports)

    def cycle_edges(self) -> list[tuple[str, str]]:
        """The dependency edges of the first report's cycle (for drawing)."""
        return list(self.reports[0].cycle) if self.reports else []


def lockdep_schedules(case_id: str, variant: str) -> tuple[str, ...]:
    """The runs the emulator replays for a variant (its own, else one serial run)."""
    from .cases import get_case
    case = get_case(case_id)
    v = case.variant(variant)
    return v.lockdep or (serial_schedule(case.program(variant)),)


def lockdep_run(case_id: str, variant: str, schedules=None, keep_going: bool = False) -> Lockdep:
    """Replay the variant's lockdep runs (or ``schedules``) into one emulator.

    Each schedule starts from a fresh initial state, but lockdep remembers
    lock classes across runs — exactly why it catches bugs no single run hits.
    """
    from .cases import program
    prog = program(case_id, variant)
    ld = Lockdep(keep_going=keep_going)
    for sched in schedules or lockdep_schedules(case_id, variant):
        try:
            trace = replay(prog, sched)     # bounded: a cpu that loops or recurses is an error
        except ModelError as e:
            raise ModelError(f"{e} (in lockdep's run {sched!r} of {case_id}/{variant})") from None
        ld.observe(trace)
    return ld
