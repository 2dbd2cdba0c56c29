"""From a real lockdep report to a scenario you can step.

Lockdep prints a two-cpu "Possible unsafe locking scenario" table and leaves
the rest to the reader. :func:`from_splat` reads a *circular* or *recursive*
report (:mod:`labkit.splat` finds it in dmesg, syslog or mail text) and
builds an ordinary model with :mod:`labkit.model`'s builder:

* a circular report: one cpu per dependency of the chain, so a cycle of N
  lock classes gives N cpus. The cpu of entry ``#k`` runs the call path of
  that entry's stack (the kernel's function names, outermost first, lockdep's
  own frames trimmed) and takes the class of entry ``#k-1`` and then its own
  class; the cpu of ``#0`` is the task that tripped lockdep: it holds the
  report's held lock and takes ``#0``. Each holds what the next one wants, so
  the cycle can close;
* a recursive report: the one task taking the class twice. When both
  acquisitions are reads, a second cpu writes: a reader queued behind a
  waiting writer is what makes a read taken twice a deadlock.

Lock kinds come from what the report prints: the lock function above the
caller in a stack (``down_write``, ``down_read``, ``mutex_lock_nested``,
``_raw_spin_lock`` ...), the usage bits (``{++++}`` read and write,
``{+.+.}`` write only, ``{.+.+}`` read only), the wait type (``-{2:2}``
spinning), ``rlock`` in the scenario. What the report does not say, the model
does not invent: an unknown kind is a mutex, an unknown mode is a write, an
unnamed task is "unnamed", and every such choice is listed in
:attr:`Scenario.notes`, in the generated case module and in the stepper.

The result is explored (the deadlock and its shortest schedule), stepped
(:meth:`Scenario.stepper`, :meth:`Scenario.export`), and the lockdep emulator's
serial runs on it report the same chain as the real report
(:meth:`Scenario.compare` says AGREE). :meth:`Scenario.source` is a case
module a lecturer can keep and edit.

>>> text = '''
... WARNING: possible circular locking dependency detected
... 6.1.0 #1 Not tainted
... ------------------------------------------------------
... cat/42 is trying to acquire lock:
... ffff0001 (&b->lock){+.+.}-{3:3}, at: take_b+0x10/0x40
...
... but task is already holding lock:
... ffff0002 (&a->lock){+.+.}-{3:3}, at: path_one+0x10/0x40
...
... the existing dependency chain (in reverse order) is:
...
... -> #1 (&a->lock){+.+.}-{3:3}:
...        lock_acquire+0x1/0x2
...        __mutex_lock+0x1/0x2
...        mutex_lock_nested+0x1/0x2
...        take_a+0x1/0x2
...        path_two+0x1/0x2
...
... -> #0 (&b->lock){+.+.}-{3:3}:
...        __lock_acquire+0x1/0x2
...        lock_acquire+0x1/0x2
...        __mutex_lock+0x1/0x2
...        mutex_lock_nested+0x1/0x2
...        take_b+0x1/0x2
...        path_one+0x1/0x2
... '''
>>> sc = from_splat(text)
>>> [c["name"] for c in sc.cpus], sc.cpus[0]["task"]
(['CPU0', 'CPU1'], 'cat/42')
>>> sc.bug()
'CPU0 CPU0 CPU1 CPU0 CPU1'
>>> sc.compare().agree
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import model as _model
from .errors import LabError
from .splat import Splat, _frame_function, _normalise, parse, read_report

__all__ = ["FromSplatError", "Unsupported", "Scenario", "from_splat", "LOCKDEP_FRAMES", "VARIANT",
           "STEPPER_MAX_STATES"]

VARIANT = "report"
# A scenario has one variant, so its stepper can ship more states than a case's
# (a cycle of five classes has about 7,000: about half a megabyte of JSON);
# beyond this it ships the serial runs and the deadlock's schedule only.
STEPPER_MAX_STATES = 20_000


class FromSplatError(LabError, ValueError):
    """The text holds a report, but not one a scenario can be built from."""


class Unsupported(FromSplatError):
    """A kind of report the scenario builder does not handle (yet)."""


# --- what the stacks say ---------------------------------------------------------

# Lockdep's own frames: everything above the lock function in a chain entry's stack.
LOCKDEP_FRAMES = frozenset({
    "lock_acquire", "__lock_acquire", "lock_acquired", "check_prev_add", "check_prevs_add",
    "validate_chain", "check_noncircular", "print_circular_bug", "check_path", "__bfs",
    "save_trace", "stack_trace_save", "lockdep_acquire", "mark_lock", "mark_usage",
    "lock_acquire_exclusive", "lock_acquire_shared", "lock_acquire_shared_recursive",
    "lock_map_acquire", "lock_map_acquire_read", "lock_map_acquire_tryread",
})

# The lock functions a stack shows above the caller: name -> (kind, mode, what the model prints).
# Kinds are the model's (mutex, rwsem, spinlock); the shown name is the kernel's.
_PRIMITIVES: dict[str, tuple[str, str, str]] = {}
for _n in ("__mutex_lock", "__mutex_lock_common", "__mutex_lock_slowpath", "mutex_lock", "mutex_lock_nested",
           "mutex_lock_interruptible", "mutex_lock_interruptible_nested", "mutex_lock_killable",
           "mutex_lock_killable_nested", "mutex_lock_io", "mutex_lock_io_nested", "_mutex_lock_nest_lock",
           "__mutex_lock_interruptible_slowpath", "__mutex_lock_killable_slowpath", "_mutex_lock"):
    _PRIMITIVES[_n] = ("mutex", "write", "mutex_lock")
for _n in ("down_write", "down_write_nested", "down_write_killable", "down_write_killable_nested",
           "__down_write", "__down_write_common", "_down_write_nest_lock"):
    _PRIMITIVES[_n] = ("rwsem", "write", "down_write")
for _n in ("down_read", "down_read_nested", "down_read_killable", "down_read_killable_nested",
           "down_read_interruptible", "down_read_non_owner", "__down_read", "__down_read_common"):
    _PRIMITIVES[_n] = ("rwsem", "read", "down_read")
for _n in ("percpu_down_write", "cpus_write_lock", "__percpu_down_write"):
    _PRIMITIVES[_n] = ("rwsem", "write", "percpu_down_write")
for _n in ("percpu_down_read", "cpus_read_lock", "__percpu_down_read", "percpu_down_read_internal"):
    _PRIMITIVES[_n] = ("rwsem", "read", "percpu_down_read")
for _s in ("", "_irq", "_irqsave", "_bh", "_nested", "_irqsave_nested", "_nest_lock"):
    _PRIMITIVES["_raw_spin_lock" + _s] = ("spinlock", "write", "spin_lock" + _s.replace("_nested", "")
                                          .replace("_nest_lock", ""))
    _PRIMITIVES["spin_lock" + _s] = _PRIMITIVES["_raw_spin_lock" + _s]
    _PRIMITIVES["_raw_read_lock" + _s] = ("rwsem", "read", "read_lock" + _s.replace("_nested", ""))
    _PRIMITIVES["_raw_write_lock" + _s] = ("rwsem", "write", "write_lock" + _s.replace("_nested", ""))
for _n in ("do_raw_spin_lock", "__raw_spin_lock", "raw_spin_rq_lock_nested", "_raw_spin_trylock"):
    _PRIMITIVES[_n] = ("spinlock", "write", "spin_lock")

# Real functions that take a lockdep map or annotate an acquisition themselves:
# they stay in the path (they are the caller), and say what was taken.
_MAP_TAKERS = {
    "process_one_work": ("map", "write", "lock_map_acquire"),
    "__flush_work": ("map", "write", "lock_map_acquire"),
    "start_flush_work": ("map", "write", "lock_map_acquire"),
    "flush_work": ("map", "write", "lock_map_acquire"),
    "flush_workqueue": ("map", "write", "lock_map_acquire"),
    "__flush_workqueue": ("map", "write", "lock_map_acquire"),
    "drain_workqueue": ("map", "write", "lock_map_acquire"),
    "touch_wq_lockdep_map": ("map", "write", "lock_map_acquire"),
    "touch_work_lockdep_map": ("map", "write", "lock_map_acquire"),
    "__might_fault": ("rwsem", "read", "might_lock_read"),
}

_CLONE_SUFFIX = re.compile(r"(?:\.(?:part|isra|constprop|cold|llvm|lto_priv)(?:\.\d+)?)+$")
_AT_FUNC = re.compile(r"([A-Za-z_][\w.$]{0,200})\+0x[0-9a-fA-F]{1,16}/0x[0-9a-fA-F]{1,16}")
_ADDR_BEFORE = re.compile(r"(?:0x)?([0-9a-f]{8,16})\s{1,4}$")
_WAIT_TYPE = re.compile(r"-\{(\d):(\d)\}")


def _clean(fn: str) -> str:
    """A function name without the compiler's clone suffixes (``.part.1``, ``.isra.0``)."""
    return _CLONE_SUFFIX.sub("", fn) or fn


