"""What one step does: the kernel semantics of every operation.

Two small pure functions carry everything (as in Hypothesis' stateful
testing): :func:`can_step` says whether a cpu may take its next step in a
state, :func:`apply` takes it and returns the next state. A :class:`State` is
an immutable, hashable tuple of tuples, so the explorer can de-duplicate
states and a trace can keep every state it passed through.

Interrupts: an interrupt handler is a cpu of its own that runs on a host cpu.
It may start between two steps of the host while the host allows it (its
``IrqState``, a shared variable of the model, says whether interrupts and
bottom halves are enabled and which handlers run), and the host cannot step
until the handler returns. A handler that waits for a lock its host holds is
the classic deadlock on one cpu; ``spin_lock_irqsave`` exists to prevent it.

Sleeping locks are modelled in two phases, as the kernel does: a cpu that
tries a lock it cannot get first *blocks* (one step: it joins the lock's wait
queue and the timeline shows it waiting), and takes the lock in a later step
once the lock is granted to it. The wait queue is what makes an
``rw_semaphore`` hold back a new reader while a writer waits: as in Linux,
waiters queue in order, and a reader does not overtake a queued writer to
join the readers already inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dataclasses import replace as _dc_replace

from .errors import ModelError
from .model import Expr, IrqState, Op, Program
from .primitives import OPS

__all__ = [
    "RUN", "WAIT", "DONE", "WRITE", "READ",
    "Thread", "State", "Finding", "Outcome",
    "initial_state", "can_step", "blocked_reason", "apply", "current_op",
    "stack_of", "wait_for_edges", "deadlock_cycles", "state_findings", "footprint", "op_touches",
    "lock_blockers", "eval_expr", "irq_state", "interrupter", "foldable", "in_interrupt", "context_items",
]

RUN, WAIT, DONE = 0, 1, 2
WRITE, READ = 0, 1
_FREE = -1
# Object lifetime
_UNALLOC, _ALIVE, _FREED = 0, 1, 2


class Thread(NamedTuple):
    """One cpu's state: call frames ``(function index, pc)`` outermost first,
    status, the locks it holds ``(lock index, mode)`` in the order taken, and
    its cpu-locals by slot."""

    frames: tuple
    status: int
    held: tuple
    locals: tuple


class State(NamedTuple):
    """The whole machine: cpus, locks (owner, readers, wait queue), data."""

    threads: tuple
    owner: tuple       # per lock: owning cpu or -1
    readers: tuple     # per lock: sorted tuple of cpus holding it for read
    queue: tuple       # per lock: FIFO tuple of (cpu, mode) waiting for it
    vars: tuple
    refs: tuple
    objs: tuple
    broken: bool = False   # memory was corrupted (use after free...): nothing runs on


@dataclass(frozen=True)
class Finding:
    """A bug: its kind, a sentence, the schedule that reaches it, who and what.

    ``kind`` is one of ``deadlock``, ``use_after_free``, ``double_free``,
    ``refcount``, ``warn``. ``key`` identifies the finding so the explorer
    reports each distinct one once, with its shortest schedule.
    """

    kind: str
    message: str
    schedule: str = ""
    cpus: tuple = ()
    locks: tuple = ()
    key: tuple = field(default=(), compare=False)
    step: int | None = None   # the number of steps in the schedule that reaches it
    cycle: tuple = ()         # a deadlock's wait-for cycle: (waiter, lock, holder) names, lowest cpu first

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "schedule": self.schedule,
                "cpus": list(self.cpus), "locks": list(self.locks)}


class Outcome(NamedTuple):
    """What :func:`apply` returns: the next state, what happened, any findings."""

    state: State
    event: str        # acquire, block, release, trylock, get, put, release_call, free, use, ...
    detail: dict
    findings: tuple


# ---------------------------------------------------------------------------

def initial_state(prog: Program) -> State:
    nloc = len(prog.locals)
    threads = []
    for c in prog.cpus:
        threads.append(Thread(((prog.func_index[c.entry], 0),), RUN, (), (None,) * nloc))
    n = len(prog.locks)
    return State(
        threads=tuple(threads),
        owner=(_FREE,) * n, readers=((),) * n, queue=((),) * n,
        vars=tuple(v for _, v in prog.vars),
        refs=tuple(v for _, v in prog.refs),
        objs=tuple(_ALIVE if a else _UNALLOC for _, a in prog.objects),
    )


def current_op(prog: Program, state: State, cpu: int) -> Op | None:
    th = state.threads[cpu]
    if th.status == DONE:
        return None
    f, pc = th.frames[-1]
    return prog.functions[f].ops[pc]


def stack_of(prog: Program, state: State, cpu: int) -> tuple[str, ...]:
    """The kernel call stack of a cpu, outermost first (context, then frames).
    An interrupt handler's stands on its host's, after an ``<IRQ>`` mark, as a
    kernel backtrace shows it (unless the host has finished: the cpu idles)."""
    th = state.threads[cpu]
    out = []
    host = prog.irq_host[cpu] if prog.irq_host else -1
    if host >= 0 and state.threads[host].status != DONE:
        out.extend(stack_of(prog, state, host))
        out.append("<IRQ>")
    out.extend(prog.cpus[cpu].stack)
    caller = None
    for f, pc in th.frames:
        fn = prog.functions[f]
        # A call site may name its own intermediate frames; else the callee's.
        out.extend(caller.args[1] if caller is not None and caller.kind == "call" and caller.args[1] else fn.via)
        out.append(fn.name)
        caller = fn.ops[pc] if pc < len(fn.ops) else None
    return tuple(out)


def eval_expr(prog: Program, state: State, cpu: int, e: Expr) -> Any:
    t = e.t
    tag = t[0]
    if tag == "const":
        return t[1]
    if tag == "var":
        return state.vars[prog.var_index[t[1]]]
    if tag == "local":
        return state.threads[cpu].locals[prog.local_index[t[1]]]
    if tag == "ref":
        return state.refs[prog.ref_index[t[1]]]
    if tag == "alive":
        return state.objs[prog.obj_index[t[1]]] == _ALIVE
    if tag == "not":
        return not eval_expr(prog, state, cpu, t[1])
    if tag == "and":
        return bool(eval_expr(prog, state, cpu, t[1])) and bool(eval_expr(prog, state, cpu, t[2]))
    if tag == "or":
        return bool(eval_expr(prog, state, cpu, t[1])) or bool(eval_expr(prog, state, cpu, t[2]))
    a = eval_expr(prog, state, cpu, t[1])
    b = eval_expr(prog, state, cpu, t[2])
    return a == b if tag == "eq" else a != b


# ---------------------------------------------------------------------------
# Locks

class _Modes(dict):
    """``_MODE[kind]``: READ or WRITE, as the table says (filled on first use)."""

    def __missing__(self, kind: str) -> int:
        mode = self[kind] = READ if OPS[kind].mode == "read" else WRITE
        return mode


_MODE = _Modes()


# ---------------------------------------------------------------------------
# Interrupts

def irq_state(prog: Program, state: State, cpu: int) -> IrqState | None:
    """The :class:`~labkit.model.IrqState` of ``cpu``'s cpu (a handler's: its
    host's), or None when the model has no interrupt state for it."""
    v = prog.irq_var[cpu] if prog.irq_var else -1
    return state.vars[v] if v >= 0 else None


