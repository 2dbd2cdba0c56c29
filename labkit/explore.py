"""Exhaustive exploration: every interleaving, each distinct finding once,
with the shortest schedule that reaches it.

The explorer is a strategy over the same two functions a replay uses
(:func:`~labkit.semantics.can_step`, :func:`~labkit.semantics.apply`):
breadth-first over states, de-duplicating equal states, until every
reachable state has been seen or the budget runs out. Three parts:
:func:`search` visits the states, :func:`shortest_paths` finds how far each
is from the start, :func:`best_findings` picks each finding's shortest
schedule.

Reductions, each of which loses no state the learner can see and no finding:

* *Sleep sets* (Godefroid). After exploring cpu ``a`` from a state, a sibling
  branch that takes cpu ``b`` need not try ``a`` next if ``a`` and ``b``'s
  steps are independent (touch disjoint shared things) — that order was
  already covered. Sleep sets never lose a reachable state, only redundant
  transitions. With state matching, a state reached again with a smaller
  sleep set is re-explored for the transitions it had slept on, which keeps
  the search exhaustive.
* *Folding* the blocking step of a lock whose waiters' order does not matter
  (a mutex, a spinlock: whoever comes gets it once it is free). A cpu that
  would block there simply cannot run until the lock is free, and counts as
  waiting for its holder; the blocking step changes nothing another cpu can
  see, so the search need not tell "about to block" from "blocked". The
  schedules it reports still take that step (it is one of the steps a replay
  and the stepper show), and are the same ones the unfolded search finds.
  An rw_semaphore's queue decides who gets in, so its blocking step stays.

The benchmark (``python -m labkit bench``) shows what each saves.

Shortest schedules: every explored edge is kept, and after the search a
breadth-first pass over those edges, each state's edges in cpu order, gives
each state its shortest schedule, the first in cpu order among the shortest.
Every trace is equivalent (same steps, commuted) to an explored one of the
same length, so these are the true shortest schedules. Where a finding needs
folded blocking steps (a deadlock's waiters must have blocked), they are put
back as early as the cpu order allows and the schedule is replayed with the
real semantics, which also gives the finding's words.

States are packed into one integer each (a field per cpu, lock, variable,
refcount and object, holding the index of its value), and what a cpu's next
step does is computed once for each combination of the fields it reads and
then reused: that is what makes the search fast in pure Python.

>>> from labkit.cases import program
>>> r = explore(program("abba", "before"))
>>> r.complete, [(f.kind, f.schedule) for f in r.findings]
(True, [('deadlock', 'CPU0 CPU1 CPU0 CPU1')])
"""

from __future__ import annotations

import gc
import os
import time
from array import array
from collections import deque
from dataclasses import dataclass, field, replace

from .errors import ModelError
from .model import Program
from .primitives import LOCK_KINDS, OPS
from .semantics import (DONE, RUN, Finding, State, Thread, apply, can_step, current_op, foldable,
                        footprint, initial_state, lock_blockers, op_touches, state_findings)
from .trace import check_depth, quote_schedule

__all__ = ["Exploration", "explore", "explored", "search", "shortest_paths", "best_findings", "Search",
           "DEFAULT_MAX_STATES", "DEFAULT_MAX_SECONDS", "DEFAULT_MAX_MEMORY_MB"]

DEFAULT_MAX_STATES = 500_000
DEFAULT_MAX_SECONDS = 120.0
# What the search may add to the process's resident memory. States are small
# (about 150 bytes each with their edges), but states that grow without end
# (a model that recurses) would take the machine.
DEFAULT_MAX_MEMORY_MB = 1500.0
_STATE_BYTES = 300      # per explored state, where the resident size cannot be read


def _rss_bytes() -> int | None:
    """The process's resident memory now (Linux), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


@dataclass
class Exploration:
    """The explorer's answer."""

    case: str
    variant: str
    complete: bool
    states: int
    transitions: int
    findings: list[Finding] = field(default_factory=list)
    reduction: str = "sleep-sets"
    stopped: str | None = None   # why the search stopped early, in words
    seconds: float = 0.0
    graph: dict | None = field(default=None, repr=False)   # kept with keep_graph=True
    folded: bool = True          # blocking steps of mutexes and spinlocks folded (see the module)
    memory: int | None = None    # bytes the search added to the process's resident memory, if known

    def to_json(self) -> dict:
        d = {"case": self.case, "variant": self.variant, "complete": self.complete,
             "states": self.states, "transitions": self.transitions,
             "findings": [f.to_json() for f in self.findings]}
        if self.stopped:
            d["stopped"] = self.stopped
        return d

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}


