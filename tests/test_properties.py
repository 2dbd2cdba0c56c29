"""Properties over random schedules and random models (hypothesis)."""

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.cases import case_ids, get_case, program
from labkit.explore import explore
from labkit.lockdep import Lockdep
from labkit.model import Model, mutex_lock, mutex_unlock, step
from labkit.semantics import DONE, READ, WRITE, apply, can_step, initial_state
from labkit.trace import replay
from randmodels import build, random_models

SMALL = [(c, v) for c in case_ids() for v in get_case(c).variant_ids
         if not v.endswith(("5", "6")) and not v.startswith("three_threads")]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_state(prog, s):
    """The lock and refcount invariants every reachable state must keep."""
    for l, decl in enumerate(prog.locks):
        owner, readers = s.owner[l], s.readers[l]
        assert not (owner != -1 and readers), f"{decl.name}: a writer and readers at once"
        holders = [c for c, th in enumerate(s.threads) if (l, WRITE) in th.held]
        assert holders == ([owner] if owner != -1 else []), f"{decl.name}: owner {owner} vs held {holders}"
        rd = sorted(c for c, th in enumerate(s.threads) for h in th.held if h == (l, READ))
        assert rd == sorted(readers)
        queued = [c for c, _ in s.queue[l]]
        assert len(queued) == len(set(queued))
    for c, th in enumerate(s.threads):
        if th.status == DONE:
            assert th.frames == ()
    if not s.broken:
        assert all(r >= 0 for r in s.refs)


def random_walk(prog, choices):
    s = initial_state(prog)
    names = []
    for x in choices:
        en = [c for c in range(len(prog.cpus)) if can_step(prog, s, c)]
        if not en:
            break
        c = en[x % len(en)]
        s = apply(prog, s, c).state
        names.append(prog.cpus[c].name)
        check_state(prog, s)
    return " ".join(names), s


@FAST
@given(st.sampled_from(SMALL), st.lists(st.integers(0, 7), max_size=40))
def test_random_schedules_keep_mutual_exclusion_and_refcounts(cv, choices):
    prog = program(*cv)
    sched, final = random_walk(prog, choices)
    # A schedule is data: replaying it gives the same state.
    assert replay(prog, sched).final == final


@pytest.mark.parametrize("cv", SMALL, ids="/".join)
def test_replaying_any_finding_reproduces_it_in_exactly_its_steps(cv):
    prog = program(*cv)
    r = explore(prog)
    if get_case(cv[0]).variant(cv[1]).expect not in ("", "nothing"):
        assert r.findings, cv
    for f in r.findings:
        t = replay(prog, f.schedule)
        assert f.key in {g.key for g in t.findings}, (cv, f)
        assert len(t.steps) == f.step


@st.composite
def nested_programs(draw):
    nlocks = draw(st.integers(2, 4))
    ncpus = draw(st.integers(1, 3))
    seqs = [draw(st.lists(st.integers(0, nlocks - 1), min_size=1, max_size=nlocks, unique=True))
            for _ in range(ncpus)]
    return nlocks, seqs


def build_nested(nlocks, seqs):
    m = Model("random", "nested")
    for i in range(nlocks):
        m.mutex(f"L{i}")
    for c, seq in enumerate(seqs):
        ops = [mutex_lock(f"L{i}") for i in seq] + [step("work;")] + [mutex_unlock(f"L{i}") for i in reversed(seq)]
        m.func(f"f{c}", ops)
        m.cpu(f"CPU{c}", f"f{c}", comm=f"t{c}", pid=c)
    return m.build()


@settings(max_examples=120, deadline=None)
@given(nested_programs())
def test_lockdep_reports_a_cycle_exactly_when_the_order_graph_has_one(np):
    nlocks, seqs = np
    prog = build_nested(nlocks, seqs)
    order = nx.DiGraph()
    for seq in seqs:
        for i, a in enumerate(seq):
            for b in seq[i + 1:]:
                order.add_edge(f"L{a}", f"L{b}")
    ld = Lockdep()
    for c in prog.cpu_names:                 # each cpu alone, serially: no run ever deadlocks
        ld.observe(replay(prog, f"{c}*"))
    has_cycle = not nx.is_directed_acyclic_graph(order)
    assert bool(ld.reports) == has_cycle
    if has_cycle:
        (r,) = ld.reports
        assert r.kind == "circular"
        cyc = list(r.cycle)
        assert all(order.has_edge(a, b) for a, b in cyc)
        assert cyc[0][0] == cyc[-1][1]      # it closes
    # A real deadlock always shows as a lockdep cycle (the converse need not hold:
    # a common outer "gate" lock makes the cycle harmless, and lockdep still reports it).
    if any(f.kind == "deadlock" for f in explore(prog).findings):
        assert has_cycle


# --- the reduction loses nothing ---------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models())
def test_sleep_sets_lose_no_state_finding_or_shortest_length(model):
    """Random models over every kind of step (tests/randmodels.py), memory-corrupting ones included."""
    from labkit.errors import ModelError
    try:
        prog = build(*model)
        full = explore(prog, reduction=False)
    except ModelError:
        return   # e.g. a free of an object freed before: the model itself is wrong
    red = explore(prog, reduction=True)
    assert red.states == full.states
    assert {f.key: f.step for f in red.findings} == {f.key: f.step for f in full.findings}


def test_a_use_after_free_stops_an_independent_cpu_too():
    """The reduction's known answer: CPU2's write is independent of the free and
    the use, but the use after free stops every cpu, so the state where CPU2
    has not run yet and memory is broken must still be reached."""
    from labkit.model import assign, free, use
    m = Model("t", "uaf3")
    m.object("o")
    m.shared("v", 0)
    m.func("a", [free("o")])
    m.func("b", [use("o")])
    m.func("c", [assign("v", 1)])
    for i, f in enumerate("abc"):
        m.cpu(f"CPU{i}", f)
    prog = m.build()
    assert explore(prog).states == explore(prog, reduction=False).states == 10