def _is_handler(prog: Program, cpu: int) -> bool:
    return bool(prog.irq_host) and prog.irq_host[cpu] >= 0


def interrupter(prog: Program, state: State, cpu: int) -> int | None:
    """The handler running on top of ``cpu`` (its host's innermost one), when
    ``cpu`` is interrupted and cannot step until it returns; else None."""
    irq = irq_state(prog, state, cpu)
    if irq is None or not irq.running:
        return None
    name = prog.cpus[cpu].name
    if _is_handler(prog, cpu) and (name not in irq.running or irq.running[-1] == name):
        return None
    return prog.cpu_index[irq.running[-1]]


def _pending(prog: Program, state: State, cpu: int) -> bool:
    """A handler that has not started (and has not run)."""
    irq = irq_state(prog, state, cpu)
    return state.threads[cpu].status != DONE and prog.cpus[cpu].name not in irq.running


def _may_start(prog: Program, irq: IrqState, cpu: int) -> bool:
    # A hardirq needs interrupts on; a softirq also bottom halves on and no
    # handler running (softirqs run at the end of a hardirq, not inside one).
    if prog.cpus[cpu].irq == "hardirq":
        return irq.on
    return irq.on and irq.bh == 0 and not irq.running


def in_interrupt(prog: Program, state: State, cpu: int) -> bool:
    """In a handler, or with bottom halves disabled (the kernel's in_interrupt())."""
    if _is_handler(prog, cpu):
        return True
    irq = irq_state(prog, state, cpu)
    return irq is not None and irq.bh > 0


def foldable(prog: Program, state: State, cpu: int) -> bool:
    """May the explorer fold this cpu's blocking step? Not when the step changes
    what interrupts the cpu allows (``spin_lock_irq`` disables them before it
    spins), nor when it is the step that starts an interrupt handler."""
    op = current_op(prog, state, cpu)
    if op is None or OPS[op.kind].irq is not None:
        return False
    return not (_is_handler(prog, cpu) and _pending(prog, state, cpu))


def context_items(prog: Program, cpu: int) -> frozenset:
    """The footprint items every step of ``cpu`` reads because of interrupts:
    its cpu's IrqState (whether it may run at all depends on it)."""
    v = prog.irq_var[cpu] if prog.irq_var else -1
    return frozenset() if v < 0 else frozenset((("V", prog.vars[v][0]),))


def _set_irq(prog: Program, state: State, cpu: int, irq: IrqState) -> State:
    v = prog.irq_var[cpu]
    return state._replace(vars=_set(state.vars, v, irq))


def _irq_effect(prog: Program, state: State, cpu: int, th, op: Op):
    """What a step's ``irq`` column does to its cpu's IrqState: ``(state, thread)``
    with the change made (``save`` also sets the flags local in the thread)."""
    effect = OPS[op.kind].irq
    irq = irq_state(prog, state, cpu)
    if effect is None or irq is None:
        return state, th
    if effect == "off":
        irq = _dc_replace(irq, on=False)
    elif effect == "on":
        irq = _dc_replace(irq, on=True)
    elif effect == "save":
        th = th._replace(locals=_set(th.locals, prog.local_index[op.args[-1]], irq.on))
        irq = _dc_replace(irq, on=False)
    elif effect == "restore":
        saved = th.locals[prog.local_index[op.args[-1]]]
        irq = _dc_replace(irq, on=True if saved is None else bool(saved))
    elif effect == "bh_off":
        irq = _dc_replace(irq, bh=irq.bh + 1)
    elif effect == "bh_on":
        irq = _dc_replace(irq, bh=max(0, irq.bh - 1))
    state = _set_irq(prog, state, cpu, irq)
    return state._replace(threads=_set(state.threads, cpu, th)), th


