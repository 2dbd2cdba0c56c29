"""The s390 release_device case: the race leaves a released device attached; the v4 patch does not."""

import re

import pytest

from labkit.cases import get_case, program
from labkit.explore import explore
from labkit.semantics import DONE, stack_of
from labkit.trace import replay

CASE = "s390_release"
# CPU0 attaches the blocking domain; CPU1 reads group->domain (still VFIO's) before
# CPU0 publishes the new one; CPU1's detach then misses, CPU1 leaves the group, and
# CPU0's detach_dev finds no device to detach.
SHORTEST = ("CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU1 CPU1 CPU1 CPU0 CPU0 CPU0 "
            "CPU1 CPU1 CPU1 CPU1 CPU1 CPU1 CPU0 CPU0 CPU0 CPU0")


def verdict(variant, **kw):
    r = explore(program(CASE, variant), **kw)
    assert r.complete, r.stopped
    return r


def test_before_leaves_the_released_device_attached_without_dma():
    r = verdict("before")
    assert r.kinds() == {"warn"}
    assert sorted(f.key for f in r.findings) == [("invariant", "DMA API re-initialised"),
                                                 ("invariant", "released device detached")]
    assert [f.schedule for f in r.findings] == [SHORTEST, SHORTEST]


def test_after_finds_nothing():
    assert verdict("after").findings == []


@pytest.mark.parametrize("variant", ["before", "after"])
def test_reduction_keeps_the_verdict(variant):
    with_r, without = verdict(variant), verdict(variant, reduction=False)
    assert with_r.states == without.states
    assert [(f.key, f.schedule) for f in with_r.findings] == [(f.key, f.schedule) for f in without.findings]


def test_the_race_ends_in_the_bad_state():
    t = replay(program(CASE, "before"), SHORTEST)
    assert all(th.status == DONE for th in t.final.threads)
    values = dict(zip((n for n, _ in t.program.vars), t.final.vars))
    assert values["zdev->s390_domain"] == "blocking_domain"
    assert values["zdev->dma_table"] == "blocking_domain"
    assert values["group->devices"] is False
    # CPU1's detach ran against VFIO's domain, the one it had read before CPU0's attach.
    detach = [s for s in t.steps if s.cpu == "CPU1" and "zdev->s390_domain == s390_domain" in s.text]
    assert len(detach) == 1 and detach[0].detail == {"taken": True}
    assert t.steps[-1].before.threads[1].locals[t.program.local_index["domain"]] == "vfio_domain"


@pytest.mark.parametrize("schedule", ["CPU0* CPU1*", "CPU1* CPU0*"])
def test_serial_runs_are_clean(schedule):
    # The bug needs the race: either path alone, then the other, is fine.
    for variant in ("before", "after"):
        t = replay(program(CASE, variant), schedule)
        assert t.findings == []
        assert all(th.status == DONE for th in t.final.threads)


def test_after_late_attach_leaves_at_once():
    # release_device runs first and clears dev_iommu_priv; the attach then bails out.
    t = replay(program(CASE, "after"), "CPU1 CPU1 CPU1 CPU1 CPU0*")
    assert [s.detail for s in t.steps if "dev_iommu_priv_get(dev)) goto out_unlock" in s.text] == [{"taken": True}]
    assert not any(s.cpu == "CPU0" and s.event == "assign" and s.text.startswith("zdev->s390_domain")
                   for s in t.steps)


def test_steps_read_like_the_kernel():
    for variant in ("before", "after"):
        prog = program(CASE, variant)
        assert {f.name for f in prog.functions} >= {
            "s390_iommu_attach_device", "s390_iommu_detach_device", "s390_iommu_release_device",
            "iommu_release_device", "iommu_detach_group", "iommu_group_release_dma_owner",
            "__vfio_group_unset_container"}
        for fn in prog.functions:
            for op in fn.ops:
                assert op.text.strip(), (fn.name, op)
        cpu0, cpu1 = prog.cpus
        assert "vfio_group_fops_unl_ioctl" in cpu0.stack and "VFIO_GROUP_UNSET_CONTAINER" in cpu0.context
        assert {"device_del", "iommu_bus_notifier"} <= set(cpu1.stack)
    after = program(CASE, "after")
    assert {l.cls for l in after.locks} == {"&group->mutex", "&zdev->dma_domain_lock"}
    # CPU1's stack at the detach inside release_device, outermost first.
    t = replay(after, "CPU1 CPU1 CPU1 CPU1 CPU1 CPU1 CPU1")
    st = stack_of(after, t.final, 1)
    assert st[-3:] == ("iommu_release_device", "s390_iommu_release_device", "s390_iommu_detach_device")


def test_metadata():
    c = get_case(CASE)
    assert c.variant_ids == ("before", "after")
    assert [v.expect for v in c.variants] == ["warn", "nothing"]
    assert c.title and len(c.summary) > 100 and c.simplifications and c.date == "2022-08"
    assert c.fix.subject == "iommu/s390: Fix race with release_device ops"
    assert c.fix.commit is None          # never merged: the race was fixed in VFIO instead
    assert c.fix.link.startswith("https://lore.kernel.org/")
    assert (c.fixes.subject, c.fixes.commit) == ("iommu/s390: Tolerate repeat attach_dev calls", "fa7e9ecc5e1c")
    for f in (c.fixes, *c.later):
        assert re.fullmatch(r"[0-9a-f]{12}", f.commit), f
    assert "ca5f21b25749" in {f.commit for f in c.later}
    assert c.links and all(l.startswith("https://lore.kernel.org/") for l in c.links)
