"""What one step does: the kernel semantics of every operation.

Two small pure functions carry everything (as in Hypothesis' stateful
testing): :func:`can_step` says whether a cpu may take its next step in a
state, :func:`apply` takes it and returns the next state. A :class:`State` is
an immutable, hashable tuple of tuples, so the explorer can de-duplicate
states and a trace can keep every state it passed through.

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

from .errors import ModelError
from .model import ACQUIRE_OPS, RELEASE_OPS, TRYLOCK_OPS, Expr, Op, Program

__all__ = [
    "RUN", "WAIT", "DONE", "WRITE", "READ",
    "Thread", "State", "Finding", "Outcome",
    "initial_state", "can_step", "blocked_reason", "apply", "current_op",
    "stack_of", "wait_for_edges", "deadlock_cycles", "state_findings", "footprint",
    "eval_expr",
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
    """The kernel call stack of a cpu, outermost first (context, then frames)."""
    th = state.threads[cpu]
    out = list(prog.cpus[cpu].stack)
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

def _mode_of(kind: str) -> int:
    return READ if kind in ("down_read", "down_read_trylock") else WRITE


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
    the readers inside to leave.
    """
    if state.owner[l] != _FREE:
        return False
    decl = prog.locks[l]
    if decl.kind != "rwsem":
        return True
    q = state.queue[l]
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
    if th.status != WAIT or op is None or op.kind not in ACQUIRE_OPS:
        return None
    l = prog.lock_index[op.args[0]]
    mode = _mode_of(op.kind)
    who = set()
    if state.owner[l] != _FREE:
        who.add(state.owner[l])
    decl = prog.locks[l]
    if mode == WRITE:
        who.update(state.readers[l])
    if decl.kind == "rwsem" and not decl.reader_pref:
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
    if th.status == RUN:
        return True
    if th.status == DONE:
        return False
    op = current_op(prog, state, cpu)
    if op.kind == "wait":
        return bool(eval_expr(prog, state, cpu, op.args[0]))
    l = prog.lock_index[op.args[0]]
    return _grantable(prog, state, l, cpu, _mode_of(op.kind), True)


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