def _grantable(prog: Program, state: State, l: int, cpu: int, mode: int, queued: bool) -> bool:
    """May ``cpu`` take lock ``l`` in ``mode`` now?

    Mutexes and spinlocks: whenever free (a waiter has no right of way, as
    with optimistic spinning). rw_semaphores: waiters queue in order, as in
    Linux — a reader gets in only if no writer holds the lock and no writer
    waits ahead of it; unless the rwsem is reader-preferring (Linux has none;
    it is here for contrast), where readers ignore waiters. The model leaves
    out two details of Linux's: a newcomer may take a lock that is
    momentarily free unless a long-waiting waiter has set the handoff bit,
    and waking a reader at the head of the queue also wakes readers queued
    behind a writer. Neither lets a new reader past a writer that waits for
    the readers inside to leave. rwlock_t: as an rw_semaphore, except that a
    reader in interrupt context only waits for a writer inside (the kernel's
    queued rwlocks let it past waiting writers, or an interrupt that hit a
    reader would deadlock).
    """
    if state.owner[l] != _FREE:
        return False
    decl = prog.locks[l]
    if decl.kind not in ("rwsem", "rwlock"):
        return True
    q = state.queue[l]
    if mode == READ and decl.kind == "rwlock" and in_interrupt(prog, state, cpu):
        return True
    if mode == WRITE:
        if state.readers[l]:
            return False
        if decl.reader_pref:
            return True
        return (bool(q) and q[0][0] == cpu) if queued else not q
    if decl.reader_pref:
        return True
    if not queued:
        return not q
    for c, m in q:
        if c == cpu:
            return True
        if m == WRITE:
            return False
    return False  # pragma: no cover - a queued cpu is always in the queue


def _blockers(prog: Program, state: State, cpu: int) -> tuple[int, tuple[int, ...]] | None:
    """For a cpu blocked on a lock: (lock, the cpus it waits for)."""
    th = state.threads[cpu]
    op = current_op(prog, state, cpu)
    if th.status != WAIT or op is None or OPS[op.kind].family != "acquire":
        return None
    return _waits_for(prog, state, cpu, op)


def lock_blockers(prog: Program, state: State, cpu: int) -> tuple[int, tuple[int, ...]] | None:
    """``(lock, the cpus it waits for)`` when ``cpu``'s next step is a lock it
    cannot take now — queued on it, or about to try it and block — else None.

    The explorer uses it to skip the blocking step of a lock whose waiters'
    order does not matter (a mutex, a spinlock): the cpu simply cannot run
    until the lock is free, and waits for its holder all the same.
    """
    th = state.threads[cpu]
    op = current_op(prog, state, cpu)
    if th.status == DONE or op is None:
        return None
    if prog.irq_var:
        top = interrupter(prog, state, cpu)
        if top is not None:
            # Interrupted: it waits for its handler, and through it for what the handler waits for.
            b = lock_blockers(prog, state, top)
            return (b[0], (top,)) if b is not None else None
        if _is_handler(prog, cpu) and _pending(prog, state, cpu):
            return None
    if OPS[op.kind].family != "acquire":
        return None
    l = prog.lock_index[op.args[0]]
    if _grantable(prog, state, l, cpu, _MODE[op.kind], th.status == WAIT):
        return None
    return _waits_for(prog, state, cpu, op)


def _waits_for(prog: Program, state: State, cpu: int, op: Op) -> tuple[int, tuple[int, ...]]:
    l = prog.lock_index[op.args[0]]
    mode = _MODE[op.kind]
    who = set()
    if state.owner[l] != _FREE:
        who.add(state.owner[l])
    decl = prog.locks[l]
    if mode == WRITE:
        who.update(state.readers[l])
    if decl.kind == "rwlock" and mode == READ and in_interrupt(prog, state, cpu):
        return l, tuple(sorted(who))
    if decl.kind in ("rwsem", "rwlock") and not decl.reader_pref:
        for c, m in state.queue[l]:
            if c == cpu:
                break
            if mode == WRITE or m == WRITE:
                who.add(c)
    return l, tuple(sorted(who))


def _queued_as(state: State, l: int, cpus) -> str:
    """``a waiting writer``, ``waiting readers`` ...: what the cpus queued
    ahead on lock ``l`` wait to do (a writer can wait behind a queued reader)."""
    modes = {m for c, m in state.queue[l] if c in cpus}
    who = "writer" if modes == {WRITE} else "reader" if modes == {READ} else "waiter"
    return f"a waiting {who}" if len(cpus) == 1 else f"waiting {who}s"


def can_step(prog: Program, state: State, cpu: int) -> bool:
    """Is ``cpu``'s next step enabled in ``state``?"""
    if state.broken:
        return False
    th = state.threads[cpu]
    if prog.irq_var and prog.irq_var[cpu] >= 0 and th.status != DONE:
        irq = state.vars[prog.irq_var[cpu]]
        if _is_handler(prog, cpu) and prog.cpus[cpu].name not in irq.running:
            return _may_start(prog, irq, cpu)
        if interrupter(prog, state, cpu) is not None:
            return False
    if th.status == RUN:
        return True
    if th.status == DONE:
        return False
    op = current_op(prog, state, cpu)
    if op.kind == "wait":
        return bool(eval_expr(prog, state, cpu, op.args[0]))
    l = prog.lock_index[op.args[0]]
    return _grantable(prog, state, l, cpu, _MODE[op.kind], True)


