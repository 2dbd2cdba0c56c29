"""Each primitive's kernel semantics, one small model at a time."""

import pytest

from labkit.errors import ModelError, ScheduleError
from labkit.explore import explore
from labkit.model import (Model, alive, alloc, assign, call, complete, down_read, down_read_trylock, down_write,
                          free, get, get_not_zero, goto, if_, label, let, local, mutex_lock, mutex_trylock,
                          mutex_unlock, put, refcount, ret, spin_lock, spin_unlock, step, up_read, up_write,
                          use, var, wait_event, warn_on)
from labkit.semantics import DONE, READ, WAIT, WRITE
from labkit.trace import replay


def two_cpus(body0, body1, setup=lambda m: None, **cpu_kw):
    m = Model("t", "v")
    setup(m)
    m.func("f0", body0)
    m.func("f1", body1)
    m.cpu("CPU0", "f0", **cpu_kw)
    m.cpu("CPU1", "f1")
    return m.build()


def locks(m):
    m.mutex("A")
    m.mutex("B")
    m.spinlock("S")
    m.rwsem("sem")


# --- mutex and spinlock ------------------------------------------------------

def test_mutex_excludes_and_blocking_is_its_own_step():
    p = two_cpus([mutex_lock("A"), mutex_unlock("A")], [mutex_lock("A"), mutex_unlock("A")], locks)
    t = replay(p, "CPU0 CPU1")
    assert [s.event for s in t.steps] == ["acquire", "block"]
    assert t.final.threads[1].status == WAIT
    assert t.runnable()["CPU1"] == "CPU1 waits for A held by CPU0"
    t = replay(p, "CPU0 CPU1 CPU0 CPU1 CPU1")
    assert [s.event for s in t.steps] == ["acquire", "block", "release", "acquire", "release"]
    assert all(th.status == DONE for th in t.final.threads)


def test_mutex_aa_is_a_self_deadlock():
    p = two_cpus([mutex_lock("A"), mutex_lock("A")], [step("x;")], locks)
    t = replay(p, "CPU0 CPU0")
    (f,) = t.findings
    assert f.kind == "deadlock" and f.cpus == ("CPU0",)
    assert "CPU0 waits for A, which it already holds" in f.message


def test_spinlock_same_rules():
    p = two_cpus([spin_lock("S"), spin_unlock("S")], [spin_lock("S"), spin_unlock("S")], locks)
    assert replay(p, "CPU0 CPU1").steps[1].event == "block"
    assert explore(p).findings == []


def test_wrong_lock_kind_is_a_model_error():
    with pytest.raises(ModelError, match=r"mutex_lock\(\) needs a mutex, but 'sem' is a rwsem"):
        two_cpus([mutex_lock("sem")], [step("x;")], locks)


# --- rw_semaphore -------------------------------------------------------------

def test_readers_share_writers_exclude():
    p = two_cpus([down_read("sem"), up_read("sem")], [down_read("sem"), up_read("sem")], locks)
    t = replay(p, "CPU0 CPU1")
    assert t.final.readers[p.lock_index["sem"]] == (0, 1)
    p = two_cpus([down_read("sem"), up_read("sem")], [down_write("sem"), up_write("sem")], locks)
    assert replay(p, "CPU0 CPU1").steps[1].event == "block"


def test_writer_preference_queued_writer_blocks_new_readers():
    m = Model("t", "v")
    m.rwsem("sem")
    m.func("r", [down_read("sem"), up_read("sem")])
    m.func("w", [down_write("sem"), up_write("sem")])
    m.cpu("CPU0", "r"); m.cpu("CPU1", "w"); m.cpu("CPU2", "r")
    p = m.build()
    t = replay(p, "CPU0 CPU1 CPU2")
    assert [s.event for s in t.steps] == ["acquire", "block", "block"]
    assert t.final.queue[0] == ((1, WRITE), (2, READ))
    # The writer goes first once the reader leaves; then the queued reader.
    # Readers never exclude each other: CPU2 waits only for the writer queued ahead of it.
    assert t.runnable()["CPU2"] == "CPU2 waits for sem queued ahead by CPU1 (a waiting writer)"
    t = replay(p, "CPU0 CPU1 CPU2 CPU0")
    assert t.runnable()["CPU1"] is None
    assert t.runnable()["CPU2"] == "CPU2 waits for sem queued ahead by CPU1 (a waiting writer)"


