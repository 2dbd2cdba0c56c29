"""The kvm_vfio case: verdicts, replayable findings, stacks and metadata."""
from __future__ import annotations

import re

import pytest

from labkit.cases import get_case, program
from labkit.explore import explore
from labkit.semantics import DONE
from labkit.trace import replay

CASE_ID = "kvm_vfio"
EXPECTED = {"before": {"deadlock"}, "after": {"deadlock"}, "half_fix": {"deadlock"}, "final": set()}

# Call chains from the seed, innermost first.
COMMIT_CHAIN = ("vfio_file_set_kvm", "kvm_vfio_file_set_kvm", "kvm_vfio_destroy", "kvm_destroy_devices",
                "kvm_destroy_vm", "kvm_put_kvm")
REPORT_RELEASE = ("vfio_file_set_kvm", "kvm_vfio_release", "kvm_device_release", "__fput", "task_work_run",
                  "do_exit", "do_group_exit", "get_signal", "arch_do_signal_or_restart",
                  "exit_to_user_mode_loop", "exit_to_user_mode_prepare", "__do_syscall", "system_call")
REPORT_OPEN_DEV_SET = ("vfio_device_open", "vfio_device_open_file", "vfio_group_fops_unl_ioctl",
                       "__s390x_sys_ioctl", "do_syscall", "__do_syscall", "system_call")
REPORT_OPEN_DRIVER = ("vfio_ap_mdev_open_device",) + REPORT_OPEN_DEV_SET


@pytest.fixture(scope="module")
def results():
    return {v: explore(program(CASE_ID, v)) for v in EXPECTED}


def _is_subsequence(small, big) -> bool:
    it = iter(big)
    return all(x in it for x in small)


def test_before_is_an_aa_deadlock_of_the_vfio_close(results):
    (f,) = results["before"].findings
    # CPU0 gets into vfio_ap's close under group_lock and vfio_ap's three locks;
    # CPU1 closes the VM fd; CPU0's kvm_put_kvm() is now the last and walks
    # back into group_lock.
    assert f.schedule == ("CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU1 CPU1 "
                          "CPU0 CPU0 CPU0 CPU0 CPU0 CPU0")
    assert f.cpus == ("CPU0",)
    assert f.locks == ("group->group_lock",)
    assert f.message.startswith("AA deadlock")
    assert "CPU0 waits for group->group_lock, which it already holds" in f.message

    prog = program(CASE_ID, "before")
    t = replay(prog, f.schedule)
    last = t.steps[-1]
    assert last.event == "block" and last.op.args[0] == "group->group_lock"
    assert _is_subsequence(COMMIT_CHAIN, last.stack[::-1])
    assert "vfio_device_group_close" in last.stack
    put = next(s for s in t.steps if s.event == "release_call")
    assert put.cpu == "CPU0" and put.detail["release"] == "kvm_destroy_vm"


def test_before_vfio_ap_drops_the_last_reference_under_five_locks():
    # vfio_ap_mdev_unset_kvm(): kvm_put_kvm() inside get_update_locks_for_kvm(),
    # inside vfio's group_lock and the device set's lock.
    prog = program(CASE_ID, "before")
    t = replay(prog, "CPU1* CPU0*")
    put = next(s for s in t.steps if s.event == "release_call")
    assert put.stack[-1] == "vfio_ap_mdev_unset_kvm"
    held = [prog.locks[l].name for l, _ in put.before.threads[0].held]
    assert held == ["group->group_lock", "dev_set->lock", "matrix_dev->guests_lock", "kvm->lock",
                    "matrix_dev->mdevs_lock"]
    texts = [op.text for op in prog.function("vfio_ap_mdev_unset_kvm").ops]
    assert "get_update_locks_for_kvm" in texts[0] and "release_update_locks_for_kvm" in texts[6]