def blocked_reason(prog: Program, state: State, cpu: int) -> str | None:
    """Why a cpu cannot step, in words; ``None`` when it can."""
    if can_step(prog, state, cpu):
        return None
    name = prog.cpus[cpu].name
    th = state.threads[cpu]
    if state.broken:
        return "memory is corrupted (a use after free or double free happened): the run stops here"
    if th.status == DONE:
        return f"{name} has finished"
    top = interrupter(prog, state, cpu) if prog.irq_var else None
    if top is not None:
        return f"{name} is interrupted: {prog.cpus[top].name} runs on this cpu until it returns"
    if _is_handler(prog, cpu) and _pending(prog, state, cpu):
        host = prog.cpus[prog.irq_host[cpu]].name
        irq = irq_state(prog, state, cpu)
        if not irq.on:
            return f"{name} cannot interrupt {host} now: {host} has interrupts disabled"
        if irq.bh:
            return f"{name} cannot run on {host} now: {host} has bottom halves disabled"
        return f"{name} cannot run on {host} now: {' and '.join(irq.running)} runs there"
    op = current_op(prog, state, cpu)
    if op.kind == "wait":
        return f"{name} sleeps in {op.text.strip()} until {op.args[0]}"
    l, who = _blockers(prog, state, cpu)
    lock = prog.locks[l].name
    if cpu in who:
        return f"{name} waits for {lock}, which it already holds"
    holders = [c for c in who if state.owner[l] == c or c in state.readers[l]]
    ahead = [c for c in who if c not in holders]
    parts = []
    if holders:
        parts.append("held by " + ", ".join(prog.cpus[c].name for c in holders))
    if ahead:
        parts.append("queued ahead by " + ", ".join(prog.cpus[c].name for c in ahead)
                     + f" ({_queued_as(state, l, ahead)})")
    return f"{name} waits for {lock} " + (", ".join(parts) if parts else "(its turn in the queue has not come)")


# ---------------------------------------------------------------------------
# The step itself

def _err(prog, state, cpu, op, msg) -> ModelError:
    th = state.threads[cpu]
    fname = prog.functions[th.frames[-1][0]].name
    return ModelError(f"{op.where}: {prog.cpus[cpu].name} in {fname}(), step {op.text!r}: {msg}")


def _advance(prog: Program, frames: tuple, jump: int | None = None) -> tuple:
    """Move the top frame to the next op (or ``jump``), popping returned frames."""
    f, pc = frames[-1]
    frames = frames[:-1] + ((f, pc + 1 if jump is None else jump),)
    while frames and frames[-1][1] >= len(prog.functions[frames[-1][0]].ops):
        frames = frames[:-1]
        if frames:
            f, pc = frames[-1]
            frames = frames[:-1] + ((f, pc + 1),)
    return frames


def _with(state: State, cpu: int, th: Thread, owner=None, readers=None, queue=None, vars=None, refs=None,
          objs=None, broken=None) -> State:
    """``state`` with cpu's thread replaced and the given parts changed (a hot path:
    built directly, as ``_replace`` costs twice as much)."""
    return State(state.threads[:cpu] + (th,) + state.threads[cpu + 1:],
                 state.owner if owner is None else owner, state.readers if readers is None else readers,
                 state.queue if queue is None else queue, state.vars if vars is None else vars,
                 state.refs if refs is None else refs, state.objs if objs is None else objs,
                 state.broken if broken is None else broken)


def _set(t: tuple, i: int, v) -> tuple:
    return t[:i] + (v,) + t[i + 1:]


def _finish(prog: Program, th: Thread, frames: tuple, status=None, held=None, locals=None) -> Thread:
    """The thread after a step: new frames (none left: done) and changed parts."""
    return Thread(frames, DONE if not frames else (th.status if status is None else status),
                  th.held if held is None else held, th.locals if locals is None else locals)


def _next(prog: Program, state: State, cpu: int, th: Thread, event: str, detail: dict, findings: tuple = (),
          frames: tuple | None = None, jump: int | None = None, locals=None, **changes) -> Outcome:
    """The outcome of a step that moves on: ``cpu`` goes to its next line (or
    ``jump``, or the given ``frames``) with the given parts of the state changed."""
    if frames is None:
        frames = _advance(prog, th.frames, jump)
    ns = _with(state, cpu, _finish(prog, th, frames, status=changes.pop("status", None),
                                   held=changes.pop("held", None), locals=locals), **changes)
    return _done(prog, state, ns, cpu, Outcome(ns, event, detail, findings))


def _take(state: State, l: int, cpu: int, mode: int) -> dict:
    """The lock table after ``cpu`` takes lock ``l`` in ``mode`` (the caller
    checked :func:`_grantable`): the one place a lock is granted."""
    if mode == WRITE:
        return {"owner": _set(state.owner, l, cpu)}
    return {"readers": _set(state.readers, l, tuple(sorted(state.readers[l] + (cpu,))))}


def apply(prog: Program, state: State, cpu: int) -> Outcome:
    """Take ``cpu``'s next step. The caller must check :func:`can_step` first.

    Raises :class:`ModelError` for things no kernel code may do (allocating
    an object twice); returns findings for the bugs the model exists to show
    (use after free, refcount underflow, WARN, an unlock of a lock not held). Each family of
    operations (:data:`labkit.primitives.OPS`) has its handler below.
    """
    th = state.threads[cpu]
    f, pc = th.frames[-1]
    op = prog.functions[f].ops[pc]
    if prog.irq_var and _is_handler(prog, cpu):
        return _handler_step(prog, state, cpu, op)
    return _HANDLERS[OPS[op.kind].family](prog, state, cpu, th, op)


