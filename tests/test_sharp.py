"""Tests that catch the bugs a developer would plausibly introduce.

Each test here was checked against a planted bug (named in its docstring):
it fails with the bug and passes without it. The lessons depend on each
behaviour, so each is pinned by an independent expectation, not by the code
that computes it.
"""

from labkit.cases import program
from labkit.explore import explore
from labkit.lockdep import Lockdep, lockdep_run
from labkit.model import (Model, alive, assign, down_read, down_write, free, mutex_lock, mutex_unlock, step,
                          up_read, up_write, use, var, warn_on)
from labkit.semantics import can_step
from labkit.trace import replay


def _run_lockdep(prog, *schedules):
    ld = Lockdep()
    for s in schedules:
        ld.observe(replay(prog, s))
    return ld


def test_an_always_invariant_broken_and_restored_is_still_reported():
    """Planted bug: `always` invariants checked only in end states."""
    m = Model("t", "inv")
    m.shared("v", 0)
    m.func("f", [assign("v", 1, "v = 1;   /* briefly broken */"), assign("v", 0, "v = 0;")])
    m.cpu("CPU0", "f")
    m.invariant("v stays 0", var("v") == 0, "v was set", when="always")
    prog = m.build()
    (f,) = explore(prog).findings
    assert (f.kind, f.schedule, f.step) == ("warn", "CPU0", 1)
    t = replay(prog, "CPU0 CPU0")
    assert [s.index for s in t.steps if s.findings] == [0]


def test_the_cycle_of_a_writer_queued_behind_a_reader():
    """Planted bug: wrong wait-for edges for a writer queued behind readers.

    rwsem_fairness: A (CPU0) reads sem and wants D; B (CPU1) queues to write
    sem behind A; C (CPU2) holds D and its read queues behind B. The cycle is
    C -> B (queued ahead) -> A (holds sem) -> C (holds D).
    """
    prog = program("rwsem_fairness", "writer_pref")
    (f,) = [f for f in explore(prog).findings if f.kind == "deadlock"]
    edges = set(f.cycle)
    assert edges == {("CPU0", "D", "CPU2"), ("CPU1", "sem", "CPU0"), ("CPU2", "sem", "CPU1")}
    assert "queued ahead by CPU1" in f.message and "held by CPU0" in f.message


def test_reader_preferring_rwsem_lets_a_new_reader_past_a_waiting_writer():
    """Planted bug: the reader-preferring contrast queues readers like the fair lock."""
    for pref, reader_gets_in in ((True, True), (False, False)):
        m = Model("t", "rp")
        m.rwsem("sem", reader_pref=pref)
        m.func("reader", [down_read("sem"), step("read;"), up_read("sem")])
        m.func("writer", [down_write("sem"), up_write("sem")])
        m.cpu("CPU0", "reader")
        m.cpu("CPU1", "writer")
        m.cpu("CPU2", "reader")
        prog = m.build()
        t = replay(prog, "CPU0 CPU1")          # CPU0 reads; CPU1's write waits
        assert not can_step(prog, t.final, 1) or t.steps[-1].event == "block"
        t2 = replay(prog, "CPU0 CPU1 CPU2")    # the new reader
        got_in = t2.steps[-1].event == "acquire"
        assert got_in is reader_gets_in, (pref, t2.steps[-1].event)


def test_warn_fires_on_the_right_side_of_the_free():
    """Planted bug: alive() inverted (a WARN on the wrong side of the free)."""
    m = Model("t", "alive")
    m.object("o")
    m.func("f", [warn_on(~alive("o"), "WARN_ON(!alive(o));   /* before the free: silent */"),
                 free("o"),
                 warn_on(alive("o"), "WARN_ON(alive(o));   /* after the free: silent */"),
                 warn_on(~alive("o"), "WARN_ON(!alive(o));   /* after: fires */")])
    m.cpu("CPU0", "f")
    t = replay(m.build(), "CPU0*")
    fired = [s.index for s in t.steps if s.findings]
    assert fired == [3]


def test_the_shortest_schedule_is_the_fewest_steps_not_the_first_in_text_order():
    """Planted bug: best schedule ranked by text before length."""
    m = Model("t", "short")
    m.shared("v", 0)
    m.func("slow", [step("a;"), step("b;"), step("c;"), assign("v", 1)])
    m.func("fast", [assign("v", 1)])
    m.cpu("CPU0", "slow")
    m.cpu("CPU1", "fast")
    m.invariant("v stays 0", var("v") == 0, "v was set")
    (f,) = explore(m.build()).findings
    assert (f.schedule, f.step) == ("CPU1", 1)   # "CPU0 CPU0 CPU0 CPU0" sorts first as text


def _rec_read_model():
    """T1: down_read(S) then M; T2: M then down_read(S); S's readers recursive."""
    m = Model("t", "rr")
    m.rwsem("S", reader_pref=True)
    m.mutex("M")
    m.func("t1", [down_read("S"), mutex_lock("M"), mutex_unlock("M"), up_read("S")])
    m.func("t2", [mutex_lock("M"), down_read("S"), up_read("S"), mutex_unlock("M")])
    m.cpu("CPU0", "t1")
    m.cpu("CPU1", "t2")
    return m.build()


