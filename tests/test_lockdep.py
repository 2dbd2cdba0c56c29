"""The lockdep emulator: what it reports, when, and in the kernel's layout."""

from labkit.cases import program
from labkit.lockdep import Lockdep, lockdep_run
from labkit.model import Model, down_read, down_write, mutex_lock, mutex_unlock, up_read, up_write
from labkit.trace import replay


def sections(text):
    """The report's fixed lines, in order (what a reader scans for)."""
    keys = ["WARNING: possible circular locking dependency detected", "is trying to acquire lock:",
            "but task is already holding lock:", "which lock already depends on the new lock.",
            "the existing dependency chain (in reverse order) is:", "-> #1 (", "-> #0 (",
            "other info that might help us debug this:", " Possible unsafe locking scenario:",
            "       CPU0                    CPU1", " *** DEADLOCK ***", "lock held by", "stack backtrace:"]
    pos = [text.find(k) for k in keys]
    assert all(p >= 0 for p in pos), [k for k, p in zip(keys, pos) if p < 0]
    return pos


def test_serial_bug_free_run_still_reports_abba():
    # Each cpu alone, one after the other: nothing ever blocks, lockdep still sees it.
    t1 = replay(program("abba", "before"), "CPU0* CPU1*")
    assert t1.findings == []
    ld = Lockdep().observe(t1)
    (r,) = ld.reports
    assert (r.kind, r.task, r.acquiring, r.held, r.chain) == ("circular", "task_two/101", "A", "B", ("B", "A"))
    pos = sections(r.text)
    assert pos == sorted(pos)
    assert r.scenario == (("CPU0", "lock(B)"), ("CPU1", "lock(A)"), ("CPU1", "lock(B)"), ("CPU0", "lock(A)"))
    assert "1 lock held by task_two/101:\n #0: " in r.text
    assert "-> #1 (B){+.+.}-{3:3}:\n       lock_acquire\n       __mutex_lock\n       mutex_lock_nested\n" \
           "       path_one\n       sys_ioctl\n" in r.text


def test_ordered_locking_is_quiet():
    assert lockdep_run("abba", "after").reports == []
    assert lockdep_run("abba", "after").text().startswith("lockdep: no report")


def test_three_classes_print_chain_exists_of():
    (r,) = lockdep_run("philosophers", "n3").reports
    assert r.chain == ("fork2", "fork1", "fork0")
    assert r.chain_exists_of == ("fork0", "fork1", "fork2")
    assert "Chain exists of:\n  fork0 --> fork1 --> fork2\n" in r.text


def test_recursive_locking_of_the_last_put():
    (r,) = lockdep_run("last_put", "before").reports
    assert r.kind == "recursive" and r.acquiring == r.held == "list_lock"
    assert "WARNING: possible recursive locking detected" in r.text
    assert " May be due to missing lock nesting notation" in r.text
    assert "Call Trace:\n lock_acquire\n __mutex_lock\n mutex_lock_nested\n obj_release\n user_done\n" in r.text


def test_rwsem_reader_rules():
    # down_read is a non-recursive reader: it can wait behind a queued writer, so
    # read -> D and D -> read is a deadlock; a reader-preferring lock's readers are
    # recursive and the same cycle is harmless.
    (r,) = lockdep_run("rwsem_fairness", "writer_pref").reports
    assert (r.acquiring, r.held) == ("sem", "D")
    assert "rlock(sem);" in r.text
    assert lockdep_run("rwsem_fairness", "reader_pref").reports == []


def test_recursive_read_of_a_linux_rwsem_is_reported():
    m = Model("t", "rr")
    m.rwsem("sem")
    m.func("f", [down_read("sem"), down_read("sem"), up_read("sem"), up_read("sem")])
    m.cpu("CPU0", "f")
    ld = Lockdep().observe(replay(m.build(), "CPU0 CPU0"))
    assert [r.kind for r in ld.reports] == ["recursive"]


def test_lockdep_turns_off_after_one_report_unless_keep_going():
    m = Model("t", "two_cycles")
    for n in "ABCD":
        m.mutex(n)
    pairs = [("A", "B"), ("B", "A"), ("C", "D"), ("D", "C")]
    for i, (x, y) in enumerate(pairs):
        m.func(f"f{i}", [mutex_lock(x), mutex_lock(y), mutex_unlock(y), mutex_unlock(x)])
        m.cpu(f"CPU{i}", f"f{i}")
    prog = m.build()
    t = replay(prog, "CPU0* CPU1* CPU2* CPU3*")
    assert len(Lockdep().observe(t).reports) == 1
    assert [(r.acquiring, r.held) for r in Lockdep(keep_going=True).observe(t).reports] == [("A", "B"), ("C", "D")]


def test_classes_persist_across_fresh_runs():
    prog = program("abba", "before")
    ld = Lockdep()
    ld.observe(replay(prog, "CPU0*"))
    assert ld.reports == [] and ld.graph.has_edge("A", "B")
    ld.observe(replay(prog, "CPU1*"))
    assert len(ld.reports) == 1
    assert ld.graph.edges["A", "B"]["stack"][-2:] == ("path_one", "sys_ioctl")


def test_writer_then_reader_edges_are_typed():
    m = Model("t", "types")
    m.rwsem("sem")
    m.mutex("M")
    m.func("f", [down_write("sem"), mutex_lock("M"), mutex_unlock("M"), up_write("sem"),
                 mutex_lock("M"), down_read("sem"), up_read("sem"), mutex_unlock("M")])
    m.cpu("CPU0", "f")
    ld = Lockdep().observe(replay(m.build(), "CPU0*"))
    assert ld.graph.edges["sem", "M"]["types"] == {("E", "N")}
    assert [r.kind for r in ld.reports] == ["circular"]


def test_every_emulator_report_parses_back_with_the_real_world_parser():
    # The emulator prints the kernel's layout closely enough that the parser
    # built for real reports reads it back to the same facts.
    from labkit.cases import all_cases
    from labkit.splat import parse
    keys = ["kind", "task_comm", "acquiring_lock", "held_lock", "chain", "chain_exists_of", "scenario",
            "locks_held_count"]
    seen = 0
    for case in all_cases():
        for v in case.variant_ids:
            for r in lockdep_run(case.id, v).reports:
                got = parse(r.text, source=f"{case.id}/{v}").to_json()
                assert {k: got[k] for k in keys} == {k: r.to_json()[k] for k in keys}, (case.id, v)
                seen += 1
    assert seen >= 5
