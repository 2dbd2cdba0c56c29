"""The table of operations: every kind of step a model can take, in one place.

Each row says what the rest of labkit needs to know about one kind of step:

``kind``
    the operation (``Op.kind``): what the semantics dispatches on, what the
    stepper's JSON carries.
``family``
    which handler of :mod:`labkit.semantics` runs it: ``acquire``,
    ``release``, ``trylock``, ``wait``, ``refcount``, ``object``, ``data``
    or ``control``. A new kind of lock needs a row, not a handler.
``operands``
    what each of ``Op.args`` is; the builder checks each one by its role
    (``lock``: a declared lock of ``lock_kind``; ``ref``, ``object``,
    ``var``: declared names; ``local``: a cpu-local the step sets;
    ``release``, ``func``: a function of the model (``release`` may be
    None); ``label``: a label of the same function; ``cond`` and
    ``value``: expressions, checked and read; ``via``, ``message``: free).
``text``
    the pseudo-C line shown when the model gives none: ``str.format`` of
    the operands (``None`` prints as ``NULL``).
``lock_kind``, ``mode``
    the lock kind a lock operation takes, and how (``write`` or ``read``).
``footprint``
    what the step touches beyond its own cpu, for the explorer's reduction:
    ``(access, operand index)`` pairs, ``w`` writes and ``r`` reads the
    lock, refcount, object or variable that operand names. Expressions
    (``cond``, ``value``) read every name in them.
``corrupts``
    the step may corrupt memory (a use after free, a double free, a
    refcount underflow), which stops every cpu.
``frames``
    the frames lockdep prints above the caller for a lock operation.
``builder``
    the builder function a model calls (named in error messages).
``irq``
    what the step does to its cpu's interrupt state, besides its lock:
    ``off`` (disable hardirqs, as ``spin_lock_irq`` does before it spins),
    ``on`` (enable them), ``save`` (remember whether they were on in the
    ``flags`` operand, then disable), ``restore`` (put back what ``flags``
    says), ``bh_off`` / ``bh_on`` (``local_bh_disable`` / ``enable``).
    Lock operations disable before they take the lock and enable after they
    drop it; an interrupt handler runs on a cpu only while it allows it.

Adding a primitive (say ``mutex_lock_killable``) is one row here and one
builder line in :mod:`labkit.model` (``builder("mutex_lock_killable")``); a new
*family* also needs its handler in :mod:`labkit.semantics`.

>>> OPS["down_read"].family, OPS["down_read"].lock_kind, OPS["down_read"].mode
('acquire', 'rwsem', 'read')
>>> OPS["put"].text.format("obj->kref", "NULL")
'kref_put(&obj->kref, NULL);'
>>> OPS["spin_lock_irqsave"].operands, OPS["spin_lock_irqsave"].irq
(('lock', 'local'), 'save')
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Primitive", "LockKind", "OPS", "LOCK_KINDS", "FAMILIES", "IRQ_EFFECTS", "define", "kinds_of",
           "lock_frames"]


class Primitive(NamedTuple):
    """One row of the table: one kind of step."""

    kind: str
    family: str
    operands: tuple = ()
    text: str = ""
    lock_kind: str | None = None
    mode: str | None = None
    footprint: tuple = ()
    corrupts: bool = False
    frames: tuple = ()
    builder: str = ""
    irq: str | None = None


IRQ_EFFECTS = ("off", "on", "save", "restore", "bh_off", "bh_on")


class LockKind(NamedTuple):
    """A kind of lock. ``queued``: the order of its waiters decides who gets
    it (a new reader waits behind a queued writer), so blocking on it is a
    step that changes what others may do. ``wait_type`` is lockdep's
    ``{inner:outer}`` wait type printed after the usage bits."""

    name: str
    queued: bool
    wait_type: str


LOCK_KINDS: dict[str, LockKind] = {
    "mutex": LockKind("mutex", False, "-{3:3}"),         # LD_WAIT_SLEEP
    "spinlock": LockKind("spinlock", False, "-{2:2}"),   # LD_WAIT_CONFIG (spinlock_t)
    "rwsem": LockKind("rwsem", True, "-{3:3}"),
    # rwlock_t: a spinning reader/writer lock. Queued rwlocks are fair in task
    # context (a reader waits behind a waiting writer) but an interrupt's
    # readers only wait for a writer inside: they are recursive.
    "rwlock": LockKind("rwlock", True, "-{2:2}"),
}

FAMILIES = ("acquire", "release", "trylock", "wait", "refcount", "object", "data", "control", "irq")

OPS: dict[str, Primitive] = {}


def define(kind: str, family: str, operands=(), text: str = "", lock_kind: str | None = None,
           mode: str | None = None, footprint=(), corrupts: bool = False, frames=(),
           builder: str | None = None, irq: str | None = None) -> Primitive:
    """Add a row to :data:`OPS` (and return it)."""
    if irq is not None and irq not in IRQ_EFFECTS:
        raise ValueError(f"primitive {kind!r}: irq must be one of {IRQ_EFFECTS}, not {irq!r}")
    if family not in FAMILIES:
        raise ValueError(f"primitive {kind!r}: family must be one of {FAMILIES}, not {family!r}")
    if lock_kind is not None and lock_kind not in LOCK_KINDS:
        raise ValueError(f"primitive {kind!r}: lock_kind must be one of {tuple(LOCK_KINDS)}, not {lock_kind!r}")
    p = Primitive(kind, family, tuple(operands), text, lock_kind, mode, tuple(footprint), corrupts,
                  tuple(frames), builder or kind, irq)
    OPS[kind] = p
    return p


_LOCKING = ("lock_acquire",)

# -- locks ---------------------------------------------------------------------------
define("mutex_lock", "acquire", ("lock",), "mutex_lock(&{0});", "mutex", "write", (("w", 0),),
       frames=_LOCKING + ("__mutex_lock", "mutex_lock_nested"))
define("spin_lock", "acquire", ("lock",), "spin_lock(&{0});", "spinlock", "write", (("w", 0),),
       frames=_LOCKING + ("_raw_spin_lock",))
define("down_read", "acquire", ("lock",), "down_read(&{0});", "rwsem", "read", (("w", 0),),
       frames=_LOCKING + ("down_read",))
define("down_write", "acquire", ("lock",), "down_write(&{0});", "rwsem", "write", (("w", 0),),
       frames=_LOCKING + ("down_write",))
define("mutex_unlock", "release", ("lock",), "mutex_unlock(&{0});", "mutex", "write", (("w", 0),))
define("spin_unlock", "release", ("lock",), "spin_unlock(&{0});", "spinlock", "write", (("w", 0),))
define("up_read", "release", ("lock",), "up_read(&{0});", "rwsem", "read", (("w", 0),))
define("up_write", "release", ("lock",), "up_write(&{0});", "rwsem", "write", (("w", 0),))
define("mutex_trylock", "trylock", ("lock", "local"), "{1} = mutex_trylock(&{0});", "mutex", "write",
       (("w", 0),), frames=_LOCKING + ("mutex_trylock",))
define("down_read_trylock", "trylock", ("lock", "local"), "{1} = down_read_trylock(&{0});", "rwsem", "read",
       (("w", 0),), frames=_LOCKING + ("down_read_trylock",))

# -- locks and interrupts: the _irq, _irqsave and _bh forms, rwlock_t -------------------------
_SPIN = {"spin": "spinlock", "read": "rwlock", "write": "rwlock"}
for _p, _kind in _SPIN.items():
    _mode = "read" if _p == "read" else "write"
    _raw = "_raw_" + _p + "_lock"
    if _p != "spin":
        define(f"{_p}_lock", "acquire", ("lock",), f"{_p}_lock(&{{0}});", _kind, _mode, (("w", 0),),
               frames=_LOCKING + (_raw,))
        define(f"{_p}_unlock", "release", ("lock",), f"{_p}_unlock(&{{0}});", _kind, _mode, (("w", 0),))
    define(f"{_p}_lock_irq", "acquire", ("lock",), f"{_p}_lock_irq(&{{0}});", _kind, _mode, (("w", 0),),
           frames=_LOCKING + (_raw + "_irq",), irq="off")
    define(f"{_p}_unlock_irq", "release", ("lock",), f"{_p}_unlock_irq(&{{0}});", _kind, _mode, (("w", 0),),
           irq="on")
    define(f"{_p}_lock_irqsave", "acquire", ("lock", "local"), f"{_p}_lock_irqsave(&{{0}}, {{1}});", _kind, _mode,
           (("w", 0),), frames=_LOCKING + (_raw + "_irqsave",), irq="save")
    define(f"{_p}_unlock_irqrestore", "release", ("lock", "local"), f"{_p}_unlock_irqrestore(&{{0}}, {{1}});",
           _kind, _mode, (("w", 0),), irq="restore")
    define(f"{_p}_lock_bh", "acquire", ("lock",), f"{_p}_lock_bh(&{{0}});", _kind, _mode, (("w", 0),),
           frames=_LOCKING + (_raw + "_bh",), irq="bh_off")
    define(f"{_p}_unlock_bh", "release", ("lock",), f"{_p}_unlock_bh(&{{0}});", _kind, _mode, (("w", 0),),
           irq="bh_on")
del _p, _kind, _mode, _raw

# -- interrupts on this cpu ----------------------------------------------------------------
define("local_irq_disable", "irq", (), "local_irq_disable();", irq="off")
define("local_irq_enable", "irq", (), "local_irq_enable();", irq="on")
define("local_irq_save", "irq", ("local",), "local_irq_save({0});", irq="save")
define("local_irq_restore", "irq", ("local",), "local_irq_restore({0});", irq="restore")
define("local_bh_disable", "irq", (), "local_bh_disable();", irq="bh_off")
define("local_bh_enable", "irq", (), "local_bh_enable();", irq="bh_on")

# -- sleeping until a condition holds ------------------------------------------------------
define("wait", "wait", ("cond",), "wait_event(..., {0});", builder="wait_event")

# -- references and object lifetimes ---------------------------------------------------
define("get", "refcount", ("ref",), "kref_get(&{0});", footprint=(("w", 0),))
define("get_not_zero", "refcount", ("ref", "local"), "{1} = refcount_inc_not_zero(&{0});", footprint=(("w", 0),))
define("put", "refcount", ("ref", "release"), "kref_put(&{0}, {1});", footprint=(("w", 0),), corrupts=True)
define("alloc", "object", ("object",), "{0} = kzalloc(sizeof(*{0}), GFP_KERNEL);", footprint=(("w", 0),))
define("free", "object", ("object",), "kfree({0});", footprint=(("w", 0),), corrupts=True)
define("use", "object", ("object",), "use({0});", footprint=(("r", 0),), corrupts=True)

# -- data: shared variables, cpu-locals, WARN_ON ---------------------------------------------
define("assign", "data", ("var", "value"), "{0} = {1};", footprint=(("w", 0),))
define("let", "data", ("local", "value"), "{0} = {1};")
define("warn_on", "data", ("cond", "message"), "WARN_ON({0});")

# -- control flow ----------------------------------------------------------------------
define("if", "control", ("cond", "label"), "if ({0}) goto {1};", builder="if_")
define("goto", "control", ("label",), "goto {0};")
define("call", "control", ("func", "via"), "{0}();")
define("return", "control", (), "return;", builder="ret")
define("nop", "control", (), "", builder="line")   # a line that changes no shared state: its text is given
define("label", "control", ("label",), "{0}:")        # a jump target: removed by the builder, never a step


def kinds_of(family: str) -> dict[str, tuple[str, str]]:
    """``{kind: (lock kind, mode)}`` of one family of lock operations."""
    return {p.kind: (p.lock_kind, p.mode) for p in OPS.values() if p.family == family}


def lock_frames() -> frozenset:
    """Every frame a lock operation adds above its caller (to skip them in stacks)."""
    return frozenset(f for p in OPS.values() for f in p.frames)