def test_lockdep_strong_path_rule_at_the_closing_edge():
    """Planted bug: the strong-path rule skipped at the edge that closes a cycle.

    Recursive readers cannot wait for each other, so S -(SN)-> M -(ER)-> S is
    no deadlock and lockdep must stay quiet in either serial order (the
    explorer agrees)."""
    prog = _rec_read_model()
    assert not _run_lockdep(prog, "CPU1*", "CPU0*").reports
    assert not _run_lockdep(prog, "CPU0*", "CPU1*").reports
    assert not [f for f in explore(prog).findings if f.kind == "deadlock"]


def test_lockdep_reports_a_recursive_read_of_a_class_held_for_write():
    """Planted bug: a recursive read of a class held for write not reported."""
    m = Model("t", "wr")
    m.rwsem("S", reader_pref=True)
    m.func("f", [down_write("S"), down_read("S"), up_read("S"), up_write("S")])
    m.cpu("CPU0", "f")
    ld = _run_lockdep(m.build(), "CPU0 CPU0")
    assert [r.kind for r in ld.reports] == ["recursive"]


def test_lockdep_turns_itself_off_after_its_first_report():
    """Planted bug: the emulator goes on reporting (the kernel's lockdep calls
    debug_locks_off() and prints one report)."""
    m = Model("t", "two")
    for name in "ABCD":
        m.mutex(name)
    m.func("ab", [mutex_lock("A"), mutex_lock("B"), mutex_unlock("B"), mutex_unlock("A")])
    m.func("ba", [mutex_lock("B"), mutex_lock("A"), mutex_unlock("A"), mutex_unlock("B")])
    m.func("cd", [mutex_lock("C"), mutex_lock("D"), mutex_unlock("D"), mutex_unlock("C")])
    m.func("dc", [mutex_lock("D"), mutex_lock("C"), mutex_unlock("C"), mutex_unlock("D")])
    for i, f in enumerate(("ab", "ba", "cd", "dc")):
        m.cpu(f"CPU{i}", f)
    prog = m.build()
    ld = _run_lockdep(prog, "CPU0*", "CPU1*", "CPU2*", "CPU3*")
    assert len(ld.reports) == 1 and ld.off
    keep = Lockdep(keep_going=True)
    for s in ("CPU0*", "CPU1*", "CPU2*", "CPU3*"):
        keep.observe(replay(prog, s))
    assert len(keep.reports) == 2


def test_a_use_after_free_is_found_with_the_cpu_and_line():
    m = Model("t", "uaf")
    m.object("o")
    m.func("a", [free("o")])
    m.func("b", [use("o", "o->x = 1;")])
    m.cpu("CPU0", "a")
    m.cpu("CPU1", "b")
    (f,) = explore(m.build()).findings
    assert (f.kind, f.schedule, f.cpus) == ("use_after_free", "CPU0 CPU1", ("CPU1",))
    assert "o->x = 1;" in f.message


def test_kernel_case_lockdep_names_the_real_classes():
    ld = lockdep_run("mm_iommu", "before")
    (r,) = ld.reports
    assert {a for a, _ in r.cycle} == {"mem_list_mutex", "&mm->mmap_sem"}


def test_stepper_export_against_hand_written_expectations():
    """The export is checked against replay elsewhere (consistency); here it is
    checked against what a person expects of ABBA, written by hand."""
    from labkit.stepper.export import case_json, walk
    data = case_json("abba")
    steps = walk(data, "before", "CPU0 CPU1 CPU0 CPU1")
    assert [(s["cpu"], s["text"], s["event"]) for s in steps] == [
        ("CPU0", "mutex_lock(&A);", "acquire"),
        ("CPU1", "mutex_lock(&B);", "acquire"),
        ("CPU0", "mutex_lock(&B);", "block"),
        ("CPU1", "mutex_lock(&A);", "block"),
    ]
    assert [f["kind"] for s in steps for f in s["findings"]] == ["deadlock"]
    assert steps[-1]["findings"][0]["message"] == "CPU0 waits for B held by CPU1; CPU1 waits for A held by CPU0"
    # The fixed order: the same first two clicks cannot both take a lock.
    after = walk(data, "after", "CPU0 CPU1")
    assert [(s["event"]) for s in after] == ["acquire", "block"]


def test_refcount_counts_up_and_down_and_the_last_put_runs_the_release():
    """Surviving mutant: a get that decremented the count went unnoticed."""
    from labkit.model import get, put
    m = Model("t", "ref")
    m.ref("r", 1)
    m.func("release", [step("release();")])
    m.func("f", [get("r"), put("r", "release"), put("r", "release")])
    m.cpu("CPU0", "f")
    t = replay(m.build(), "CPU0*")
    counts = [(s.event, s.detail.get("count")) for s in t.steps if "count" in s.detail]
    assert counts == [("get", 2), ("put", 1), ("release_call", 0)]
    assert [s.op.text for s in t.steps][-1] == "release();"


def test_a_wait_whose_condition_already_holds_does_not_sleep():
    """Surviving mutant: wait_event slept even when its condition held."""
    from labkit.model import wait_event
    m = Model("t", "wait")
    m.shared("done", True)
    m.func("f", [wait_event(var("done") == True), step("after();")])  # noqa: E712 - builds an Expr
    m.cpu("CPU0", "f")
    t = replay(m.build(), "CPU0*")
    assert [s.event for s in t.steps][0] != "sleep" and len(t.steps) == 2