def _check_budget(max_states, max_seconds, max_memory_mb) -> None:
    if max_states < 1:
        raise ValueError("max_states must be at least 1")
    for name, x in (("max_seconds", max_seconds), ("max_memory_mb", max_memory_mb)):
        if not 0 < x < float("inf"):      # nan, inf, 0 and below would turn a budget off
            raise ValueError(f"{name} must be a finite number above 0, not {x!r}")


def explore(prog: Program, *, max_states: int = DEFAULT_MAX_STATES, max_seconds: float = DEFAULT_MAX_SECONDS,
            reduction: bool = True, keep_graph: bool = False,
            max_memory_mb: float = DEFAULT_MAX_MEMORY_MB, fold: bool | None = None) -> Exploration:
    """Explore every interleaving of ``prog``.

    Parameters
    ----------
    max_states, max_seconds, max_memory_mb : the budget (states, seconds,
        megabytes the search adds to the process's resident memory, or an
        estimate per state where that cannot be read). When one runs out the
        search stops, ``complete`` is False and ``stopped`` says which budget
        ended it; the findings so far are real (each has a replayable schedule).
    reduction : use sleep sets (True) or plain exhaustive search (False).
    fold : fold the blocking steps of mutexes and spinlocks (the default,
        except with ``keep_graph``): fewer states, the same findings and
        schedules.
    keep_graph : keep the explored state graph (``graph``: states, edges,
        distances) for export to the stepper: every state a replay can
        reach, so blocking steps are not folded.
    """
    _check_budget(max_states, max_seconds, max_memory_mb)
    fold = not keep_graph if fold is None else fold
    t0 = time.perf_counter()
    gc_was = gc.isenabled()
    gc.disable()          # the search makes no reference cycles; collecting would cost a quarter of it
    try:
        sr = search(prog, max_states=max_states, max_seconds=max_seconds, reduction=reduction,
                    max_memory_mb=max_memory_mb, fold=fold)
        dist, parent = shortest_paths(sr)
        findings = best_findings(prog, sr, dist, parent)
        graph = sr.graph(dist) if keep_graph else None
    finally:
        if gc_was:
            gc.enable()
    return Exploration(prog.case, prog.variant, sr.stopped is None, len(sr.states), sr.transitions, findings,
                       "sleep-sets" if reduction else "none", sr.stopped, time.perf_counter() - t0, graph, fold,
                       sr.memory)


_EXPLORED: dict = {}     # id(program) -> (program, its exploration with the default budget)


def explored(prog: Program) -> Exploration:
    """:func:`explore` with the default budget, done once per program (the
    lab's views and self-checks ask the same questions of a case many times).
    The program is kept beside its answer, so its id is never reused."""
    hit = _EXPLORED.get(id(prog))
    if hit is None or hit[0] is not prog:
        if len(_EXPLORED) >= 256:
            _EXPLORED.clear()
        hit = _EXPLORED[id(prog)] = (prog, explore(prog))
    return hit[1]


# ---------------------------------------------------------------------------
# Packed states

class _Widen(Exception):
    """A field has more distinct values than its width holds: search again, wider."""