def _handler_step(prog, state, cpu, op) -> Outcome:
    """A step of an interrupt handler: the first one enters the interrupt
    (hardirqs go off for a hardirq, bottom halves for a softirq); after the
    last one the cpu goes back to what it interrupted."""
    name = prog.cpus[cpu].name
    hard = prog.cpus[cpu].irq == "hardirq"
    irq = irq_state(prog, state, cpu)
    enter = name not in irq.running
    if enter:
        irq = _dc_replace(irq, on=False if hard else irq.on, bh=irq.bh if hard else irq.bh + 1,
                          running=irq.running + (name,))
        state = _set_irq(prog, state, cpu, irq)
    out = _HANDLERS[OPS[op.kind].family](prog, state, cpu, state.threads[cpu], op)
    ns = out.state
    leave = ns.threads[cpu].status == DONE
    if leave:
        irq = irq_state(prog, ns, cpu)
        irq = _dc_replace(irq, on=True if hard else irq.on, bh=irq.bh if hard else max(0, irq.bh - 1),
                          running=tuple(r for r in irq.running if r != name))
        ns = _set_irq(prog, ns, cpu, irq)
    if enter or leave:
        detail = dict(out.detail, irq="enter and return" if enter and leave else "enter" if enter else "return")
        out = out._replace(state=ns, detail=detail)
    return out


def _acquire(prog, state, cpu, th, op) -> Outcome:
    """``mutex_lock``, ``down_read`` ...: take the lock, or block on it (a step
    of its own: the cpu joins the lock's wait queue and takes the lock in a
    later step, once it is granted)."""
    l = prog.lock_index[op.args[0]]
    mode = _MODE[op.kind]
    queued = th.status == WAIT
    detail = {"lock": op.args[0], "mode": mode}
    if not queued and OPS[op.kind].irq is not None:
        state, th = _irq_effect(prog, state, cpu, th, op)     # irqs (or bhs) go off before it spins
    if _grantable(prog, state, l, cpu, mode, queued):
        q = state.queue[l]
        if queued:
            q = tuple(e for e in q if e[0] != cpu)
        return _next(prog, state, cpu, th, "acquire", detail, status=RUN, held=th.held + ((l, mode),),
                     queue=_set(state.queue, l, q), **_take(state, l, cpu, mode))
    ns = _with(state, cpu, th._replace(status=WAIT), queue=_set(state.queue, l, state.queue[l] + ((cpu, mode),)))
    return Outcome(ns, "block", detail, ())


def _release(prog, state, cpu, th, op) -> Outcome:
    """``mutex_unlock``, ``up_read`` ...: drop the most recent matching
    acquisition (locks may be released out of order). Releasing a lock this
    cpu does not hold changes no lock and is a ``warn`` finding: lockdep's
    "bad unlock balance"."""
    l = prog.lock_index[op.args[0]]
    mode = _MODE[op.kind]
    lock = op.args[0]
    if (l, mode) not in th.held:
        return _bad_unlock(prog, state, cpu, th, op, l, mode)
    held = list(th.held)
    for i in range(len(held) - 1, -1, -1):
        if held[i] == (l, mode):
            del held[i]
            break
    if mode == WRITE:
        changes = {"owner": _set(state.owner, l, _FREE)}
    else:
        r = list(state.readers[l])
        r.remove(cpu)
        changes = {"readers": _set(state.readers, l, tuple(r))}
    out = _next(prog, state, cpu, th, "release", {"lock": lock, "mode": mode}, held=tuple(held), **changes)
    return _after_release(prog, out, cpu, op)


def _after_release(prog, out: Outcome, cpu: int, op: Op) -> Outcome:
    """Interrupts (or bhs) back on after the unlock, as ``spin_unlock_irq`` does."""
    if OPS[op.kind].irq is None:
        return out
    ns = out.state
    ns, _ = _irq_effect(prog, ns, cpu, ns.threads[cpu], op)
    return out._replace(state=ns)


def _bad_unlock(prog, state, cpu, th, op, l, mode) -> Outcome:
    cname = prog.cpus[cpu].name
    lock = op.args[0]
    holder = state.owner[l]
    if mode == READ:
        why = f"{op.text.strip()} without a read lock: {cname} does not hold {lock} for read"
    elif holder == _FREE and cpu not in state.readers[l]:
        why = f"{lock} is not locked (a double unlock)"
    elif holder not in (_FREE, cpu):
        why = f"{lock} is held by {prog.cpus[holder].name}, not {cname}"
    else:
        why = f"{cname} holds {lock} for read, not write"
    finding = Finding("warn", f"{cname} unlocks {lock}, which it does not hold: {why} "
                      f"(lockdep: bad unlock balance detected)", cpus=(cname,), locks=(lock,),
                      key=("bad_unlock", cname, op.where))
    out = _next(prog, state, cpu, th, "bad_unlock", {"lock": lock, "mode": mode}, (finding,))
    return _after_release(prog, out, cpu, op)