def _trim(stack: tuple[str, ...]) -> tuple[list[str], tuple[str, str, str] | None, str | None]:
    """A chain entry's stack (innermost first) -> (the path outermost first,
    what the lock frames say (kind, mode, shown name) or None, the lock frame seen)."""
    frames = [_clean(f) for f in stack]
    i = 0
    seen = None
    said = None
    while i < len(frames) and (frames[i] in LOCKDEP_FRAMES or frames[i] in _PRIMITIVES):
        if frames[i] in _PRIMITIVES:
            seen = frames[i]
            said = said or _PRIMITIVES[frames[i]]
        i += 1
    rest = frames[i:]
    if said is None and rest and rest[0] in _MAP_TAKERS:
        said = _MAP_TAKERS[rest[0]]
        seen = rest[0]
    path: list[str] = []
    for f in reversed(rest):
        if not path or path[-1] != f:
            path.append(f)
    return path, said, seen


# --- what the lock lines say (usage bits, wait type, where, address) ----------------

@dataclass
class _LockLine:
    usage: str | None = None
    wait: str | None = None          # "3:3"
    at: str | None = None
    addr: str | None = None


def _read_lock_line(text: str, start: int, cls: str) -> tuple[_LockLine, int] | None:
    """The first ``(cls){usage}[-{n:n}], at: func`` at or after ``start``."""
    key = "(" + cls + "){"
    i = text.find(key, start)
    if i < 0:
        return None
    j = i + len(key)
    k = text.find("}", j, j + 12)
    line = _LockLine()
    if k < 0:
        return line, j
    u = text[j:k]
    if re.fullmatch(r"[-+.?]{2,12}", u):
        line.usage = u
    rest = text[k + 1:k + 1 + 600]
    m = _WAIT_TYPE.match(rest)
    if m:
        line.wait = f"{m.group(1)}:{m.group(2)}"
    a = rest.find("at:", 0, 40)
    if a >= 0:
        m = _AT_FUNC.search(rest, a)
        # The function follows "at:" (after a wrap, a log prefix, an [<address>]).
        if m and "\n\n" not in rest[a:m.start()] and m.start() - a < 300:
            line.at = _clean(m.group(1))
    m = _ADDR_BEFORE.search(text, max(0, i - 24), i)
    if m:
        line.addr = m.group(1)
    return line, k


def _lock_lines(text: str, splat: Splat) -> tuple[dict[str, _LockLine], _LockLine | None, _LockLine | None]:
    """Usage bits per class, and the acquiring and held lock lines of the report.

    :class:`labkit.splat.Splat` names the classes but not their usage bits,
    wait types, addresses or ``at:`` functions; they are read here from the
    text, starting at the report's task line.
    """
    start = text.find(splat.task_comm) if splat.task_comm else -1
    start = max(start, 0)
    classes = list(dict.fromkeys([c for c in (splat.acquiring_lock, splat.held_lock) if c] + list(splat.chain)))
    info: dict[str, _LockLine] = {}
    for c in classes:
        got = _read_lock_line(text, start, c)
        info[c] = got[0] if got else _LockLine()
    acq = held = None
    if splat.acquiring_lock:
        got = _read_lock_line(text, start, splat.acquiring_lock)
        if got:
            acq = got[0]
            h = text.find("already holding", got[1])
            if h >= 0 and splat.held_lock:
                got2 = _read_lock_line(text, h, splat.held_lock)
                held = got2[0] if got2 else None
    return info, acq, held


def _usage_modes(u: str | None) -> tuple[bool, bool] | None:
    """(taken for write, taken for read) from usage bits such as ``{+.+.}``."""
    if not u or len(u) % 2:
        return None
    return any(c != "." for c in u[0::2]), any(c != "." for c in u[1::2])


# Frames of lockdep's printing and checking, above the lock function in a backtrace.
_REPORTING_FRAMES = frozenset({
    "dump_stack", "dump_stack_lvl", "__dump_stack", "show_stack", "print_usage_bug", "valid_state", "mark_lock_irq",
    "mark_held_locks", "print_irq_inversion_bug", "check_usage_backwards", "check_usage_forwards",
    "print_bad_irq_dependency", "check_irq_usage", "lockdep_hardirqs_on_prepare", "trace_hardirqs_on",
    "lockdep_softirqs_on", "__local_bh_enable_ip", "mark_usage",
}) | LOCKDEP_FRAMES


def _stack_after(text: str, marker: str, start: int = 0) -> tuple[str, ...]:
    """The function names of the stack printed after the first ``marker`` line
    at or after ``start``, innermost first (empty when there is none)."""
    i = text.find(marker, start)
    if i < 0:
        return ()
    out: list[str] = []
    for raw in text[text.find("\n", i) + 1:].splitlines()[:200]:
        content, _ = _normalise(raw)
        if not content.strip():
            if out:
                break
            continue
        fn = _frame_function(content) or _frame_function(" " + content.strip())
        if fn is not None:
            out.append(_clean(fn))
        elif not content.strip().startswith(("?", "<", "[", "...")):
            break           # a line of the report, not a frame: the stack is over
    return tuple(out)


def _from_lock_frame(frames: tuple[str, ...]) -> tuple[str, ...]:
    """A backtrace (innermost first) from its lock function down, lockdep's own frames dropped."""
    for j, f in enumerate(frames[:30]):
        if f in _PRIMITIVES:
            return frames[j:]
    j = 0
    while j < len(frames) and (frames[j] in _REPORTING_FRAMES or frames[j].startswith(("dump_stack", "print_"))):
        j += 1
    return frames[j:]


# --- the scenario, as data ------------------------------------------------------------

_UNLOCK = {"mutex_lock": "mutex_unlock", "down_write": "up_write", "down_read": "up_read",
           "spin_lock": "spin_unlock"}
