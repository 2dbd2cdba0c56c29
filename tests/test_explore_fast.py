"""The fast explorer (packed states, cached steps, folded blocking steps)
finds exactly what the plain one found: the same findings, words, shortest
schedules and lengths, on every model of the lab and on random models over
every kind of step. Unfolded, it visits the same states and transitions.

The plain explorer is kept in tests/reference_explore.py.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_explore
from labkit.cases import case_ids, get_case, program
from labkit.errors import ModelError
from labkit.explore import explore
from labkit.model import (Model, alloc, assign, call, complete, down_read, down_read_trylock, down_write, free,
                          get, get_not_zero, if_, label, let, line, local, mutex_lock, mutex_trylock, mutex_unlock,
                          put, refcount, spin_lock, spin_unlock, up_read, up_write, use, var, wait_event, warn_on)
from labkit.trace import replay

BIG = {"n5", "n6", "n7", "n8", "lefty5", "lefty6"}
MODELS = [(c, v) for c in case_ids() for v in get_case(c).variant_ids if v not in BIG]


def facts(r):
    return [(f.kind, f.key, f.message, f.schedule, f.step, f.cpus, f.locks, f.cycle) for f in r.findings]


def same_as_reference(prog, reduction=True):
    ref = reference_explore.explore(prog, reduction=reduction)
    folded = explore(prog, reduction=reduction)
    plain = explore(prog, reduction=reduction, fold=False)
    assert facts(folded) == facts(ref)
    assert facts(plain) == facts(ref)
    assert (plain.states, plain.transitions) == (ref.states, ref.transitions)
    assert folded.states <= ref.states
    return ref, folded


@pytest.mark.parametrize("cv", MODELS, ids="/".join)
def test_every_model_finds_what_the_plain_explorer_found(cv):
    prog = program(*cv)
    for reduction in (True, False):
        same_as_reference(prog, reduction)


@pytest.mark.parametrize("v", ["n5", "lefty5"])
def test_five_philosophers_with_sleep_sets(v):
    ref, folded = same_as_reference(program("philosophers", v))
    assert folded.states < ref.states / 3        # most states had a philosopher about to block


def test_seven_and_eight_philosophers_deadlock_in_two_steps_each():
    for n in (7, 8):
        r = explore(program("philosophers", f"n{n}"))
        assert r.complete
        (f,) = r.findings
        assert f.kind == "deadlock" and f.step == 2 * n and len(f.cpus) == n
        t = replay(program("philosophers", f"n{n}"), f.schedule)
        assert f.key in {g.key for g in t.findings}
        assert [s.event for s in t.steps].count("block") == n     # every wait is a step the stepper shows


def test_the_graph_for_the_stepper_is_not_folded():
    prog = program("abba", "before")
    g = explore(prog, keep_graph=True, reduction=False)
    ref = reference_explore.explore(prog, keep_graph=True, reduction=False)
    assert g.graph["states"] == ref.graph["states"]
    assert [sorted(e) for e in g.graph["edges"]] == [sorted(e) for e in ref.graph["edges"]]
    assert list(g.graph["dist"]) == list(ref.graph["dist"])


def test_model_errors_name_the_schedule_as_before():
    m = Model("t", "err")
    m.mutex("A")
    m.object("obj")      # allocated at start: a second alloc is a model error
    m.func("one", [mutex_lock("A"), mutex_unlock("A")])
    m.func("two", [line("x;"), alloc("obj")])
    m.cpu("CPU0", "one")
    m.cpu("CPU1", "two")
    prog = m.build()
    with pytest.raises(ModelError) as new:
        explore(prog)
    with pytest.raises(ModelError) as old:
        reference_explore.explore(prog)
    assert str(new.value) == str(old.value)


# --- random models over every kind of step ------------------------------------------

KINDS = ["mutex", "spin", "read", "write", "trylock", "read_trylock", "free", "use", "alloc", "get", "put",
         "get_not_zero", "set", "if", "warn", "wait", "complete", "call", "let"]


@st.composite
def random_models(draw):
    ncpus = draw(st.integers(2, 3))
    return ([draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4)) for _ in range(ncpus)],
            draw(st.booleans()))


def build(progs, invariant):
    m = Model("random", "mixed")
    m.mutex("M")
    m.mutex("N")
    m.spinlock("S")
    m.rwsem("R")
    m.object("obj")
    m.ref("ref", 1)
    m.shared("flag", 0)
    m.shared("done", False)
    m.func("release", [free("obj")])
    m.func("helper", [mutex_lock("N"), line("help;"), mutex_unlock("N")])
    if invariant:
        m.invariant("flag small", var("flag") != 3, "flag reached 3")
    for c, kinds in enumerate(progs):
        ops = []
        for i, k in enumerate(kinds):
            ops += {
                "mutex": [mutex_lock("M"), line("work;"), mutex_unlock("M")],
                "spin": [spin_lock("S"), mutex_lock("M"), mutex_unlock("M"), spin_unlock("S")],
                "read": [down_read("R"), mutex_lock("N"), mutex_unlock("N"), up_read("R")],
                "write": [down_write("R"), line("write;"), up_write("R")],
                "trylock": [mutex_trylock("M", f"ok{c}"), if_(~local(f"ok{c}"), f"t{i}"), mutex_unlock("M"),
                            label(f"t{i}")],
                "read_trylock": [down_read_trylock("R", f"r{c}"), if_(~local(f"r{c}"), f"r{i}"), up_read("R"),
                                 label(f"r{i}")],
                "free": [free("obj")],
                "use": [use("obj")],
                "alloc": [if_(refcount("ref") != 0, f"a{i}"), alloc("obj"), label(f"a{i}")],
                "get": [get("ref")],
                "put": [put("ref", "release")],
                "get_not_zero": [get_not_zero("ref", f"g{c}")],
                "set": [assign("flag", c + 1)],
                "if": [if_(var("flag") == 0, f"l{i}"), line("skipped;"), label(f"l{i}")],
                "warn": [warn_on(var("flag") == c + 1)],
                "wait": [wait_event(var("done") == True)],  # noqa: E712
                "complete": [complete("done")],
                "call": [mutex_lock("M"), call("helper"), mutex_unlock("M")],
                "let": [let(f"x{c}", var("flag")), if_(local(f"x{c}") == 0, f"x{i}"), assign("flag", 3),
                        label(f"x{i}")],
            }[k]
        m.func(f"f{c}", ops)
        m.cpu(f"CPU{c}", f"f{c}", comm=f"t{c}", pid=c)
    return m.build()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models())
def test_random_models_find_what_the_plain_explorer_found(model):
    try:
        prog = build(*model)
        reference_explore.explore(prog, reduction=False)
    except ModelError:
        return      # the model itself is wrong (a double alloc, an unlock of a lock not held ...)
    for reduction in (True, False):
        same_as_reference(prog, reduction)
