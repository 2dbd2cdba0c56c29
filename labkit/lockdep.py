"""A lockdep emulator: from any trace, the reports the kernel's lockdep would print.

Lockdep's whole point is that it needs no unlucky timing. It watches every
lock acquisition, remembers for each lock *class* which classes were held when
it was taken (a dependency ``held -> new``, with the stack that created it),
and complains as soon as a new dependency would close a cycle — even in a
serial, bug-free run. This module does the same over labkit traces:

* at each acquisition *attempt* (before blocking, as ``lock_acquire()`` does),
  check the wait context, mark the class's usage, check recursive locking,
  then add the edge from the most recently taken lock still held (in the same
  irq context) to the new one, unless a path back already exists;
* lockdep's read/write rules: an edge records whether the held lock was held
  exclusively (E) or shared (S) and whether the new one is taken by a
  recursive reader (R) or not (N); a cycle is only a deadlock if it is
  *strong* — no ``-(?R)->`` edge followed by a ``-(S?)->`` edge. A
  ``down_read()`` of a Linux rwsem is a non-recursive reader (it waits behind
  a queued writer); readers of a reader-preferring lock are recursive;
* usage bits per class, as ``kernel/locking/lockdep.c`` keeps them: for each
  of HARDIRQ and SOFTIRQ, ``USED_IN`` (taken in that interrupt context) and
  ``ENABLED`` (held, or taken, while that interrupt could arrive), each in a
  write and a read form. The ``{+.+.}`` after a class name is computed from
  them (``+`` enabled, ``-`` used in, ``?`` both, ``.`` neither; the four
  places are hardirq write, hardirq read, softirq write, softirq read);
* the interrupt rules: a class used in an interrupt and also enabled for it is
  an *inconsistent lock state*; a class that becomes irq-safe (or unsafe)
  while a dependency already links it to an unsafe (or safe) one is a
  *possible irq lock inversion*; a new dependency from an irq-safe lock to an
  irq-unsafe one is a *safe -> unsafe lock order*;
* a release of a lock the task does not hold is a *bad unlock balance*; a lock
  that may sleep taken where the task may not (a mutex under a spinlock, or in
  an interrupt) is an *invalid wait context* — the ``-{3:3}`` of the new lock
  is compared with the ``-{2:2}`` of what is held;
* like the kernel, it reports once and then turns itself off (``keep_going``
  reports everything, for teaching);
* reports are printed in the kernel's layout: banner, ``... is trying to
  acquire lock:``, ``but task is already holding lock:``, the dependency chain
  in reverse order with ``-> #N (class){usage}:`` entries and their stacks,
  ``Chain exists of:`` for three or more classes, the "Possible unsafe locking
  scenario" table (or the "Possible interrupt unsafe locking scenario" one),
  ``*** DEADLOCK ***`` and the locks held.

Two ways in. :meth:`Lockdep.observe` watches a model's trace. The hooks the
kernel calls — :meth:`Lockdep.lock_acquire`, :meth:`Lockdep.lock_release`,
:meth:`Lockdep.hardirqs_off` / ``on``, :meth:`Lockdep.softirqs_off` / ``on``
(``local_bh_disable``/``enable``), :meth:`Lockdep.hardirq_enter` / ``exit``
and :meth:`Lockdep.softirq_enter` / ``exit`` — take one event each, for
anything a model cannot express yet (``tests/test_lockdep_selftest.py``
replays the kernel's own lockdep selftests through them).

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

The same hooks the kernel calls, one event at a time: a spinlock taken with
interrupts on, then taken by an interrupt handler.

>>> ld = Lockdep(label="irq example")
>>> t = ld.task("CPU0", comm="insmod", pid=7)
>>> A = LockRef("A", "&dev->lock", "spinlock")
>>> ld.lock_acquire(t, A, at="dev_probe"); ld.lock_release(t, A)
>>> ld.hardirq_enter(t); ld.lock_acquire(t, A, at="dev_irq")
>>> r = ld.reports[0]
>>> r.kind, r.usage_transition, ld.usage_chars("&dev->lock")
('inconsistent', '{HARDIRQ-ON-W} -> {IN-HARDIRQ-W}', '{?.+.}')
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from dataclasses import dataclass, field

import networkx as nx

from .errors import ModelError
from .model import Program
from .primitives import LOCK_KINDS, OPS, lock_frames
from .semantics import RUN
from .trace import Trace, replay, serial_schedule

__all__ = ["HeldLock", "LockRef", "Task", "Report", "Lockdep", "lockdep_run", "lockdep_schedules",
           "LOCK_PRIMITIVE_FRAMES", "REPORT_KINDS", "usage_str", "state_name"]

# The frames a kernel stack shows above the caller for each lock operation:
# the table's ``frames`` column (labkit.primitives).
LOCK_PRIMITIVE_FRAMES = lock_frames()

#: What the emulator reports: the parser's five kinds (labkit.splat.KINDS) and two more.
REPORT_KINDS = ("circular", "recursive", "inconsistent", "irq_inversion", "irq_safe_unsafe",
                "bad_unlock_balance", "invalid_wait_context")

# -- usage bits, numbered as lockdep numbers them (lockdep_internals.h) --------------------
# bit = state * 4 + direction * 2 + read: state 0 HARDIRQ, 1 SOFTIRQ; direction 0
# USED_IN (taken in that context), 1 ENABLED (that interrupt could arrive).
STATES = ("HARDIRQ", "SOFTIRQ")
HARDIRQ, SOFTIRQ = 0, 1
_DIR, _READ = 2, 1
LOCK_USED, LOCK_USED_READ = 8, 9
_USED_IN_ALL = frozenset(b for b in range(8) if not b & _DIR)
_ENABLED_ALL = frozenset(b for b in range(8) if b & _DIR)
_IRQ_WRITE = frozenset(b for b in range(8) if not b & _READ)     # lockdep's LOCKF_IRQ


def _bit(state: int, enabled: bool, read: bool) -> int:
    return state * 4 + (_DIR if enabled else 0) + (_READ if read else 0)


def usage_str(bit: int) -> str:
    """Lockdep's name of a usage bit: ``IN-HARDIRQ-W``, ``SOFTIRQ-ON-R``, ``INITIAL USE``.

    >>> usage_str(0), usage_str(6), usage_str(LOCK_USED)
    ('IN-HARDIRQ-W', 'SOFTIRQ-ON-W', 'INITIAL USE')
    """
    if bit == LOCK_USED:
        return "INITIAL USE"
    if bit == LOCK_USED_READ:
        return "INITIAL READ USE"
    state, rw = STATES[bit >> 2], "R" if bit & _READ else "W"
    return f"{state}-ON-{rw}" if bit & _DIR else f"IN-{state}-{rw}"


def state_name(bit: int) -> str:
    """``HARDIRQ``, ``SOFTIRQ-READ`` ...: what lockdep calls the state of a bit."""
    return STATES[bit >> 2] + ("-READ" if bit & _READ else "")


def _exclusive_bit(bit: int) -> int:
    # Keep the state, flip the direction, drop read (lockdep's exclusive_bit()).
    return (bit & ~3) | ((bit & _DIR) ^ _DIR)


def _exclusive_mask(mask) -> set:
    # The bits that conflict with any of ``mask``: the other direction, read or not
    # (exclusive_mask() and original_mask() compute the same set).
    out = set()
    for b in mask:
        if b < LOCK_USED:
            base = (b ^ _DIR) & ~_READ
            out |= {base, base | _READ}
    return out


# -- wait types -------------------------------------------------------------------------
# Printed as -{outer:inner}; LD_WAIT_SPIN = LD_WAIT_CONFIG = 2 (no
# CONFIG_PROVE_RAW_LOCK_NESTING, the kernels before 6.13), LD_WAIT_SLEEP = 3.
_LD_WAIT_SPIN, _LD_WAIT_CONFIG, _LD_WAIT_MAX = 2, 2, 4
_EXTRA_WAIT_TYPES = {"rwlock": "-{2:2}"}       # rwlock_t, before the table has it


def _wait_type(kind: str) -> str:
    # LD_WAIT_SLEEP (3) for sleeping locks, LD_WAIT_CONFIG (2) for spinlock_t.
    k = LOCK_KINDS.get(kind)
    return k.wait_type if k is not None else _EXTRA_WAIT_TYPES.get(kind, "-{3:3}")


def _wait_numbers(kind: str) -> tuple[int, int]:
    """``(outer, inner)`` of a lock kind's wait type."""
    m = re.fullmatch(r"-\{(\d+):(\d+)\}", _wait_type(kind))
    return (int(m.group(1)), int(m.group(2))) if m else (_LD_WAIT_MAX, _LD_WAIT_MAX)