_SHOWN_UNLOCK = {"mutex_lock": "mutex_unlock", "down_write": "up_write", "down_read": "up_read",
                 "percpu_down_read": "percpu_up_read", "percpu_down_write": "percpu_up_write",
                 "might_lock_read": "up_read", "lock_map_acquire": "lock_map_release",
                 "spin_lock": "spin_unlock", "spin_lock_irq": "spin_unlock_irq",
                 "spin_lock_irqsave": "spin_unlock_irqrestore", "spin_lock_bh": "spin_unlock_bh",
                 "read_lock": "read_unlock", "write_lock": "write_unlock"}


@dataclass
class _Lock:
    cls: str
    name: str
    kind: str                 # mutex, rwsem, spinlock (the model's kinds)
    shown: str = ""           # what the kernel called it, when not the model's kind ("lockdep map", ...)


@dataclass
class _Cpu:
    name: str
    entry: str
    comm: str
    pid: int
    stack: tuple[str, ...]
    context: str
    task: str | None          # comm/pid from the report, None when it names no task
    role: str                 # one line: what this cpu is in the report
    path: tuple[str, ...] = ()  # the call path it runs, outermost first (for people)
    holds: str | None = None  # class
    takes: str | None = None  # class
    chain_entry: int | None = None
    host: str | None = None   # an interrupt handler: the cpu it runs on
    irq: str | None = None    # ... and its kind (hardirq, softirq)


@dataclass
class _Spec:
    case_id: str
    title: str
    source: str
    splat: Splat
    locks: list[_Lock] = field(default_factory=list)
    funcs: list[tuple[str, list, tuple[str, ...]]] = field(default_factory=list)   # name, ops, via
    cpus: list[_Cpu] = field(default_factory=list)
    lockdep: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def lock(self, cls: str) -> _Lock:
        return next(l for l in self.locks if l.cls == cls)


def _op(ctor: str, *args, **kw) -> tuple:
    return (ctor, args, tuple(sorted(kw.items())))


def _lock_op(lock: _Lock, mode: str, shown: str | None, comment: str = "") -> tuple:
    if lock.kind == "mutex":
        ctor = "mutex_lock"
    elif lock.kind == "spinlock":
        ctor = "spin_lock"
    else:
        ctor = "down_read" if mode == "read" else "down_write"
    text = f"{shown or ctor}(&{lock.name});"
    if comment:
        text += f"   /* {comment} */"
    return _op(ctor, lock.name, text)


def _unlock_op(lock: _Lock, mode: str, shown: str | None) -> tuple:
    if lock.kind == "mutex":
        ctor = "mutex_unlock"
    elif lock.kind == "spinlock":
        ctor = "spin_unlock"
    else:
        ctor = "up_read" if mode == "read" else "up_write"
    name = _SHOWN_UNLOCK.get(shown or "", ctor)
    return _op(ctor, lock.name, f"{name}(&{lock.name});")


def _ident(s: str) -> str:
    out = re.sub(r"\W+", "_", s).strip("_").lower()
    if not out or out[0].isdigit():
        out = "splat_" + out
    return out


def _lock_name(cls: str, taken: set[str]) -> str:
    name = cls[1:] if cls.startswith("&") and len(cls) > 1 else cls
    base, n = name, 2
    while name in taken:
        name = f"{base}#{n}"
        n += 1
    taken.add(name)
    return name


def _task(splat: Splat) -> tuple[str, int]:
    comm, _, pid = splat.task_comm.rpartition("/")
    if comm and pid.isdigit():
        return comm, int(pid)
    return splat.task_comm, 0