def _trylock(prog, state, cpu, th, op) -> Outcome:
    """``$ok = mutex_trylock(&lock)``: take the lock if it can be had now; never blocks."""
    l = prog.lock_index[op.args[0]]
    mode = _MODE[op.kind]
    ok = _grantable(prog, state, l, cpu, mode, False)
    changes = _take(state, l, cpu, mode) if ok else {}
    held = th.held + ((l, mode),) if ok else th.held
    return _next(prog, state, cpu, th, "trylock", {"lock": op.args[0], "mode": mode, "ok": ok}, held=held,
                 locals=_set(th.locals, prog.local_index[op.args[1]], ok), **changes)


def _wait(prog, state, cpu, th, op) -> Outcome:
    """``wait_event``: sleep (a step) until the condition holds, then wake (a step)."""
    cond = op.args[0]
    if th.status == RUN and not eval_expr(prog, state, cpu, cond):
        return Outcome(_with(state, cpu, th._replace(status=WAIT)), "sleep", {"cond": str(cond)}, ())
    return _next(prog, state, cpu, th, "wake", {"cond": str(cond)}, status=RUN)


def _refcount(prog, state, cpu, th, op) -> Outcome:
    """``kref_get``, ``refcount_inc_not_zero``, ``kref_put``: the last put runs
    the release in this cpu's context, like a call: the putter's frame stays
    (so stacks show who dropped the reference) and moves past the put when
    the release returns."""
    k = op.kind
    ref = op.args[0]
    r = prog.ref_index[ref]
    n = state.refs[r]
    cname = prog.cpus[cpu].name
    if k == "get_not_zero":
        ok = n > 0
        changes = {"refs": _set(state.refs, r, n + 1)} if ok else {}
        return _next(prog, state, cpu, th, "get", {"ref": ref, "count": n + 1 if ok else 0, "ok": ok},
                     locals=_set(th.locals, prog.local_index[op.args[1]], ok), **changes)
    if k == "get":
        findings = ()
        if n == 0:
            findings = (Finding("refcount", f"{cname} takes a reference on {ref} after it dropped to zero "
                                f"(refcount_t: addition on 0; use-after-free)", cpus=(cname,),
                                key=("refcount", cname, op.where)),)
        return _next(prog, state, cpu, th, "get", {"ref": ref, "count": n + 1}, findings,
                     refs=_set(state.refs, r, n + 1))
    release = op.args[1]
    findings, changes = (), {}
    if n <= 0:
        findings = (Finding("refcount", f"{cname} drops a reference on {ref} that is already zero "
                            f"(refcount_t: underflow; use-after-free)", cpus=(cname,),
                            key=("refcount", cname, op.where)),)
        changes["broken"] = True
    detail = {"ref": ref, "count": n - 1}
    if n == 1 and release is not None:
        detail["release"] = release
        return _next(prog, state, cpu, th, "release_call", detail, findings,
                     frames=th.frames + ((prog.func_index[release], 0),), refs=_set(state.refs, r, n - 1), **changes)
    return _next(prog, state, cpu, th, "put", detail, findings, refs=_set(state.refs, r, n - 1), **changes)


def _object(prog, state, cpu, th, op) -> Outcome:
    """``kzalloc``, ``kfree``, a use: an object's lifetime (use after free, double free)."""
    k = op.kind
    name = op.args[0]
    o = prog.obj_index[name]
    life = state.objs[o]
    cname = prog.cpus[cpu].name
    if k == "alloc":
        if life == _ALIVE:
            raise _err(prog, state, cpu, op, f"{name} is allocated already")
        return _next(prog, state, cpu, th, "alloc", {"object": name}, objs=_set(state.objs, o, _ALIVE))
    findings, changes = (), {}
    if k == "free":
        if life == _FREED:
            findings = (Finding("double_free", f"{cname} frees {name}, which was already freed (double free)",
                                cpus=(cname,), key=("double_free", name, cname, op.where)),)
            changes["broken"] = True
        elif life == _UNALLOC:
            raise _err(prog, state, cpu, op, f"{name} was never allocated")
        return _next(prog, state, cpu, th, "free", {"object": name}, findings, objs=_set(state.objs, o, _FREED),
                     **changes)
    if life == _FREED:
        findings = (Finding("use_after_free", f"{cname} uses {name} after it was freed: {op.text.strip()}",
                            cpus=(cname,), key=("use_after_free", name, cname, op.where)),)
        changes["broken"] = True
    elif life == _UNALLOC:
        raise _err(prog, state, cpu, op, f"{name} is used before it is allocated")
    return _next(prog, state, cpu, th, "use", {"object": name}, findings, **changes)


def _data(prog, state, cpu, th, op) -> Outcome:
    """A shared variable written, a cpu-local set, a ``WARN_ON`` checked."""
    k = op.kind
    if k == "assign":
        v = eval_expr(prog, state, cpu, op.args[1])
        return _next(prog, state, cpu, th, "assign", {"var": op.args[0], "value": v},
                     vars=_set(state.vars, prog.var_index[op.args[0]], v))
    if k == "let":
        return _next(prog, state, cpu, th, "step", {},
                     locals=_set(th.locals, prog.local_index[op.args[0]], eval_expr(prog, state, cpu, op.args[1])))
    if eval_expr(prog, state, cpu, op.args[0]):         # warn_on
        cname = prog.cpus[cpu].name
        finding = Finding("warn", f"WARNING in {prog.functions[th.frames[-1][0]].name}: {op.args[1]}",
                          cpus=(cname,), key=("warn", op.where, op.text))
        return _next(prog, state, cpu, th, "warn", {}, (finding,))
    return _next(prog, state, cpu, th, "step", {})