@dataclass(frozen=True)
class LockRef:
    """A lock instance as lockdep sees it: its name, class and kind (the
    ``index`` picks its colour in pictures)."""

    name: str
    cls: str = ""
    kind: str = "spinlock"
    index: int = 0

    def __post_init__(self):
        if not self.cls:
            object.__setattr__(self, "cls", self.name)


@dataclass(frozen=True)
class HeldLock:
    """One entry of a task's held-lock stack, as lockdep keeps it."""

    cls: str
    name: str
    read: int          # 0 exclusive, 1 non-recursive read, 2 recursive read
    at: str            # the function that took it
    kind: str          # mutex, spinlock, rwsem, rwlock
    trylock: bool = False
    irq_context: int = 0          # 0 task, 1 softirq, 2 hardirq (as lockdep's chain keys count)
    hardirqs_off: bool = False    # taken with interrupts disabled


@dataclass
class Task:
    """What lockdep keeps per task (``current``): the held locks and the
    interrupt state. A model's cpu is one task; an interrupt handler runs on
    top of the task it interrupted, on its stack of held locks."""

    cpu: str                      # the model cpu name (CPU0)
    comm: str = "task"
    pid: int = 0
    index: int = 0                # the cpu number printed in the backtrace
    held: list = field(default_factory=list)
    hardirqs_enabled: bool = True
    softirqs_enabled: bool = True
    hardirq: int = 0              # hardirq nesting (HARDIRQ_ENTER)
    softirq: int = 0              # in a softirq (lockdep_softirq_enter)
    bh: int = 0                   # local_bh_disable() nesting

    @property
    def name(self) -> str:
        """``comm/pid``, as lockdep prints the task."""
        return f"{self.comm}/{self.pid}"

    @property
    def irq_context(self) -> int:
        return 2 * bool(self.hardirq) + bool(self.softirq)

    @property
    def in_interrupt(self) -> bool:
        return bool(self.hardirq or self.softirq or self.bh)

    def irq_state(self) -> str:
        """``[HC0[0]:SC0[0]:HE1:SE1]``: in hardirq, in softirq, irqs and bottom halves enabled."""
        sc = self.softirq + 2 * self.bh        # softirq_count(): SOFTIRQ_OFFSET, 2 per local_bh_disable()
        return (f"[HC{int(bool(self.hardirq))}[{self.hardirq}]:SC{int(bool(self.softirq))}[{sc}]:"
                f"HE{int(self.hardirqs_enabled)}:SE{int(self.softirqs_enabled)}]")

    def wait_context(self) -> int:
        """What may be taken here (lockdep's task_wait_context())."""
        if self.hardirq:
            return _LD_WAIT_SPIN
        if self.softirq:
            return _LD_WAIT_CONFIG
        return _LD_WAIT_MAX


