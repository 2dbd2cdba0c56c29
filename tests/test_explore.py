"""The explorer on models with known answers, with and without the reduction."""

import pytest

from labkit.cases import program
from labkit.explore import explore
from labkit.trace import replay


def verdict(case, variant, **kw):
    r = explore(program(case, variant), **kw)
    assert r.complete, r.stopped
    return r


def test_abba_deadlocks_and_ordered_locking_does_not():
    r = verdict("abba", "before")
    (f,) = r.findings
    assert (f.kind, f.schedule, f.cpus, f.locks) == ("deadlock", "CPU0 CPU1 CPU0 CPU1", ("CPU0", "CPU1"), ("B", "A"))
    assert verdict("abba", "after").findings == []


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_dining_philosophers_deadlock_one_lefty_does_not(n):
    r = verdict("philosophers", f"n{n}")
    (f,) = r.findings
    assert f.kind == "deadlock" and len(f.cpus) == n
    # Shortest: everyone takes a left fork, then everyone blocks: 2n steps.
    assert f.step == 2 * n
    assert verdict("philosophers", f"lefty{n}").findings == []


def test_rwsem_writer_preference_deadlocks_reader_preference_does_not():
    (f,) = verdict("rwsem_fairness", "writer_pref").findings
    assert f.kind == "deadlock" and sorted(f.cpus) == ["CPU0", "CPU1", "CPU2"]
    # A reads, B queues to write, C takes D, A blocks on D, C's read queues behind B.
    assert f.schedule == "CPU0 CPU1 CPU2 CPU0 CPU2"
    assert verdict("rwsem_fairness", "reader_pref").findings == []


def test_last_put_under_a_lock_its_release_takes():
    r = verdict("last_put", "before")
    assert {f.kind for f in r.findings} == {"deadlock"}
    assert all("which it already holds" in f.message for f in r.findings)
    assert verdict("last_put", "after").findings == []


@pytest.mark.parametrize("case, variant", [("abba", "before"), ("philosophers", "n4"), ("philosophers", "lefty4"),
                                           ("rwsem_fairness", "writer_pref"), ("last_put", "before"),
                                           ("mm_iommu", "before"), ("mm_iommu", "after")])
def test_sleep_sets_keep_every_state_and_every_shortest_finding(case, variant):
    with_r, without = verdict(case, variant), verdict(case, variant, reduction=False)
    assert with_r.states == without.states
    assert with_r.transitions <= without.transitions
    assert [(f.kind, f.key, f.schedule) for f in with_r.findings] == \
           [(f.kind, f.key, f.schedule) for f in without.findings]


def test_reduction_saves_transitions_on_independent_work():
    assert verdict("philosophers", "n4").transitions < 0.6 * verdict("philosophers", "n4", reduction=False).transitions


@pytest.mark.parametrize("case, variant", [("abba", "before"), ("philosophers", "n3"), ("rwsem_fairness", "writer_pref"),
                                           ("last_put", "before"), ("mm_iommu", "before")])
def test_every_finding_replays_to_itself(case, variant):
    prog = program(case, variant)
    for f in verdict(case, variant).findings:
        t = replay(prog, f.schedule)
        assert f.key in {g.key for g in t.findings}
        # ... and no shorter prefix reaches it: the schedule is minimal.
        assert f.key not in {g.key for g in t.prefix(len(t.steps) - 1).findings}


def test_partial_deadlock_is_found_while_other_cpus_finish():
    from labkit.model import Model, mutex_lock, mutex_unlock, step
    m = Model("t", "partial")
    m.mutex("A"); m.mutex("B")
    m.func("one", [mutex_lock("A"), mutex_lock("B"), mutex_unlock("B"), mutex_unlock("A")])
    m.func("two", [mutex_lock("B"), mutex_lock("A"), mutex_unlock("A"), mutex_unlock("B")])
    m.func("bystander", [step("a;"), step("b;")])
    m.cpu("CPU0", "one"); m.cpu("CPU1", "two"); m.cpu("CPU2", "bystander")
    prog = m.build()
    (f,) = explore(prog).findings
    assert f.schedule == "CPU0 CPU1 CPU0 CPU1" and "CPU2" not in f.cpus
    t = replay(prog, f.schedule + " CPU2 CPU2")     # CPU2 still finishes
    assert t.runnable()["CPU2"] == "CPU2 has finished"


def test_exploration_is_deterministic():
    a, b = verdict("philosophers", "n3"), verdict("philosophers", "n3")
    assert a.to_json() == b.to_json()


def test_deadlock_findings_carry_their_cycle():
    (f,) = verdict("rwsem_fairness", "writer_pref").findings
    assert f.cycle == (("CPU0", "D", "CPU2"), ("CPU2", "sem", "CPU1"), ("CPU1", "sem", "CPU0"))
    (f,) = verdict("kvm_vfio", "before").findings
    assert f.cycle == (("CPU0", "group->group_lock", "CPU0"),)
