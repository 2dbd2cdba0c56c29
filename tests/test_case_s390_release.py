"""The s390 release_device case: VFIO's attach reaches a released device and
iommu_detach_group() WARNs; the posted s390 patch (never merged), the VFIO fix
upstream took, and the follow-up that removed its wait."""

import re

import pytest

from labkit.cases import get_case, program
from labkit.explore import explore
from labkit.semantics import DONE, WAIT, stack_of
from labkit.trace import replay

CASE = "s390_release"
VARIANTS = ("before", "proposed", "strict_lifetime", "disassociate")
WARN_KEY_TEXT = "iommu driver failed to attach the default/blocking domain"
# CPU0 (QEMU) takes group->mutex and enters attach_dev; CPU1 unbinds and releases
# the device; CPU0's attach then fails on the released device and WARNs.
SHORTEST = " ".join(["CPU0"] * 5 + ["CPU1"] * 12 + ["CPU0"] * 5)
# The same WARN with one preemption: CPU1 stops right after the release.
ONE_PREEMPTION = " ".join(["CPU1"] * 12 + ["CPU0"] * 10)


def verdict(variant, **kw):
    r = explore(program(CASE, variant), **kw)
    assert r.complete, r.stopped
    return r


def test_before_warns_in_iommu_detach_group_first():
    r = verdict("before")
    assert r.kinds() == {"warn"}
    warn, state = r.findings
    assert WARN_KEY_TEXT in warn.message and "iommu_detach_group" in warn.message
    assert warn.schedule == SHORTEST and warn.step == 22
    # The model's own state check comes second, on a longer schedule.
    assert state.key == ("invariant", "released device detached") and state.step > warn.step


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_the_fixes_find_nothing(variant):
    assert verdict(variant).findings == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_reduction_keeps_the_verdict(variant):
    with_r, without = verdict(variant), verdict(variant, reduction=False)
    assert with_r.states == without.states
    assert [(f.key, f.schedule) for f in with_r.findings] == [(f.key, f.schedule) for f in without.findings]


def test_the_warn_comes_from_an_attach_on_a_released_device():
    prog = program(CASE, "before")
    t = replay(prog, ONE_PREEMPTION)
    assert [f.kind for f in t.findings] == ["warn"] and t.findings[0].step == 22
    values = dict(zip((n for n, _ in prog.vars), t.steps[-1].after.vars))
    assert values["dev released"] is True and values["group->devices"] is True
    # CPU0 is inside iommu_detach_group, holding group->mutex, called from QEMU's ioctl.
    st = stack_of(prog, t.steps[-1].before, 0)
    assert st[-3:] == ("__vfio_group_unset_container", "vfio_iommu_type1_detach_group", "iommu_detach_group")
    assert "vfio_group_fops_unl_ioctl" in st and "vfio_iommu_type1_detach_group" in st
    # CPU1 had already unbound the driver: VFIO called the IOMMU API after the driver left.
    unbind = next(i for i, s in enumerate(t.steps) if s.cpu == "CPU1" and "the driver's reference" in s.op.text)
    attach = next(i for i, s in enumerate(t.steps) if s.cpu == "CPU0" and s.op.text.strip() == "ret = -EIO;")
    assert unbind < attach


def test_the_state_check_needs_the_attach_inside_release_device():
    r = verdict("before")
    state = r.findings[1]
    t = replay(program(CASE, "before"), state.schedule)
    values = dict(zip((n for n, _ in t.program.vars), t.final.vars))
    assert values["zdev->s390_domain"] == "blocking_domain" and values["group->devices"] is False
    assert all(th.status == DONE for th in t.final.threads)
    # CPU1's detach ran against VFIO's domain, the one it had read before CPU0's attach.
    detach = [s for s in t.steps if s.cpu == "CPU1" and "zdev->s390_domain == s390_domain" in s.text]
    assert len(detach) == 1 and detach[0].detail == {"taken": True}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("schedule", ["CPU0* CPU1*", "CPU1* CPU0* CPU1*"])
def test_serial_runs_are_clean(variant, schedule):
    # The bug needs the race: either path alone, then the other, is fine.
    t = replay(program(CASE, variant), schedule)
    assert t.findings == []
    assert all(th.status == DONE for th in t.final.threads)


def test_strict_lifetime_unbind_sleeps_until_the_group_fd_closes():
    prog = program(CASE, "strict_lifetime")
    t = replay(prog, "CPU1*")
    assert t.final.threads[1].status == WAIT
    assert "wait_for_completion(&group->users_comp)" in t.steps[-1].op.text
    # Nothing of device_del() has run: release_device() waits behind QEMU.
    assert not any("release_device" in s.op.text for s in t.steps)
    t = replay(prog, "CPU1* CPU0* CPU1*")
    rel = next(i for i, s in enumerate(t.steps) if "ops->release_device" in s.op.text)
    assert max(i for i, s in enumerate(t.steps) if s.cpu == "CPU0") < rel


