"""The iommufd_access case: verdicts, replayable findings, stacks and metadata."""
from __future__ import annotations

import re

import pytest

from labkit.cases import get_case, program
from labkit.explore import explore
from labkit.semantics import DONE
from labkit.trace import replay

CASE_ID = "iommufd_access"
EXPECTED = {"before": {"deadlock"}, "after": set()}
DESTROY = {"destroy_race": {"warn"}, "destroy_race_fixed": set()}

# The lockdep report in the seed, innermost frame first (primitives dropped).
REPORT_DESTROY = ("iommufd_object_destroy_user", "iommufd_access_destroy", "iommufd_test_staccess_release",
                  "__fput", "____fput", "task_work_run", "exit_to_user_mode_loop",
                  "exit_to_user_mode_prepare", "syscall_exit_to_user_mode", "do_syscall_64",
                  "entry_SYSCALL_64_after_hwframe")
REPORT_UNMAP = ("iommufd_test_access_unmap", "iommufd_access_notify_unmap", "iopt_unmap_iova_range",
                "iopt_unmap_iova", "iommufd_ioas_unmap", "iommufd_fops_ioctl", "__x64_sys_ioctl",
                "do_syscall_64", "entry_SYSCALL_64_after_hwframe")


@pytest.fixture(scope="module")
def results():
    return {v: explore(program(CASE_ID, v)) for v in EXPECTED}


def test_shortest_deadlock(results):
    (f,) = results["before"].findings
    # CPU0 takes destroy_rwsem for read and enters the callback; CPU1 takes
    # staccess->lock; CPU0 blocks on it; CPU1 walks into down_write and blocks.
    assert f.schedule == "CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU1 CPU0 CPU1 CPU1 CPU1 CPU1"
    assert f.step == 14
    assert set(f.cpus) == {"CPU0", "CPU1"}
    assert set(f.locks) == {"staccess->lock", "obj->destroy_rwsem"}
    assert "CPU1 waits for obj->destroy_rwsem held by CPU0" in f.message


def _lock_step(trace, cpu, lock, kinds=("mutex_lock", "down_write")):
    return next(s for s in trace.steps if s.cpu == cpu and s.op.kind in kinds and s.op.args[0] == lock)


def test_stacks_read_like_the_report():
    prog = program(CASE_ID, "before")
    # As lockdep saw it: the close first (on another access), then the unmap.
    close = replay(prog, "CPU1*")
    assert not close.findings and close.final.threads[1].status == DONE
    s = _lock_step(close, "CPU1", "obj->destroy_rwsem")
    assert s.stack[::-1] == REPORT_DESTROY
    assert [prog.locks[l].cls for l, _ in s.before.threads[1].held] == ["&staccess->lock"]

    unmap = replay(prog, "CPU0*")
    assert not unmap.findings and unmap.final.threads[0].status == DONE
    s = _lock_step(unmap, "CPU0", "staccess->lock")
    assert s.stack[::-1] == REPORT_UNMAP
    assert [prog.locks[l].cls for l, _ in s.before.threads[0].held] == ["&obj->destroy_rwsem"]
    assert prog.cpus[0].comm == "iommufd" and prog.cpus[0].pid == 404


def test_lock_classes_are_lockdeps():
    for v in EXPECTED:
        classes = {l.cls for l in program(CASE_ID, v).locks}
        assert classes == {"&obj->destroy_rwsem", "&staccess->lock"}
    for v in DESTROY:
        classes = {l.cls for l in program(CASE_ID, v).locks}
        assert classes == {"&obj->destroy_rwsem", "&xa->xa_lock"}


def test_destroy_waits_for_the_callback():
    """The guarantee behind the rule: once destroy has the rwsem, no callback
    can run, so freeing staccess afterwards is safe (no use after free)."""
    prog = program(CASE_ID, "after")
    # CPU0 is inside the callback (holds destroy_rwsem for read) ...
    t = replay(prog, "CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0")
    assert t.steps[-1].op.kind == "call"
    # ... so CPU1's close blocks in down_write until it is done.
    t = replay(prog, t.schedule + " CPU1*")
    assert t.runnable()["CPU1"] is not None and "obj->destroy_rwsem" in t.runnable()["CPU1"]
    t = replay(prog, t.schedule + " CPU0* CPU1*")
    assert not t.findings
    assert all(th.status == DONE for th in t.final.threads)


# --- IOMMU_DESTROY against the driver's destroy: 99f98a7c0d69 ---------------------------------

