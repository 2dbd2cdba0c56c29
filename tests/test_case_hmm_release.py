"""The hmm_release case: a use after free, its fix, the rule the fix imposes on
drivers, and Ralph Campbell's three-thread deadlock (which the fix did not cause)."""

import re

import pytest

from labkit.cases import get_case, program
from labkit.explore import explore
from labkit.semantics import DONE
from labkit.trace import replay

CASE = "hmm_release"
# CPU0 enters nouveau_svmm_fini(); CPU1 unlinks the mirror and drops mirrors_sem;
# CPU0 unregisters (nothing left to wait for) and frees; CPU1 calls ops->release.
UAF = "CPU0 CPU1 CPU1 CPU1 CPU1 CPU0 CPU0 CPU0 CPU0 CPU1"
# A: down_read, into the callback; B: down_write queues; C: takes device_lock;
# A blocks on device_lock; C goes into migrate_vma and its down_read queues behind B.
DEADLOCK = "CPU0 CPU0 CPU0 CPU0 CPU1 CPU2 CPU0 CPU2 CPU2 CPU2 CPU2"
EXPECTED = {"before": {"use_after_free"}, "after": set(), "release_unregisters": {"deadlock"},
            "three_threads": {"deadlock"}, "three_threads_reader_pref": set()}


def verdict(variant, **kw):
    r = explore(program(CASE, variant), **kw)
    assert r.complete, r.stopped
    return r


def test_use_after_free_is_ops_release_after_kfree():
    (f,) = verdict("before").findings
    assert (f.kind, f.schedule, f.cpus) == ("use_after_free", UAF, ("CPU1",))
    t = replay(program(CASE, "before"), f.schedule)
    (kfree,) = [s for s in t.steps if s.event == "free"]
    (release,) = [s for s in t.steps if s.event == "use"]
    assert kfree.cpu == "CPU0" and "kfree" in kfree.text
    assert release.cpu == "CPU1" and "mirror->ops->release(mirror)" in release.text
    assert kfree.index < release.index == len(t.steps) - 1
    # The window: CPU1 dropped mirrors_sem, and CPU0 took and released it, before the free.
    up = next(s for s in t.steps if s.cpu == "CPU1" and s.event == "release")
    down = next(s for s in t.steps if s.cpu == "CPU0" and s.event == "acquire")
    assert up.index < down.index < kfree.index
    assert "hmm_release" in release.stack and "exit_mmap" in release.stack
    assert "nouveau_svmm_fini" in kfree.stack


@pytest.mark.parametrize("schedule", ["CPU0* CPU1*", "CPU1* CPU0*"])
@pytest.mark.parametrize("variant", ["before", "after"])
def test_serial_runs_are_clean(variant, schedule):
    t = replay(program(CASE, variant), schedule)
    assert t.findings == []
    assert all(th.status == DONE for th in t.final.threads)


def test_after_holds_the_read_lock_across_the_callback():
    prog = program(CASE, "after")
    ops = prog.function("hmm_release").ops
    kinds = [op.kind for op in ops]
    assert kinds.index("down_read") < kinds.index("use") < kinds.index("up_read")
    assert "up_write" not in kinds
    # The unregister path's down_write now waits for the walk to finish.
    t = replay(prog, "CPU1 CPU1 CPU0 CPU0")
    assert t.steps[-1].event == "block" and t.steps[-1].detail["lock"] == "mirrors_sem"


def test_a_release_op_that_unregisters_waits_for_itself():
    # The rule 14331726a3c4 imposes: hmm_mirror_unregister() from a release op
    # takes down_write under its own thread's down_read. One thread, every run.
    (f,) = verdict("release_unregisters").findings
    assert f.kind == "deadlock" and f.cpus == ("CPU0",) and f.locks == ("mirrors_sem",)
    assert "already holds" in f.message
    t = replay(program(CASE, "release_unregisters"), "CPU0*")
    (block,) = [s for s in t.steps if s.event == "block"]
    assert block.op.kind == "down_write" and block.stack[-1] == "hmm_mirror_unregister"
    assert "drv_mirror_release" in block.stack and "hmm_release" in block.stack
    sem = program(CASE, "release_unregisters").lock_index["mirrors_sem"]
    assert 0 in block.before.readers[sem]     # CPU0 itself holds it for read


def test_lockdep_calls_read_then_write_of_one_class_recursive():
    from labkit.lockdep import lockdep_run
    (r,) = lockdep_run(CASE, "release_unregisters").reports
    assert r.kind == "recursive"
    assert r.acquiring == r.held == "&hmm->mirrors_sem"
    # The kernel's recursive-locking scenario prints lock() for both, reads included.
    assert "  lock(&hmm->mirrors_sem);\n  lock(&hmm->mirrors_sem);" in r.text
    assert "possible recursive locking detected" in r.text