def test_before_needs_the_vm_fd_closed_first():
    prog = program(CASE_ID, "before")
    # The vfio device closed first: its put is not the last, the VM fd's is,
    # and kvm_destroy_vm() takes group_lock with nothing held.
    t = replay(prog, "CPU0* CPU1*")
    assert not t.findings
    assert all(th.status == DONE for th in t.final.threads)
    put = next(s for s in t.steps if s.event == "release_call")
    assert put.cpu == "CPU1"
    # The VM fd closed first: the same two closes, in the other order, deadlock.
    t = replay(prog, "CPU1* CPU0*")
    assert [f.kind for f in t.findings] == ["deadlock"]


def test_after_cycle_is_group_lock_against_kvm_lock(results):
    (f,) = results["after"].findings
    assert f.schedule == "CPU0 CPU0 CPU0 CPU0 CPU1 CPU0 CPU1 CPU1 CPU1 CPU1 CPU1 CPU1 CPU1"
    assert set(f.cpus) == {"CPU0", "CPU1"}
    assert set(f.locks) == {"group->group_lock", "kvm->lock"}
    assert "CPU0 waits for group->group_lock held by CPU1" in f.message
    assert "CPU1 waits for kvm->lock held by CPU0" in f.message


def test_after_stacks_read_like_the_report():
    prog = program(CASE_ID, "after")
    assert (prog.cpus[0].comm, prog.cpus[0].pid) == ("CPU 0/KVM", 1173)
    # As lockdep saw it: the open first, then (another time) the release.
    open_ = replay(prog, "CPU1*")
    assert not open_.findings
    steps = {s.op.args[0]: s for s in open_.steps if s.op.kind == "mutex_lock"}
    assert steps["dev_set->lock"].stack[::-1] == REPORT_OPEN_DEV_SET
    assert steps["matrix_dev->guests_lock"].stack[::-1] == REPORT_OPEN_DRIVER
    assert steps["kvm->lock"].stack[::-1] == REPORT_OPEN_DRIVER
    order = [s.op.args[0] for s in open_.steps if s.op.kind == "mutex_lock"]
    assert order == ["group->group_lock", "dev_set->lock", "matrix_dev->guests_lock", "kvm->lock",
                     "matrix_dev->mdevs_lock"]

    release = replay(prog, "CPU0*")
    assert not release.findings
    s = next(s for s in release.steps if s.op.kind == "mutex_lock" and s.op.args[0] == "group->group_lock")
    assert s.stack[::-1] == REPORT_RELEASE
    assert [prog.locks[l].cls for l, _ in s.before.threads[0].held] == ["&kvm->lock"]


def test_lock_classes_are_lockdeps():
    classes = {l.name: l.cls for l in program(CASE_ID, "after").locks}
    assert classes == {"group->group_lock": "&group->group_lock", "dev_set->lock": "&new_dev_set->lock",
                       "matrix_dev->guests_lock": "&matrix_dev->guests_lock", "kvm->lock": "&kvm->lock",
                       "matrix_dev->mdevs_lock": "&matrix_dev->mdevs_lock"}
    for v in ("half_fix", "final"):
        locks = {l.name: (l.kind, l.cls) for l in program(CASE_ID, v).locks}
        assert locks["group->kvm_ref_lock"] == ("spinlock", "&group->kvm_ref_lock")


def test_after_pairs_tasks_that_can_overlap():
    # One QEMU cannot be in an ioctl while its last thread closes its files in
    # do_exit(): CPU0 is QEMU's exit (the report's task), CPU1 another process.
    for v in ("after", "half_fix", "final"):
        prog = program(CASE_ID, v)
        c0, c1 = prog.cpus
        assert "do_exit" in c0.stack and c0.comm == "CPU 0/KVM"
        assert c1.comm != "qemu-system-s39" and c1.pid != c0.pid
        assert "another process" in c1.context and "same vfio group file" in c1.context
    assert "predicted" in get_case(CASE_ID).summary and "nothing hung" in get_case(CASE_ID).summary


