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


def test_metadata():
    c = get_case(CASE_ID)
    assert c.title and len(c.summary) > 100
    assert c.variant_ids == ("before", "after")
    assert re.fullmatch(r"[0-9a-f]{12}", c.fix.commit)
    assert c.fix.subject == "iommufd: Add kAPI toward external drivers for kernel access"
    assert c.fixes is None
    for f in c.later:
        assert f.subject and (f.commit is None or re.fullmatch(r"[0-9a-f]{12}", f.commit))
    assert c.links and all(l.startswith("https://lore.kernel.org/") for l in c.links)
    assert re.fullmatch(r"\d{4}-\d{2}", c.date)
    assert "xa_lock" in c.simplifications
    for v in c.variants:
        assert v.title and v.expect and v.lockdep == ("CPU1*", "CPU0*")