class _Builder:
    """Reads one report into a :class:`_Spec`."""

    def __init__(self, splat: Splat, text: str, source: str, case_id: str):
        self.s = splat
        self.text = text
        self.where = source
        self.spec = _Spec(case_id, "", source, splat)
        self.info, self.acq_line, self.held_line = _lock_lines(text, splat)
        self.names: set[str] = set()
        self.kinds: dict[str, tuple[str, str]] = {}     # class -> (kind, how we know)
        self.fnames: dict[str, list] = {}

    def note(self, text: str) -> None:
        if text not in self.spec.notes:
            self.spec.notes.append(text)

    # -- lock kinds and modes -------------------------------------------------------
    def usage(self, cls: str) -> tuple[bool, bool] | None:
        return _usage_modes(self.info.get(cls, _LockLine()).usage)

    def usage_text(self, cls: str) -> str:
        u = self.info.get(cls, _LockLine()).usage
        return "{" + u + "}" if u else "(no usage bits printed)"

    def kind_of(self, cls: str, said: tuple[str, str, str] | None, seen: str | None) -> str:
        """Decide (once) the kind of a class from a lock frame, else usage bits and wait type."""
        if cls in self.kinds:
            return self.kinds[cls][0]
        wait = self.info.get(cls, _LockLine()).wait
        um = self.usage(cls)
        if said is not None:
            kind = said[0]
            why = f"{seen}() in its stack"
            if kind == "map":
                kind = "mutex"
                self.note(f"{cls} is a lockdep map, not a lock: lockdep 'takes' it in {seen}() (a work item "
                          f"running, or a flush waiting for one); the model takes it as a mutex.")
            elif seen in ("percpu_down_read", "percpu_down_write", "cpus_read_lock", "cpus_write_lock",
                          "__percpu_down_read", "__percpu_down_write", "percpu_down_read_internal"):
                self.note(f"{cls} is a percpu_rw_semaphore ({seen}() in its stack); the model uses an "
                          f"rw_semaphore, which queues readers behind a waiting writer the same way.")
            elif seen and (seen.startswith("_raw_read_lock") or seen.startswith("_raw_write_lock")):
                self.note(f"{cls} is an rwlock_t ({seen}() in its stack); the model uses an rw_semaphore: "
                          f"outside interrupts a reader waits behind a waiting writer there too.")
            elif seen == "__might_fault":
                self.note(f"{cls} was 'taken' by __might_fault(): lockdep's annotation that a page fault at "
                          f"that point would take it for read; the model takes it for read there.")
        elif um is not None and um[1]:
            kind, why = "rwsem", f"usage {self.usage_text(cls)}: taken for read"
            if wait and wait.endswith(":2"):
                self.note(f"{cls} spins (wait type {{{wait}}}) and is taken for read: an rwlock_t, modelled as "
                          f"an rw_semaphore.")
            elif wait and wait.startswith("0"):
                self.note(f"{cls} has no wait type ({{{wait}}}): a percpu_rw_semaphore or a lockdep map "
                          f"taken for read; modelled as an rw_semaphore.")
        elif wait and wait.endswith(":2"):
            kind, why = "spinlock", f"wait type {{{wait}}}: a spinning lock"
        else:
            kind = "mutex"
            why = "unknown"
            self.note(f"the report does not say what kind of lock {cls} is (no lock function in a stack; "
                      f"usage {self.usage_text(cls)}): the model makes it a mutex.")
        self.kinds[cls] = (kind, why)
        return kind

    def hold_mode(self, cls: str, who: str, scenario_read: bool | None = None) -> str:
        """The mode a cpu holds ``cls`` in (the report prints no stack for it)."""
        if self.kinds[cls][0] != "rwsem":
            return "write"
        if scenario_read:
            return "read"
        um = self.usage(cls)
        if um == (False, True):
            return "read"
        if um == (True, False):
            return "write"
        self.note(f"the report does not say whether {who} holds {cls} for read or for write (usage "
                  f"{self.usage_text(cls)}): the model holds it for write.")
        return "write"

    def take_mode(self, cls: str, said: tuple[str, str, str] | None, who: str) -> str:
        if self.kinds[cls][0] != "rwsem":
            return "write"
        if said is not None and said[0] != "map":
            return said[1]
        um = self.usage(cls)
        if um == (False, True):
            return "read"
        if um == (True, False):
            return "write"
        self.note(f"the report does not say whether {who} takes {cls} for read or for write (usage "
                  f"{self.usage_text(cls)}): the model takes it for write.")
        return "write"

    def add_lock(self, cls: str) -> _Lock:
        for l in self.spec.locks:
            if l.cls == cls:
                return l
        l = _Lock(cls, _lock_name(cls, self.names), self.kinds[cls][0])
        self.spec.locks.append(l)
        return l

    def func_name(self, name: str, cpu: str) -> str:
        """A model function name: the kernel's, with ``@CPUn`` when two cpus run it differently."""
        if name not in self.fnames:
            self.fnames[name] = []
            return name
        self.note(f"{name}() is on two paths that take different locks: the model has one copy per cpu "
                  f"({name}@{cpu} is {cpu}'s).")
        return f"{name}@{cpu}"

    # -- circular ------------------------------------------------------------------
    def circular(self) -> _Spec:
        s, spec = self.s, self.spec
        chain = list(s.chain)
        if len(chain) < 2 or len(s.chain_stacks) != len(chain):
            raise FromSplatError(f"{self.where}: the report's dependency chain is missing or cut short "
                                 f"({len(chain)} entr{'y' if len(chain) == 1 else 'ies'} read): no cycle to build")
        if len(set(chain)) != len(chain):
            raise FromSplatError(f"{self.where}: the report's chain names a class twice "
                                 f"({' -> '.join(chain)}): not a cycle this builder can read")
        n = len(chain)
        if s.held_lock is None or s.acquiring_lock is None:
            raise FromSplatError(f"{self.where}: the report does not say which lock the task holds and which "
                                 f"it is acquiring: the chain cannot be closed")
        if s.acquiring_lock != chain[-1] or s.held_lock != chain[0]:
            raise FromSplatError(f"{self.where}: the report's chain ({' -> '.join(chain)}) does not start at the "
                                 f"held lock {s.held_lock} and end at the acquired {s.acquiring_lock}")
        # Entry #k is chain[n-1-k]; its cpu holds class #k-1 (#0's cpu: #n-1) and takes #k.
        cls = {k: chain[n - 1 - k] for k in range(n)}
        paths, saids, seens = {}, {}, {}
        for k in range(n):
            paths[k], saids[k], seens[k] = _trim(s.chain_stacks[n - 1 - k])
            self.kind_of(cls[k], saids[k], seens[k])
            if not s.chain_stacks[n - 1 - k]:
                self.note(f"entry #{k} ({cls[k]}) has no stack in the report: the model names its function "
                          f"'unknown'.")
            elif not paths[k]:
                self.note(f"entry #{k} ({cls[k]}) shows only lockdep's frames: the model names its function "
                          f"'unknown'.")
        for k in range(n):
            self.add_lock(cls[k])
        scenario_read = None
        if s.scenario:
            first = s.scenario[0][1]
            scenario_read = first.startswith("rlock(")
        comm, pid = _task(s)
        holds = {k: cls[k - 1] if k else cls[n - 1] for k in range(n)}
        hold_modes, take_modes = {}, {}
        for k in range(n):
            who = f"CPU{k} (entry #{k})"
            hold_modes[k] = self.hold_mode(holds[k], who, scenario_read if k == 0 else None)
            take_modes[k] = self.take_mode(cls[k], saids[k], who)

        for k in range(n):
            cpu = f"CPU{k}"
            path = paths[k] or ["unknown"]
            held, want = spec.lock(holds[k]), spec.lock(cls[k])
            shown = saids[k][2] if saids[k] else None
            take = _lock_op(want, take_modes[k], shown, f"#{k} in the report")
            at = self.held_line.at if (k == 0 and self.held_line) else None
            if k == 0 and at and at in path[:-1]:
                # The task took its held lock in a caller of the function that takes #0.
                j = path.index(at)
                inner = self.func_name(path[-1], cpu)
                outer = self.func_name(at, cpu)
                spec.funcs.append((inner, [take, _unlock_op(want, take_modes[k], shown)], ()))
                spec.funcs.append((outer, [
                    _lock_op(held, hold_modes[k], None, "held when lockdep spoke"),
                    _op("call", inner, f"{path[-1]}(...);", via=tuple(path[j + 1:-1])),
                    _unlock_op(held, hold_modes[k], None)], ()))
                entry, stack = outer, tuple(path[:j])
                full = tuple(path)
            else:
                if k == 0 and at:
                    where = f"the report says it was taken in {at}()"
                    if at != path[-1]:
                        where += ", which is not in this stack"
                elif k == 0:
                    where = "the report does not say where it was taken"
                else:
                    where = "the report does not say where this path took it"
                fname = self.func_name(path[-1], cpu)
                spec.funcs.append((fname, [
                    _lock_op(held, hold_modes[k], None, f"held: {where}"),
                    take,
                    _unlock_op(want, take_modes[k], shown),
                    _unlock_op(held, hold_modes[k], None)], ()))
                entry, stack = fname, tuple(path[:-1])
                full = tuple(path)
            if k == 0:
                task, ccomm, cpid = s.task_comm, comm, pid
                context = (f"{s.task_comm}, the task lockdep caught: it holds {holds[k]} and is acquiring "
                           f"{cls[k]} (entry #0)")
            else:
                task, ccomm, cpid = None, "unnamed", 0
                context = (f"entry #{k} of the chain: a path that took {cls[k]} while holding {holds[k]}; "
                           f"the report does not name its task")
            spec.cpus.append(_Cpu(cpu, entry, ccomm, cpid, stack, context, task,
                                  f"entry #{k}: holds {holds[k]}, takes {cls[k]}", full, holds[k], cls[k], k))
        if n > 1:
            self.note("the report names only the task that tripped lockdep (CPU0); the other paths are "
                      "dependencies lockdep recorded earlier, by tasks it does not name ('unnamed').")
        self.note("where each path took the lock it holds is not in its stack (a stack shows only the "
                  "acquisition of its own entry's class): the model takes it just before, in the same "
                  "function, unless the report's held-lock line names a caller.")
        # A read waiting on a read-held lock only blocks behind a queued writer (rwsem waiters queue in order).
        for k in range(n):
            nxt = (k + 1) % n       # the cpu that holds cls[k]
            if take_modes[k] == "read" and hold_modes[nxt] == "read":
                self._writer(spec.lock(cls[k]),
                             f"CPU{k} takes {cls[k]} for read while CPU{nxt} holds it for read: readers "
                             f"share it, so the cycle closes only when a writer queues between them")
        spec.lockdep = tuple(f"CPU{k}*" for k in range(n - 1, -1, -1))
        spec.title = f"From a lockdep report: {' -> '.join(chain)} (a cycle of {n})"
        return spec

    def _writer(self, lock: _Lock, why: str) -> None:
        spec = self.spec
        cpu = f"CPU{len(spec.cpus)}"
        fname = self.func_name(f"writer_of_{_ident(lock.name)}", cpu)
        spec.funcs.append((fname, [
            _op("down_write", lock.name, f"down_write(&{lock.name});   /* any writer: not in the report */"),
            _op("up_write", lock.name, f"up_write(&{lock.name});")], ()))
        spec.cpus.append(_Cpu(cpu, fname, "writer", 0, (), "not in the report: " + why, None,
                              f"a writer of {lock.cls} (not in the report: lockdep's rw rule)", (fname,),
                              None, lock.cls, None))
        self.note(f"{cpu} is not in the report: {why}. Lockdep reports the cycle because a down_read() "
                  f"waits behind a queued writer; {cpu} is that writer (lockdep's serial runs leave it out).")

    # -- recursive -------------------------------------------------------------------
    def recursive(self) -> _Spec:
        s, spec = self.s, self.spec
        c = s.acquiring_lock or s.held_lock
        if c is None:
            raise FromSplatError(f"{self.where}: the report is cut before its lock lines: no class to take twice")
        if s.held_lock is not None and s.acquiring_lock is not None and s.held_lock != s.acquiring_lock:
            raise FromSplatError(f"{self.where}: a recursive report must name one class twice, not "
                                 f"{s.held_lock} and {s.acquiring_lock}")
        if s.held_lock is None:
            self.note("the report is cut before its held-lock line; the class is the one being acquired.")
        self.kind_of(c, None, None)
        lock = self.add_lock(c)
        first = self.hold_mode(c, "the task (its first acquisition)")
        second = self.take_mode(c, None, "the task (its second acquisition)")
        acq_at = self.acq_line.at if self.acq_line else None
        held_at = self.held_line.at if self.held_line else None
        fname = acq_at or held_at or "unknown"
        if not (acq_at or held_at):
            self.note("the report's lock lines name no function: the model's function is 'unknown'.")
        if held_at and held_at != fname:
            where1 = f"taken in {held_at}()"
        elif held_at:
            where1 = f"taken earlier in {held_at}()"
        else:
            where1 = "the report does not say where"
        spec.funcs.append((fname, [
            _lock_op(lock, first, None, f"held: {where1}"),
            _lock_op(lock, second, None, "again: the acquisition lockdep caught"),
            _unlock_op(lock, second, None),
            _unlock_op(lock, first, None)], ()))
        comm, pid = _task(s)
        spec.cpus.append(_Cpu("CPU0", fname, comm, pid, (), f"{s.task_comm}, the task lockdep caught taking "
                              f"{c} a second time", s.task_comm, f"takes {c} twice", (fname,), c, c, 0))
        self.note("the parser does not read a recursive report's call trace: the model shows only the "
                  "function its lock lines name" + (f" ({fname}())" if fname != "unknown" else "") + ".")
        if held_at and acq_at and held_at != acq_at:
            self.note(f"the held lock was taken in {held_at}() and the second acquisition is in {acq_at}(); "
                      f"how those calls nest is not in the lock lines, so the model takes both in {fname}().")
        a = self.acq_line.addr if self.acq_line else None
        h = self.held_line.addr if self.held_line else None
        if a and h and a != h:
            self.note(f"the two acquisitions print different addresses ({h} held, {a} wanted): two locks of "
                      f"one class, which lockdep cannot tell apart without a nesting annotation. The model "
                      f"takes one lock twice, the deadlock lockdep warns of; it happens only if they are the "
                      f"same object.")
        elif a and h:
            self.note(f"both acquisitions print the same address ({a}): the same lock, taken twice.")
        if first == "read" and second == "read":
            self._writer(lock, f"the task takes {c} for read twice: a second read waits only behind a "
                               f"writer queued after the first")
            spec.title = f"From a lockdep report: {c} taken for read twice (read recursion)"
        else:
            spec.title = f"From a lockdep report: {c} taken twice"
        spec.lockdep = ("CPU0*",)
        return spec