def test_disassociate_unbind_detaches_the_container_itself():
    prog = program(CASE, "disassociate")
    t = replay(prog, "CPU1* CPU0*")
    by = [s.cpu for s in t.steps if "ops->attach_dev" in s.op.text]
    assert by == ["CPU1"]                           # the unbind detached it; QEMU's ioctl found no container
    assert any(s.cpu == "CPU0" and "if (!group->container)" in s.op.text and s.detail == {"taken": True}
               for s in t.steps)


def test_proposed_late_attach_leaves_at_once():
    # release_device runs first and clears dev_iommu_priv; the attach then returns 0 doing nothing.
    t = replay(program(CASE, "proposed"), " ".join(["CPU1"] * 9) + " CPU0*")
    assert [s.detail for s in t.steps if "dev_iommu_priv_get(dev)) goto out_unlock" in s.text] == [{"taken": True}]
    assert not any(s.cpu == "CPU0" and s.event == "assign" and s.text.startswith("zdev->s390_domain")
                   for s in t.steps)


def test_steps_read_like_the_kernel():
    for variant in VARIANTS:
        prog = program(CASE, variant)
        names = {f.name for f in prog.functions}
        assert names >= {"s390_iommu_attach_device", "s390_iommu_detach_device", "s390_iommu_release_device",
                         "iommu_release_device", "iommu_detach_group", "iommu_group_release_dma_owner",
                         "vfio_unregister_group_dev", "vfio_put_group", "pci_stop_and_remove_bus_device"}
        for fn in prog.functions:
            for op in fn.ops:
                assert op.text.strip(), (fn.name, op)
        cpu0, cpu1 = prog.cpus
        assert cpu0.comm == "qemu-system-s39" and "VFIO_GROUP_UNSET_CONTAINER" in cpu0.context
        assert "zpci_deconfigure_device" in cpu1.stack
    assert {l.cls for l in program(CASE, "proposed").locks} == {"&group->mutex", "&zdev->dma_domain_lock"}
    assert {l.cls for l in program(CASE, "disassociate").locks} == {"&group->mutex", "&group->group_lock"}
    # CPU1's stack at the detach inside release_device, outermost first.
    prog = program(CASE, "before")
    t = replay(prog, " ".join(["CPU1"] * 8))
    st = stack_of(prog, t.final, 1)
    assert st[-3:] == ("iommu_release_device", "s390_iommu_release_device", "s390_iommu_detach_device")
    assert {"device_del", "iommu_bus_notifier"} <= set(st)


def test_metadata():
    c = get_case(CASE)
    assert c.variant_ids == VARIANTS
    assert [v.expect for v in c.variants] == ["warn", "nothing", "nothing", "nothing"]
    assert c.title and len(c.summary) > 100 and c.simplifications and c.date == "2022-08" and c.kernels
    # The posted s390 patch: never merged, and nothing a student reads calls it the fix.
    assert c.fix.subject == "iommu/s390: Fix race with release_device ops"
    assert c.fix.commit is None and c.fix.status == "proposed, not merged"
    assert c.fix.link.startswith("https://lore.kernel.org/")
    proposed = c.variant("proposed")
    assert "not merged" in proposed.title and "not merged" in proposed.note
    assert "not merged" in c.summary
    assert (c.fixes.subject, c.fixes.commit) == ("iommu/s390: Tolerate repeat attach_dev calls", "fa7e9ecc5e1c")
    later = {f.commit: f for f in c.later}
    assert later["ca5f21b25749"].subject == "vfio: Follow a strict lifetime for struct iommu_group"
    assert "9ac8545199a1" in later["ca5f21b25749"].note          # its own Fixes: tag
    assert later["3dd59a7dcb97"].subject == "vfio: Make the group FD disassociate from the iommu_group"
    assert "ca5f21b25749" in later["3dd59a7dcb97"].note
    assert later["bf8d2dd2ed08"].subject == "iommu/s390: Fix duplicate domain attachments"
    for f in (c.fixes, *c.later):
        assert re.fullmatch(r"[0-9a-f]{12}", f.commit) and f.status == "merged", f
    assert "ca5f21b25749" in c.variant("strict_lifetime").title
    assert "3dd59a7dcb97" in c.variant("disassociate").title
    assert c.links and all(l.startswith("https://lore.kernel.org/") for l in c.links)
    assert [e.number for e in c.exercises] == [1, 2, 3, 4, 5]


def test_the_warn_report_is_the_one_in_the_commit_message(repo_root):
    text = (repo_root / "data" / "splats" / "s390_release_warn.log").read_text()
    assert WARN_KEY_TEXT in text
    assert "qemu-system-s39" in text and "6.0.0-rc3" in text
    for fn in ("iommu_detach_group", "vfio_iommu_type1_detach_group", "__vfio_group_unset_container",
               "vfio_group_fops_unl_ioctl", "__s390x_sys_ioctl"):
        assert fn in text
    assert "s390_release_warn.log" in (repo_root / "data" / "splats" / "SOURCES.md").read_text()
