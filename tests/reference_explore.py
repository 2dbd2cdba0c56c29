"""The explorer as it was before issue 14 (plain states, no folding, no caching),
kept as the reference the fast explorer is checked against
(tests/test_explore_fast.py). Not used by labkit."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field, replace

from labkit.errors import ModelError
from labkit.model import Program
from labkit.semantics import Finding, apply, can_step, footprint, initial_state, state_findings
from labkit.trace import check_depth, quote_schedule

__all__ = ["Exploration", "explore", "search", "shortest_paths", "best_findings", "Search",
           "DEFAULT_MAX_STATES", "DEFAULT_MAX_SECONDS", "DEFAULT_MAX_MEMORY_MB"]

DEFAULT_MAX_STATES = 500_000
DEFAULT_MAX_SECONDS = 120.0
# What the search may add to the process's resident memory. 500,000 states of
# the kernel cases take about 550 MB; states that grow without end (a model
# that recurses) would take the machine.
DEFAULT_MAX_MEMORY_MB = 1500.0
_STATE_BYTES = 1100     # per explored state, where the resident size cannot be read


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

    def to_json(self) -> dict:
        d = {"case": self.case, "variant": self.variant, "complete": self.complete,
             "states": self.states, "transitions": self.transitions,
             "findings": [f.to_json() for f in self.findings]}
        if self.stopped:
            d["stopped"] = self.stopped
        return d

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}


def _independent(a, b) -> bool:
    (ra, wa), (rb, wb) = a, b
    return not (wa & (rb | wb)) and not (wb & ra)


def _check_budget(max_states, max_seconds, max_memory_mb) -> None:
    if max_states < 1:
        raise ValueError("max_states must be at least 1")
    for name, x in (("max_seconds", max_seconds), ("max_memory_mb", max_memory_mb)):
        if not 0 < x < float("inf"):      # nan, inf, 0 and below would turn a budget off
            raise ValueError(f"{name} must be a finite number above 0, not {x!r}")


def explore(prog: Program, *, max_states: int = DEFAULT_MAX_STATES, max_seconds: float = DEFAULT_MAX_SECONDS,
            reduction: bool = True, keep_graph: bool = False,
            max_memory_mb: float = DEFAULT_MAX_MEMORY_MB) -> Exploration:
    """Explore every interleaving of ``prog``.

    Parameters
    ----------
    max_states, max_seconds, max_memory_mb : the budget (states, seconds,
        megabytes the search adds to the process's resident memory, or an
        estimate per state where that cannot be read). When one runs out the
        search stops, ``complete`` is False and ``stopped`` says which budget
        ended it; the findings so far are real (each has a replayable schedule).
    reduction : use sleep sets (True) or plain exhaustive search (False).
    keep_graph : keep the explored state graph (``graph``: states, edges) for
        export to the stepper.

    Three parts: :func:`search` visits the states, :func:`shortest_paths`
    finds how far each is from the start, :func:`best_findings` picks each
    finding's shortest schedule.
    """
    _check_budget(max_states, max_seconds, max_memory_mb)
    t0 = time.perf_counter()
    sr = search(prog, max_states=max_states, max_seconds=max_seconds, reduction=reduction,
                max_memory_mb=max_memory_mb)
    dist, parent = shortest_paths(sr.edges)
    findings = best_findings(prog, sr.occurrences, dist, parent)
    graph = {"states": sr.states, "edges": sr.edges, "dist": dist} if keep_graph else None
    return Exploration(prog.case, prog.variant, sr.stopped is None, len(sr.states), sr.transitions, findings,
                       "sleep-sets" if reduction else "none", sr.stopped, time.perf_counter() - t0, graph)


@dataclass
class Search:
    """What :func:`search` saw: every state (in the order found), every
    explored edge ``edges[state] = [(cpu, next state), ...]``, and where each
    finding occurred: ``occurrences[key] = [(state, cpu or None, Finding)]``
    (``cpu``: on the step that cpu takes from that state; ``None``: in the
    state itself)."""

    states: list
    edges: list
    occurrences: dict
    transitions: int
    stopped: str | None


def search(prog: Program, *, max_states: int = DEFAULT_MAX_STATES, max_seconds: float = DEFAULT_MAX_SECONDS,
           reduction: bool = True, max_memory_mb: float = DEFAULT_MAX_MEMORY_MB) -> Search:
    """Breadth-first over states, de-duplicating equal states, with sleep sets
    (``reduction``) until every reachable state has been seen or the budget
    runs out. Model errors name the schedule that reached them."""
    t0 = time.perf_counter()
    rss0 = _rss_bytes()
    ncpu = len(prog.cpus)
    s0 = initial_state(prog)
    ids = {s0: 0}
    states = [s0]
    sleep = [frozenset()]
    parent: list = [None]        # how the search first reached each state (for error messages)
    edges: list[list] = [[]]
    occurrences: dict = {}
    transitions = 0
    stopped = None

    def note(f, sid, cpu):
        occurrences.setdefault(f.key, []).append((sid, cpu, f))

    def path_to(sid):
        out = []
        while parent[sid] is not None:
            sid, c = parent[sid]
            out.append(prog.cpus[c].name)
        return out[::-1]

    always = any(inv.when == "always" for inv in prog.invariants)
    for f in state_findings(prog, s0):
        note(f, 0, None)
    queue = deque([(0, None)])
    while queue and stopped is None:
        sid, only = queue.popleft()
        s = states[sid]
        enabled = [c for c in range(ncpu) if can_step(prog, s, c)]
        if not enabled:
            # A final state: every cpu done (end invariants) or stuck.
            if only is None:
                for f in state_findings(prog, s):
                    note(f, sid, None)
            continue
        z = sleep[sid]
        if only is None:
            todo = [c for c in enabled if c not in z]
        else:
            todo = [c for c in enabled if c in only]
        fps = {c: footprint(prog, s, c) for c in enabled} if reduction else None
        done: list[int] = []
        for c in todo:
            try:
                out = apply(prog, s, c)
                check_depth(prog, out.state, c)    # unbounded recursion: an error, not a memory hog
            except ModelError as e:
                sched = " ".join(path_to(sid) + [prog.cpus[c].name])
                raise ModelError(f"{e} (reached by schedule {quote_schedule(sched)})") from None
            transitions += 1
            ns = out.state
            if reduction:
                zc = frozenset(u for u in (z | set(done)) if u in fps and _independent(fps[u], fps[c]))
            else:
                zc = frozenset()
            done.append(c)
            nid = ids.get(ns)
            if nid is None:
                if len(states) >= max_states:
                    stopped = f"stopped after {len(states)} states: the state budget (--max-states {max_states}) ran out"
                    break
                nid = len(states)
                ids[ns] = nid
                states.append(ns)
                sleep.append(zc)
                parent.append((sid, c))
                edges.append([])
                queue.append((nid, None))
                if always:
                    for f in state_findings(prog, ns, cycles=False):
                        note(f, nid, None)
            else:
                old = sleep[nid]
                if not old <= zc:
                    sleep[nid] = old & zc
                    queue.append((nid, old - zc))
            edges[sid].append((c, nid))
            for f in out.findings:
                note(f, sid, c)
            if out.event in ("block", "sleep"):
                # Checked on the edge, not at discovery, so the shortest way into
                # a deadlocked state is always among the occurrences.
                for f in state_findings(prog, ns):
                    if f.key[0] == "deadlock":
                        note(f, nid, None)
            if transitions % 2048 == 0:
                if time.perf_counter() - t0 > max_seconds:
                    stopped = f"stopped after {max_seconds:g} s: the time budget ran out ({len(states)} states so far)"
                    break
                rss = _rss_bytes() if rss0 is not None else None
                used = rss - rss0 if rss is not None else len(states) * _STATE_BYTES
                if used > max_memory_mb * 2**20:
                    stopped = (f"stopped after {len(states)} states: the memory budget ({max_memory_mb:g} MB, "
                               f"--max-memory) ran out")
                    break
    return Search(states, edges, occurrences, transitions, stopped)


def shortest_paths(edges: list) -> tuple[list[int], list]:
    """Breadth-first over every explored edge from state 0: each state's
    distance (``-1``: not reached) and the ``(state, cpu)`` it is reached from
    on a shortest path."""
    dist = [-1] * len(edges)
    parent: list = [None] * len(edges)
    dist[0] = 0
    queue = deque([0])
    while queue:
        sid = queue.popleft()
        for c, nid in edges[sid]:
            if dist[nid] < 0:
                dist[nid] = dist[sid] + 1
                parent[nid] = (sid, c)
                queue.append(nid)
    return dist, parent


_KIND_ORDER = {"deadlock": 0, "use_after_free": 1, "double_free": 2, "refcount": 3, "warn": 4}


def best_findings(prog: Program, occurrences: dict, dist: list[int], parent: list) -> list[Finding]:
    """Each finding once, with the shortest schedule among its occurrences
    (ties: the schedule that sorts first), in the order learners read them:
    deadlocks first, then by length."""

    def schedule_of(sid, cpu):
        names = []
        while parent[sid] is not None:
            sid, c = parent[sid]
            names.append(prog.cpus[c].name)
        names.reverse()
        if cpu is not None:
            names.append(prog.cpus[cpu].name)
        return " ".join(names)

    findings = []
    for key, lst in occurrences.items():
        best = None
        for sid, cpu, f in lst:
            if dist[sid] < 0:
                continue
            sched = schedule_of(sid, cpu)
            n = dist[sid] + (cpu is not None)
            rank = (n, sched)
            if best is None or rank < best[0]:
                best = (rank, f, sched, n)
        if best is not None:
            _, f, sched, n = best
            findings.append(replace(f, schedule=sched, step=n))
    findings.sort(key=lambda f: (_KIND_ORDER.get(f.kind, 9), f.step, f.schedule, f.message))
    return findings