class _Space:
    """The state space of one program, packed: a state is one int with a
    field per cpu (its thread), lock, shared variable, refcount and object,
    and one bit for "memory is broken"; a field holds the index of its value
    in that field's table.

    For each cpu, what its next step does depends only on its own thread and
    on the fields that step touches (its footprint): :meth:`entry` computes
    it once per combination of those fields (``state & kmask``), with the
    real semantics on the unpacked state, and keeps it.
    """

    def __init__(self, prog: Program, width: int, fold: bool):
        self.prog, self.width, self.fold = prog, width, fold
        n, nl, nv, nr = len(prog.cpus), len(prog.locks), len(prog.vars), len(prog.refs)
        self.ncpu = n
        self.lock0, self.var0, self.ref0, self.obj0 = n, n + nl, n + nl + nv, n + nl + nv + nr
        self.nfields = self.obj0 + len(prog.objects) + 1
        self.broken_field = self.nfields - 1
        self.mask = (1 << width) - 1
        self.shift = [width * p for p in range(self.nfields)]
        self.broken_bit = 1 << self.shift[self.broken_field]
        self.vals: list[list] = [[] for _ in range(self.nfields)]
        self.ids: list[dict] = [{} for _ in range(self.nfields)]
        self.kmask: list[list[int]] = [[] for _ in range(n)]     # per cpu, per thread id
        self.done: list[list[bool]] = [[] for _ in range(n)]     # per cpu, per thread id: finished
        self.entries: list[dict] = [{} for _ in range(n)]        # per cpu: state & kmask -> entry
        self.item_field = {}
        for i, l in enumerate(prog.locks):
            self.item_field[("L", l.name)] = self.lock0 + i
        for i, (name, _) in enumerate(prog.vars):
            self.item_field[("V", name)] = self.var0 + i
        for i, (name, _) in enumerate(prog.refs):
            self.item_field[("R", name)] = self.ref0 + i
        for i, (name, _) in enumerate(prog.objects):
            self.item_field[("O", name)] = self.obj0 + i
        self.item_field[("B", None)] = self.broken_field
        self.data_mask = sum(self.mask << self.shift[p] for p in range(self.var0, self.broken_field))
        self.invariants: dict = {}
        # Interrupts: whether a cpu may step depends on its cpu's IrqState, and an
        # interrupted one waits through its handler for that handler's lock, so
        # the key of such a cpu also holds the IrqState, the threads of the
        # handlers of its cpu and every lock.
        self.context = [0] * n
        for c in range(n):
            v = prog.irq_var[c] if prog.irq_var else -1
            if v < 0:
                continue
            host = prog.irq_host[c] if prog.irq_host[c] >= 0 else c
            m = self.field_mask(self.var0 + v)
            for h in (host,) + prog.handlers[host]:
                m |= self.field_mask(h)
            for i in range(nl):
                m |= self.field_mask(self.lock0 + i)
            self.context[c] = m

    def field_mask(self, p: int) -> int:
        return self.mask << self.shift[p]

    def intern(self, p: int, value) -> int:
        ids = self.ids[p]
        i = ids.get(value)
        if i is None:
            i = len(self.vals[p])
            if i > self.mask:
                raise _Widen()
            ids[value] = i
            self.vals[p].append(value)
            if p < self.ncpu:
                self.kmask[p].append(self._thread_kmask(p, value))
                self.done[p].append(value.status == DONE)
        return i

    def _thread_kmask(self, cpu: int, th: Thread) -> int:
        """The fields a cpu's next step may read or write, its own thread included."""
        m = self.field_mask(cpu) | self.context[cpu]
        if th.status == DONE:
            return m
        f, pc = th.frames[-1]
        reads, writes = op_touches(self.prog.functions[f].ops[pc])
        for item in reads | writes:
            m |= self.field_mask(self.item_field[item])
        return m

    def pack(self, st: State) -> int:
        s = 0
        sh, it = self.shift, self.intern
        for c, th in enumerate(st.threads):
            s |= it(c, th) << sh[c]
        for l in range(len(st.owner)):
            p = self.lock0 + l
            s |= it(p, (st.owner[l], st.readers[l], st.queue[l])) << sh[p]
        for base, values in ((self.var0, st.vars), (self.ref0, st.refs), (self.obj0, st.objs)):
            for i, v in enumerate(values):
                s |= it(base + i, v) << sh[base + i]
        if st.broken:
            s |= self.broken_bit
        return s

    def unpack(self, s: int) -> State:
        m, sh, vals = self.mask, self.shift, self.vals

        def get(p):
            return vals[p][(s >> sh[p]) & m]
        locks = [get(self.lock0 + l) for l in range(self.var0 - self.lock0)]
        return State(tuple(get(c) for c in range(self.ncpu)),
                     tuple(o for o, _, _ in locks), tuple(r for _, r, _ in locks), tuple(q for _, _, q in locks),
                     tuple(get(p) for p in range(self.var0, self.ref0)),
                     tuple(get(p) for p in range(self.ref0, self.obj0)),
                     tuple(get(p) for p in range(self.obj0, self.broken_field)),
                     bool(s & self.broken_bit))

    def entry(self, cpu: int, s: int, key: int) -> list:
        """What ``cpu`` can do in packed state ``s`` (``key = s & kmask``):
        ``[enabled, reads, writes, blockers, lock, folded, delta, findings, may_wait]``.

        ``reads``/``writes`` are field bitmasks (the footprint, for sleep
        sets); ``blockers`` a bitmask of the cpus it waits for on ``lock``
        (or 0); ``folded``: it waits where the unfolded search would first
        take a blocking step. ``delta`` (the packed next state minus ``s``),
        its ``findings`` and ``may_wait`` (it next stands at a lock) are
        filled in by :meth:`transition` when the step is first taken.
        """
        prog = self.prog
        st = self.unpack(s)
        th = st.threads[cpu]
        enabled = can_step(prog, st, cpu)
        waits = lock_blockers(prog, st, cpu) if th.status != DONE else None
        folded = False
        if enabled and waits is not None:
            # Enabled although it cannot have the lock: its next step blocks.
            if (self.fold and th.status == RUN and not LOCK_KINDS[prog.locks[waits[0]].kind].queued
                    and foldable(prog, st, cpu)):
                enabled, folded = False, True
            else:
                waits = None
        reads = writes = 0
        if enabled:
            r, w = footprint(prog, st, cpu)
            for item in r:
                reads |= 1 << self.item_field[item]
            for item in w:
                writes |= 1 << self.item_field[item]
        blockers, lock = 0, -1
        if waits is not None:
            lock = waits[0]
            for h in waits[1]:
                blockers |= 1 << h
        e = [enabled, reads, writes, blockers, lock, folded, None, (), False]
        self.entries[cpu][key] = e
        return e

    def transition(self, cpu: int, s: int, e: list) -> None:
        """Take ``cpu``'s step from ``s`` with the real semantics and keep its effect in ``e``."""
        prog = self.prog
        out = apply(prog, self.unpack(s), cpu)
        check_depth(prog, out.state, cpu)    # unbounded recursion: an error, not a memory hog
        ns = self.pack(out.state)
        th = out.state.threads[cpu]
        op = current_op(prog, out.state, cpu) if th.status != DONE else None
        e[7] = out.findings
        e[8] = op is not None and OPS[op.kind].family == "acquire"
        e[6] = ns - s

    def waiting(self, cpu: int, s: int) -> list | None:
        """``cpu``'s entry in ``s`` if it waits for a lock there, else None."""
        tid = (s >> self.shift[cpu]) & self.mask
        key = s & self.kmask[cpu][tid]
        e = self.entries[cpu].get(key) or self.entry(cpu, s, key)
        return e if not e[0] and e[4] >= 0 else None

    def cycles_through(self, cpu: int, s: int) -> list[tuple]:
        """Deadlock keys of the wait-for cycles through ``cpu`` in ``s`` (as
        :func:`~labkit.semantics.state_findings` names them)."""
        first = self.waiting(cpu, s)
        if first is None or not first[3]:
            return []
        ents = {cpu: first}

        def wait(w):
            if w not in ents:
                ents[w] = self.waiting(w, s)
            return ents[w]
        names, locks = self.prog.cpu_names, self.prog.locks
        keys = {}
        stack = [(cpu, (cpu,))]
        while stack:
            w, path = stack.pop()
            b = ents[w][3]
            h = 0
            while b:
                if b & 1:
                    if h == cpu:
                        key = ("deadlock", frozenset((names[x], locks[ents[x][4]].name) for x in path))
                        keys[key] = None
                    elif h not in path and wait(h) is not None:
                        stack.append((h, path + (h,)))
                b >>= 1
                h += 1
        return list(keys)

    def invariant_keys(self, s: int, all_done: bool) -> tuple:
        """Keys of the invariants broken in ``s`` (all of them once every cpu is done)."""
        k = (s & self.data_mask, all_done)
        hit = self.invariants.get(k)
        if hit is None:
            st = self.unpack(s)
            hit = self.invariants[k] = tuple(f.key for f in state_findings(self.prog, st, cycles=False)
                                             if f.key[0] == "invariant")
        return hit