# --- interrupt reports --------------------------------------------------------------------

class _IrqBuilder(_Builder):
    """The three interrupt reports: a task on CPU0 and its interrupt handler
    (``CPU0.irq`` or ``CPU0.softirq``), and for an inversion a second cpu that
    holds the irq-safe lock with interrupts off and wants the unsafe one."""

    def irq_kind(self) -> str:
        return "hardirq" if (self.s.irq_class or "").upper().startswith("HARD") else "softirq"

    def read_info(self, cls: str) -> None:
        if cls not in self.info or self.info[cls].usage is None:
            start = max(self.text.find(self.s.task_comm) if self.s.task_comm else 0, 0)
            got = _read_lock_line(self.text, start, cls)
            self.info[cls] = got[0] if got else _LockLine()

    def path_of(self, frames: tuple[str, ...], fallback: str, cls: str, who: str) -> tuple[list[str], str | None]:
        """(path outermost first, the lock function seen) of a stack, for ``cls``."""
        path, said, seen = _trim(_from_lock_frame(frames)) if frames else ([], None, None)
        if said is not None and cls not in self.kinds:
            self.kind_of(cls, said, seen)
        if not path:
            self.note(f"the report prints no stack for {who}: the model calls its function {fallback}().")
            path = [fallback]
        return path, said[2] if said else None

    def handler(self, fname: str, stack: tuple[str, ...], ops: list, context: str, takes: str) -> None:
        kind = self.irq_kind()
        name = "CPU0.irq" if kind == "hardirq" else "CPU0.softirq"
        self.spec.funcs.append((fname, ops, ()))
        task = self.spec.cpus[0]
        self.spec.cpus.append(_Cpu(name, fname, task.comm, task.pid, stack, context, task.task,
                                   f"the {kind} handler on CPU0: takes {takes}", stack + (fname,), None, takes,
                                   None, "CPU0", kind))

    # -- inconsistent lock state ---------------------------------------------------------
    def inconsistent(self) -> _Spec:
        s, spec = self.s, self.spec
        c = s.acquiring_lock
        m = re.fullmatch(r"\{(IN-)?(\w+?)(-ON)?-([WR])\} -> \{(IN-)?(\w+?)(-ON)?-([WR])\}", s.usage_transition or "")
        if c is None or m is None or bool(m.group(1)) == bool(m.group(5)):
            raise FromSplatError(f"{self.where}: the report does not say which lock and which usage change "
                                 f"({s.usage_transition or 'no inconsistent {...} -> {...} line'}): nothing to build")
        irq_first = bool(m.group(1))          # the interrupt side was registered first
        in_read = m.group(4 if irq_first else 8) == "R"
        on_read = m.group(8 if irq_first else 4) == "R"
        registered = _stack_after(self.text, "state was registered at:")
        current = _stack_after(self.text, "Call Trace:", self.text.find("stack backtrace:"))
        irq_frames, task_frames = (registered, current) if irq_first else (current, registered)
        self.read_info(c)
        kind = self.irq_kind()
        task_path, task_shown = self.path_of(task_frames, "task_path", c, "the task's acquisition")
        irq_path, irq_shown = self.path_of(irq_frames, "irq_handler", c, f"the {kind}'s acquisition")
        self.kind_of(c, None, None)
        lock = self.add_lock(c)
        on_mode, in_mode = ("read" if on_read else "write"), ("read" if in_read else "write")
        if lock.kind != "rwsem":
            on_mode = in_mode = "write"
        comm, pid = _task(s)
        tf = self.func_name(task_path[-1], "CPU0")
        spec.funcs.append((tf, [_lock_op(lock, on_mode, task_shown, f"with {kind}s enabled"),
                                _op("line", f"/* ... while holding {lock.name} ... */"),
                                _unlock_op(lock, on_mode, task_shown)], ()))
        spec.cpus.append(_Cpu("CPU0", tf, comm, pid, tuple(task_path[:-1]),
                              f"{s.task_comm}: takes {c} with {kind}s enabled", s.task_comm,
                              f"takes {c} with {kind}s enabled", tuple(task_path), None, c, None))
        hf = self.func_name(irq_path[-1], "CPU0.irq")
        self.handler(hf, tuple(irq_path[:-1]), [_lock_op(lock, in_mode, irq_shown, f"in the {kind}"),
                                                _unlock_op(lock, in_mode, irq_shown)],
                     f"the {kind} that takes {c}, arriving on CPU0", c)
        side = "interrupt's" if irq_first else "task's"
        self.note(f"the {side} acquisition is the one lockdep recorded first ('state was registered at'); "
                  f"the other is the one it caught. Both run on one cpu, as the report's scenario says.")
        self.note("the report does not say what either path does while it holds the lock: the model does "
                  "nothing in between.")
        spec.lockdep = (("CPU0.irq*", "CPU0*") if irq_first else ("CPU0*", "CPU0.irq*"))
        spec.lockdep = tuple(w.replace("CPU0.irq", spec.cpus[1].name) for w in spec.lockdep)
        spec.title = f"From a lockdep report: {c} taken in a {kind} and with {kind}s enabled"
        return spec

    # -- irq lock inversion, irq-safe -> irq-unsafe ---------------------------------------------
    def inversion(self) -> _Spec:
        s, spec = self.s, self.spec
        kind = self.irq_kind()
        safe, unsafe = s.safe_lock, s.unsafe_lock
        middle = s.chain_exists_of[1] if len(s.chain_exists_of) == 3 else None
        if s.kind == "irq_safe_unsafe" and unsafe is None and safe is not None and s.acquiring_lock:
            unsafe = s.acquiring_lock
            self.note(f"the report is cut before it names the {kind}-unsafe lock: the model takes the lock "
                      f"being acquired ({unsafe}) as the unsafe one.")
            if s.held_lock and s.held_lock != safe:
                middle = s.held_lock
        if safe is None or unsafe is None:
            raise FromSplatError(f"{self.where}: the report does not name both the {kind}-safe and the "
                                 f"{kind}-unsafe lock: nothing to build")
        classes = [safe] + ([middle] if middle else []) + [unsafe]
        for c in classes:
            self.read_info(c)
        if s.kind == "irq_safe_unsafe":
            safe_frames = _stack_after(self.text, "-irq-safe at:")
            unsafe_frames = _stack_after(self.text, "-irq-unsafe at:")
            cpu1_at = self.acq_line.at if self.acq_line else None
        else:
            changed = _stack_after(self.text, "Call Trace:", self.text.find("stack backtrace:"))
            became_safe = s.acquiring_lock == safe
            safe_frames, unsafe_frames = (changed, ()) if became_safe else ((), changed)
            cpu1_at = None
        unsafe_path, unsafe_shown = self.path_of(unsafe_frames, "takes_" + _ident(unsafe), unsafe,
                                                 f"the {kind}-unsafe acquisition of {unsafe}")
        safe_path, safe_shown = self.path_of(safe_frames, f"{kind}_handler", safe,
                                             f"the {kind} that takes {safe}")
        for c in classes:
            self.kind_of(c, None, None)
            self.add_lock(c)
        L = {c: spec.lock(c) for c in classes}
        mode = {c: ("read" if self.kinds[c][0] == "rwsem" and self.usage(c) == (False, True) else "write")
                for c in classes}
        comm, pid = _task(s)
        # CPU0: holds the unsafe lock with the interrupt enabled.
        f0 = self.func_name(unsafe_path[-1], "CPU0")
        spec.funcs.append((f0, [_lock_op(L[unsafe], mode[unsafe], unsafe_shown, f"with {kind}s enabled"),
                                _op("line", f"/* ... while holding {L[unsafe].name} ... */"),
                                _unlock_op(L[unsafe], mode[unsafe], unsafe_shown)], ()))
        caught0 = s.kind == "irq_inversion"
        spec.cpus.append(_Cpu("CPU0", f0, comm if caught0 else "unnamed", pid if caught0 else 0,
                              tuple(unsafe_path[:-1]), f"a path that takes {unsafe} with {kind}s enabled",
                              s.task_comm if caught0 else None, f"takes {unsafe} with {kind}s enabled",
                              tuple(unsafe_path), None, unsafe, None))
        # CPU1: the dependency safe -> (middle ->) unsafe, with interrupts off.
        f1 = self.func_name(cpu1_at or "dependency_path", "CPU1")
        ops = [_op("local_irq_disable", text="local_irq_disable();")]
        ops += [_lock_op(L[c], "write" if self.kinds[c][0] == "rwsem" and c == safe else mode[c], None,
                         "the irq-safe lock" if c == safe else "") for c in classes]
        ops += [_unlock_op(L[c], "write" if self.kinds[c][0] == "rwsem" and c == safe else mode[c], None)
                for c in reversed(classes)]
        ops += [_op("local_irq_enable", text="local_irq_enable();")]
        spec.funcs.append((f1, ops, ()))
        caught1 = s.kind == "irq_safe_unsafe"
        chain = " -> ".join(classes)
        spec.cpus.append(_Cpu("CPU1", f1, comm if caught1 else "unnamed", pid if caught1 else 0, (),
                              f"the dependency {chain}, with interrupts off", s.task_comm if caught1 else None,
                              f"holds {safe} (interrupts off), takes {unsafe}", (f1,), safe, unsafe, None))
        if mode[unsafe] == "read":
            # Two readers share it: CPU1 waits for CPU0 only behind a writer queued between them.
            self._writer(L[unsafe], f"CPU0 and CPU1 both take {unsafe} for read: readers share it, so CPU1 "
                                    f"waits only behind a writer queued between them")
        if cpu1_at is None:
            self.note(f"the report does not print the path of the dependency {chain}: the model calls it "
                      f"{f1}() and takes the locks there with interrupts off, as the report's scenario does.")
        if self.kinds[safe][0] == "rwsem":
            self.note("with interrupts off a lock's usage bits do not say whether it was taken for read or "
                      f"write: the model's CPU1 takes {safe} for write.")
        # The handler on CPU0: takes the safe lock.
        hf = self.func_name(safe_path[-1], "CPU0.irq")
        self.handler(hf, tuple(safe_path[:-1]), [_lock_op(L[safe], mode[safe], safe_shown, f"in the {kind}"),
                                                 _unlock_op(L[safe], mode[safe], safe_shown)],
                     f"the {kind} that takes {safe}, arriving on CPU0", safe)
        irq = spec.cpus[-1].name
        # The serial runs in the order that makes lockdep see what the report says.
        if s.kind == "irq_safe_unsafe":
            spec.lockdep = (f"{irq}*", "CPU0*", "CPU1*")
        elif s.acquiring_lock == safe:                   # it just became safe
            spec.lockdep = ("CPU1*", "CPU0*", f"{irq}*")
        else:                                             # it just became unsafe
            spec.lockdep = (f"{irq}*", "CPU1*", "CPU0*")
        spec.cpus.insert(1, spec.cpus.pop())                       # the handler beside its cpu
        self.note(f"the report names one task ({s.task_comm}); the model's other paths are what lockdep "
                  f"recorded earlier ('unnamed').")
        spec.title = f"From a lockdep report: {kind}-safe {safe} -> {kind}-unsafe {unsafe}"
        return spec


