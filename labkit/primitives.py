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

Adding a primitive (say ``spin_lock_irqsave``) is one row here and one
builder line in :mod:`labkit.model` (``builder("spin_lock_irqsave")``); a new
*family* also needs its handler in :mod:`labkit.semantics`.

>>> OPS["down_read"].family, OPS["down_read"].lock_kind, OPS["down_read"].mode
('acquire', 'rwsem', 'read')
>>> OPS["put"].text.format("obj->kref", "NULL")
'kref_put(&obj->kref, NULL);'
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Primitive", "LockKind", "OPS", "LOCK_KINDS", "FAMILIES", "define", "kinds_of", "lock_frames"]


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
}

FAMILIES = ("acquire", "release", "trylock", "wait", "refcount", "object", "data", "control")

OPS: dict[str, Primitive] = {}


def define(kind: str, family: str, operands=(), text: str = "", lock_kind: str | None = None,
           mode: str | None = None, footprint=(), corrupts: bool = False, frames=(),
           builder: str | None = None) -> Primitive:
    """Add a row to :data:`OPS` (and return it)."""
    if family not in FAMILIES:
        raise ValueError(f"primitive {kind!r}: family must be one of {FAMILIES}, not {family!r}")
    if lock_kind is not None and lock_kind not in LOCK_KINDS:
        raise ValueError(f"primitive {kind!r}: lock_kind must be one of {tuple(LOCK_KINDS)}, not {lock_kind!r}")
    p = Primitive(kind, family, tuple(operands), text, lock_kind, mode, tuple(footprint), corrupts,
                  tuple(frames), builder or kind)
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
