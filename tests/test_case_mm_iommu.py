"""The mm_iommu case: the ABBA, the fix (eb9d7a62c386) with the overlap exit it
created, and what that exit relies on (mm_iommu_adjust_locked_vm() returning
early for 0 pages, which GPU memory's locked_entries always is)."""

import pytest

from labkit.cases import get_case, program
from labkit.compare import compare
from labkit.explore import explore
from labkit.lockdep import lockdep_run
from labkit.semantics import DONE
from labkit.trace import replay

CASE = "mm_iommu"
# CPU1 (the ioctl) registers its region and drops mem_list_mutex; then CPU0
# (mmap of GPU RAM over the same addresses) finds the overlap.
IOCTL_THEN_MMAP = "CPU1* CPU0*"


def verdict(variant):
    r = explore(program(CASE, variant))
    assert r.complete, r.stopped
    return r


def test_variants_and_their_words():
    c = get_case(CASE)
    assert c.variant_ids == ("before", "after", "after_no_early_return")
    v = c.variant("after_no_early_return")
    assert v.expect == "deadlock" and v.note.startswith("hypothetical")
    # The story no longer says GPU memory "counts 0 entries"; it says why locked_entries is 0.
    text = " ".join((c.summary, c.simplifications, c.kernels))
    assert "count 0" not in text and "locked_entries" in c.summary
    assert "vma_pages" in program(CASE, "before").function("vfio_pci_nvgpu_mmap").ops[1].text
    assert "5.1.0-rc2" in c.kernels and "v5.1" in c.kernels
    (later,) = c.later
    assert later.commit == "c4b78169e366" and later.subject == \
        "powerpc/book3s64: Fix error handling in mm_iommu_do_alloc()"
    assert "eb9d7a62c386" in later.note


def test_before_still_deadlocks_the_same_way_and_agrees_with_the_real_report(repo_root):
    (f,) = verdict("before").findings
    assert f.kind == "deadlock" and set(f.cpus) == {"CPU0", "CPU1"}
    assert f.schedule == "CPU0 CPU0 CPU0 CPU0 CPU1 CPU1 CPU1 CPU0 CPU1 CPU1 CPU1 CPU1"
    assert compare(CASE, "before", repo_root / "data" / "splats" / "mm_iommu.txt").agree


def test_after_overlap_exit_calls_the_accounting_with_mmap_sem_held_and_returns_early():
    prog = program(CASE, "after")
    t = replay(prog, IOCTL_THEN_MMAP)
    assert t.findings == [] and all(th.status == DONE for th in t.final.threads)
    cpu0 = [s for s in t.steps if s.cpu == "CPU0"]
    sem = prog.lock_index["mmap_sem"]
    # The overlap branch is taken on CPU0, and the exit calls the accounting...
    branch = next(s for s in cpu0 if "if (overlap)" in s.text)
    assert branch.detail["taken"] is True
    exit_call = next(s for s in cpu0 if s.text.startswith("unlock_exit:"))
    assert exit_call.before.owner[sem] == 0          # ...while CPU0 holds mmap_sem for write
    assert "vm_mmap_pgoff" in exit_call.stack
    # ...which returns at 'if (!npages) return 0;' without touching mmap_sem again.
    early = cpu0[cpu0.index(exit_call) + 1]
    assert early.text == "if (!npages) return 0;" and early.detail["taken"] is True
    assert not [s for s in cpu0[cpu0.index(exit_call):] if s.event in ("acquire", "block")]
    # The ioctl's own overlap exit (CPU0 first) does take mmap_sem: it has pages to give back.
    t2 = replay(prog, "CPU0* CPU1*")
    assert t2.findings == []
    cpu1 = [s for s in t2.steps if s.cpu == "CPU1"]
    i = next(i for i, s in enumerate(cpu1) if s.text.startswith("unlock_exit:"))
    assert cpu1[i + 2].op.kind == "down_write" and cpu1[i + 2].before.threads[1].held == ()


def test_after_is_clean_and_lockdep_quiet_on_both_serial_orders():
    assert verdict("after").findings == []
    assert lockdep_run(CASE, "after").reports == []


def test_without_the_early_return_the_mmap_path_deadlocks_on_itself():
    (f,) = verdict("after_no_early_return").findings
    assert f.kind == "deadlock" and f.cpus == ("CPU0",) and f.locks == ("mmap_sem",)
    assert "already holds" in f.message
    # Not a race: the plain serial order ioctl-then-mmap hangs every time.
    prog = program(CASE, "after_no_early_return")
    t = replay(prog, IOCTL_THEN_MMAP)
    (dl,) = [g for g in t.findings if g.kind == "deadlock"]
    (block,) = [s for s in t.steps if s.event == "block"]
    assert block.cpu == "CPU0" and block.op.kind == "down_write"
    assert block.stack[-2:] == ("mm_iommu_do_alloc", "mm_iommu_adjust_locked_vm")
    assert "vm_mmap_pgoff" in block.stack
    # The other order is harmless: the ioctl's exit holds no lock.
    assert replay(prog, "CPU0* CPU1*").findings == []


def test_lockdep_reports_the_aa_on_mmap_sem_from_the_serial_runs():
    ld = lockdep_run(CASE, "after_no_early_return")
    (r,) = ld.reports
    assert r.kind == "recursive" and r.acquiring == r.held == "&mm->mmap_sem"
    assert r.task == "qemu-system-ppc/8038" and r.cpu == "CPU0"
    assert "possible recursive locking detected" in r.text
    assert "mm_iommu_adjust_locked_vm" in r.text and "vm_mmap_pgoff" in r.text


@pytest.mark.parametrize("variant", ["after", "after_no_early_return"])
def test_the_fix_keeps_the_only_order_mmap_sem_then_mem_list_mutex(variant):
    # Whatever else goes wrong, no path holds mem_list_mutex while taking mmap_sem.
    prog = program(CASE, variant)
    mutex = prog.lock_index["mem_list_mutex"]
    for sched in ("CPU0* CPU1*", "CPU1* CPU0*"):
        for s in replay(prog, sched).steps:
            if s.op.kind in ("down_write", "down_read"):
                assert mutex not in {l for l, _ in s.before.threads[prog.cpu_id(s.cpu)].held}


def test_every_variant_steps_in_the_stepper_export():
    from labkit.stepper.export import case_json
    data = case_json(CASE)
    v = {x["id"]: x for x in data["variants"]}
    assert set(v) == set(get_case(CASE).variant_ids)
    assert v["after_no_early_return"]["explorer"][0]["kind"] == "deadlock"
    assert v["after"]["explorer"] == []