def test_destroy_race_is_syzbots_warn():
    """Before 99f98a7c0d69 IOMMU_DESTROY keeps a reference after dropping
    destroy_rwsem; a driver destroying its access then finds two references,
    not one, and iommufd_access_destroy() WARNs. Nothing deadlocks, nothing
    is freed twice: IOMMU_DESTROY then destroys the object itself."""
    prog = program(CASE_ID, "destroy_race")
    r = explore(prog)
    assert r.complete and {f.kind for f in r.findings} == {"warn"}
    (f,) = r.findings
    assert "WARN_ON(!was_destroyed)" in f.message and f.cpus == ("CPU1",)
    t = replay(prog, f.schedule)
    warn = t.steps[-1]
    assert warn.stack[-1] == "iommufd_access_destroy" and warn.op.text == "WARN_ON(!was_destroyed);"
    # The window: CPU0 holds a users reference but no longer the rwsem.
    window = next(s for s in t.steps if s.cpu == "CPU0" and s.op.text.startswith("iommufd_ref_to_users"))
    assert window.op.kind == "up_read"
    assert t.final.refs[prog.ref_index["obj->users"]] == 2
    # Let IOMMU_DESTROY finish: it destroys the object, once.
    done = replay(prog, f.schedule + " CPU0*")
    assert all(th.status == DONE for th in done.final.threads)
    assert done.final.refs[prog.ref_index["obj->users"]] == 0
    assert {g.kind for g in done.findings} == {"warn"}


def test_destroy_race_needs_the_window():
    """Either side alone first, nothing goes wrong: the driver destroys the
    access and IOMMU_DESTROY gets -ENOENT, or IOMMU_DESTROY gets -EBUSY."""
    prog = program(CASE_ID, "destroy_race")
    for sched in ("CPU1* CPU0*", "CPU0* CPU1*"):
        t = replay(prog, sched)
        assert not t.findings and all(th.status == DONE for th in t.final.threads)
        assert t.final.refs[prog.ref_index["obj->users"]] == 0


def test_destroy_race_fixed_takes_no_reference():
    prog = program(CASE_ID, "destroy_race_fixed")
    r = explore(prog)
    assert r.complete and not r.findings
    # IOMMU_DESTROY never touches destroy_rwsem and never raises the count.
    for name in ("iommufd_destroy", "iommufd_object_remove"):
        kinds = {op.kind for op in prog.function(name).ops}
        assert not kinds & {"down_read_trylock", "down_write", "up_read", "get", "get_not_zero"}
    # The WARN moved into __iommufd_object_destroy_user(), as in 99f98a7c0d69.
    assert any(op.kind == "warn_on" for op in prog.function("__iommufd_object_destroy_user").ops)
    assert not any(op.kind == "warn_on" for op in prog.function("iommufd_access_destroy").ops)


def test_destroy_variants_keep_lockdep_quiet():
    from labkit.lockdep import lockdep_run
    for v in DESTROY:
        assert lockdep_run(CASE_ID, v).reports == []


def test_metadata():
    c = get_case(CASE_ID)
    assert c.title and len(c.summary) > 100
    assert c.variant_ids == ("before", "after", "destroy_race", "destroy_race_fixed")
    assert c.fix.commit == "8d40205f6093" and c.fix.status == "merged"
    assert c.fix.subject == "iommufd: Add kAPI toward external drivers for kernel access"
    assert c.fixes is None
    for f in c.later:
        assert f.subject and f.status == "merged" and re.fullmatch(r"[0-9a-f]{12}", f.commit)
    # Checked upstream (see the case docstring): id and subject of each later commit.
    assert {f.commit: f.subject for f in c.later} == {
        "99f98a7c0d69": "iommufd: IOMMUFD_DESTROY should not increase the refcount",
        "83f7bc6fdfd2": "iommufd: Make destroy_rwsem use a lock class per object type",
        "6f9c4d8c468c": "iommufd: Do not UAF during iommufd_put_object()",
    }
    # Which kernels: destroy_rwsem from 6.2 to 6.6, said where a student reads it.
    for text in (c.kernels, c.summary):
        assert "6.2" in text and "6.6" in text and "6.7" in text
    assert "99f98a7c0d69" in c.summary and "99f98a7c0d69" in c.variant("destroy_race_fixed").title
    assert c.links and all(l.startswith("https://lore.kernel.org/") for l in c.links)
    assert re.fullmatch(r"\d{4}-\d{2}", c.date)
    assert "xa_lock" in c.simplifications
    for v in c.variants:
        assert v.title and v.expect
        assert v.lockdep == (("CPU1*", "CPU0*") if v.id in EXPECTED else ())
