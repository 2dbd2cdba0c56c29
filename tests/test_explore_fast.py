"""The fast explorer (packed states, cached steps, folded blocking steps)
finds exactly what the plain one found: the same findings, words, shortest
schedules and lengths, on every model of the lab and on random models over
every kind of step. Unfolded, it visits the same states and transitions.

The plain explorer is kept in tests/reference_explore.py.
"""

import pytest
from hypothesis import HealthCheck, given, settings

import reference_explore
from labkit.cases import case_ids, get_case, program
from labkit.errors import ModelError
from labkit.explore import explore
from labkit.model import Model, alloc, line, mutex_lock, mutex_unlock
from labkit.trace import replay
from randmodels import build, random_models

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