def test_half_fix_keeps_the_cycle_and_only_set_kvm_differs_from_final(results):
    (f,) = results["half_fix"].findings
    assert set(f.locks) == {"group->group_lock", "kvm->lock"}
    half, final = program(CASE_ID, "half_fix"), program(CASE_ID, "final")
    differ = [fn.name for fn in half.functions
              if [op.text for op in fn.ops] != [op.text for op in final.function(fn.name).ops]]
    assert differ == ["vfio_file_set_kvm"]
    assert get_case(CASE_ID).variant("half_fix").note.startswith("hypothetical")


def test_fix_exercise_catches_the_plausible_wrong_fixes():
    from labkit.exercises import check
    ex = {e.number: e for e in get_case(CASE_ID).exercises}
    assert [e.kind for e in ex.values()] == ["schedule", "verdict", "chain", "fix"]
    fix = ex[4]
    assert (fix.variant, fix.function) == ("half_fix", "vfio_file_set_kvm")
    assert check(CASE_ID, 4, fix.answer).ok
    # The answer is final's vfio_file_set_kvm(), line for line.
    final = [op.text for op in program(CASE_ID, "final").function("vfio_file_set_kvm").ops]
    assert fix.answer.splitlines() == final
    still, none, dev_set, both = (check(CASE_ID, 4, w) for w in fix.wrong)
    assert "still there" in still.message
    assert "without holding group->kvm_ref_lock" in none.message
    assert "new bug" in dev_set.message and "dev_set->lock" in dev_set.message
    assert "new bug" in both.message and "kvm_ref_lock" in both.message


def test_self_deadlock_hint_points_at_the_order_of_the_puts():
    from labkit.exercises import check
    got = check(CASE_ID, 1, "CPU0* CPU1*")
    assert not got.ok and "already holds it" in got.hint and "CPU1* CPU0*" not in got.text


def test_final_set_kvm_no_longer_takes_group_lock():
    prog = program(CASE_ID, "final")
    ops = prog.function("vfio_file_set_kvm").ops
    assert [op.args[0] for op in ops if op.lock] == ["group->kvm_ref_lock"] * 2
    # The open still takes kvm->lock under group_lock, and vfio holds its own reference.
    t = replay(prog, "CPU1*")
    assert [e.detail.get("ok") for e in t.steps if e.op.kind == "get_not_zero"] == [True]
    assert "kvm->lock" in [s.op.args[0] for s in t.steps if s.op.kind == "mutex_lock"]


def test_metadata():
    c = get_case(CASE_ID)
    assert c.title and len(c.summary) > 100
    assert c.variant_ids == ("before", "after", "half_fix", "final")
    assert (c.fix.subject, c.fix.commit) == ("kvm/vfio: Fix potential deadlock on vfio group_lock",
                                             "51cdc8bc120e")
    assert (c.fixes.subject, c.fixes.commit) == ("vfio: remove VFIO_GROUP_NOTIFY_SET_KVM", "421cfe6596f6")
    assert [(f.subject, f.commit) for f in c.later] == [
        ("vfio: fix deadlock between group lock and kvm lock", "2b48f52f2bff")]
    for f in (c.fix, c.fixes, *c.later):
        assert re.fullmatch(r"[0-9a-f]{12}", f.commit)
    assert c.links and all(l.startswith("https://lore.kernel.org/") for l in c.links)
    assert re.fullmatch(r"\d{4}-\d{2}", c.date)
    assert c.simplifications and "kvm_destroy_vm" in c.simplifications
    assert {v.id: v.lockdep for v in c.variants} == {
        "before": ("CPU1* CPU0*",), "after": ("CPU1*", "CPU0*"), "half_fix": ("CPU1*", "CPU0*"),
        "final": ("CPU1*", "CPU0*")}
    assert all(f.status == "merged" for f in (c.fix, c.fixes, *c.later))
    for words in ("v6.0", "v6.2-rc6", "v6.3"):
        assert words in c.kernels
    # Alex Williamson's reply to 421cfe6596f6 first, then the patch, the background, the final fix.
    assert "alex.williamson" in c.links[0] and "20230203215027.151988-2" in c.links[-1]