def test_reader_preference_lets_readers_pass_a_queued_writer():
    m = Model("t", "v")
    m.rwsem("sem", reader_pref=True)
    m.func("r", [down_read("sem"), up_read("sem")])
    m.func("w", [down_write("sem"), up_write("sem")])
    m.cpu("CPU0", "r"); m.cpu("CPU1", "w"); m.cpu("CPU2", "r")
    t = replay(m.build(), "CPU0 CPU1 CPU2")
    assert [s.event for s in t.steps] == ["acquire", "block", "acquire"]


def test_trylocks_never_block():
    p = two_cpus([mutex_lock("A"), step("x;"), mutex_unlock("A")],
                 [mutex_trylock("A", "ok"), if_(local("ok"), "got"), step("busy;"), goto("end"),
                  label("got"), mutex_unlock("A"), label("end"), step("done;")], locks)
    t = replay(p, "CPU0 CPU1 CPU1 CPU1 CPU1 CPU1")
    assert t.steps[1].event == "trylock" and t.steps[1].detail["ok"] is False
    assert [s.text for s in t.steps[2:]] == ["if ($ok) goto got;", "busy;", "goto end;", "done;"]
    p2 = two_cpus([step("x;")], [down_read_trylock("sem", "ok"), up_read("sem")], locks)
    assert replay(p2, "CPU1 CPU1").final.readers[p2.lock_index["sem"]] == ()


# --- refcounts: the last put runs the release in the putter's context -------

def test_last_put_runs_release_in_putters_context_under_its_locks():
    def setup(m):
        locks(m)
        m.ref("kref", 2)
        m.func("release", [mutex_lock("B"), step("list_del();"), mutex_unlock("B")])
    p = two_cpus([put("kref", "release")],
                 [mutex_lock("A"), put("kref", "release"), mutex_unlock("A")], setup)
    t = replay(p, "CPU0 CPU1 CPU1 CPU1")
    assert t.steps[0].event == "put" and t.steps[2].event == "release_call"
    # The release's mutex_lock(B) runs on CPU1, inside release(), while CPU1 holds A.
    s = t.steps[3]
    assert s.cpu == "CPU1" and s.stack[-1] == "release" and s.event == "acquire"
    assert [l for l, _ in s.after.threads[1].held] == [0, 1]


def test_refcount_underflow_and_addition_on_zero_are_findings():
    def setup(m):
        m.ref("r", 1)
    p = two_cpus([put("r"), put("r")], [get("r")], setup)
    t = replay(p, "CPU0 CPU0")
    assert [f.kind for f in t.findings] == ["refcount"] and "underflow" in t.findings[0].message
    t = replay(p, "CPU0 CPU1")
    assert [f.kind for f in t.findings] == ["refcount"] and "addition on 0" in t.findings[0].message
    p2 = two_cpus([put("r"), get_not_zero("r", "ok"), warn_on(local("ok"))], [step("x;")], setup)
    assert replay(p2, "CPU0 CPU0 CPU0").findings == []


# --- object lifetime ----------------------------------------------------------

def test_use_after_free_and_double_free():
    def setup(m):
        m.object("obj")
    p = two_cpus([free("obj")], [use("obj"), free("obj")], setup)
    t = replay(p, "CPU0 CPU1")
    assert [f.kind for f in t.findings] == ["use_after_free"]
    assert t.final.broken and t.runnable()["CPU1"].startswith("memory is corrupted")
    kinds = {f.kind for f in explore(p).findings}
    assert kinds == {"use_after_free", "double_free"}


def test_alloc_and_use_before_alloc():
    def setup(m):
        m.object("obj", allocated=False)
    p = two_cpus([alloc("obj"), use("obj")], [use("obj")], setup)
    assert replay(p, "CPU0 CPU0").findings == []
    with pytest.raises(ModelError, match=r"CPU1 in f1\(\), step 'use\(obj\);': obj is used before it is allocated"):
        replay(p, "CPU1")