@dataclass
class Search:
    """What :func:`search` saw: every state (packed, in the order found),
    every explored edge (``src``, ``cpu``, ``dst``: parallel arrays, in the
    order explored), and where each finding occurred: ``occurrences[key] =
    [(state, cpu or None)]`` (``cpu``: on the step that cpu takes from that
    state; ``None``: in the state itself)."""

    states: list
    src: array
    cpu: array
    dst: array
    occurrences: dict
    transitions: int
    stopped: str | None
    space: _Space
    memory: int | None = None     # bytes the search added to the resident memory (None: unknown)

    def state(self, sid: int) -> State:
        """State ``sid`` as the semantics know it."""
        return self.space.unpack(self.states[sid])

    def graph(self, dist) -> dict:
        """``{"states": [State...], "edges": [[(cpu, next), ...] per state], "dist": [...]}``."""
        edges: list[list] = [[] for _ in self.states]
        for s, c, d in zip(self.src, self.cpu, self.dst):
            edges[s].append((c, d))
        return {"states": [self.state(i) for i in range(len(self.states))], "edges": edges, "dist": list(dist)}


def search(prog: Program, *, max_states: int = DEFAULT_MAX_STATES, max_seconds: float = DEFAULT_MAX_SECONDS,
           reduction: bool = True, max_memory_mb: float = DEFAULT_MAX_MEMORY_MB, fold: bool = True) -> Search:
    """Breadth-first over states, de-duplicating equal states, with sleep sets
    (``reduction``) and folded blocking steps (``fold``), until every reachable
    state has been seen or the budget runs out. Model errors name the schedule
    that reached them."""
    width = 8
    while True:
        try:
            return _search(prog, width, max_states, max_seconds, reduction, max_memory_mb, fold)
        except _Widen:
            width *= 2