def test_three_threads_deadlock_has_all_three_cpus():
    # Thread A is in hmm_invalidate_range_start(), not hmm_release(): the fix did not cause it.
    prog = program(CASE, "three_threads")
    assert "hmm_release" not in {fn for c in prog.cpus for fn in prog.reachable(c.entry)}
    (f,) = verdict("three_threads").findings
    assert f.kind == "deadlock" and f.schedule == DEADLOCK
    assert sorted(f.cpus) == ["CPU0", "CPU1", "CPU2"]
    assert set(f.locks) == {"mirrors_sem", "device_lock"}
    t = replay(program(CASE, "three_threads"), DEADLOCK)
    blocked = {s.cpu: s.detail["lock"] for s in t.steps if s.event == "block"}
    assert blocked == {"CPU0": "device_lock", "CPU1": "mirrors_sem", "CPU2": "mirrors_sem"}


def test_reader_preference_lets_thread_c_through():
    # The deadlocking schedule up to C's down_read: with a reader-preferring rwsem
    # C gets the read lock although B waits, and everyone finishes.
    t = replay(program(CASE, "three_threads_reader_pref"), DEADLOCK + " CPU2*")
    assert t.steps[len(DEADLOCK.split()) - 1].event == "acquire"
    t = replay(program(CASE, "three_threads_reader_pref"), DEADLOCK + " CPU2* CPU0* CPU1*")
    assert t.findings == [] and all(th.status == DONE for th in t.final.threads)


def test_lock_classes_and_rwsem_preference():
    for variant in EXPECTED:
        (sem,) = [l for l in program(CASE, variant).locks if l.name == "mirrors_sem"]
        assert sem.cls == "&hmm->mirrors_sem"
        assert sem.reader_pref == (variant == "three_threads_reader_pref")
    assert {l.cls for l in program(CASE, "three_threads").locks} == {"&hmm->mirrors_sem", "&drv->device_lock"}


def test_lockdep_sees_the_cycle_only_for_the_linux_rwsem():
    from labkit.lockdep import lockdep_run
    (r,) = lockdep_run(CASE, "three_threads").reports
    assert r.kind == "circular" and set(r.chain) == {"&hmm->mirrors_sem", "&drv->device_lock"}
    assert lockdep_run(CASE, "three_threads_reader_pref").reports == []


def test_metadata():
    c = get_case(CASE)
    assert c.variant_ids == ("before", "after", "release_unregisters", "three_threads", "three_threads_reader_pref")
    assert [v.expect for v in c.variants] == ["use_after_free", "nothing", "deadlock", "deadlock", "nothing"]
    assert c.title and len(c.summary) > 100 and c.simplifications and c.date == "2019-06"
    assert (c.fix.subject, c.fix.commit) == (
        "mm/hmm: Remove confusing comment and logic from hmm_release", "14331726a3c4")
    assert c.fixes is None               # the patch has no Fixes: tag
    for f in (c.fix, *c.later):
        assert re.fullmatch(r"[0-9a-f]{12}", f.commit), f
    assert "a22dd506400d" in {f.commit for f in c.later}
    assert c.links and all(l.startswith("https://lore.kernel.org/") for l in c.links)


def test_story_tells_the_causality_and_labels_what_is_invented():
    c = get_case(CASE)
    notes = {v.id: v.note for v in c.variants}
    assert notes["three_threads_reader_pref"].startswith("hypothetical") and "no reader-preferring" in notes[
        "three_threads_reader_pref"]
    assert "drv->migrating is invented" in notes["three_threads"]
    assert "invented" in notes["release_unregisters"]
    assert "not caused by the fix" in c.variant("three_threads").title
    text = " ".join([c.summary, c.simplifications, c.title, c.kernels] + [v.title + v.note for v in c.variants])
    assert "writer-prefer" not in text      # Linux's rwsem queues in order; it is not writer-preferring
    assert "did not cause" in c.summary and "hmm_invalidate_range_start" in c.summary
    assert "register or unregister a mirror" in c.summary
    assert "v5.3" in c.kernels


def test_exercises_rise_from_a_schedule_to_fixes():
    c = get_case(CASE)
    assert [(e.number, e.kind, e.variant) for e in c.exercises] == [
        (1, "schedule", "before"), (2, "verdict", "three_threads_reader_pref"),
        (3, "fix", "before"), (4, "fix", "three_threads")]