def _control(prog, state, cpu, th, op) -> Outcome:
    """Branches, jumps, calls, returns, and lines that change nothing but the pc."""
    k = op.kind
    frames = th.frames
    if k == "if":
        taken = bool(eval_expr(prog, state, cpu, op.args[0]))
        jump = prog.functions[frames[-1][0]].labels[op.args[1]] if taken else None
        return _next(prog, state, cpu, th, "branch", {"taken": taken}, jump=jump)
    if k == "goto":
        return _next(prog, state, cpu, th, "step", {}, jump=prog.functions[frames[-1][0]].labels[op.args[0]])
    if k == "call":
        return _next(prog, state, cpu, th, "call", {"function": op.args[0]},
                     frames=frames + ((prog.func_index[op.args[0]], 0),))
    if k == "return":
        return _next(prog, state, cpu, th, "return", {},
                     frames=_advance(prog, frames, len(prog.functions[frames[-1][0]].ops)))
    return _next(prog, state, cpu, th, "step", {})      # nop


def _irq(prog, state, cpu, th, op) -> Outcome:
    """``local_irq_disable()``, ``local_irq_save(flags)``, ``local_bh_enable()`` ...:
    what the cpu allows of interrupts."""
    state, th = _irq_effect(prog, state, cpu, th, op)
    irq = irq_state(prog, state, cpu)
    return _next(prog, state, cpu, th, "irq", {"irqs": str(irq) if irq is not None else None})


_HANDLERS = {"acquire": _acquire, "release": _release, "trylock": _trylock, "wait": _wait,
             "refcount": _refcount, "object": _object, "data": _data, "control": _control, "irq": _irq}


def _done(prog: Program, before: State, ns: State, cpu: int, out: Outcome) -> Outcome:
    """A cpu that returns to user space holding a lock is a bug lockdep reports too."""
    th = ns.threads[cpu]
    if th.status == DONE and th.held and before.threads[cpu].status != DONE:
        cname = prog.cpus[cpu].name
        locks = tuple(prog.locks[l].name for l, _ in th.held)
        f = Finding("warn", f"{cname} returns to user space still holding {', '.join(locks)} "
                    f"(lock held when returning to user space!)", cpus=(cname,), locks=locks,
                    key=("held_at_exit", cname, locks))
        return out._replace(findings=out.findings + (f,))
    return out


# ---------------------------------------------------------------------------
# Whole-state checks: deadlocks and invariants

def wait_for_edges(prog: Program, state: State) -> list[tuple[int, int, int]]:
    """Edges ``(waiter, holder, lock)`` of the wait-for graph: cpus blocked on
    a lock point at the cpus they wait for."""
    edges = []
    for cpu in range(len(state.threads)):
        if prog.irq_var and state.threads[cpu].status != DONE:
            top = interrupter(prog, state, cpu)
            if top is not None:
                b = _blockers(prog, state, top)
                if b is not None:     # its handler waits: so does it, for the handler
                    edges.append((cpu, top, b[0]))
        if state.threads[cpu].status != WAIT or can_step(prog, state, cpu):
            continue
        b = _blockers(prog, state, cpu)
        if b is None:
            continue
        l, who = b
        edges.extend((cpu, h, l) for h in who)
    return edges


def deadlock_cycles(prog: Program, state: State) -> list[tuple[tuple[int, int, int], ...]]:
    """Every elementary cycle of the wait-for graph, each as its edges.

    A cycle means those cpus can never run again, even if other cpus go on
    to finish (a partial deadlock). A cpu waiting for itself is an AA deadlock.
    Each cycle starts at its lowest cpu and follows the waits.
    """
    edges = wait_for_edges(prog, state)
    if not edges:
        return []
    out = {}
    adj: dict[int, list[tuple[int, int]]] = {}
    for w, h, l in edges:
        adj.setdefault(w, []).append((h, l))
    # The graphs are tiny (one node per cpu): a DFS from each start node that
    # only visits larger nodes finds each cycle once.
    for start in sorted(adj):
        stack = [(start, [], {start})]
        while stack:
            node, path, seen = stack.pop()
            for nxt, l in adj.get(node, ()):
                if nxt == start:
                    cyc = tuple(path + [(node, nxt, l)])
                    out[frozenset(cyc)] = cyc
                elif nxt > start and nxt not in seen:
                    stack.append((nxt, path + [(node, nxt, l)], seen | {nxt}))
    return list(out.values())