def _search(prog, width, max_states, max_seconds, reduction, max_memory_mb, fold) -> Search:
    t0 = time.perf_counter()
    rss0 = _rss_bytes()
    sp = _Space(prog, width, fold)
    ncpu = sp.ncpu
    cpus = range(ncpu)
    shift, mask, kmask, entries = sp.shift, sp.mask, sp.kmask, sp.entries
    broken_bit = sp.broken_bit
    s0 = sp.pack(initial_state(prog))
    ids = {s0: 0}
    states = [s0]
    sleep = [0]
    parent_src, parent_cpu = array("i", [-1]), array("b", [-1])   # first found from (for error messages)
    esrc, ecpu, edst = array("i"), array("b"), array("i")
    occurrences: dict = {}
    transitions = 0
    stopped = None
    always = any(inv.when == "always" for inv in prog.invariants)
    finished = sp.done

    def note(key, sid, cpu):
        occurrences.setdefault(key, []).append((sid, cpu))

    def path_to(sid):
        out = []
        while parent_src[sid] >= 0:
            out.append(prog.cpus[parent_cpu[sid]].name)
            sid = parent_src[sid]
        return out[::-1]

    def all_done(s):
        return all(finished[c][(s >> shift[c]) & mask] for c in cpus)

    for f in state_findings(prog, initial_state(prog)):
        note(f.key, 0, None)
    queue = deque([(0, -1)])
    popleft, append = queue.popleft, queue.append
    while queue and stopped is None:
        sid, only = popleft()
        s = states[sid]
        if s & broken_bit:
            continue                 # memory is corrupted: nothing runs on, no finding belongs to it
        ents = []                    # each cpu's entry (sp.entry): the hot loop, inlined
        enabled = 0
        for c in cpus:
            key = s & kmask[c][(s >> shift[c]) & mask]
            e = entries[c].get(key)
            if e is None:
                e = sp.entry(c, s, key)
            ents.append(e)
            if e[0]:
                enabled |= 1 << c
        if not enabled:
            # A final state: every cpu done (end invariants) or stuck.
            if only < 0:
                _final_findings(sp, s, ents, sid, note)
            continue
        z = sleep[sid]
        todo = enabled & ~z if only < 0 else enabled & only
        done = 0
        while todo:
            low = todo & -todo
            todo ^= low
            c = low.bit_length() - 1
            e = ents[c]
            if e[6] is None:
                try:
                    sp.transition(c, s, e)
                except ModelError as err:
                    sched = " ".join(path_to(sid) + [prog.cpus[c].name])
                    raise ModelError(f"{err} (reached by schedule {quote_schedule(sched)})") from None
            transitions += 1
            ns = s + e[6]
            zc = 0
            if reduction:           # the next state's sleep set: the cpus whose steps commute with this one
                cand = (z | done) & enabled
                ra, wa = e[1], e[2]
                rw = ra | wa
                while cand:
                    lu = cand & -cand
                    cand ^= lu
                    eu = ents[lu.bit_length() - 1]
                    if not (eu[2] & rw) and not (wa & eu[1]):
                        zc |= lu
            done |= low
            nid = ids.get(ns)
            if nid is None:
                if len(states) >= max_states:
                    stopped = f"stopped after {len(states)} states: the state budget (--max-states {max_states}) ran out"
                    break
                nid = len(states)
                ids[ns] = nid
                states.append(ns)
                sleep.append(zc)
                parent_src.append(sid)
                parent_cpu.append(c)
                append((nid, -1))
                if always and not ns & broken_bit:
                    for key in sp.invariant_keys(ns, all_done(ns)):
                        note(key, nid, None)
            else:
                old = sleep[nid]
                if old & ~zc:
                    sleep[nid] = old & zc
                    append((nid, old & ~zc))
            esrc.append(sid)
            ecpu.append(c)
            edst.append(nid)
            for f in e[7]:
                note(f.key, sid, c)
            if e[8] and not ns & broken_bit:
                # A wait-for cycle appears only when a cpu starts to wait (every
                # other step only removes edges, or adds them towards the cpu
                # that steps): look for cycles through this one, if it waits.
                key = ns & kmask[c][(ns >> shift[c]) & mask]
                w = entries[c].get(key) or sp.entry(c, ns, key)
                if not w[0] and w[3]:
                    for key in sp.cycles_through(c, ns):
                        note(key, nid, None)
            if transitions & 2047 == 0:
                stopped = _over_budget(t0, max_seconds, rss0, max_memory_mb, len(states))
                if stopped:
                    break
    rss = _rss_bytes() if rss0 is not None else None
    memory = rss - rss0 if rss is not None else None
    return Search(states, esrc, ecpu, edst, occurrences, transitions, stopped, sp, memory)