@dataclass
class Report:
    """One lockdep report: its facts (for comparison) and its text (for people).

    The facts are those the real-world parser (:mod:`labkit.splat`) reads
    from a report of the same kind, so each emulator report can be checked
    against its own text parsed back. ``acquiring`` is the lock being
    acquired (for ``inconsistent`` the lock it takes, for ``irq_inversion``
    the lock that changed state, for ``bad_unlock_balance`` the lock being
    released); ``held`` the lock already held, ``None`` where the kernel's
    report names none.
    """

    kind: str                          # one of REPORT_KINDS
    task: str                          # comm/pid
    cpu: str                           # the model cpu that tripped it
    step: int                          # 1-based step of the run (across lockdep runs)
    acquiring: str
    held: str | None = None
    chain: tuple[str, ...] = ()        # classes of the -> #N entries, #N first
    chain_stacks: tuple[tuple[str, ...], ...] = ()
    chain_exists_of: tuple[str, ...] = ()
    scenario: tuple[tuple[str, str], ...] = ()
    locks_held: tuple[str, ...] = ()
    cycle: tuple[tuple[str, str], ...] = ()   # dependency edges of the cycle, in order
    text: str = ""
    usage_transition: str | None = None        # inconsistent: {IN-HARDIRQ-W} -> {HARDIRQ-ON-W}
    irq_class: str | None = None               # HARDIRQ or SOFTIRQ, for the three irq kinds
    other_lock: str | None = None              # irq_inversion: the other lock it names
    safe_lock: str | None = None               # irq_inversion, irq_safe_unsafe: the irq-safe lock
    unsafe_lock: str | None = None             # ... and the irq-unsafe one

    def to_json(self) -> dict:
        return {"kind": self.kind, "task_comm": self.task, "acquiring_lock": self.acquiring,
                "held_lock": self.held, "chain": list(self.chain),
                "chain_exists_of": list(self.chain_exists_of),
                "scenario": [list(r) for r in self.scenario],
                "locks_held_count": len(self.locks_held), "locks_held": list(self.locks_held),
                "usage_transition": self.usage_transition, "irq_class": self.irq_class,
                "other_lock": self.other_lock, "safe_lock": self.safe_lock, "unsafe_lock": self.unsafe_lock}


def _addr(name: str) -> str:
    # Kernels print hashed pointers; a hash of the instance name plays that part.
    return f"{zlib.crc32(name.encode()):016x}"