# --- building and writing the model ----------------------------------------------------

def _build(spec: _Spec, variant: str = VARIANT) -> _model.Program:
    m = _model.Model(spec.case_id, variant, spec.title)
    for l in spec.locks:
        getattr(m, l.kind)(l.name, cls=l.cls)
    for name, ops, via in spec.funcs:
        m.func(name, [getattr(_model, ctor)(*args, **dict(kw)) for ctor, args, kw in ops], via=via)
    for c in spec.cpus:
        if c.host is not None:
            m.interrupt(c.host, c.entry, kind=c.irq, name=c.name, stack=c.stack, context=c.context)
        else:
            m.cpu(c.name, c.entry, comm=c.comm, pid=c.pid, stack=c.stack, context=c.context)
    return m.build()


def _doc_safe(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _wrap(text: str, width: int = 96, indent: str = "", hang: str = "  ") -> list[str]:
    import textwrap
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + hang,
                         break_on_hyphens=False, break_long_words=False) or [indent]


def _summary(spec: _Spec) -> str:
    s = spec.splat
    if s.kind == "circular":
        what = (f"lockdep saw {len(s.chain)} lock classes taken in a cycle ({' -> '.join(s.chain)} -> "
                f"{s.chain[0]}); {s.task_comm} closed it. One cpu per dependency: each holds one class and "
                f"takes the next, so all of them can wait at once.")
    elif s.kind == "inconsistent":
        what = (f"{s.acquiring_lock} is taken in a {s.irq_class.lower()} and, elsewhere, with that interrupt "
                f"enabled ({s.usage_transition}): the interrupt can arrive on the cpu that holds it, and its "
                f"handler then waits for a lock its own cpu holds.")
    elif s.kind in ("irq_inversion", "irq_safe_unsafe"):
        safe, unsafe = spec.cpus[1].takes, spec.cpus[0].takes
        what = (f"{safe} is {s.irq_class.lower()}-safe (taken in a {s.irq_class.lower()}) and leads to "
                f"{unsafe}, which is taken with that interrupt enabled: a cpu holding {unsafe} can be "
                f"interrupted by a handler that wants {safe}, while another cpu holds {safe} and waits for "
                f"{unsafe}.")
    else:
        what = (f"{s.task_comm} took {s.acquiring_lock or s.held_lock} while already holding it"
                + (" (both for read: with a writer queued between them, the second read waits forever)."
                   if any(c.chain_entry is None for c in spec.cpus) else "."))
    return what