# --- waits, WARN, invariants, data ---------------------------------------------

def test_wait_event_sleeps_until_complete():
    def setup(m):
        m.shared("done", False)
    p = two_cpus([wait_event(var("done") == True), step("after;")], [complete("done")], setup)  # noqa: E712
    t = replay(p, "CPU0")
    assert t.steps[0].event == "sleep"
    with pytest.raises(ScheduleError, match=r"step 2 of the schedule: CPU0 cannot run: CPU0 sleeps in"):
        replay(p, "CPU0 CPU0")
    t = replay(p, "CPU0 CPU1 CPU0 CPU0")
    assert [s.event for s in t.steps] == ["sleep", "assign", "wake", "step"]


def test_sleep_nobody_ends_is_a_deadlock_finding():
    def setup(m):
        m.shared("done", False)
    p = two_cpus([wait_event(var("done") == True)], [step("x;")], setup)  # noqa: E712
    (f,) = explore(p).findings
    assert f.kind == "deadlock" and f.message.startswith("no cpu can run: CPU0 sleeps")


def test_warn_on_and_invariants():
    def setup(m):
        m.shared("attached", False)
        m.invariant("detached_at_end", var("attached") == False, "device still attached", when="end")  # noqa: E712
    p = two_cpus([assign("attached", True), warn_on(var("attached") == True)], [assign("attached", False)], setup)
    kinds = {(f.kind, f.message) for f in explore(p).findings}
    assert ("warn", "device still attached") in kinds
    assert ("warn", "WARNING in f0: WARN_ON(attached == True)") in kinds


def test_cpu_returning_with_a_lock_held_is_reported():
    p = two_cpus([mutex_lock("A")], [step("x;")], locks)
    (f,) = replay(p, "CPU0").findings
    assert f.kind == "warn" and "returns to user space still holding A" in f.message


def test_calls_returns_and_stack():
    def setup(m):
        locks(m)
        m.func("inner", [mutex_lock("A"), ret("return 0;"), step("unreachable;")], via=("middle",))
    p = two_cpus([call("inner"), mutex_unlock("A")], [step("x;")], setup, stack=("sys_ioctl",))
    t = replay(p, "CPU0 CPU0 CPU0 CPU0")
    assert t.steps[1].stack == ("sys_ioctl", "f0", "middle", "inner")
    assert [s.text for s in t.steps] == ["inner();", "mutex_lock(&A);", "return 0;", "mutex_unlock(&A);"]


def test_let_reads_shared_into_a_local_for_check_then_act():
    def setup(m):
        m.shared("ptr", "dom")
    p = two_cpus([let("seen", var("ptr")), if_(local("seen") == None, "out"), warn_on(var("ptr") == None),  # noqa: E711
                  label("out"), step("return;")],
                 [assign("ptr", None)], setup)
    kinds = [f.kind for f in explore(p).findings]
    assert kinds == ["warn"]   # only when CPU1 clears ptr between the check and the use


def test_refcount_expr_and_alive_expr():
    def setup(m):
        m.ref("r", 1)
        m.object("o")
    p = two_cpus([warn_on(refcount("r") == 0), warn_on(~alive("o"))], [put("r"), free("o")], setup)
    assert {f.message for f in explore(p).findings} == {
        "WARNING in f0: WARN_ON(refcount(r) == 0)", "WARNING in f0: WARN_ON(!alive(o))"}


def test_a_call_site_can_name_its_own_intermediate_frames():
    def setup(m):
        locks(m)
        m.func("inner", [mutex_lock("A"), mutex_unlock("A")], via=("default_path",))
    p = two_cpus([call("inner"), call("inner", via=("route_a", "route_b"))], [step("x;")], setup)
    t = replay(p, "CPU0 CPU0 CPU0 CPU0 CPU0")
    assert t.steps[1].stack == ("f0", "default_path", "inner")
    assert t.steps[4].stack == ("f0", "route_a", "route_b", "inner")
