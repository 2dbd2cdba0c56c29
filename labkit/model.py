"""Models of kernel code: locks, shared data, functions made of pseudo-C steps.

A model is written with :class:`Model`, a small builder that reads like the
kernel: locks and objects are declared by their kernel names, functions are
lists of steps (one pseudo-C line each), and cpus run an entry function with
the kernel call stack that led there. ``Model.build()`` checks the model and
returns a frozen :class:`Program`, which the semantics layer runs.

Every step remembers the file and line of the model source that created it,
so an error in a model names that line.

Examples
--------
>>> m = Model("abba", "before", title="ABBA")
>>> m.mutex("A"); m.mutex("B")
>>> m.func("one", [mutex_lock("A"), mutex_lock("B"), mutex_unlock("B"), mutex_unlock("A")])
>>> m.func("two", [mutex_lock("B"), mutex_lock("A"), mutex_unlock("A"), mutex_unlock("B")])
>>> m.cpu("CPU0", "one"); m.cpu("CPU1", "two")
>>> prog = m.build()
>>> [op.text for op in prog.function("two").ops][:2]
['mutex_lock(&B);', 'mutex_lock(&A);']
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

from .errors import ModelError
from .primitives import LOCK_KINDS as _LOCK_KINDS
from .primitives import OPS, kinds_of

__all__ = [
    "Expr", "var", "local", "refcount", "alive", "const",
    "Op", "LockDecl", "Function", "CpuDecl", "Invariant", "Program", "Model",
    "mutex_lock", "mutex_unlock", "mutex_trylock", "spin_lock", "spin_unlock",
    "down_read", "up_read", "down_write", "up_write", "down_read_trylock",
    "get", "get_not_zero", "put", "alloc", "free", "use",
    "assign", "let", "if_", "goto", "label", "call", "ret",
    "warn_on", "wait_event", "complete", "line", "step", "builder",
    "ACQUIRE_OPS", "RELEASE_OPS", "TRYLOCK_OPS", "LOCK_KINDS", "rebuild", "IrqState", "irq_var_name",
    "spin_lock_irq", "spin_unlock_irq", "spin_lock_irqsave", "spin_unlock_irqrestore", "spin_lock_bh",
    "spin_unlock_bh", "read_lock", "read_unlock", "write_lock", "write_unlock", "read_lock_irq",
    "read_unlock_irq", "write_lock_irq", "write_unlock_irq", "read_lock_irqsave", "read_unlock_irqrestore",
    "write_lock_irqsave", "write_unlock_irqrestore", "read_lock_bh", "read_unlock_bh", "write_lock_bh",
    "write_unlock_bh", "local_irq_disable", "local_irq_enable", "local_irq_save", "local_irq_restore",
    "local_bh_disable", "local_bh_enable",
]

LOCK_KINDS = tuple(_LOCK_KINDS)

# Which lock kinds each lock operation accepts, and the mode it takes (views
# of the table in labkit.primitives, for callers that want one family).
ACQUIRE_OPS = kinds_of("acquire")
TRYLOCK_OPS = kinds_of("trylock")
RELEASE_OPS = kinds_of("release")


# --------------------------------------------------------------------------
# Expressions: conditions that steps branch on, WARN_ON, wait_event.
# --------------------------------------------------------------------------

class Expr:
    """A side-effect-free expression over shared variables and cpu-locals.

    Built with :func:`var`, :func:`local`, :func:`refcount`, :func:`alive` and
    the operators ``==``, ``!=``, ``&`` (and), ``|`` (or), ``~`` (not).
    Kept as a plain tuple so models stay hashable data.

    >>> str((var("x") == 1) & ~local("found"))
    '(x == 1) && !$found'
    """

    __slots__ = ("t",)

    def __init__(self, t: tuple):
        self.t = t

    def __eq__(self, other):  # type: ignore[override]
        return Expr(("eq", self, _wrap(other)))

    def __ne__(self, other):  # type: ignore[override]
        return Expr(("ne", self, _wrap(other)))

    def __and__(self, other):
        return Expr(("and", self, _wrap(other)))

    def __or__(self, other):
        return Expr(("or", self, _wrap(other)))

    def __invert__(self):
        return Expr(("not", self))

    def __hash__(self):
        return hash(self.t)

    def __bool__(self):
        raise TypeError("an Expr has no truth value; it is evaluated against a state")

    def __repr__(self):
        return f"Expr({self})"

    def __str__(self):
        tag = self.t[0]
        if tag == "var":
            return self.t[1]
        if tag == "local":
            return "$" + self.t[1]
        if tag == "ref":
            return f"refcount({self.t[1]})"
        if tag == "alive":
            return f"alive({self.t[1]})"
        if tag == "const":
            return "NULL" if self.t[1] is None else repr(self.t[1])
        if tag == "not":
            return "!" + _paren(self.t[1])
        sym = {"eq": "==", "ne": "!=", "and": "&&", "or": "||"}[tag]
        return f"{_paren(self.t[1])} {sym} {_paren(self.t[2])}"

    def names(self, tag: str) -> set[str]:
        """The names of the given leaf kind (``var``, ``local``, ``ref``, ``alive``)."""
        if self.t[0] == tag:
            return {self.t[1]}
        out: set[str] = set()
        for part in self.t[1:]:
            if isinstance(part, Expr):
                out |= part.names(tag)
        return out


def _paren(e: Expr) -> str:
    return f"({e})" if e.t[0] in ("eq", "ne", "and", "or") else str(e)


def _wrap(v: Any) -> Expr:
    if not isinstance(v, Expr):
        try:
            hash(v)
        except TypeError:
            raise ModelError(f"{_caller()}: {v!r} cannot be a value in a model (use a number, a string, "
                             f"None or a tuple: states are compared and hashed)") from None
    return v if isinstance(v, Expr) else Expr(("const", v))


def var(name: str) -> Expr:
    """A shared variable (a field, a flag, a pointer) read by all cpus."""
    return Expr(("var", name))


def local(name: str) -> Expr:
    """A cpu-local variable, set by :func:`let` or a trylock."""
    return Expr(("local", name))


def refcount(name: str) -> Expr:
    """The current count of a declared refcount."""
    return Expr(("ref", name))


def alive(name: str) -> Expr:
    """True while a declared object is allocated and not freed."""
    return Expr(("alive", name))


def const(value: Any) -> Expr:
    return Expr(("const", value))


# --------------------------------------------------------------------------
# Steps (ops). Each is one pseudo-C line executed atomically by one cpu.
# --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)   # identity: two steps on one line are still two steps
class Op:
    """One step of a function: an operation, its pseudo-C line, its source.

    ``kind`` is the operation (``mutex_lock``, ``put``, ``if`` ...), ``args``
    its operands, ``text`` the line learners see, ``where`` the model source
    ``file:line`` that wrote it (for error messages).
    """

    kind: str
    args: tuple
    text: str
    where: str = "?"

    @property
    def lock(self) -> str | None:
        """The lock a lock operation takes or drops (None for other steps)."""
        return self.args[0] if OPS[self.kind].lock_kind is not None else None


def _caller(depth: int = 2) -> str:
    """``file:line`` of the model source that called an op constructor."""
    f = sys._getframe(depth)
    # Skip frames inside this module (helpers calling helpers).
    while f is not None and f.f_code.co_filename == __file__:
        f = f.f_back
    if f is None:
        return "?"
    path = f.f_code.co_filename
    try:
        path = os.path.relpath(path)
    except ValueError:
        pass
    return f"{path}:{f.f_lineno}"


def _op(kind: str, args: tuple, text: str | None, name: str | None = None) -> Op:
    """A step of ``kind``: its line is ``text``, else the table's default
    line for the operands (see :data:`labkit.primitives.OPS`)."""
    where = _caller()
    if text is None and OPS[kind].text:
        text = OPS[kind].text.format(*("NULL" if a is None else a for a in args))
    if not isinstance(text, str):
        raise ModelError(f"{where}: {name or OPS[kind].builder}(): the line's text must be a string, not {text!r}")
    return Op(kind, args, text, where)


def builder(kind: str):
    """A builder function for a primitive of the table whose operands are
    all names: ``builder("spin_lock_irqsave")("lock")`` is a step.

    >>> mutex_lock("A").text == builder("mutex_lock")("A").text
    True
    """
    def make(*args, text: str | None = None) -> Op:
        return _op(kind, args, text)
    make.__name__ = make.__qualname__ = OPS[kind].builder
    make.__doc__ = f"A ``{kind}`` step ({OPS[kind].family}); see labkit.primitives."
    return make


def _name(value: Any, what: str, where: str) -> str:
    """``value`` if it is a non-empty string, else a ModelError naming ``where``."""
    if not isinstance(value, str) or not value:
        raise ModelError(f"{where}: {what} must be a non-empty string, not {value!r}")
    return value


def _names(values: Any, what: str, where: str) -> tuple[str, ...]:
    """A list of names as a tuple (a lone string is an error, not its letters)."""
    if isinstance(values, str) or values is None:
        raise ModelError(f"{where}: {what} must be a list of names, not {values!r}")
    try:
        items = tuple(values)
    except TypeError:
        raise ModelError(f"{where}: {what} must be a list of names, not {values!r}") from None
    for v in items:
        _name(v, f"each of {what}", where)
    return items


def mutex_lock(lock: str, text: str | None = None) -> Op:
    return _op("mutex_lock", (lock,), text)


def mutex_unlock(lock: str, text: str | None = None) -> Op:
    return _op("mutex_unlock", (lock,), text)


def mutex_trylock(lock: str, into: str, text: str | None = None) -> Op:
    """``$into = mutex_trylock(&lock)``: never blocks; sets a cpu-local."""
    return _op("mutex_trylock", (lock, into), text)


def spin_lock(lock: str, text: str | None = None) -> Op:
    return _op("spin_lock", (lock,), text)


def spin_unlock(lock: str, text: str | None = None) -> Op:
    return _op("spin_unlock", (lock,), text)


def down_read(lock: str, text: str | None = None) -> Op:
    return _op("down_read", (lock,), text)


def up_read(lock: str, text: str | None = None) -> Op:
    return _op("up_read", (lock,), text)


def down_write(lock: str, text: str | None = None) -> Op:
    return _op("down_write", (lock,), text)


def up_write(lock: str, text: str | None = None) -> Op:
    return _op("up_write", (lock,), text)


def down_read_trylock(lock: str, into: str, text: str | None = None) -> Op:
    return _op("down_read_trylock", (lock, into), text)


def get(ref: str, text: str | None = None) -> Op:
    """Take a reference (``kref_get``, ``refcount_inc``)."""
    return _op("get", (ref,), text)


def get_not_zero(ref: str, into: str, text: str | None = None) -> Op:
    """``$into = refcount_inc_not_zero(&ref)``: take a reference unless it is zero."""
    return _op("get_not_zero", (ref, into), text)


def put(ref: str, release: str | None = None, text: str | None = None) -> Op:
    """Drop a reference; the last put calls ``release`` in this cpu's context.

    The release function runs as ordinary steps of the putting cpu, under
    whatever locks that cpu holds, which is how a last put can deadlock.
    """
    return _op("put", (ref, release), text)


def alloc(obj: str, text: str | None = None) -> Op:
    return _op("alloc", (obj,), text)


def free(obj: str, text: str | None = None) -> Op:
    return _op("free", (obj,), text)


def use(obj: str, text: str | None = None) -> Op:
    """Dereference an object: a use after free if it was freed."""
    return _op("use", (obj,), text)


def assign(name: str, value: Any, text: str | None = None) -> Op:
    """Write a shared variable: ``name = value`` (value may be an Expr)."""
    v = _wrap(value)
    return _op("assign", (name, v), text)


def let(name: str, value: Any, text: str | None = None) -> Op:
    """Set a cpu-local: ``$name = value``; reading shared vars into a local
    is how a check-then-act race is modelled."""
    v = _wrap(value)
    return _op("let", (name, v), text)


def if_(cond: Expr, goto: str, text: str | None = None) -> Op:
    """Branch: when ``cond`` holds, continue at ``label(goto)``."""
    if not isinstance(cond, Expr):
        raise ModelError(f"{_caller()}: if_() needs an Expr condition, got {cond!r}")
    return _op("if", (cond, goto), text)


def goto(target: str, text: str | None = None) -> Op:
    return _op("goto", (target,), text)


def label(name: str) -> Op:
    """A jump target; not a step (takes no time, is never shown as a step)."""
    return _op("label", (_name(name, "label()'s name", _caller()),), None)


def call(func: str, text: str | None = None, via: Iterable[str] = ()) -> Op:
    """Call a model function. ``via`` names kernel functions between this call
    site and the callee that are not modelled (overrides the callee's ``via``)."""
    return _op("call", (func, _names(via, "call(via=...)", _caller())), text)


def ret(text: str | None = None) -> Op:
    return _op("return", (), text)


def warn_on(cond: Expr, text: str | None = None, message: str | None = None) -> Op:
    """``WARN_ON(cond)``: a ``warn`` finding when ``cond`` holds."""
    if not isinstance(cond, Expr):
        raise ModelError(f"{_caller()}: warn_on() needs an Expr condition, got {cond!r}")
    return _op("warn_on", (cond, message or f"WARN_ON({cond})"), text)


def wait_event(cond: Expr, text: str | None = None) -> Op:
    """Sleep until ``cond`` holds (``wait_event``, ``wait_for_completion``)."""
    if not isinstance(cond, Expr):
        raise ModelError(f"{_caller()}: wait_event() needs an Expr condition, got {cond!r}")
    return _op("wait", (cond,), text)


def complete(name: str, text: str | None = None) -> Op:
    """``complete(&name)``: sets the shared flag a ``wait_event`` waits for."""
    return _op("assign", (name, Expr(("const", True))), text if text is not None else f"complete(&{name});",
               name="complete")


def line(text: str) -> Op:
    """A line that changes no shared state (``eat();``, ``list_del(&obj->node);``
    where the list is not modelled), shown so the code reads whole. It is a
    step like any other: a cpu takes one turn to run it."""
    return _op("nop", (), text)


def step(text: str) -> Op:
    """The older name of :func:`line`, kept for the models written with it."""
    return _op("nop", (), text, name="step")


# Locks and interrupts: one builder per row of the table (``spin_lock_irqsave("lock",
# "flags")``: the flags are a cpu-local, as in the kernel).
spin_lock_irq, spin_unlock_irq = builder("spin_lock_irq"), builder("spin_unlock_irq")
spin_lock_irqsave, spin_unlock_irqrestore = builder("spin_lock_irqsave"), builder("spin_unlock_irqrestore")
spin_lock_bh, spin_unlock_bh = builder("spin_lock_bh"), builder("spin_unlock_bh")
read_lock, read_unlock = builder("read_lock"), builder("read_unlock")
write_lock, write_unlock = builder("write_lock"), builder("write_unlock")
read_lock_irq, read_unlock_irq = builder("read_lock_irq"), builder("read_unlock_irq")
write_lock_irq, write_unlock_irq = builder("write_lock_irq"), builder("write_unlock_irq")
read_lock_irqsave, read_unlock_irqrestore = builder("read_lock_irqsave"), builder("read_unlock_irqrestore")
write_lock_irqsave, write_unlock_irqrestore = builder("write_lock_irqsave"), builder("write_unlock_irqrestore")
read_lock_bh, read_unlock_bh = builder("read_lock_bh"), builder("read_unlock_bh")
write_lock_bh, write_unlock_bh = builder("write_lock_bh"), builder("write_unlock_bh")
local_irq_disable, local_irq_enable = builder("local_irq_disable"), builder("local_irq_enable")
local_irq_save, local_irq_restore = builder("local_irq_save"), builder("local_irq_restore")
local_bh_disable, local_bh_enable = builder("local_bh_disable"), builder("local_bh_enable")


@dataclass(frozen=True)
class IrqState:
    """What one cpu allows of interrupts, kept in a shared variable of the
    model (``CPU0 irqs``): hardirqs ``on`` or off, the depth ``bh`` of
    ``local_bh_disable()`` (a running softirq counts one), and the interrupt
    handlers ``running`` on the cpu, innermost last. A handler starts only when
    the cpu allows it and runs to its end on top of the task it interrupted.

    >>> str(IrqState()), str(IrqState(False, 0, ("CPU0.irq",)))
    ('irqs on', 'irqs off, in CPU0.irq')
    """

    on: bool = True
    bh: int = 0
    running: tuple = ()

    def __str__(self) -> str:
        out = "irqs on" if self.on else "irqs off"
        if self.bh:
            out += ", bh off" if self.bh == 1 else f", bh off x{self.bh}"
        if self.running:
            out += ", in " + " > ".join(self.running)
        return out


def irq_var_name(cpu: str) -> str:
    """The shared variable that holds a cpu's :class:`IrqState`."""
    return f"{cpu} irqs"


# --------------------------------------------------------------------------
# Declarations and the compiled program
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class LockDecl:
    """A lock instance. ``cls`` is its lockdep class name (``&mm->mmap_sem``)."""

    name: str
    kind: str
    cls: str
    reader_pref: bool = False
    where: str = "?"


@dataclass(frozen=True)
class Function:
    """A function: its steps, its labels, and ``via``, the kernel functions
    between its caller and itself that the model does not step through
    (shown in call stacks and lockdep reports, outermost first)."""

    name: str
    ops: tuple[Op, ...]          # labels removed
    labels: dict = field(hash=False, compare=False, default_factory=dict)
    where: str = "?"
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class CpuDecl:
    """A cpu: the entry function it runs and the context it runs in.

    ``stack`` is the kernel call chain above the entry function, outermost
    first (``sys_ioctl``, ``vfio_fops_unl_ioctl`` ...); ``comm``/``pid`` name
    the task as lockdep would print it; ``context`` says in words what the
    cpu is doing (which fd close, which ioctl).
    """

    name: str
    entry: str
    comm: str
    pid: int
    stack: tuple[str, ...] = ()
    context: str = ""
    where: str = "?"
    host: str | None = None       # an interrupt handler: the cpu it interrupts
    irq: str | None = None        # ... and its kind, "hardirq" or "softirq"


@dataclass(frozen=True)
class Invariant:
    """A named check on a state. ``when`` is ``"always"`` or ``"end"`` (all cpus done)."""

    name: str
    cond: Expr        # must hold; a ``warn`` finding when it does not
    message: str
    when: str = "always"
    where: str = "?"


@dataclass(frozen=True)
class Program:
    """A checked, frozen model: what :mod:`labkit.semantics` runs."""

    case: str
    variant: str
    title: str
    locks: tuple[LockDecl, ...]
    vars: tuple[tuple[str, Any], ...]            # (name, initial value)
    refs: tuple[tuple[str, int], ...]            # (name, initial count)
    objects: tuple[tuple[str, bool], ...]        # (name, allocated at start)
    functions: tuple[Function, ...]
    cpus: tuple[CpuDecl, ...]
    invariants: tuple[Invariant, ...]
    locals: tuple[str, ...]                      # every cpu-local name, in slot order
    cpu_names: tuple[str, ...] = ()              # cpu names, in cpu order
    lock_index: dict = field(hash=False, compare=False, default_factory=dict)
    var_index: dict = field(hash=False, compare=False, default_factory=dict)
    ref_index: dict = field(hash=False, compare=False, default_factory=dict)
    obj_index: dict = field(hash=False, compare=False, default_factory=dict)
    func_index: dict = field(hash=False, compare=False, default_factory=dict)
    cpu_index: dict = field(hash=False, compare=False, default_factory=dict)
    local_index: dict = field(hash=False, compare=False, default_factory=dict)
    # Interrupts, per cpu: the host an interrupt handler runs on (-1: a task),
    # the index of the IrqState variable the cpu reads (-1: none; the model
    # has no interrupt and no irq-disabling step), and the handlers it hosts.
    irq_host: tuple = ()
    irq_var: tuple = ()
    handlers: tuple = ()

    def function(self, name: str) -> Function:
        return self.functions[self.func_index[name]]

    def cpu_id(self, name: str) -> int:
        return self.cpu_index[name]

    def reachable(self, entry: str) -> list[str]:
        """The functions a cpu starting in ``entry`` can run: the entry, what it
        calls, and release callbacks its puts may run; breadth-first order."""
        seen = [entry]
        for name in seen:   # grows while it is walked
            for op in self.function(name).ops:
                target = op.args[0] if op.kind == "call" else op.args[1] if op.kind == "put" else None
                if target is not None and target not in seen:
                    seen.append(target)
        return seen


class Model:
    """Builder for a :class:`Program`; see the module docstring for an example."""

    def __init__(self, case: str, variant: str, title: str = ""):
        self.case, self.variant, self.title = case, variant, title
        self._locks: dict[str, LockDecl] = {}
        self._vars: dict[str, Any] = {}
        self._refs: dict[str, int] = {}
        self._objects: dict[str, bool] = {}
        self._funcs: dict[str, tuple[list[Op], str]] = {}
        self._via: dict[str, tuple[str, ...]] = {}
        self._cpus: list[CpuDecl] = []
        self._invariants: list[Invariant] = []

    # -- declarations -------------------------------------------------------
    def _declare(self, name: str, table: str):
        where = _caller(3)
        _name(name, f"a {table}'s name", where)
        for t in (self._locks, self._vars, self._refs, self._objects):
            if name in t:
                raise ModelError(f"{where}: {name!r} is declared twice (the model names each lock, "
                                 f"variable, refcount and object once)")
        return where

    def _lock(self, name, kind, cls, reader_pref=False):
        where = self._declare(name, "lock")
        if cls is not None:
            _name(cls, f"lock {name!r}: its class", where)
        self._locks[name] = LockDecl(name, kind, cls or name, reader_pref, where)

    def mutex(self, name: str, cls: str | None = None) -> None:
        """Declare a ``struct mutex``; ``cls`` is its lockdep class name."""
        self._lock(name, "mutex", cls)

    def spinlock(self, name: str, cls: str | None = None) -> None:
        self._lock(name, "spinlock", cls)

    def rwsem(self, name: str, cls: str | None = None, reader_pref: bool = False) -> None:
        """Declare a ``struct rw_semaphore``.

        As in Linux, waiters queue in order: while a writer waits, a new
        reader queues behind it instead of joining the readers inside.
        (Linux's rwsem is not simply "writer-preferring": its waiters queue
        in arrival order, with lock handoff, ``kernel/locking/rwsem.c``.)
        ``reader_pref=True``
        models a reader-preferring lock, which Linux does not have, for
        contrast: readers get in whenever no writer holds it (lockdep calls
        such readers *recursive*).
        """
        self._lock(name, "rwsem", cls, reader_pref)

    def rwlock(self, name: str, cls: str | None = None) -> None:
        """Declare an ``rwlock_t``: a spinning reader/writer lock. As with the
        kernel's queued rwlocks, a reader in task context waits behind a
        waiting writer, but a reader in an interrupt handler only waits for a
        writer that holds it (its readers are recursive there)."""
        self._lock(name, "rwlock", cls)

    def interrupt(self, host: str, entry: str, *, kind: str = "hardirq", name: str | None = None,
                  stack: Iterable[str] | None = None, context: str = "") -> None:
        """Declare an interrupt handler that runs ``entry`` on cpu ``host``.

        It may start between any two steps of ``host`` while ``host`` allows
        it (a hardirq: interrupts enabled; a softirq: bottom halves enabled
        too), once per run, and then runs on top of the task it interrupted,
        which cannot go on until the handler returns. A hardirq runs with
        interrupts off; a softirq with bottom halves off and hardirqs on, as
        ``__do_softirq()`` runs them. Its name defaults to ``CPU0.irq`` (a
        hardirq) or ``CPU0.softirq``; schedules name it like a cpu.
        """
        where = _caller(2)
        _name(host, "interrupt(): the host cpu", where)
        _name(entry, f"interrupt on {host!r}: its entry function", where)
        if kind not in ("hardirq", "softirq"):
            raise ModelError(f"{where}: interrupt on {host!r}: kind must be 'hardirq' or 'softirq', not {kind!r}")
        name = name or f"{host}.{'irq' if kind == 'hardirq' else 'softirq'}"
        _name(name, "an interrupt's name", where)
        if stack is None:
            stack = ("asm_common_interrupt", "common_interrupt", "handle_irq_event") if kind == "hardirq" \
                else ("irq_exit_rcu", "__do_softirq")
        stack = _names(stack, f"interrupt {name!r}: stack", where)
        if not isinstance(context, str):
            raise ModelError(f"{where}: interrupt {name!r}: context must be a string, not {context!r}")
        self._cpus.append(CpuDecl(name, entry, "", 0, stack, context or f"{kind} handler on {host}", where,
                                  host, kind))

    def shared(self, name: str, initial: Any = None) -> None:
        """Declare a shared variable (a field, flag or pointer) and its initial value."""
        self._declare(name, "var")
        _wrap(initial)          # a value must be hashable: states are
        self._vars[name] = initial

    def ref(self, name: str, initial: int = 1) -> None:
        """Declare a refcount with its initial count."""
        where = self._declare(name, "ref")
        if not isinstance(initial, int) or isinstance(initial, bool) or initial < 0:
            raise ModelError(f"{where}: refcount {name!r}: the initial count must be a whole number "
                             f"0 or more, not {initial!r}")
        self._refs[name] = initial

    def object(self, name: str, allocated: bool = True) -> None:
        """Declare an object whose lifetime is checked (use after free, double free)."""
        where = self._declare(name, "object")
        if not isinstance(allocated, bool):
            raise ModelError(f"{where}: object {name!r}: allocated must be True or False, not {allocated!r}")
        self._objects[name] = allocated

    def func(self, name: str, ops: Iterable[Op], via: Iterable[str] = ()) -> None:
        """Define a function as its list of steps.

        ``via`` names the kernel functions between its callers and itself that
        are not modelled as steps (``do_mmap``, ``mmap_region`` ...), so call
        stacks read like the real ones.
        """
        where = _caller(2)
        _name(name, "a function's name", where)
        if name in self._funcs:
            raise ModelError(f"{where}: function {name!r} is defined twice")
        if isinstance(ops, (str, Op)) or not hasattr(ops, "__iter__"):
            raise ModelError(f"{where}: function {name!r}: its steps must be a list of steps "
                             f"(mutex_lock(), put(), step() ...), not {ops!r}")
        self._funcs[name] = (list(ops), where)
        self._via[name] = _names(via, f"function {name!r}: via", where)

    def cpu(self, name: str, entry: str, *, comm: str = "task", pid: int = 1,
            stack: Iterable[str] = (), context: str = "") -> None:
        """Declare a cpu that runs ``entry`` (cpus are named ``CPU0``, ``CPU1`` ...)."""
        where = _caller(2)
        _name(name, "a cpu's name", where)
        _name(entry, f"cpu {name!r}: its entry function", where)
        _name(comm, f"cpu {name!r}: comm", where)
        if not isinstance(pid, int) or isinstance(pid, bool):
            raise ModelError(f"{where}: cpu {name!r}: pid must be a whole number, not {pid!r}")
        if not isinstance(context, str):
            raise ModelError(f"{where}: cpu {name!r}: context must be a string, not {context!r}")
        stack = _names(stack, f"cpu {name!r}: stack", where)
        self._cpus.append(CpuDecl(name, entry, comm, pid, stack, context, where))

    def invariant(self, name: str, cond: Expr, message: str, when: str = "always") -> None:
        """A named check: a ``warn`` finding whenever ``cond`` is false."""
        where = _caller(2)
        _name(name, "an invariant's name", where)
        if not isinstance(cond, Expr):
            raise ModelError(f"{where}: invariant {name!r} needs an Expr condition, got {cond!r}")
        if not isinstance(message, str):
            raise ModelError(f"{where}: invariant {name!r}: message must be a string, not {message!r}")
        if when not in ("always", "end"):
            raise ModelError(f"{where}: invariant {name!r}: when must be 'always' or 'end', not {when!r}")
        self._invariants.append(Invariant(name, cond, message, when, where))

    # -- checking -----------------------------------------------------------
    def build(self) -> Program:
        """Check every name and operand and return the frozen :class:`Program`."""
        # Locals first: a function may read a local that another one sets.
        locals_: list[str] = []
        for raw_ops, _ in self._funcs.values():
            for op in raw_ops:
                if isinstance(op, Op) and op.kind in OPS:
                    for role, name in zip(OPS[op.kind].operands, op.args):
                        if role == "local" and name not in locals_:
                            locals_.append(name)
        self._locals = locals_
        functions = []
        func_names = list(self._funcs)
        for fname, (raw_ops, fwhere) in self._funcs.items():
            labels: dict[str, int] = {}
            ops: list[Op] = []
            for op in raw_ops:
                if not isinstance(op, Op):
                    raise ModelError(f"{fwhere}: function {fname!r}: {op!r} is not a step "
                                     f"(build steps with mutex_lock(), put(), step() ...)")
                if op.kind == "label":
                    if op.args[0] in labels:
                        raise ModelError(f"{op.where}: label {op.args[0]!r} appears twice in {fname}()")
                    labels[op.args[0]] = len(ops)
                else:
                    ops.append(op)
            if not ops:
                raise ModelError(f"{fwhere}: function {fname!r} has no steps")
            for op in ops:
                self._check_op(fname, op, labels, func_names, locals_)
            functions.append(Function(fname, tuple(ops), labels, fwhere, self._via[fname]))
        if not self._cpus:
            raise ModelError(f"model {self.case}/{self.variant} declares no cpu")
        seen = set()
        for c in self._cpus:
            if c.entry not in self._funcs:
                raise ModelError(f"{c.where}: {c.name} runs {c.entry!r}, which is not a function of the model")
            if c.name in seen:
                raise ModelError(f"{c.where}: cpu {c.name!r} is declared twice")
            seen.add(c.name)
        cpus = self._with_interrupts(functions)
        for inv in self._invariants:
            self._check_expr(inv.cond, inv.where, f"invariant {inv.name!r}", allow_locals=False)
        locks = tuple(self._locks.values())
        vars_ = dict(self._vars)
        for c in cpus:
            if self._irq_aware(c, cpus, functions):
                host = c.host or c.name
                vars_.setdefault(irq_var_name(host), IrqState())
        var_index = {n: i for i, n in enumerate(vars_)}
        cpu_index = {c.name: i for i, c in enumerate(cpus)}
        irq_host = tuple(cpu_index[c.host] if c.host else -1 for c in cpus)
        irq_var = tuple(var_index.get(irq_var_name(c.host or c.name), -1) for c in cpus)
        handlers = tuple(tuple(i for i, d in enumerate(cpus) if d.host == c.name) for c in cpus)
        prog = Program(
            case=self.case, variant=self.variant, title=self.title,
            locks=locks, vars=tuple(vars_.items()), refs=tuple(self._refs.items()),
            objects=tuple(self._objects.items()), functions=tuple(functions),
            cpus=tuple(cpus), invariants=tuple(self._invariants), locals=tuple(locals_),
            cpu_names=tuple(c.name for c in cpus), irq_host=irq_host, irq_var=irq_var, handlers=handlers,
        )
        prog.lock_index.update({l.name: i for i, l in enumerate(locks)})
        prog.var_index.update({n: i for i, (n, _) in enumerate(prog.vars)})
        prog.ref_index.update({n: i for i, (n, _) in enumerate(prog.refs)})
        prog.obj_index.update({n: i for i, (n, _) in enumerate(prog.objects)})
        prog.func_index.update({f.name: i for i, f in enumerate(functions)})
        prog.cpu_index.update(cpu_index)
        prog.local_index.update({n: i for i, n in enumerate(locals_)})
        return prog

    def _with_interrupts(self, functions) -> list[CpuDecl]:
        """The cpus, each interrupt handler right after the cpu it runs on,
        checked; a handler prints as the task it interrupts."""
        tasks = {c.name: c for c in self._cpus if c.host is None}
        out: list[CpuDecl] = []
        for t in tasks.values():
            out.append(t)
            for c in self._cpus:
                if c.host == t.name:
                    out.append(CpuDecl(c.name, c.entry, t.comm, t.pid, c.stack, c.context, c.where, c.host, c.irq))
        for c in self._cpus:
            if c.host is not None and c.host not in tasks:
                what = "an interrupt itself" if c.host in {d.name for d in self._cpus} else "not a cpu of the model"
                raise ModelError(f"{c.where}: interrupt {c.name!r} runs on {c.host!r}, which is {what}")
        return out

    @staticmethod
    def _irq_aware(c: CpuDecl, cpus, functions) -> bool:
        """Does this cpu need an IrqState: it hosts or is a handler, or it runs
        a step that changes what interrupts it allows."""
        if c.host is not None or any(d.host == c.name for d in cpus):
            return True
        by_name = {f.name: f for f in functions}
        seen, todo = set(), [c.entry]
        while todo:
            name = todo.pop()
            if name in seen or name not in by_name:
                continue
            seen.add(name)
            for op in by_name[name].ops:
                if OPS[op.kind].irq is not None:
                    return True
                if op.kind == "call":
                    todo.append(op.args[0])
                elif op.kind == "put" and op.args[1] is not None:
                    todo.append(op.args[1])
        return False

    def _check_op(self, fname, op, labels, func_names, locals_):
        """Check each operand by its role in the table (names first, then expressions)."""
        here = f"{op.where}: in {fname}(), step {op.text!r}"
        k = op.kind
        for a in op.args:   # operands are names, conditions, values (Expr) or lists of names
            if not (a is None or isinstance(a, (str, Expr, tuple))):
                raise ModelError(f"{here}: {a!r} is not a name (names are strings)")
        prim = OPS.get(k)
        if prim is None or k == "label":  # pragma: no cover - constructors only make kinds of the table
            raise ModelError(f"{here}: unknown step kind {k!r}")
        roles = list(zip(prim.operands, op.args))
        for role, a in roles:
            if role == "lock":
                if a not in self._locks:
                    raise ModelError(f"{here}: unknown lock {a!r} (declared: {', '.join(self._locks) or 'none'})")
                if self._locks[a].kind != prim.lock_kind:
                    raise ModelError(f"{here}: {k}() needs a {prim.lock_kind}, but {a!r} is a {self._locks[a].kind}")
            elif role == "ref" and a not in self._refs:
                raise ModelError(f"{here}: unknown refcount {a!r}")
            elif role == "release" and a is not None and a not in func_names:
                raise ModelError(f"{here}: release function {a!r} is not defined")
            elif role == "object" and a not in self._objects:
                raise ModelError(f"{here}: unknown object {a!r}")
            elif role == "var" and a not in self._vars:
                raise ModelError(f"{here}: unknown shared variable {a!r}")
            elif role == "label" and a not in labels:
                raise ModelError(f"{here}: no label {a!r} in {fname}()")
            elif role == "func" and a not in func_names:
                raise ModelError(f"{here}: calls {a!r}, which is not defined")
        for role, a in roles:
            if role in ("cond", "value"):
                self._check_expr(a, op.where, f"{fname}()")

    def _check_expr(self, e: Expr, where: str, what: str, allow_locals: bool = True):
        for n in e.names("var"):
            if n not in self._vars:
                raise ModelError(f"{where}: {what}: unknown shared variable {n!r}")
        for n in e.names("ref"):
            if n not in self._refs:
                raise ModelError(f"{where}: {what}: unknown refcount {n!r}")
        for n in e.names("alive"):
            if n not in self._objects:
                raise ModelError(f"{where}: {what}: unknown object {n!r}")
        if not allow_locals and e.names("local"):
            raise ModelError(f"{where}: {what}: an invariant cannot read cpu-locals")
        for n in e.names("local"):
            if n not in self._locals:
                raise ModelError(f"{where}: {what}: cpu-local {n!r} is never set (by let() or a trylock)")


def rebuild(prog: Program, functions: dict[str, Iterable[Op]]) -> Program:
    """``prog`` with some functions' steps replaced, checked again like a new model.

    Label steps (``label("out")``) in the new lists mark jump targets as in
    :meth:`Model.func`. This is how a learner's fix is tried: the rest of the
    model stays exactly as it was.

    >>> from labkit.cases import program
    >>> p = program("abba", "before")
    >>> q = rebuild(p, {"path_two": [mutex_lock("A"), mutex_lock("B"), mutex_unlock("B"), mutex_unlock("A")]})
    >>> [op.text for op in q.function("path_two").ops][:2]
    ['mutex_lock(&A);', 'mutex_lock(&B);']
    """
    m = Model(prog.case, prog.variant, prog.title)
    m._locks = {l.name: l for l in prog.locks}
    m._vars, m._refs, m._objects = dict(prog.vars), dict(prog.refs), dict(prog.objects)
    for fn in prog.functions:
        if fn.name in functions:
            ops = functions[fn.name]
            if isinstance(ops, (str, Op)) or not hasattr(ops, "__iter__"):
                raise ModelError(f"{prog.case}/{prog.variant}: the new steps of {fn.name}() must be a "
                                 f"list of steps, not {ops!r}")
            ops = list(ops)
        else:
            at: dict[int, list[str]] = {}
            for name, i in fn.labels.items():
                at.setdefault(i, []).append(name)
            ops = []
            for i in range(len(fn.ops) + 1):
                ops += [Op("label", (name,), f"{name}:", fn.where) for name in at.get(i, ())]
                if i < len(fn.ops):
                    ops.append(fn.ops[i])
        m._funcs[fn.name] = (ops, fn.where)
        m._via[fn.name] = fn.via
    unknown = set(functions) - set(m._funcs)
    if unknown:
        raise ModelError(f"{prog.case}/{prog.variant} has no function {sorted(unknown)[0]!r}")
    m._cpus = list(prog.cpus)
    m._invariants = list(prog.invariants)
    return m.build()