def _leaves_out(spec: _Spec) -> str:
    return ("everything but the lock operations the report shows: what the paths do in between, the "
            "locks the report lists as held besides the cycle's"
            + (f" ({', '.join(c for c in spec.splat.locks_held if c not in spec.splat.chain and c not in (spec.splat.held_lock, spec.splat.acquiring_lock))})"
               if any(c not in spec.splat.chain and c not in (spec.splat.held_lock, spec.splat.acquiring_lock)
                      for c in spec.splat.locks_held) else "")
            + (", interrupts" if spec.splat.kind in ("circular", "recursive") else "")
            + ", and which objects the locks belong to (a class is one lock here). "
            + " ".join(n[0].upper() + n[1:] for n in spec.notes))


def _py(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_py(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def _source(spec: _Spec, command: str) -> str:
    s = spec.splat
    used = sorted({ctor for _, ops, _ in spec.funcs for ctor, _, _ in ops})
    lines = ['"""' + _doc_safe(spec.title) + ".", ""]
    lines += ["Generated by", "", "    " + _doc_safe(command), ""]
    head = (f"from the lockdep report in {spec.source}: "
            f"\"{s.title}\", kernel {s.kernel or '(version line not in the excerpt)'}, task {s.task_comm}. "
            f"An ordinary case module, built with labkit.model's builder like labkit/cases/*.py: edit it "
            f"and keep it.")
    lines += [_doc_safe(l) for l in _wrap(head, 78, hang="")] + [""]
    lines += [_doc_safe(l) for l in _wrap(_summary(spec), 78, hang="")] + [""]
    lines += ["The cpus:", ""]
    for c in spec.cpus:
        lines += [_doc_safe(l) for l in _wrap(f"* {c.name} ({c.task or c.comm}): {c.role}.", 78)]
    lines += ["", "What the report does not say, and what the model chose:", ""]
    for n in spec.notes:
        lines += [_doc_safe(l) for l in _wrap(f"* {n}", 78)]
    lines += [""] + [_doc_safe(l) for l in _wrap("What the model leaves out, and why: "
                                                   + _leaves_out(spec).split(". ", 1)[0] + ".", 78, hang="")]
    lines += ['"""', ""]
    lines += ["from __future__ import annotations", "", "from functools import partial", "",
              "from labkit.cases.base import Case, Variant, leaves_out",
              f"from labkit.model import Model, {', '.join(used)}", "",
              '__all__ = ["CASE", "build"]', "", "",
              f"def build(variant: str = {VARIANT!r}):",
              f"    m = Model({spec.case_id!r}, variant, {spec.title!r})"]
    for l in spec.locks:
        lines.append(f"    m.{l.kind}({l.name!r}, cls={l.cls!r})")
    for name, ops, via in spec.funcs:
        lines.append(f"    m.func({name!r}, [")
        for ctor, args, kw in ops:
            a = ", ".join([_py(x) for x in args] + [f"{k}={_py(v)}" for k, v in kw])
            lines.append(f"        {ctor}({a}),")
        lines.append("    ]" + (f", via={_py(via)})" if via else ")"))
    for c in spec.cpus:
        if c.host is not None:
            lines.append(f"    m.interrupt({c.host!r}, {c.entry!r}, kind={c.irq!r}, name={c.name!r},")
            lines.append(f"                stack={_py(c.stack)},")
            lines.append(f"                context={c.context!r})")
            continue
        lines.append(f"    m.cpu({c.name!r}, {c.entry!r}, comm={c.comm!r}, pid={c.pid!r},")
        lines.append(f"          stack={_py(c.stack)},")
        lines.append(f"          context={c.context!r})")
    lines += ["    return m.build()", "", ""]
    lines += ["CASE = Case(",
              f"    id={spec.case_id!r},",
              f"    title={spec.title!r},",
              f"    summary={_summary(spec)!r},",
              "    variants=(",
              f"        Variant({VARIANT!r}, {('the paths of the report, as it shows them')!r},",
              f"                partial(build, {VARIANT!r}), lockdep={_py(spec.lockdep)},",
              "                expect='deadlock'),",
              "    ),",
              f"    kernels={(s.kernel or 'not in the excerpt')!r},",
              "    simplifications=leaves_out(__doc__),",
              ")", ""]
    return "\n".join(lines)


# --- the result ---------------------------------------------------------------------------

class Scenario:
    """A real lockdep report turned into a model: explore it, step it, compare it, keep it.

    Attributes: ``splat`` (the parsed report), ``program`` (the model),
    ``case`` (a :class:`labkit.cases.base.Case` with one variant,
    ``"report"``), ``cpus`` (one dict per cpu: ``name``, ``task`` (comm/pid,
    or None when the report names none), ``role``, ``holds``, ``takes``,
    ``entry`` (its chain entry ``#k``, None for a writer the rw rules need)),
    ``notes`` (what the report did not say and what the model chose).
    """

    def __init__(self, spec: _Spec, text: str):
        from .cases.base import Case, Variant
        self._spec = spec
        self._text = text
        self.splat = spec.splat
        self.source_name = spec.source
        self.notes = list(spec.notes)
        self.program = _build(spec)
        prog = self.program
        self.case = Case(
            id=spec.case_id, title=spec.title, summary=_summary(spec),
            variants=(Variant(VARIANT, "the paths of the report, as it shows them", lambda: prog,
                              lockdep=spec.lockdep, expect="deadlock"),),
            kernels=spec.splat.kernel or "", simplifications=_leaves_out(spec))
        self.cpus = [{"name": c.name, "task": c.task, "role": c.role, "holds": c.holds, "takes": c.takes,
                      "entry": c.chain_entry} for c in spec.cpus]
        self._exploration = None
        self._lockdep = None

    # -- the engine on the model ------------------------------------------------------
    def explore(self, **budget):
        """The explorer's result (:class:`labkit.explore.Exploration`); the default budget is cached."""
        from .explore import explore
        if budget:
            return explore(self.program, **budget)
        if self._exploration is None:
            self._exploration = explore(self.program)
        return self._exploration

    def bug(self) -> str:
        """The shortest schedule into the deadlock."""
        r = self.explore()
        dl = [f for f in r.findings if f.kind == "deadlock"]
        if not dl:
            raise FromSplatError(f"{self.source_name}: the model of this report does not deadlock")
        return dl[0].schedule

    def lockdep(self):
        """The lockdep emulator after the model's serial runs (:class:`labkit.lockdep.Lockdep`)."""
        if self._lockdep is None:
            from .lockdep import Lockdep
            from .trace import replay
            ld = Lockdep(check_wait_context=False)   # the report shows lockdep went on past its nesting
            for sched in self._spec.lockdep:
                ld.observe(replay(self.program, sched))
            self._lockdep = ld
        return self._lockdep

    def compare(self):
        """The emulator's report against the real one (:class:`labkit.compare.Comparison`)."""
        from .compare import compare_reports
        ld = self.lockdep()
        return compare_reports(self.splat, ld.reports[0] if ld.reports else None, self.case.id, VARIANT,
                               self.source_name)

    def to_json(self) -> dict:
        """``explore --json``'s keys plus ``"cpus"``."""
        d = self.explore().to_json()
        d["cpus"] = self.cpus
        return d

    # -- keeping and stepping ----------------------------------------------------------
    def source(self, command: str | None = None) -> str:
        """A case module (Python source) that builds this model with labkit.model's builder."""
        return _source(self._spec, command or f"python -m labkit from-splat {self.source_name}")

    def write(self, path, command: str | None = None) -> Path:
        """Write :meth:`source` to ``path``; returns the path."""
        path = Path(path)
        try:
            path.write_text(self.source(command), encoding="utf-8")
        except OSError as e:
            raise LabError(f"cannot write the case module to {str(path)!r}: {e.strerror or e}") from None
        return path

    def export(self, path, schedule: str = "") -> Path:
        """One self-contained HTML stepper for the model (works from ``file://``)."""
        from .stepper.standalone import export_html
        return export_html(self.case, VARIANT, path, schedule=schedule, max_states=STEPPER_MAX_STATES)

    def stepper_json(self) -> dict:
        """What the browser stepper reads (:func:`labkit.stepper.export.case_json`)."""
        from .stepper.export import case_json
        return case_json(self.case, max_states=STEPPER_MAX_STATES)

    def stepper(self, schedule: str = ""):
        """The stepper widget on this model: you are the scheduler (``schedule``: where it opens)."""
        from .trace import replay
        steps = replay(self.program, schedule).schedule if schedule else ""
        w = _stepper_class()(data=self.stepper_json(), variant=VARIANT, schedule=steps,
                             position=len(steps.split()))
        w._program = self.program
        return w

    # -- showing -----------------------------------------------------------------------
    def text(self) -> str:
        s = self.splat
        out = [f"{self.source_name}: {s.title} ({s.kind}); kernel {s.kernel or '(not in the excerpt)'}; "
               f"task {s.task_comm}"]
        out += _wrap(_summary(self._spec))
        out.append("")
        w = max(len(c.task or c.comm) for c in self._spec.cpus)
        for c in self._spec.cpus:
            out.append(f"  {c.name:5} {(c.task or c.comm):{w}}  {c.role}")
            path = " > ".join(c.path or c.stack + (c.entry,))
            out += _wrap(f"runs {path}", 96, "        ")
        if self.notes:
            out += ["", "What the report does not say, and what the model chose:"]
            for n in self.notes:
                out += _wrap(f"- {n}", 96, "  ")
        r = self.explore()
        out.append("")
        dl = [f for f in r.findings if f.kind == "deadlock"]
        if dl:
            out.append(f"explorer: {dl[0].message}")
            out.append(f"  shortest schedule ({dl[0].step} steps): {dl[0].schedule}")
        else:
            out.append("explorer: no deadlock" + ("" if r.complete else f" ({r.stopped})"))
        cmp = self.compare()
        out.append("lockdep emulator vs the report: " + ("AGREE" if cmp.agree else "DISAGREE") +
                   " (same classes, same chain)" * cmp.agree)
        return "\n".join(out) + "\n"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, include=None, exclude=None):
        import html
        return {"text/plain": self.text(), "text/html": f"<pre>{html.escape(self.text())}</pre>"}


_STEPPER = []


def _stepper_class():
    """The notebook widget, reading the model from the scenario rather than the case registry
    (made on first use: only notebooks need anywidget)."""
    if not _STEPPER:
        from .stepper.widget import Stepper
        from .trace import replay

        class ScenarioStepper(Stepper):
            _program = None

            def trace(self):
                return replay(self._program, self.shown)

            def goto(self, schedule: str, position: int | None = None, variant: str | None = None) -> None:
                steps = replay(self._program, schedule).schedule
                n = len(steps.split())
                with self.hold_sync():
                    self.schedule = steps
                    self.position = n if position is None else max(0, min(n, position))

        _STEPPER.append(ScenarioStepper)
    return _STEPPER[0]


def from_splat(path_or_text, case_id: str | None = None) -> Scenario:
    """Build a :class:`Scenario` from a lockdep report: a file path, or the report's text.

    A ``str`` with a line break is the report's text; anything else is a path.
    Raises :class:`labkit.splat.SplatError` when there is no report and
    :class:`FromSplatError` for a report too cut short to build from. Each
    message is one line naming the source. The three interrupt reports
    become a task and its interrupt handler on one cpu (and, for an
    inversion, a second cpu holding the irq-safe lock with interrupts off).
    """
    if isinstance(path_or_text, str) and ("\n" in path_or_text or "\r" in path_or_text):
        text, source = path_or_text, "<string>"
    else:
        source = os.fspath(path_or_text)
        try:
            text = read_report(source)      # "-" is standard input; devices, FIFOs, directories are refused
        except FileNotFoundError:
            raise FromSplatError(f"{source}: no such file (give a report's path, or its text)") from None
        except OSError as e:
            raise FromSplatError(f"{source}: {e.strerror or e}") from None
        if source == "-":
            source = "<stdin>"
    splat = parse(text, source=source)
    if splat.kind in ("bad_unlock_balance", "invalid_wait_context"):
        # One task's own mistake (an unlock too many, a sleeping lock in atomic context):
        # no second path and no deadlock for a scenario to interleave.
        raise Unsupported(f"{source}: {splat.kind} report ({splat.title}) is not supported: nothing to step")
    if case_id is None:
        # Not the name of a shipped case: a generated module may sit beside them.
        case_id = _ident(Path(source).stem) + "_report" if not source.startswith("<") else "from_splat"
    b = _IrqBuilder(splat, text, source, case_id)
    if splat.kind == "circular":
        spec = b.circular()
    elif splat.kind == "recursive":
        spec = b.recursive()
    elif splat.kind == "inconsistent":
        spec = b.inconsistent()
    else:
        spec = b.inversion()
    return Scenario(spec, text)