def state_findings(prog: Program, state: State, cycles: bool = True) -> list[Finding]:
    """Findings that belong to a state: deadlocks, stuck cpus, broken invariants.

    ``cycles=False`` skips the wait-for cycle search. The explorer uses it: a
    cycle can only appear on a step that blocks (every other step only removes
    wait-for edges, or adds them towards a cpu that is running), so it
    searches for cycles after blocking steps alone.
    """
    out: list[Finding] = []
    if state.broken:
        return out
    threads = state.threads
    waiting = any(t.status == WAIT for t in threads)
    if not waiting and not prog.invariants and not all(t.status == DONE for t in threads):
        return out   # fast path: nothing blocked, nothing to check
    names = prog.cpu_names
    in_cycle = set()
    found = deadlock_cycles(prog, state) if waiting and (cycles or not any(
        can_step(prog, state, c) for c in range(len(threads)))) else ()
    for cyc in found:
        in_cycle.update(w for w, _, _ in cyc)
        if not cycles:
            continue
        cpus = tuple(names[w] for w, _, _ in cyc)
        locks = tuple(dict.fromkeys(prog.locks[l].name for _, _, l in cyc))
        parts = []
        one_cpu = False
        for w, h, l in cyc:
            lock = prog.locks[l].name
            if prog.irq_var and interrupter(prog, state, w) == h:
                parts.append(f"{names[w]} is interrupted by {names[h]} and cannot run until it returns")
                one_cpu = one_cpu or prog.irq_host[h] == w
            elif w == h:
                parts.append(f"{names[w]} waits for {lock}, which it already holds")
            elif state.owner[l] == h or h in state.readers[l]:
                parts.append(f"{names[w]} waits for {lock} held by {names[h]}")
            else:
                # Not a holder: a waiter queued ahead of it (rwsem waiters queue in order).
                parts.append(f"{names[w]} waits for {lock} queued ahead by {names[h]} ({_queued_as(state, l, (h,))})")
        # The kind is printed beside the message; only say what kind of deadlock.
        head = "AA deadlock: " if len(cyc) == 1 else "deadlock on one cpu: " if one_cpu and len(cyc) == 2 else ""
        edges = tuple((names[w], prog.locks[l].name, names[h]) for w, h, l in cyc)
        out.append(Finding("deadlock", head + "; ".join(parts), cpus=cpus, locks=locks, cycle=edges,
                           key=("deadlock", frozenset((names[w], prog.locks[l].name) for w, _, l in cyc))))
    if all(t.status == DONE for t in threads):
        for inv in prog.invariants:
            if not eval_expr(prog, state, 0, inv.cond):
                out.append(Finding("warn", inv.message, key=("invariant", inv.name)))
        return out
    for inv in prog.invariants:
        if inv.when == "always" and not eval_expr(prog, state, 0, inv.cond):
            out.append(Finding("warn", inv.message, key=("invariant", inv.name)))
    if not any(can_step(prog, state, c) for c in range(len(threads))):
        # Cpus stuck behind a wait-for cycle are that cycle's victims, already
        # reported; "stuck" is for sleeps no cpu will ever end.
        stuck = [c for c in range(len(threads)) if threads[c].status == WAIT]
        if stuck and not in_cycle:
            why = "; ".join(blocked_reason(prog, state, c) for c in stuck)
            out.append(Finding("deadlock", f"no cpu can run: {why}",
                               cpus=tuple(names[c] for c in stuck),
                               key=("stuck", frozenset(names[c] for c in stuck))))
    return out


# ---------------------------------------------------------------------------
# Footprints, for the explorer's partial-order reduction

def footprint(prog: Program, state: State, cpu: int) -> tuple[frozenset, frozenset]:
    """(reads, writes) of ``cpu``'s next step: the shared things it touches.

    Two steps of different cpus are independent (commute, and neither enables
    or disables the other) when neither writes what the other touches. What
    each kind of step touches is the ``footprint`` column of the table
    (:data:`labkit.primitives.OPS`); its expressions read every name in them.
    """
    op = current_op(prog, state, cpu)
    fp = _FP_CACHE.get(op)
    if fp is None:
        fp = _FP_CACHE[op] = _op_footprint(op)
    if prog.irq_var and prog.irq_var[cpu] >= 0:
        # Whether it may step at all depends on its cpu's IrqState; a handler's
        # first and last steps and the irq steps change it (all handler steps are
        # counted as writing it: fewer commuting pairs, none wrongly).
        item = context_items(prog, cpu)
        fp = (fp[0] | item, fp[1] | item if (_is_handler(prog, cpu) or OPS[op.kind].irq) else fp[1])
    if OPS[op.kind].corrupts and _corrupts(prog, state, op):
        # Memory corruption stops every cpu (``state.broken``): this step then
        # disables every other one, so it must not commute with any of them.
        return fp[0], fp[1] | _BROKEN
    return fp


_FP_CACHE: dict = {}
# Every step reads the machine's "broken" flag (nothing runs once memory is
# corrupted); the steps the table marks ``corrupts`` write it when, in this
# state, they corrupt.
_BROKEN = frozenset((("B", None),))
# What an operand names, as a footprint item: a lock, refcount, object, variable.
_ITEM = {"lock": "L", "ref": "R", "object": "O", "var": "V"}


def _corrupts(prog: Program, state: State, op: Op) -> bool:
    if OPS[op.kind].family == "refcount":
        return state.refs[prog.ref_index[op.args[0]]] <= 0      # an underflowing put
    return state.objs[prog.obj_index[op.args[0]]] == _FREED   # use or double free


def _op_footprint(op: Op) -> tuple[frozenset, frozenset]:
    reads, writes = op_touches(op)
    return reads | _BROKEN, writes


def op_touches(op: Op) -> tuple[frozenset, frozenset]:
    """(reads, writes) of a step, whatever the state: ``("L", lock)``,
    ``("R", ref)``, ``("O", object)``, ``("V", var)`` items."""
    prim = OPS[op.kind]
    reads, writes = [], []
    for access, i in prim.footprint:
        (writes if access == "w" else reads).append((_ITEM[prim.operands[i]], op.args[i]))
    for role, a in zip(prim.operands, op.args):
        if role in ("cond", "value"):
            reads += [("V", n) for n in a.names("var")] + [("R", n) for n in a.names("ref")] \
                + [("O", n) for n in a.names("alive")]
    return frozenset(reads), frozenset(writes)
