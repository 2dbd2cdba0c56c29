"""powerpc mm_iommu: ``mem_list_mutex`` against ``mmap_sem``, an ABBA deadlock.

Two ways into ``mm_iommu_do_alloc()`` took the same two locks in opposite
orders:

* the ``VFIO_IOMMU_SPAPR_REGISTER_MEMORY`` ioctl (normal memory, through
  ``mm_iommu_new()``) took ``mem_list_mutex``, then ``mmap_sem``: for write
  to add the region to ``locked_vm``, for read to pin the pages;
* ``mmap()`` of the NVLink2 GPU RAM region (``vfio_pci_nvgpu_mmap()``, through
  ``mm_iommu_newdev()``) runs with ``mmap_sem`` held for write by the mmap
  syscall and then took ``mem_list_mutex``. Registering device memory
  without pinning it came with c10c21efa4bc, the commit the fix's ``Fixes:``
  tag names; this mmap caller came in the same series with 7f92891778df
  ("vfio_pci: Add NVIDIA GV100GL [Tesla V100 SXM2] subdriver"), both in v5.0.

Two threads of one process doing those at the same time deadlock. The commit
says QEMU never hit it because it builds the machine in one thread; lockdep
reported it anyway (data/splats/mm_iommu.txt, 5.1.0-rc2).

The fix (eb9d7a62c386) does the ``locked_vm`` accounting and the pinning
before taking ``mem_list_mutex``, and moves the overlap check next to the
list insertion, so the mutex covers only the list. The mmap path still takes
``mem_list_mutex`` under ``mmap_sem``; now that is the only order.

GPU memory is not "zero entries": the mmap path passes the number of pages of
the vma (``vma_pages(vma)``; kernels before 5.3 wrote the same sum out). It
skips the ``locked_vm`` accounting because ``dev_hpa`` is a valid device
address, so its ``locked_entries`` stays 0. That matters on the error exit the
fix created: when the overlap check fails, the code unlocks the mutex and ends
in ``unlock_exit``, which calls ``mm_iommu_adjust_locked_vm(mm,
locked_entries, false)`` unconditionally. On the mmap path that runs with
``mmap_sem`` held for write, and the function's ``if (!npages) return 0;``
is what keeps it from taking ``mmap_sem`` for write a second time. That is,
by our reading, what the commit means when it says it "relies on
mm_iommu_adjust_locked_vm() doing nothing when entries==0" (subtracting 0
pages would be harmless; taking ``mmap_sem`` again would not). ``after``
models that exit; the hypothetical
``after_no_early_return`` drops the early return and deadlocks on
``mmap_sem`` in one thread (AA), which the explorer finds and lockdep
reports as recursive locking.

The same exit had another bug: c4b78169e366 ("powerpc/book3s64: Fix error
handling in mm_iommu_do_alloc()", reported by Jan Kara, applied to
powerpc-next in March 2020) notes that by the time the overlap check fails
the pinned page pointers have already been turned into physical addresses,
so ``put_page()`` on them would likely crash; it converts them only after the last
point of failure. That is a memory bug, not a locking one, and is not
modelled.

What the model leaves out, and why: ``before`` follows the 5.1-rc code
(``arch/powerpc/mm/mmu_context_iommu.c``), ``after`` the v5.1 code after
eb9d7a62c386. Which regions overlap is one flag: both cpus register
overlapping ranges of user addresses, so whichever reaches the list second
fails with ``-EINVAL`` (``before`` shows its overlap check as a line only; its
error exit called the accounting only when ``locked_entries`` was set, and
no lock order depends on it). ``npages`` is not a number in the model: the
early return tests the cpu-local ``device_memory``, which is true exactly
when ``npages`` is 0 on the paths modelled (the GPU path's error exit);
``before`` leaves that line out because none of its paths calls the function
with 0. Other errors (``-ENOMEM``, ``-EFAULT``, the rlimit check), the order
of ``kzalloc()`` against the accounting, the page-size loop, and RCU readers
of the list are not modelled. ``get_user_pages_longterm()`` is shown as the
``down_read``/``up_read`` of ``mmap_sem`` around it. Each cpu registers one
region. ``mmap_sem`` is the ``mmap_lock`` of kernels after 5.8.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, down_read, down_write, if_, label, let, local, mutex_lock,
                     mutex_unlock, ret, step, up_read, up_write, var)
from .base import Case, Exercise, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]


def build(variant: str):
    m = Model("mm_iommu", variant, "powerpc mm_iommu: mem_list_mutex vs mmap_sem")
    m.mutex("mem_list_mutex")                     # lockdep class: a static mutex
    m.rwsem("mmap_sem", cls="&mm->mmap_sem")
    # The list already holds a region that overlaps the one being added.
    if variant != "before":
        m.shared("overlapping_region", False)

    if variant == "before":
        # The early return on npages == 0 existed before the fix too; it is left
        # out here because no path of this variant calls the function with 0
        # (the caller tested locked_entries itself), and leaving it out keeps
        # the steps of this variant the ones the lab has always shown.
        m.func("mm_iommu_adjust_locked_vm", [
            down_write("mmap_sem", "down_write(&mm->mmap_sem);"),
            step("mm->locked_vm += npages;"),
            up_write("mmap_sem", "up_write(&mm->mmap_sem);"),
        ])
    else:
        adjust = [
            # npages is zero exactly on the GPU path's error exit: GPU memory
            # never adds to locked_vm, so locked_entries stays 0 there.
            if_(local("device_memory"), "out", "if (!npages) return 0;"),
            down_write("mmap_sem", "down_write(&mm->mmap_sem);"),
            step("mm->locked_vm += incr ? npages : -npages;"),
            up_write("mmap_sem", "up_write(&mm->mmap_sem);"),
            label("out"),
        ]
        if variant == "after_no_early_return":
            adjust = adjust[1:]
        m.func("mm_iommu_adjust_locked_vm", adjust)
    # Pinning the user pages reads the mm.
    m.func("get_user_pages_longterm", [
        down_read("mmap_sem", "down_read(&mm->mmap_sem);"),
        step("pinned = get_user_pages_longterm(ua, entries, FOLL_WRITE, mem->hpages, NULL);"),
        up_read("mmap_sem", "up_read(&mm->mmap_sem);"),
    ])

    if variant == "before":
        m.func("mm_iommu_do_alloc", [
            mutex_lock("mem_list_mutex", "mutex_lock(&mem_list_mutex);"),
            step("list_for_each_entry_rcu(mem, ...) if (overlap) goto unlock_exit;"),
            if_(local("device_memory"), "alloc", "if (dev_hpa == MM_IOMMU_TABLE_INVALID_HPA) {"),
            call("mm_iommu_adjust_locked_vm", "    ret = mm_iommu_adjust_locked_vm(mm, entries, true);"),
            call("get_user_pages_longterm", "    /* pin the pages */"),
            label("alloc"),
            step("mem = kzalloc(sizeof(*mem), GFP_KERNEL);"),
            step("list_add_rcu(&mem->next, &mm->context.iommu_group_mem_list);"),
            mutex_unlock("mem_list_mutex", "mutex_unlock(&mem_list_mutex);"),
        ])
    else:
        m.func("mm_iommu_do_alloc", [
            if_(local("device_memory"), "alloc", "if (dev_hpa == MM_IOMMU_TABLE_INVALID_HPA) {"),
            call("mm_iommu_adjust_locked_vm", "    ret = mm_iommu_adjust_locked_vm(mm, entries, true);"),
            step("    locked_entries = entries;"),
            call("get_user_pages_longterm", "    /* pin the pages */"),
            label("alloc"),
            step("mem = kzalloc(sizeof(*mem), GFP_KERNEL);"),
            mutex_lock("mem_list_mutex", "mutex_lock(&mem_list_mutex);"),
            if_(var("overlapping_region"), "overlap",
                "list_for_each_entry_rcu(mem2, ...) if (overlap) { ret = -EINVAL; ..."),
            assign("overlapping_region", True, "list_add_rcu(&mem->next, &mm->context.iommu_group_mem_list);"),
            mutex_unlock("mem_list_mutex", "mutex_unlock(&mem_list_mutex);"),
            ret("return 0;"),
            label("overlap"),
            mutex_unlock("mem_list_mutex", "    mutex_unlock(&mem_list_mutex); goto free_exit; }"),
            step("free_exit: put_page() what was pinned; vfree(mem->hpas); kfree(mem);"),
            call("mm_iommu_adjust_locked_vm", "unlock_exit: mm_iommu_adjust_locked_vm(mm, locked_entries, false);"),
            step("return ret;   /* -EINVAL */"),
        ])

    # CPU0: mmap() of the GPU RAM region; the mmap syscall holds mmap_sem for write.
    m.func("vm_mmap_pgoff", [
        down_write("mmap_sem", "down_write(&mm->mmap_sem);   /* vm_mmap_pgoff */"),
        call("vfio_pci_nvgpu_mmap", "do_mmap(...) -> vfio_pci_nvgpu_mmap(vdev, region, vma);"),
        up_write("mmap_sem", "up_write(&mm->mmap_sem);"),
    ])
    m.func("vfio_pci_nvgpu_mmap", [
        let("device_memory", True, "/* GPU RAM: dev_hpa = data->gpu_hpa (valid), entries = pages of the vma */"),
        call("mm_iommu_do_alloc", "ret = mm_iommu_newdev(mm, ua, vma_pages(vma), data->gpu_hpa, &mem);"),
    ], via=("do_mmap", "mmap_region", "vfio_device_fops_mmap", "vfio_pci_mmap"))
    # CPU1: the VFIO_IOMMU_SPAPR_REGISTER_MEMORY ioctl on the container.
    m.func("tce_iommu_register_pages", [
        let("device_memory", False, "/* normal memory: dev_hpa = MM_IOMMU_TABLE_INVALID_HPA */"),
        call("mm_iommu_do_alloc", "ret = mm_iommu_new(mm, ua, entries, &mem);"),
    ], via=("tce_iommu_ioctl",))

    m.cpu("CPU0", "vm_mmap_pgoff", comm="qemu-system-ppc", pid=8038,
          stack=("system_call", "sys_mmap", "ksys_mmap_pgoff"),
          context="QEMU thread mapping the GPU RAM region of a vfio-pci NVLink2 GPU (mmap syscall)")
    m.cpu("CPU1", "tce_iommu_register_pages", comm="qemu-system-ppc", pid=8039,
          stack=("system_call", "sys_ioctl", "ksys_ioctl", "do_vfs_ioctl", "vfio_fops_unl_ioctl"),
          context="QEMU thread registering guest RAM (ioctl VFIO_IOMMU_SPAPR_REGISTER_MEMORY)")
    return m.build()


_FIXED_DO_ALLOC = """\
if (dev_hpa == MM_IOMMU_TABLE_INVALID_HPA) {
    ret = mm_iommu_adjust_locked_vm(mm, entries, true);
    /* pin the pages */
alloc:
mem = kzalloc(sizeof(*mem), GFP_KERNEL);
mutex_lock(&mem_list_mutex);
list_for_each_entry_rcu(mem, ...) if (overlap) goto unlock_exit;
list_add_rcu(&mem->next, &mm->context.iommu_group_mem_list);
mutex_unlock(&mem_list_mutex);"""

EXERCISES = (
    Exercise(
        1, "schedule", "before", title="Be the scheduler: deadlock the two QEMU threads",
        goal="deadlock",
        answer="CPU0 CPU0 CPU0 CPU0 CPU1 CPU1 CPU1 CPU0 CPU1 CPU1 CPU1 CPU1",
        explain=("CPU0 (mmap) takes mmap_sem for write and runs into mm_iommu_do_alloc(); CPU1 (the ioctl) "
                 "takes mem_list_mutex first. Now CPU0 asks for mem_list_mutex (held by CPU1) and CPU1, "
                 "accounting locked_vm, asks for mmap_sem (held by CPU0): each waits for the other. Any "
                 "schedule where each cpu holds its first lock before either asks for its second works."),
        wrong=("CPU0* CPU1*", "CPU1* CPU0*", "CPU0 CPU1 CPU0 CPU1"),
    ),
    Exercise(
        2, "verdict", "after_no_early_return",
        title="Predict: the fix, without mm_iommu_adjust_locked_vm()'s early return",
        answer="deadlock",
        explain=("When the overlap check fails on the mmap path, the error exit calls "
                 "mm_iommu_adjust_locked_vm(mm, locked_entries, false) with locked_entries == 0 while "
                 "vm_mmap_pgoff() still holds mmap_sem for write. Without 'if (!npages) return 0;' the "
                 "function calls down_write(&mm->mmap_sem) on a lock its own thread holds: an AA deadlock. "
                 "No second thread has to be inside a lock at the same time; it only has to have registered "
                 "an overlapping region first."),
        wrong=("clean", "warn"),
    ),
    Exercise(
        3, "schedule", "after_no_early_return",
        title="Shortest way into the AA deadlock (after_no_early_return)",
        goal="deadlock", about="already holds", shortest=True,
        answer=" ".join(["CPU1"] * 17 + ["CPU0"] * 12),
        explain=("CPU1 must put its region on the list first (17 steps, up to and including "
                 "mutex_unlock(&mem_list_mutex)); its 'return 0;' is not needed. Then CPU0 runs alone: it maps, "
                 "finds the overlap, and its error exit takes mmap_sem again (12 steps). No preemption is "
                 "needed at all, so this bug is not a race: in this hypothetical variant, any program that "
                 "registers a range and then maps GPU RAM over it would hang every time."),
        wrong=("CPU1* CPU0*", "CPU0* CPU1*", " ".join(["CPU1"] * 16 + ["CPU0"] * 12)),
    ),
    Exercise(
        4, "fix", "before", title="Write the fix yourself: mm_iommu_do_alloc() in 'before'",
        function="mm_iommu_do_alloc",
        must_hold=(("list_add_rcu", "mem_list_mutex"), ("list_for_each_entry_rcu", "mem_list_mutex")),
        same_section=(("list_for_each_entry_rcu", "list_add_rcu", "mem_list_mutex"),),
        answer=_FIXED_DO_ALLOC,
        explain=("Do the mmap_sem work (locked_vm accounting, pinning) before taking mem_list_mutex, and take "
                 "the mutex only around the overlap check and the list_add_rcu() - both in one critical "
                 "section, or two registrations could both pass the check and both be added. That is what "
                 "eb9d7a62c386 did. Then no path holds mem_list_mutex while taking mmap_sem, and the mmap "
                 "path's order (mmap_sem, then mem_list_mutex) is the only one left."),
        wrong=(
            # No lock at all: the list is unprotected.
            "if (dev_hpa == MM_IOMMU_TABLE_INVALID_HPA) {\n"
            "    ret = mm_iommu_adjust_locked_vm(mm, entries, true);\n"
            "    /* pin the pages */\n"
            "alloc:\n"
            "mem = kzalloc(sizeof(*mem), GFP_KERNEL);\n"
            "list_for_each_entry_rcu(mem, ...) if (overlap) goto unlock_exit;\n"
            "list_add_rcu(&mem->next, &mm->context.iommu_group_mem_list);",
            # Check in one critical section, insert in another: check-then-act.
            "mutex_lock(&mem_list_mutex);\n"
            "list_for_each_entry_rcu(mem, ...) if (overlap) goto unlock_exit;\n"
            "mutex_unlock(&mem_list_mutex);\n"
            "if (dev_hpa == MM_IOMMU_TABLE_INVALID_HPA) {\n"
            "    ret = mm_iommu_adjust_locked_vm(mm, entries, true);\n"
            "    /* pin the pages */\n"
            "alloc:\n"
            "mem = kzalloc(sizeof(*mem), GFP_KERNEL);\n"
            "mutex_lock(&mem_list_mutex);\n"
            "list_add_rcu(&mem->next, &mm->context.iommu_group_mem_list);\n"
            "mutex_unlock(&mem_list_mutex);",
            # Take mmap_sem first on every path: the mmap path already holds it (AA).
            "down_write(&mm->mmap_sem);\n"
            "mutex_lock(&mem_list_mutex);\n"
            "list_for_each_entry_rcu(mem, ...) if (overlap) goto unlock_exit;\n"
            "if (dev_hpa == MM_IOMMU_TABLE_INVALID_HPA) {\n"
            "    ret = mm_iommu_adjust_locked_vm(mm, entries, true);\n"
            "    /* pin the pages */\n"
            "alloc:\n"
            "mem = kzalloc(sizeof(*mem), GFP_KERNEL);\n"
            "list_add_rcu(&mem->next, &mm->context.iommu_group_mem_list);\n"
            "mutex_unlock(&mem_list_mutex);\n"
            "up_write(&mm->mmap_sem);",
        ),
    ),
    Exercise(
        5, "chain", title="Read the real report: which lock classes make its cycle?",
        report="data/splats/mm_iommu.txt",
        answer=["&mm->mmap_sem", "mem_list_mutex"],
        explain=("Entry #1 (&mm->mmap_sem) was recorded when the ioctl took mmap_sem for write in "
                 "mm_iommu_adjust_locked_vm() while it held mem_list_mutex; entry #0 (mem_list_mutex) is what "
                 "the mmap path is taking now, in mm_iommu_do_alloc() under vfio_pci_nvgpu_mmap(), while "
                 "holding &mm->mmap_sem from vm_mmap_pgoff(). Each class was taken while the other was held: "
                 "a two-lock cycle, the ABBA."),
        wrong=(["mmap_sem", "mem_list_mutex"], ["&mm->mmap_sem"],
               ["&mm->mmap_sem", "mem_list_mutex", "&mm->mmap_sem"]),
    ),
)


CASE = Case(
    id="mm_iommu",
    title="powerpc mm_iommu: mem_list_mutex vs mmap_sem (ABBA)",
    summary=("Registering guest memory with the VFIO_IOMMU_SPAPR_REGISTER_MEMORY ioctl took "
             "mem_list_mutex and then mmap_sem; mmap() of NVLink2 GPU RAM holds mmap_sem for write and "
             "then took mem_list_mutex. Two threads doing both deadlock; lockdep reported it on 5.1-rc2. "
             "The fix does the locked_vm accounting and the pinning before taking mem_list_mutex, which "
             "now guards only the list. GPU memory passes its real page count but adds nothing to "
             "locked_vm (dev_hpa is valid), so locked_entries stays 0; when the overlap check fails, the "
             "error exit calls mm_iommu_adjust_locked_vm(mm, 0, false) with mmap_sem still held for "
             "write, and only that function's early return on 0 pages keeps it from taking mmap_sem "
             "again (the after_no_early_return variant shows the AA deadlock without it)."),
    kernels=("registering device memory came with c10c21efa4bc (dated 19 December 2018, named by the "
             "fix's Fixes: tag), its mmap() caller with 7f92891778df in the same series, both in v5.0; the "
             "report is from 5.1.0-rc2; eb9d7a62c386 went into v5.1 (in the powerpc fixes sent to Linus on "
             "28 April 2019). `before` follows "
             "the 5.1-rc code in arch/powerpc/mm/mmu_context_iommu.c, `after` the v5.1 code (the file later "
             "moved to arch/powerpc/mm/book3s64/iommu_api.c). mmap_sem is mmap_lock after 5.8."),
    variants=(
        Variant("before", "the ioctl takes mmap_sem under mem_list_mutex; mmap takes them the other way",
                partial(build, "before"), lockdep=("CPU1*", "CPU0*"), expect="deadlock"),
        Variant("after", "eb9d7a62c386: accounting and pinning before mem_list_mutex; an overlap exits "
                "through mm_iommu_adjust_locked_vm(mm, 0, false), which returns early",
                partial(build, "after"), lockdep=("CPU0* CPU1*", "CPU1* CPU0*"), expect="nothing"),
        Variant("after_no_early_return", "the fix, with mm_iommu_adjust_locked_vm() missing "
                "'if (!npages) return 0;': the mmap path's overlap exit takes mmap_sem it already holds",
                partial(build, "after_no_early_return"), lockdep=("CPU0* CPU1*", "CPU1* CPU0*"),
                expect="deadlock",
                note="hypothetical: the early return was always there; this shows what the fix relies on"),
    ),
    fix=Fix("powerpc/mm_iommu: Fix potential deadlock", "eb9d7a62c386",
            "https://git.kernel.org/torvalds/c/eb9d7a62c386"),
    fixes=Fix("powerpc/vfio/iommu/kvm: Do not pin device memory", "c10c21efa4bc",
              "https://git.kernel.org/torvalds/c/c10c21efa4bc"),
    later=(Fix("powerpc/book3s64: Fix error handling in mm_iommu_do_alloc()", "c4b78169e366",
               "https://git.kernel.org/torvalds/c/c4b78169e366",
               note=("Fixes: eb9d7a62c386. The overlap exit put_page()d pointers already turned into "
                     "physical addresses; reported by Jan Kara (a memory bug, not modelled).")),),
    links=("https://lore.kernel.org/linuxppc-dev/?q=%22powerpc%2Fmm_iommu%3A+Fix+potential+deadlock%22",
           "https://lore.kernel.org/r/20191223060351.26359-1-aik@ozlabs.ru"),
    date="2019-04",
    simplifications=leaves_out(__doc__),
    exercises=EXERCISES,
)