class Lockdep:
    """Feed it traces (:meth:`observe`) or events (the hooks); read :attr:`reports` and :attr:`graph`.

    ``label`` names what is watched in each report's header (a trace sets it to
    its case and variant). ``force_read_lock_recursive`` makes every
    ``read_lock()`` of an rwlock_t a recursive read, as the kernel's selftests
    do; otherwise, as on a kernel with queued rwlocks, it is recursive only in
    interrupt context. ``check_wait_context=False`` leaves out the wait-type
    rule (kernels before 5.7 had none; :mod:`labkit.fromsplat` replays reports
    whose kernel evidently did not stop at it).
    """

    def __init__(self, keep_going: bool = False, label: str | None = None,
                 force_read_lock_recursive: bool = False, check_wait_context: bool = True):
        self.graph = nx.DiGraph()
        self.reports: list[Report] = []
        self.keep_going = keep_going
        self.off = False
        self.label = label
        self.force_read_lock_recursive = force_read_lock_recursive
        self.check_wait_context = check_wait_context
        self._usage: dict[str, dict[int, tuple]] = {}   # class -> {bit: (frames, task, step)}
        self._kind: dict[str, str] = {}
        self._tasks: dict[str, Task] = {}
        self._steps = 0
        self._counted = False      # observe() counts steps itself; the hooks count one each

    # -- tasks and locks ---------------------------------------------------------------
    def task(self, cpu: str, comm: str | None = None, pid: int | None = None, index: int | None = None) -> Task:
        """The task running on model cpu ``cpu`` (made on first use)."""
        t = self._tasks.get(cpu)
        if t is None:
            n = len(self._tasks)
            t = self._tasks[cpu] = Task(cpu, comm or "task", 100 + n if pid is None else pid,
                                        n if index is None else index)
        return t

    def rwlock_read(self, task: Task) -> int:
        """The read mode lockdep gives ``read_lock()`` of an rwlock_t here: 2
        (recursive) in interrupt context or when forced, else 1 (queued rwlocks)."""
        return 2 if self.force_read_lock_recursive or task.in_interrupt else 1

    def _register(self, lock: LockRef):
        self._kind[lock.cls] = lock.kind
        if lock.cls not in self.graph:
            self.graph.add_node(lock.cls, locks=(lock.name,), index=lock.index)
        elif lock.name not in self.graph.nodes[lock.cls]["locks"]:
            self.graph.nodes[lock.cls]["locks"] += (lock.name,)

    def _tick(self):
        if not self._counted:
            self._steps += 1

    # -- feeding: a trace ------------------------------------------------------------------
    def observe(self, trace: Trace) -> "Lockdep":
        """Run lockdep over one trace (a fresh start of the model; classes persist).

        An interrupt handler of the model runs on its host's task, as the
        kernel runs it on whatever ``current`` it interrupted: same held
        locks, with the hardirq (softirq) entered at its first step and left
        after its last; the steps that switch interrupts or bottom halves
        off and on call the hooks that ``local_irq_disable()`` and
        friends call."""
        prog = trace.program
        self.label = f"{prog.case}/{prog.variant}"
        tasks = {}
        for i, c in enumerate(prog.cpus):
            if c.host is None:
                tasks[c.name] = self._tasks[c.name] = Task(c.name, c.comm, c.pid, i)
        for c in prog.cpus:
            if c.host is not None:
                tasks[c.name] = tasks[c.host]
        self._counted = True
        try:
            for s in trace.steps:
                self._steps += 1
                self._observe_step(prog, tasks[s.cpu], s)
        finally:
            self._counted = False
        return self

    def _observe_step(self, prog: Program, task: Task, s):
        op = s.op
        prim = OPS[op.kind]
        family = prim.family
        cpu_i = prog.cpu_id(s.cpu)
        kind = prog.cpus[cpu_i].irq
        irq = s.detail.get("irq") if kind else None
        stack = tuple(reversed(s.stack))
        if irq in ("enter", "enter and return"):
            if kind == "hardirq":
                self.hardirqs_off(task)
                self.hardirq_enter(task)
            else:
                self.softirqs_off(task)
                self.softirq_enter(task)
        first = s.before.threads[cpu_i].status == RUN          # the attempt, not the later grant
        effect = prim.irq if (first or family != "acquire") else None
        if effect in ("off", "save"):
            self.hardirqs_off(task)
        elif effect == "bh_off":
            self.softirqs_off(task)
        if family in ("acquire", "trylock", "release"):
            self._observe_lock(prog, task, s, first, stack)
        if effect in ("on", "restore"):
            after = s.after.vars[prog.irq_var[cpu_i]] if prog.irq_var and prog.irq_var[cpu_i] >= 0 else None
            if effect == "on" or (after is not None and after.on):
                self.hardirqs_on(task, (op.kind,) + stack)
            else:
                self.hardirqs_off(task)
        elif effect == "bh_on":
            self.softirqs_on(task, (op.kind,) + stack)
        if irq in ("return", "enter and return"):
            if kind == "hardirq":
                self.hardirq_exit(task)
                self.hardirqs_on(task, ("irq_exit",) + stack)
            else:
                self.softirq_exit(task)
                self.softirqs_on(task, ("__do_softirq",) + stack)

    def _observe_lock(self, prog: Program, task: Task, s, first: bool, stack: tuple):
        op = s.op
        family = OPS[op.kind].family
        decl = prog.locks[prog.lock_index[op.args[0]]]
        lock = LockRef(decl.name, decl.cls, decl.kind, prog.lock_index[decl.name])
        primitive = OPS[op.kind].frames or (op.kind,)
        at = s.stack[-1] if s.stack else "?"
        if family == "release":
            self.lock_release(task, lock, at=at, frames=(op.kind,) + stack)
            return
        mode = s.detail.get("mode", 0)
        if mode == 0:
            read = 0
        elif decl.kind == "rwlock":
            read = self.rwlock_read(task)
        else:
            read = 2 if decl.reader_pref else 1
        edge = dict(cpu=s.cpu, task=task.name, stack=stack, primitive=primitive, step=s.index + 1,
                    text=s.text.strip(), mode=mode)
        if family == "trylock":
            if s.detail.get("ok"):
                self.lock_acquire(task, lock, read, trylock=True, at=at, frames=primitive + stack, edge=edge)
            return
        if first:
            self.lock_acquire(task, lock, read, at=at, frames=primitive + stack, edge=edge)

    # -- feeding: the kernel's hooks ---------------------------------------------------------
    def lock_acquire(self, task: Task, lock: LockRef, read: int = 0, trylock: bool = False,
                     at: str | None = None, frames=None, edge: dict | None = None) -> None:
        """``lock_acquire()``: check an attempt to take ``lock`` and push it on the held stack.

        In the kernel's order: the wait context, the usage bits (which may
        find an inconsistent state or an irq inversion), then, unless it is a
        trylock, recursive locking and the new dependencies (circular, or
        irq-safe -> irq-unsafe).
        """
        self._tick()
        at = at or "?"
        frames = tuple(frames) if frames is not None else ("lock_acquire", at)
        self._register(lock)
        hl = HeldLock(lock.cls, lock.name, read, at, lock.kind, trylock, task.irq_context,
                      not task.hardirqs_enabled)
        if edge is None:
            edge = dict(cpu=task.cpu, task=task.name, stack=tuple(f for f in frames if f not in LOCK_PRIMITIVE_FRAMES),
                        primitive=tuple(f for f in frames if f in LOCK_PRIMITIVE_FRAMES), step=self._steps,
                        text=f"{at}()", mode=1 if read else 0)
        if not self.off:
            ok = self._check_wait_context(task, hl, frames)
            if ok or self.keep_going:
                ok = self._mark_usage(task, hl, frames)
            if (ok or self.keep_going) and not trylock:
                self._validate(task, hl, frames, edge)
        task.held.append(hl)

    def lock_release(self, task: Task, lock: LockRef, at: str | None = None, frames=None) -> None:
        """``lock_release()``: drop the most recent hold of ``lock``, or report a bad unlock balance."""
        self._tick()
        self._register(lock)
        for i in range(len(task.held) - 1, -1, -1):
            if task.held[i].name == lock.name:
                del task.held[i]
                return
        if not self.off:
            self._report_unlock_imbalance(task, lock, at or "?", tuple(frames) if frames else (at or "?",))

    def hardirqs_off(self, task: Task) -> None:
        """``local_irq_disable()`` (and the hardware's, on entry to an interrupt)."""
        self._tick()
        task.hardirqs_enabled = False

    def hardirqs_on(self, task: Task, frames=("local_irq_enable",)) -> None:
        """``local_irq_enable()``: every held lock becomes ENABLED for hardirqs (and
        for softirqs, when they are enabled too)."""
        self._tick()
        if task.hardirqs_enabled:
            return
        if not self.off and not task.hardirq:
            frames = ("trace_hardirqs_on",) + tuple(frames)
            if self._mark_held(task, HARDIRQ, frames) or self.keep_going:
                if task.softirqs_enabled:
                    self._mark_held(task, SOFTIRQ, frames)
        task.hardirqs_enabled = True

    def softirqs_off(self, task: Task) -> None:
        """``local_bh_disable()``."""
        self._tick()
        task.bh += 1
        task.softirqs_enabled = False

    def softirqs_on(self, task: Task, frames=("local_bh_enable",)) -> None:
        """``local_bh_enable()``: at the outermost one bottom halves are enabled again,
        and with hardirqs on every held lock becomes ENABLED for softirqs."""
        self._tick()
        task.bh = max(0, task.bh - 1)
        if task.bh or task.softirq or task.softirqs_enabled:
            return
        task.softirqs_enabled = True
        if not self.off and task.hardirqs_enabled:
            self._mark_held(task, SOFTIRQ, ("trace_softirqs_on",) + tuple(frames))

    def hardirq_enter(self, task: Task) -> None:
        """A hardirq handler starts on this task's cpu (interrupts are off in it)."""
        self._tick()
        task.hardirqs_enabled = False
        task.hardirq += 1

    def hardirq_exit(self, task: Task) -> None:
        self._tick()
        task.hardirq = max(0, task.hardirq - 1)

    def softirq_enter(self, task: Task) -> None:
        """``lockdep_softirq_enter()``: a softirq handler starts (its caller disabled
        bottom halves; hardirqs stay as they are, on in a real ``__do_softirq()``)."""
        self._tick()
        task.softirq += 1
        task.softirqs_enabled = False

    def softirq_exit(self, task: Task) -> None:
        self._tick()
        task.softirq = max(0, task.softirq - 1)

    # -- the checks -----------------------------------------------------------------------
    def _report(self, r: Report):
        self.reports.append(r)
        self.off = not self.keep_going

    def _check_wait_context(self, task: Task, hl: HeldLock, frames) -> bool:
        """check_wait_context(): the new lock's outer wait type against the strictest
        of the task's context and what it holds in this irq context."""
        if hl.trylock or not self.check_wait_context:
            return True
        outer = _wait_numbers(hl.kind)[0]
        curr = task.wait_context()
        for h in reversed(task.held):
            if h.irq_context != hl.irq_context:
                break
            curr = min(curr, _wait_numbers(h.kind)[1])
        if outer <= curr:
            return True
        self._report_wait_context(task, hl, frames)
        return False

    def _mark_usage(self, task: Task, hl: HeldLock, frames) -> bool:
        """mark_usage(): USED_IN for the interrupt context it is taken in (not by a
        trylock), ENABLED for the interrupts that could arrive while it is held."""
        read = bool(hl.read)
        if not hl.trylock:
            if task.hardirq and not self._mark(task, hl, _bit(HARDIRQ, False, read), frames):
                return False
            if task.softirq and not self._mark(task, hl, _bit(SOFTIRQ, False, read), frames):
                return False
        if not hl.hardirqs_off:
            if not self._mark(task, hl, _bit(HARDIRQ, True, read), frames):
                return False
            if task.softirqs_enabled and not self._mark(task, hl, _bit(SOFTIRQ, True, read), frames):
                return False
        return self._mark(task, hl, LOCK_USED_READ if read else LOCK_USED, frames)

    def _mark_held(self, task: Task, state: int, frames) -> bool:
        """mark_held_locks(): interrupts are being enabled with these locks held."""
        for h in list(task.held):
            if not self._mark(task, h, _bit(state, True, bool(h.read)), frames):
                return False
        return True

    def _mark(self, task: Task, hl: HeldLock, bit: int, frames) -> bool:
        """mark_lock(): set a usage bit; a new irq bit is checked against the class
        (inconsistent) and against the classes it is linked to (irq inversion)."""
        usage = self._usage.setdefault(hl.cls, {})
        if bit in usage:
            return True
        usage[bit] = (tuple(frames), task.name, self._steps)
        if bit >= LOCK_USED:
            return True
        excl = _exclusive_bit(bit)
        if excl in usage:
            return self._report_inconsistent(task, hl, excl, bit, frames)
        if not bit & _READ and excl | _READ in usage:
            return self._report_inconsistent(task, hl, excl | _READ, bit, frames)
        if bit & _DIR:
            # ENABLED looks backwards: no class that leads here may be USED_IN.
            target, parent = self._bfs(hl.cls, hl.read != 0, False, self._matcher({excl, excl | _READ}))
        else:
            # USED_IN looks forwards: no class reachable from here may be ENABLED.
            target, parent = self._bfs(hl.cls, hl.read == 2, True, self._matcher({excl, excl | _READ}))
        if target is None:
            return True
        irqclass = state_name(excl if excl in self._usage.get(target, {}) else excl | _READ)
        self._report_irq_inversion(task, hl, target, parent, not bit & _DIR, irqclass, frames)
        return False

    def _matcher(self, mask):
        def match(cls, only_xr):
            bits = self._usage.get(cls, {}).keys()
            if only_xr:
                bits = [b for b in bits if b in _IRQ_WRITE]
            return any(b in mask for b in bits)
        return match

    def _bfs(self, root: str, only_xr: bool, forwards: bool, match):
        """Lockdep's __bfs(): breadth first along strong dependency paths from
        ``root``, each class visited once, the first class ``match`` accepts.

        ``only_xr`` says the path so far ends in recursive reads only
        (forwards; backwards: in shared holds only), so the next edge must not
        start with a shared hold (backwards: end in a recursive read).
        Returns ``(class or None, parent map)``.
        """
        parent = {root: None}
        q = deque([(root, only_xr)])
        while q:
            cls, oxr = q.popleft()
            if match(cls, oxr):
                return cls, parent
            nbrs = self.graph.successors(cls) if forwards else self.graph.predecessors(cls)
            for nxt in list(nbrs):
                if nxt in parent:
                    continue
                e = self.graph.edges[(cls, nxt) if forwards else (nxt, cls)]
                if e["closes_cycle"]:
                    continue   # an attempt lockdep refused, not a dependency it knows
                parent[nxt] = cls
                types = e["types"]
                if forwards:
                    types = [t for t in types if not (oxr and t[0] == "S")]
                    n_oxr = all(t[1] == "R" for t in types)
                else:
                    types = [t for t in types if not (oxr and t[1] == "R")]
                    n_oxr = all(t[0] == "S" for t in types)
                if types:
                    q.append((nxt, n_oxr))
        return None, parent

    def _validate(self, task: Task, new: HeldLock, frames, edge: dict):
        """validate_chain(): recursive locking, then the new dependencies from the
        held locks of the same irq context, newest first, up to the first non-trylock."""
        for h in task.held:
            if h.cls == new.cls and not (new.read == 2 and h.read):
                self._report_recursive(task, new, h, frames)
                return
        for h in reversed(task.held):
            if h.irq_context != new.irq_context:
                break       # a lock first in its irq context heads a new chain
            t = ("S" if h.read else "E", "R" if new.read == 2 else "N")
            path = self._strong_path(new, h)
            if path is not None:
                self._report_circular(task, new, h, path, frames)
                if not self.graph.has_edge(h.cls, new.cls):
                    self.graph.add_edge(h.cls, new.cls, types={t}, closes_cycle=True, **edge)
                if not self.keep_going:
                    return
                continue
            if not self._check_irq_usage(task, h, new, frames) and not self.keep_going:
                return
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

    def _check_irq_usage(self, task: Task, prev: HeldLock, new: HeldLock, frames) -> bool:
        """check_irq_usage(): does the new dependency prev -> new connect an irq-safe
        lock (before prev) with an irq-unsafe one (after new)?"""
        acc: set = set()

        def accumulate(cls, only_xr):
            bits = self._usage.get(cls, {}).keys()
            acc.update(b for b in bits if b in _IRQ_WRITE or not only_xr)
            return False
        self._bfs(prev.cls, prev.read != 0, False, accumulate)
        used_in = acc & _USED_IN_ALL
        if not used_in:
            return True
        unsafe, par1 = self._bfs(new.cls, new.read == 2, True, self._matcher(_exclusive_mask(used_in)))
        if unsafe is None:
            return True
        enabled = set(self._usage.get(unsafe, {})) & _ENABLED_ALL
        safe, par0 = self._bfs(prev.cls, prev.read != 0, False, self._matcher(_exclusive_mask(enabled)))
        if safe is None:
            return True
        bits = self._match_bits(safe, unsafe)
        if bits is None:
            return True
        self._report_irq_safe_unsafe(task, prev, new, safe, unsafe, bits, par0, par1, frames)
        return False

    def _match_bits(self, safe: str, unsafe: str):
        # find_exclusive_match(): the first usage bit of the safe class whose opposite
        # (write, else read) the unsafe class has.
        theirs = self._usage.get(unsafe, {})
        for bit in sorted(self._usage.get(safe, {})):
            if bit >= LOCK_USED:
                break
            excl = _exclusive_bit(bit)
            if excl in theirs:
                return bit, excl
            if excl | _READ in theirs:
                return bit, excl | _READ
        return None

    # -- reports ---------------------------------------------------------------------------
    def usage_chars(self, cls: str) -> str:
        """``{+.+.}``: the class's usage, computed from its bits as lockdep does:
        ``+`` enabled, ``-`` used in, ``?`` both, ``.`` neither, for hardirq write,
        hardirq read, softirq write, softirq read."""
        u = self._usage.get(cls, {})
        out = []
        for state in (HARDIRQ, SOFTIRQ):
            for read in (False, True):
                used, enabled = _bit(state, False, read) in u, _bit(state, True, read) in u
                out.append("?" if used and enabled else "+" if enabled else "-" if used else ".")
        return "{" + "".join(out) + "}"

    def _usage_str(self, cls: str) -> str:
        return self.usage_chars(cls) + _wait_type(self._kind.get(cls, "mutex"))

    def _lock_line(self, h: HeldLock) -> str:
        return f"{_addr(h.name)} ({h.cls}){self._usage_str(h.cls)}, at: {h.at}"

    def _name(self, cls: str) -> str:
        """print_lock_name(): `` (class){usage}-{n:n}``."""
        return f" ({cls}){self._usage_str(cls)}"

    def _held_block(self, task: Task) -> list[str]:
        held = task.held
        if not held:
            return [f"no locks held by {task.name}."]
        lines = [f"{len(held)} lock{'s' if len(held) > 1 else ''} held by {task.name}:"]
        for i, h in enumerate(held):
            lines.append(f" #{i}: {self._lock_line(h)}")
        return lines

    @staticmethod
    def _stack_lines(frames, indent: int = 7) -> list[str]:
        return [" " * indent + f for f in frames]

    @staticmethod
    def _backtrace(task: Task, frames) -> list[str]:
        return (["", "stack backtrace:", f"CPU: {task.index} PID: {task.pid} Comm: {task.comm} (labkit model)",
                 "Call Trace:"] + [f" {f}" for f in frames])

    def _header(self, title: str, banner: str | None = None) -> list[str]:
        line = banner or f"WARNING: {title}"
        bar = "=" * len(line)
        return ["", bar, line, f"labkit lockdep emulator: {self.label or 'events'} (a model, not a kernel)",
                "-" * len(bar)]

    def _add(self, kind: str, task: Task, lines: list, **facts):
        self._report(Report(kind, task.name, task.cpu, self._steps, text="\n".join(lines) + "\n",
                            locks_held=tuple(h.cls for h in task.held), **facts))

    def _report_recursive(self, task: Task, new: HeldLock, prev: HeldLock, frames):
        lines = self._header("possible recursive locking detected")
        lines += [f"{task.name} is trying to acquire lock:", self._lock_line(new), "",
                  "but task is already holding lock:", self._lock_line(prev), "",
                  "other info that might help us debug this:",
                  " Possible unsafe locking scenario:", "",
                  "       CPU0", "       ----",
                  # The kernel's print_deadlock_scenario() prints lock() for reads too.
                  f"  lock({prev.cls});",
                  f"  lock({new.cls});", "",
                  " *** DEADLOCK ***", "", " May be due to missing lock nesting notation", ""]
        lines += self._held_block(task)
        lines += self._backtrace(task, frames)
        self._add("recursive", task, lines, acquiring=new.cls, held=prev.cls,
                  scenario=(("CPU0", f"lock({prev.cls})"), ("CPU0", f"lock({new.cls})")),
                  cycle=((new.cls, new.cls),))

    def _report_circular(self, task: Task, new: HeldLock, prev: HeldLock, path, frames):
        # path: new.cls = c0 -> c1 -> ... -> ck = prev.cls
        k = len(path) - 1
        lines = self._header("possible circular locking dependency detected")
        lines += [f"{task.name} is trying to acquire lock:", self._lock_line(new), "",
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
        lines += self._held_block(task)
        lines += self._backtrace(task, frames)
        cycle = tuple((path[i], path[i + 1]) for i in range(k)) + ((prev.cls, new.cls),)
        self._add("circular", task, lines, acquiring=new.cls, held=prev.cls, chain=tuple(chain),
                  chain_stacks=tuple(stacks), chain_exists_of=exists, scenario=scenario, cycle=cycle)

    def _usage_trace(self, cls: str, bit: int, indent: int = 2) -> list[str]:
        frames = self._usage.get(cls, {}).get(bit, ((),))[0]
        return self._stack_lines(frames, indent)

    def _report_inconsistent(self, task: Task, hl: HeldLock, prev_bit: int, new_bit: int, frames) -> bool:
        """print_usage_bug(): the class was {prev_bit} and now becomes {new_bit}."""
        transition = f"{{{usage_str(prev_bit)}}} -> {{{usage_str(new_bit)}}}"
        lines = self._header("inconsistent lock state")
        lines += [f"inconsistent {transition} usage.",
                  f"{task.name} {task.irq_state()} takes:", self._lock_line(hl),
                  f"{{{usage_str(prev_bit)}}} state was registered at:"]
        lines += self._usage_trace(hl.cls, prev_bit)
        lines += ["", "other info that might help us debug this:",
                  " Possible unsafe locking scenario:", "",
                  "       CPU0", "       ----",
                  f"  lock({hl.cls});", "  <Interrupt>", f"    lock({hl.cls});", "",
                  " *** DEADLOCK ***", ""]
        lines += self._held_block(task)
        lines += self._backtrace(task, frames)
        self._add("inconsistent", task, lines, acquiring=hl.cls, usage_transition=transition,
                  irq_class=STATES[new_bit >> 2],
                  scenario=(("CPU0", f"lock({hl.cls})"), ("CPU0", "<Interrupt>"), ("CPU0", f"lock({hl.cls})")),
                  cycle=((hl.cls, hl.cls),))
        return False

    @staticmethod
    def _path(parent: dict, leaf: str) -> list[str]:
        """leaf, its parent, ..., the root of a search."""
        out = [leaf]
        while parent.get(out[-1]) is not None:
            out.append(parent[out[-1]])
        return out

    def _irq_scenario(self, safe: str, unsafe: str, prev_cls: str, next_cls: str):
        """print_irq_lock_scenario(): the lines, the Chain exists of, and the rows."""
        middle = next_cls if prev_cls == safe else prev_cls
        lines, exists = [], ()
        if middle != unsafe:
            exists = (safe, middle, unsafe)
            lines += ["Chain exists of:", f"  {safe} --> {middle} --> {unsafe}", ""]
        lines += [" Possible interrupt unsafe locking scenario:", "",
                  "       CPU0                    CPU1",
                  "       ----                    ----",
                  f"  lock({unsafe});",
                  "                               local_irq_disable();",
                  f"                               lock({safe});",
                  f"                               lock({middle});",
                  "  <Interrupt>",
                  f"    lock({safe});", "", " *** DEADLOCK ***", ""]
        rows = (("CPU0", f"lock({unsafe})"), ("CPU1", "local_irq_disable()"), ("CPU1", f"lock({safe})"),
                ("CPU1", f"lock({middle})"), ("CPU0", "<Interrupt>"), ("CPU0", f"lock({safe})"))
        return lines, exists, rows

    def _dependency_lines(self, path: list[str], forwards: bool, root_frames=()) -> list[str]:
        """print_shortest_lock_dependencies(): each class of a search path, leaf
        first, with its usage traces and the stack that made its dependency
        (the root's: the stack of this acquisition)."""
        lines = []
        depth = len(path) - 1
        for i, cls in enumerate(path):
            pad = " " * depth
            lines.append(f"{pad}->{self._name(cls)} {{")
            for bit in sorted(self._usage.get(cls, {})):
                name = usage_str(bit)
                lines.append(f"{pad}   {name} at:")
                lines += self._usage_trace(cls, bit, depth + len(name) + 9)
            lines += [f"{pad} }}", f"{pad} ... key      at: [<{_addr(cls)}>] {cls}",
                      f"{pad} ... acquired at:"]
            if i + 1 < len(path):
                a, b = (path[i + 1], cls) if forwards else (cls, path[i + 1])
                e = self.graph.edges[a, b]
                lines += self._stack_lines(e["primitive"] + e["stack"], 3)
            else:
                lines += self._stack_lines(root_frames, 3)
            lines.append("")
            depth -= 1
        return lines

    def _report_irq_inversion(self, task: Task, hl: HeldLock, other: str, parent: dict, forwards: bool,
                              irqclass: str, frames):
        """print_irq_inversion_bug(): ``hl`` just became irq-safe (``forwards``) and
        leads to the irq-unsafe ``other``, or became irq-unsafe and ``other``,
        irq-safe, leads to it."""
        root = hl.cls
        path = self._path(parent, other)             # other ... root
        middle = path[-2] if len(path) > 1 else other
        lines = self._header("possible irq lock inversion dependency detected")
        lines += [f"{task.name} just changed the state of lock:", self._lock_line(hl),
                  f"but this lock took another, {irqclass}-unsafe lock in the past:" if forwards else
                  f"but this lock was taken by another, {irqclass}-safe lock in the past:",
                  self._name(other), "", "", "and interrupts could create inverse lock ordering between them.",
                  "", "", "other info that might help us debug this:"]
        if forwards:
            safe, unsafe = root, other
            scen, exists, rows = self._irq_scenario(root, other, middle, other)
        else:
            safe, unsafe = other, root
            scen, exists, rows = self._irq_scenario(other, root, middle, root)
        lines += scen
        lines += self._held_block(task)
        lines += ["", "the shortest dependencies between 2nd lock and 1st lock:"]
        lines += self._dependency_lines(path, forwards, frames)
        lines += self._backtrace(task, frames)
        self._add("irq_inversion", task, lines, acquiring=root, other_lock=other, safe_lock=safe,
                  unsafe_lock=unsafe, irq_class=irqclass.split("-")[0], chain_exists_of=exists, scenario=rows,
                  cycle=tuple(zip(path[1:], path[:-1])) if forwards else tuple(zip(path[:-1], path[1:])))

    def _report_irq_safe_unsafe(self, task: Task, prev: HeldLock, new: HeldLock, safe: str, unsafe: str,
                                bits, par0: dict, par1: dict, frames):
        """print_bad_irq_dependency(): prev -> new would connect the irq-safe ``safe``
        (at or before prev) with the irq-unsafe ``unsafe`` (at or after new)."""
        bit1, bit2 = bits
        irqclass = state_name(bit1)
        lines = self._header(f"{irqclass}-safe -> {irqclass}-unsafe lock order detected")
        lines += [f"{task.name} {task.irq_state()} is trying to acquire:", self._lock_line(new), "",
                  "and this task is already holding:", self._lock_line(prev),
                  "which would create a new lock dependency:",
                  f"{self._name(prev.cls)} ->{self._name(new.cls)}", "",
                  f"but this new dependency connects a {irqclass}-irq-safe lock:", self._name(safe), "",
                  f"... which became {irqclass}-irq-safe at:"]
        lines += self._usage_trace(safe, bit1)
        lines += ["", f"to a {irqclass}-irq-unsafe lock:", self._name(unsafe), "",
                  f"... which became {irqclass}-irq-unsafe at:", "..."]
        lines += self._usage_trace(unsafe, bit2)
        lines += ["", "other info that might help us debug this:", ""]
        scen, exists, rows = self._irq_scenario(safe, unsafe, prev.cls, new.cls)
        lines += scen
        lines += self._held_block(task)
        back = self._path(par0, safe)                # safe ... prev
        fwd = self._path(par1, unsafe)               # unsafe ... new
        lines += ["", f"the dependencies between {irqclass}-irq-safe lock and the holding lock:"]
        lines += self._dependency_lines(back, False, frames)
        lines += ["", "the dependencies between the lock to be acquired",
                  f" and {irqclass}-irq-unsafe lock:"]
        lines += self._dependency_lines(fwd, True, frames)
        lines += self._backtrace(task, frames)
        cycle = (tuple(zip(back[:-1], back[1:])) + ((prev.cls, new.cls),)
                 + tuple(zip(reversed(fwd[1:]), reversed(fwd[:-1]))))
        self._add("irq_safe_unsafe", task, lines, acquiring=new.cls, held=prev.cls, irq_class=STATES[bit1 >> 2],
                  safe_lock=safe, unsafe_lock=unsafe, chain_exists_of=exists, scenario=rows, cycle=cycle)

    def _report_unlock_imbalance(self, task: Task, lock: LockRef, at: str, frames):
        """print_unlock_imbalance_bug(): releasing a lock this task does not hold."""
        lines = self._header("bad unlock balance detected!")
        lines += [f"{task.name} is trying to release lock ({lock.cls}) at:",
                  f"[<{_addr(at)}>] {at}",
                  "but there are no more locks to release!", "",
                  "other info that might help us debug this:"]
        lines += self._held_block(task)
        lines += self._backtrace(task, frames)
        self._add("bad_unlock_balance", task, lines, acquiring=lock.cls)

    def _report_wait_context(self, task: Task, hl: HeldLock, frames):
        """print_lock_invalid_wait_context(): a lock that may sleep (or spin where
        only raw spinning is allowed) taken in a stricter context."""
        ctx = task.wait_context()
        lines = self._header("", banner="[ BUG: Invalid wait context ]")
        lines += [f"{task.name} is trying to lock:", self._lock_line(hl),
                  "other info that might help us debug this:", f"context-{{{ctx}:{ctx}}}"]
        lines += self._held_block(task)
        bt = self._backtrace(task, frames)
        lines += bt[1:]           # no blank line before the backtrace in this report
        self._add("invalid_wait_context", task, lines, acquiring=hl.cls)

    # -- views -------------------------------------------------------------------------------
    def text(self) -> str:
        """Every report, or a line saying lockdep stayed quiet."""
        if not self.reports:
            return ("lockdep: no report (no circular or recursive locking, no inconsistent irq usage, no bad "
                    "unlock, no invalid wait context seen)\n")
        return "".join(r.text for r in self.reports)

    def cycle_edges(self) -> list[tuple[str, str]]:
        """The dependency edges of the first report's cycle (for drawing)."""
        return list(self.reports[0].cycle) if self.reports else []

    def usage(self, cls: str) -> tuple[str, ...]:
        """The usage bits a class has, by lockdep's names (``IN-HARDIRQ-W`` ...)."""
        return tuple(usage_str(b) for b in sorted(self._usage.get(cls, {})))


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
