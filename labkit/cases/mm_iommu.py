"""powerpc mm_iommu: ``mem_list_mutex`` against ``mmap_sem``, an ABBA deadlock.

Two ways into ``mm_iommu_do_alloc()`` take the same two locks in opposite
orders:

* the ``VFIO_IOMMU_SPAPR_REGISTER_MEMORY`` ioctl (normal memory) takes
  ``mem_list_mutex``, then ``mmap_sem`` to account ``locked_vm`` and to pin
  pages;
* ``mmap()`` of the NVIDIA V100 GPU RAM region (``vfio_pci_nvgpu_mmap``)
  runs with ``mmap_sem`` held for write by the mmap syscall and then takes
  ``mem_list_mutex``.

Two threads of one process doing those concurrently deadlock. QEMU never hit
it because it builds the machine in one thread; lockdep saw it anyway.

The fix (eb9d7a62c386) moves the ``locked_vm`` accounting and the page
pinning out from under ``mem_list_mutex``, and moves the overlap check next to
the list insertion, so the mutex only covers the list. GPU memory takes no
``locked_vm`` (its entries count as zero), so the mmap path still takes
``mem_list_mutex`` under ``mmap_sem`` — now the only order there is.

What the model leaves out, and why: the overlap check and the list are one
step each (which regions overlap does not change the locking); error paths
(``-EINVAL``, ``-ENOMEM``, undoing ``locked_vm``) are not modelled, nor RCU
readers of the list; ``get_user_pages_longterm`` is shown as the
``down_read``/``up_read`` of ``mmap_sem`` around it. Each cpu registers one
region. ``mmap_sem`` is the ``mmap_lock`` of kernels after 5.8.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, call, down_read, down_write, if_, label, let, local, mutex_lock,
                     mutex_unlock, step, up_read, up_write)
from .base import Case, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]


def build(variant: str):
    m = Model("mm_iommu", variant, "powerpc mm_iommu: mem_list_mutex vs mmap_sem")
    m.mutex("mem_list_mutex")                     # lockdep class: a static mutex
    m.rwsem("mmap_sem", cls="&mm->mmap_sem")

    # mmap_sem for write while locked_vm is adjusted (entries == 0 adjusts nothing).
    m.func("mm_iommu_adjust_locked_vm", [
        down_write("mmap_sem", "down_write(&mm->mmap_sem);"),
        step("mm->locked_vm += npages;"),
        up_write("mmap_sem", "up_write(&mm->mmap_sem);"),
    ])
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
            call("get_user_pages_longterm", "    /* pin the pages */"),
            label("alloc"),
            step("mem = kzalloc(sizeof(*mem), GFP_KERNEL);"),
            mutex_lock("mem_list_mutex", "mutex_lock(&mem_list_mutex);"),
            step("list_for_each_entry_rcu(mem2, ...) if (overlap) goto free_exit;"),
            step("list_add_rcu(&mem->next, &mm->context.iommu_group_mem_list);"),
            mutex_unlock("mem_list_mutex", "mutex_unlock(&mem_list_mutex);"),
        ])

    # CPU0: mmap() of the GPU RAM region; the mmap syscall holds mmap_sem for write.
    m.func("vm_mmap_pgoff", [
        down_write("mmap_sem", "down_write(&mm->mmap_sem);   /* vm_mmap_pgoff */"),
        call("vfio_pci_nvgpu_mmap", "do_mmap(...) -> vfio_pci_nvgpu_mmap(vdev, region, vma);"),
        up_write("mmap_sem", "up_write(&mm->mmap_sem);"),
    ])
    m.func("vfio_pci_nvgpu_mmap", [
        let("device_memory", True, "/* GPU RAM: dev_hpa is the device address, entries count 0 */"),
        call("mm_iommu_do_alloc", "ret = mm_iommu_newdev(mm, ua, entries, hpa, &mem);"),
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


CASE = Case(
    id="mm_iommu",
    title="powerpc mm_iommu: mem_list_mutex vs mmap_sem (ABBA)",
    summary=("Registering guest memory with the VFIO_IOMMU_SPAPR_REGISTER_MEMORY ioctl takes "
             "mem_list_mutex and then mmap_sem; mmap() of NVLink2 GPU RAM holds mmap_sem and then "
             "takes mem_list_mutex. Two threads doing both deadlock. The fix does the mmap_sem work "
             "before taking mem_list_mutex, which now guards only the list."),
    variants=(
        Variant("before", "mm_iommu_do_alloc() takes mmap_sem under mem_list_mutex",
                partial(build, "before"), lockdep=("CPU1*", "CPU0*"), expect="deadlock"),
        Variant("after", "locked_vm and pinning done before mem_list_mutex (eb9d7a62c386)",
                partial(build, "after"), lockdep=("CPU1*", "CPU0*"), expect="nothing"),
    ),
    fix=Fix("powerpc/mm_iommu: Fix potential deadlock", "eb9d7a62c386",
            "https://git.kernel.org/torvalds/c/eb9d7a62c386"),
    fixes=Fix("powerpc/vfio/iommu/kvm: Do not pin device memory", "c10c21efa4bc",
              "https://git.kernel.org/torvalds/c/c10c21efa4bc"),
    later=(Fix("powerpc/book3s64: Fix error handling in mm_iommu_do_alloc()", "c4b78169e366",
               "https://lore.kernel.org/r/20191223060351.26359-1-aik@ozlabs.ru"),),
    links=("https://lore.kernel.org/linuxppc-dev/?q=%22powerpc%2Fmm_iommu%3A+Fix+potential+deadlock%22",
           "https://lore.kernel.org/r/20191223060351.26359-1-aik@ozlabs.ru"),
    date="2019-04",
    simplifications=leaves_out(__doc__),
)