def apply(prog: Program, state: State, cpu: int) -> Outcome:
    """Take ``cpu``'s next step. The caller must check :func:`can_step` first.

    Raises :class:`ModelError` for things no kernel code may do (unlocking a
    lock it does not hold); returns findings for the bugs the model exists to
    show (use after free, refcount underflow, WARN).
    """
    th = state.threads[cpu]
    op = current_op(prog, state, cpu)
    k = op.kind
    frames = th.frames
    findings: tuple = ()
    cname = prog.cpus[cpu].name

    if k in ACQUIRE_OPS:
        l = prog.lock_index[op.args[0]]
        mode = _mode_of(k)
        queued = th.status == WAIT
        if _grantable(prog, state, l, cpu, mode, queued):
            q = state.queue[l]
            if queued:
                q = tuple(e for e in q if e[0] != cpu)
            if mode == WRITE:
                owner, readers = _set(state.owner, l, cpu), state.readers
            else:
                owner = state.owner
                readers = _set(state.readers, l, tuple(sorted(state.readers[l] + (cpu,))))
            nth = _finish(prog, th, _advance(prog, frames), status=RUN, held=th.held + ((l, mode),))
            ns = _with(state, cpu, nth, owner=owner, readers=readers, queue=_set(state.queue, l, q))
            return _done(prog, state, ns, cpu, Outcome(ns, "acquire", {"lock": op.args[0], "mode": mode}, ()))
        ns = _with(state, cpu, th._replace(status=WAIT),
                   queue=_set(state.queue, l, state.queue[l] + ((cpu, mode),)))
        return Outcome(ns, "block", {"lock": op.args[0], "mode": mode}, ())

    if k in RELEASE_OPS:
        l = prog.lock_index[op.args[0]]
        mode = _mode_of("down_read" if k == "up_read" else k)
        lock = op.args[0]
        if (l, mode) not in th.held:
            if mode == READ:
                raise _err(prog, state, cpu, op, f"up_read() without down_read(): {cname} does not hold {lock} for read")
            holder = state.owner[l]
            if holder == _FREE:
                raise _err(prog, state, cpu, op, f"{lock} is not locked (double unlock?)")
            if holder != cpu:
                raise _err(prog, state, cpu, op, f"unlock of a lock not held: {lock} is held by {prog.cpus[holder].name}, not {cname}")
            raise _err(prog, state, cpu, op, f"{lock} is held for read, not write")
        held = list(th.held)
        # Drop the most recent matching acquisition (locks may be released out of order).
        for i in range(len(held) - 1, -1, -1):
            if held[i] == (l, mode):
                del held[i]
                break
        if mode == WRITE:
            owner, readers = _set(state.owner, l, _FREE), state.readers
        else:
            r = list(state.readers[l])
            r.remove(cpu)
            owner, readers = state.owner, _set(state.readers, l, tuple(r))
        nth = _finish(prog, th, _advance(prog, frames), held=tuple(held))
        ns = _with(state, cpu, nth, owner=owner, readers=readers)
        return _done(prog, state, ns, cpu, Outcome(ns, "release", {"lock": lock, "mode": mode}, ()))

    if k in TRYLOCK_OPS:
        l = prog.lock_index[op.args[0]]
        mode = _mode_of(k)
        slot = prog.local_index[op.args[1]]
        ok = _grantable(prog, state, l, cpu, mode, False)
        changes = {}
        held = th.held
        if ok:
            if mode == WRITE:
                changes["owner"] = _set(state.owner, l, cpu)
            else:
                changes["readers"] = _set(state.readers, l, tuple(sorted(state.readers[l] + (cpu,))))
            held = held + ((l, mode),)
        nth = _finish(prog, th, _advance(prog, frames), held=held, locals=_set(th.locals, slot, ok))
        ns = _with(state, cpu, nth, **changes)
        return _done(prog, state, ns, cpu, Outcome(ns, "trylock", {"lock": op.args[0], "mode": mode, "ok": ok}, ()))

    if k == "wait":
        if th.status == RUN and not eval_expr(prog, state, cpu, op.args[0]):
            ns = _with(state, cpu, th._replace(status=WAIT))
            return Outcome(ns, "sleep", {"cond": str(op.args[0])}, ())
        nth = _finish(prog, th, _advance(prog, frames), status=RUN)
        ns = _with(state, cpu, nth)
        return _done(prog, state, ns, cpu, Outcome(ns, "wake", {"cond": str(op.args[0])}, ()))

    detail: dict = {}
    changes: dict = {}
    jump = None
    event = "step"
    new_frames = None
    locals_ = th.locals

    if k in ("get", "get_not_zero"):
        r = prog.ref_index[op.args[0]]
        n = state.refs[r]
        if k == "get_not_zero":
            ok = n > 0
            locals_ = _set(locals_, prog.local_index[op.args[1]], ok)
            if ok:
                changes["refs"] = _set(state.refs, r, n + 1)
            detail = {"ref": op.args[0], "count": n + 1 if ok else 0, "ok": ok}
        else:
            if n == 0:
                findings = (Finding("refcount", f"{cname} takes a reference on {op.args[0]} after it dropped to zero "
                                    f"(refcount_t: addition on 0; use-after-free)", cpus=(cname,),
                                    key=("refcount", cname, op.where)),)
            changes["refs"] = _set(state.refs, r, n + 1)
            detail = {"ref": op.args[0], "count": n + 1}
        event = "get"
    elif k == "put":
        ref, release = op.args
        r = prog.ref_index[ref]
        n = state.refs[r]
        if n <= 0:
            findings = (Finding("refcount", f"{cname} drops a reference on {ref} that is already zero "
                                f"(refcount_t: underflow; use-after-free)", cpus=(cname,),
                                key=("refcount", cname, op.where)),)
            changes["broken"] = True
        changes["refs"] = _set(state.refs, r, n - 1)
        detail = {"ref": ref, "count": n - 1}
        event = "put"
        if n == 1 and release is not None:
            # The last put runs the release in this cpu's context, like a call:
            # the putter's frame stays (so stacks show who dropped the reference)
            # and moves past the put when the release returns.
            new_frames = frames + ((prog.func_index[release], 0),)
            event = "release_call"
            detail["release"] = release
    elif k == "alloc":
        o = prog.obj_index[op.args[0]]
        if state.objs[o] == _ALIVE:
            raise _err(prog, state, cpu, op, f"{op.args[0]} is allocated already")
        changes["objs"] = _set(state.objs, o, _ALIVE)
        event, detail = "alloc", {"object": op.args[0]}
    elif k == "free":
        o = prog.obj_index[op.args[0]]
        if state.objs[o] == _FREED:
            findings = (Finding("double_free", f"{cname} frees {op.args[0]}, which was already freed (double free)",
                                cpus=(cname,), key=("double_free", op.args[0], cname, op.where)),)
            changes["broken"] = True
        elif state.objs[o] == _UNALLOC:
            raise _err(prog, state, cpu, op, f"{op.args[0]} was never allocated")
        changes["objs"] = _set(state.objs, o, _FREED)
        event, detail = "free", {"object": op.args[0]}
    elif k == "use":
        o = prog.obj_index[op.args[0]]
        if state.objs[o] == _FREED:
            findings = (Finding("use_after_free", f"{cname} uses {op.args[0]} after it was freed: {op.text.strip()}",
                                cpus=(cname,), key=("use_after_free", op.args[0], cname, op.where)),)
            changes["broken"] = True
        elif state.objs[o] == _UNALLOC:
            raise _err(prog, state, cpu, op, f"{op.args[0]} is used before it is allocated")
        event, detail = "use", {"object": op.args[0]}
    elif k == "assign":
        v = eval_expr(prog, state, cpu, op.args[1])
        changes["vars"] = _set(state.vars, prog.var_index[op.args[0]], v)
        event, detail = "assign", {"var": op.args[0], "value": v}
    elif k == "let":
        locals_ = _set(locals_, prog.local_index[op.args[0]], eval_expr(prog, state, cpu, op.args[1]))
    elif k == "if":
        taken = bool(eval_expr(prog, state, cpu, op.args[0]))
        if taken:
            jump = prog.functions[frames[-1][0]].labels[op.args[1]]
        event, detail = "branch", {"taken": taken}
    elif k == "goto":
        jump = prog.functions[frames[-1][0]].labels[op.args[0]]
    elif k == "call":
        new_frames = frames + ((prog.func_index[op.args[0]], 0),)
        event, detail = "call", {"function": op.args[0]}
    elif k == "return":
        f = frames[-1][0]
        new_frames = _advance(prog, frames, len(prog.functions[f].ops))
        event = "return"
    elif k == "warn_on":
        if eval_expr(prog, state, cpu, op.args[0]):
            findings = (Finding("warn", f"WARNING in {prog.functions[frames[-1][0]].name}: {op.args[1]}",
                                cpus=(cname,), key=("warn", op.where, op.text)),)
            event = "warn"
    # "nop" changes nothing but the pc.

    if new_frames is None:
        new_frames = _advance(prog, frames, jump)
    nth = _finish(prog, th, new_frames, locals=locals_)
    ns = _with(state, cpu, nth, **changes)
    return _done(prog, state, ns, cpu, Outcome(ns, event, detail, findings))


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
        for w, h, l in cyc:
            lock = prog.locks[l].name
            if w == h:
                parts.append(f"{names[w]} waits for {lock}, which it already holds")
            elif state.owner[l] == h or h in state.readers[l]:
                parts.append(f"{names[w]} waits for {lock} held by {names[h]}")
            else:
                # Not a holder: a waiter queued ahead of it (rwsem waiters queue in order).
                parts.append(f"{names[w]} waits for {lock} queued ahead by {names[h]} ({_queued_as(state, l, (h,))})")
        # The kind is printed beside the message; only say what kind of deadlock.
        head = "AA deadlock: " if len(cyc) == 1 else ""
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
    or disables the other) when neither writes what the other touches.
    """
    op = current_op(prog, state, cpu)
    fp = _FP_CACHE.get(op)
    if fp is None:
        fp = _FP_CACHE[op] = _op_footprint(op)
    if op.kind in _CORRUPTING and _corrupts(prog, state, op):
        # Memory corruption stops every cpu (``state.broken``): this step then
        # disables every other one, so it must not commute with any of them.
        return fp[0], fp[1] | _BROKEN
    return fp


_FP_CACHE: dict = {}
# Every step reads the machine's "broken" flag (nothing runs once memory is
# corrupted); the steps below write it when, in this state, they corrupt.
_BROKEN = frozenset((("B", None),))
_CORRUPTING = ("use", "free", "put")


def _corrupts(prog: Program, state: State, op: Op) -> bool:
    if op.kind == "put":
        return state.refs[prog.ref_index[op.args[0]]] <= 0
    return state.objs[prog.obj_index[op.args[0]]] == _FREED   # use or double free


def _op_footprint(op: Op) -> tuple[frozenset, frozenset]:
    reads, writes = _op_touches(op)
    return reads | _BROKEN, writes


def _op_touches(op: Op) -> tuple[frozenset, frozenset]:
    k = op.kind
    if k in ACQUIRE_OPS or k in RELEASE_OPS or k in TRYLOCK_OPS:
        return frozenset(), frozenset((("L", op.args[0]),))
    if k in ("get", "get_not_zero", "put"):
        return frozenset(), frozenset((("R", op.args[0]),))
    if k in ("alloc", "free"):
        return frozenset(), frozenset((("O", op.args[0]),))
    if k == "use":
        return frozenset((("O", op.args[0]),)), frozenset()
    if k in ("assign", "let", "if", "warn_on", "wait"):
        e = op.args[1] if k in ("assign", "let") else op.args[0]
        reads = frozenset([("V", n) for n in e.names("var")] + [("R", n) for n in e.names("ref")]
                          + [("O", n) for n in e.names("alive")])
        writes = frozenset((("V", op.args[0]),)) if k == "assign" else frozenset()
        return reads, writes
    return frozenset(), frozenset()