def _over_budget(t0: float, max_seconds: float, rss0: int | None, max_memory_mb: float, states: int) -> str | None:
    """Why the search must stop now (time or memory), or None."""
    if time.perf_counter() - t0 > max_seconds:
        return f"stopped after {max_seconds:g} s: the time budget ran out ({states} states so far)"
    rss = _rss_bytes() if rss0 is not None else None
    used = rss - rss0 if rss is not None else states * _STATE_BYTES
    if used > max_memory_mb * 2**20:
        return f"stopped after {states} states: the memory budget ({max_memory_mb:g} MB, --max-memory) ran out"
    return None


def _final_findings(sp: _Space, s: int, ents: list, sid: int, note) -> None:
    """Findings of a state where no cpu can run, as the unfolded search sees
    it: after the folded waiters have taken their blocking steps."""
    prog = sp.prog
    st = sp.unpack(s)
    for c, e in enumerate(ents):
        if e[5]:
            st = apply(prog, st, c).state
    for f in state_findings(prog, st):
        note(f.key, sid, None)


# ---------------------------------------------------------------------------
# Shortest paths and the best schedule of each finding

def shortest_paths(sr: Search) -> tuple[array, tuple[array, array]]:
    """Breadth-first over every explored edge from state 0, each state's
    edges in cpu order: each state's distance (``-1``: not reached) and the
    ``(state, cpu)`` it is first reached from (``parent = (src, cpu)``
    arrays), which makes its path the first in cpu order among the shortest."""
    n, ncpu = len(sr.states), max(1, sr.space.ncpu)
    codes = sorted(((s * ncpu + c) << 32) | d for s, c, d in zip(sr.src, sr.cpu, sr.dst))
    start = array("i", [0]) * (n + 1)
    for code in codes:
        start[(code >> 32) // ncpu + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    dist = array("i", [-1]) * n
    psrc, pcpu = array("i", [-1]) * n, array("b", [-1]) * n
    dist[0] = 0
    order = [0]
    low = 0xFFFFFFFF
    for sid in order:                   # grows while it is walked
        d = dist[sid] + 1
        for j in range(start[sid], start[sid + 1]):
            code = codes[j]
            nid = code & low
            if dist[nid] < 0:
                dist[nid] = d
                psrc[nid] = sid
                pcpu[nid] = (code >> 32) % ncpu
                order.append(nid)
    return dist, (psrc, pcpu)


_KIND_ORDER = {"deadlock": 0, "use_after_free": 1, "double_free": 2, "refcount": 3, "warn": 4}


def best_findings(prog: Program, sr: Search, dist, parent) -> list[Finding]:
    """Each finding once, with the shortest schedule among its occurrences
    (ties: the schedule that sorts first), in the order learners read them:
    deadlocks first, then by length.

    A deadlock needs its folded waiters to have blocked (and a state where
    no cpu can run, all of them): those steps are counted, put back into the
    schedule, and the schedule is replayed with the real semantics, which
    gives the finding its words.
    """
    psrc, pcpu = parent
    sp = sr.space

    def path(sid):
        out = []
        while psrc[sid] >= 0:
            out.append(pcpu[sid])
            sid = psrc[sid]
        out.reverse()
        return out

    def to_block(key, sid) -> list[int]:
        if key[0] not in ("deadlock", "stuck"):
            return []
        s = sr.states[sid]
        who = None if key[0] == "stuck" else {prog.cpu_index[name] for name, _ in key[1]}
        out = []
        for c in range(sp.ncpu):
            if who is None or c in who:
                tid = (s >> sp.shift[c]) & sp.mask
                e = sp.entries[c].get(s & sp.kmask[c][tid])
                if e is not None and e[5]:
                    out.append(c)
        return out

    findings = []
    for key, occ in sr.occurrences.items():
        ranked = []
        for sid, cpu in occ:
            if dist[sid] < 0:
                continue
            blocks = to_block(key, sid)
            ranked.append((dist[sid] + (cpu is not None) + len(blocks), sid, cpu, blocks))
        if not ranked:
            continue
        least = min(r[0] for r in ranked)
        best = None
        for n, sid, cpu, blocks in sorted(set((n, sid, cpu, tuple(b)) for n, sid, cpu, b in ranked if n == least)):
            steps = path(sid) + ([cpu] if cpu is not None else [])
            sched, f = _replayed(prog, steps, blocks, key, cpu is not None)
            if best is None or sched < best[0]:
                best = (sched, f, n)
        sched, f, n = best
        findings.append(replace(f, schedule=sched, step=n))
    findings.sort(key=lambda f: (_KIND_ORDER.get(f.kind, 9), f.step, f.schedule, f.message))
    return findings


def _replayed(prog: Program, steps: list[int], blocks, key, on_step: bool) -> tuple[str, Finding]:
    """Replay ``steps`` with the cpus of ``blocks`` taking their blocking
    steps as early as the cpu order allows (a cpu blocks once it stands at
    its lock for good and the lock is held); return the schedule and the
    finding ``key`` as that replay reports it."""
    last = {c: i for i, c in enumerate(steps)}     # after its last step a cpu stays where it waits
    pending = set(blocks)
    st = initial_state(prog)
    out, i, found = [], 0, None
    while i < len(steps) or pending:
        ready = [b for b in pending if last.get(b, -1) < i and st.threads[b].status == RUN
                 and can_step(prog, st, b) and lock_blockers(prog, st, b) is not None]
        nxt = steps[i] if i < len(steps) else None
        choice = min(ready + ([nxt] if nxt is not None else []), default=None)
        if choice is None:        # pragma: no cover - a folded waiter always blocks in the end
            raise AssertionError(f"{prog.case}/{prog.variant}: cannot put back the blocking steps of {key!r}")
        res = apply(prog, st, choice)
        st = res.state
        out.append(prog.cpus[choice].name)
        if choice == nxt and choice not in ready:
            i += 1
            if on_step and i == len(steps):
                found = next((f for f in res.findings if f.key == key), None)
        else:
            pending.discard(choice)
    if found is None:
        found = next((f for f in state_findings(prog, st) if f.key == key), None)
    if found is None:             # pragma: no cover - the search saw it there
        raise AssertionError(f"{prog.case}/{prog.variant}: {key!r} not found on replaying {' '.join(out)!r}")
    return " ".join(out), found
