"""kvm/vfio: the last kvm reference, vfio's ``group_lock`` and ``kvm->lock``.

KVM tells vfio which VM a vfio group belongs to: the kvm-vfio pseudo device
calls ``vfio_file_set_kvm()`` when a group is added to it, and again with
``NULL`` when it goes away. ``vfio_file_set_kvm()`` takes the group's
``group_lock``, the lock vfio holds while it opens and closes devices, so
that an opening driver sees a stable ``group->kvm``. Drivers that need the
VM (vfio_ap on s390, kvmgt, vfio-pci-zdev) take a kvm reference in their
``open_device`` and drop it in ``close_device``.

``before`` (since 421cfe6596f6 replaced the notifier with a kvm pointer
handed over at open): closing the vfio device fd runs ``close_device`` under
``group_lock``. If the VM fd was closed first, the driver's ``kvm_put_kvm()``
drops the last reference, and ``kvm_destroy_vm()`` runs right there: ``kvm_destroy_devices()`` calls the
kvm-vfio device's ``.destroy``, which calls ``vfio_file_set_kvm()``, which
takes ``group_lock`` again. One task deadlocks on itself. If the vfio device
is closed first, the VM fd's close drops the last reference with no vfio lock
held, and nothing happens.

``after`` (51cdc8bc120e, the patch on the thread) makes kvm-vfio use
``.release``, which ``kvm_device_release()`` calls when the kvm-vfio device
fd is closed, so ``kvm_destroy_vm()`` no longer calls into vfio. But
``kvm_device_release()`` calls ``.release`` with ``kvm->lock`` held, and
vfio_ap's ``open_device`` takes ``kvm->lock`` (after ``guests_lock``) while
vfio holds ``group_lock`` and ``dev_set->lock``: ``group_lock`` ->
``kvm->lock`` on open, ``kvm->lock`` -> ``group_lock`` on release. Anthony
Krowiak's lockdep report on the thread is that cycle. Jason Gunthorpe first
answered that drivers could no longer take ``kvm->lock`` in ``open_device``;
Matthew Rosato pointed out that vfio keeping its own kvm references would not
help by itself, as ``kvm_vfio_release()`` still takes ``group_lock`` under
``kvm->lock``; Jason replied that ``vfio_file_set_kvm()`` holds ``group_lock``
only to keep the kvm pointer alive across the open, and that with a real
reference it could be a spinlock held just long enough to take one.

``final`` (2b48f52f2bff): ``group_lock`` was held there only to keep
``group->kvm`` alive across the open. Now vfio takes its own kvm reference
(``kvm_get_kvm_safe()``) under a new spinlock, ``kvm_ref_lock``, when a
device is first opened, and ``vfio_file_set_kvm()`` takes only that spinlock.
Nothing on the release path waits for ``group_lock`` any more. vfio may now
drop the last kvm reference itself, under ``group_lock``; that is harmless
since 51cdc8bc120e, because ``kvm_destroy_vm()`` no longer calls into vfio.

What the model leaves out, and why: one group, one device, one VM; each
variant has only the two tasks its bug needs (``before``: the vfio device
close and the VM fd close; ``after`` and ``final``: the kvm-vfio device fd
close and the device open). The kvm-vfio device fd is already closed in
``before`` (with ``.destroy`` its close only drops a reference), vCPU fds are
closed, and the reference counts start where that leaves them.
``kvm_destroy_vm()``'s other work (``kvm_lock`` around the VM list, memslots,
``kvm_arch_destroy_vm()``) is one step; vfio_ap's close path also takes
``guests_lock`` and ``kvm->lock`` around its ``kvm_put_kvm()``, left out because
``kvm_destroy_vm()`` takes neither and the self-deadlock on ``group_lock``
does not depend on them; vfio_ap's ``mdevs_lock`` (taken after ``kvm->lock``)
and ``pqap_hook_rwsem`` are left out too, as are error paths other than
vfio_ap's ``-EINVAL`` when the group has no kvm. Function names follow the
kernel each variant comes from: in the 6.2 report ``vfio_device_open_file()``
takes ``group_lock`` itself (with whatever it inlines), so ``after`` steps it
there; ``final`` uses the functions of the fixed code. Task names:
``CPU 0/KVM``/1173 is from the report; QEMU's other tasks are
``qemu-system-s39`` (the 15 characters the kernel keeps of
``qemu-system-s390x``) with made-up pids.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, get, get_not_zero, if_, label, let, local, mutex_lock,
                     mutex_unlock, put, spin_lock, spin_unlock, step, var)
from .base import Case, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

GROUP_LOCK = "group->group_lock"
DEV_SET = "dev_set->lock"
GUESTS = "matrix_dev->guests_lock"
KVM_LOCK = "kvm->lock"
KVM_REF_LOCK = "group->kvm_ref_lock"
KVM = "kvm->users_count"
GROUP_KVM = "group->kvm"

# Kernel stacks above the modelled functions, outermost first.
S390_IOCTL = ("system_call", "__do_syscall", "do_syscall", "__s390x_sys_ioctl", "vfio_group_fops_unl_ioctl")
S390_CLOSE = ("system_call", "__do_syscall", "exit_to_user_mode_prepare", "exit_to_user_mode_loop",
              "task_work_run", "__fput")
S390_EXIT = ("system_call", "__do_syscall", "exit_to_user_mode_prepare", "exit_to_user_mode_loop",
             "arch_do_signal_or_restart", "get_signal", "do_group_exit", "do_exit", "task_work_run",
             "__fput")


def _kvm_destroy(m: Model, variant: str) -> None:
    """``kvm_put_kvm()`` -> ``kvm_destroy_vm()``: what the last reference runs."""
    m.func("kvm_destroy_vm", [
        step("kvm_arch_destroy_vm(kvm);   /* and the rest of the VM's teardown */"),
        call("kvm_destroy_devices", "kvm_destroy_devices(kvm);"),
        step("kvm_arch_free_vm(kvm);"),
    ], via=("kvm_put_kvm",))
    if variant == "before":
        m.func("kvm_destroy_devices", [
            call("kvm_vfio_destroy",
                 "list_for_each_entry_safe(dev, ...) { list_del(&dev->vm_node); dev->ops->destroy(dev); }"),
        ])
        m.func("kvm_vfio_destroy", [
            call("vfio_file_set_kvm", "kvm_vfio_file_set_kvm(kvg->file, NULL);   /* for each group */"),
            step("fput(kvg->file); kfree(kvg); kfree(kv); kfree(dev);"),
        ])
    else:
        m.func("kvm_destroy_devices", [
            step("list_for_each_entry_safe(dev, ...) dev->ops->destroy(dev);   "
                 "/* kvm-vfio left the list in kvm_device_release() */"),
        ])


def _vfio_file_set_kvm(m: Model, variant: str) -> None:
    if variant == "final":
        m.func("vfio_file_set_kvm", [
            spin_lock(KVM_REF_LOCK, "spin_lock(&group->kvm_ref_lock);"),
            assign(GROUP_KVM, None, "group->kvm = kvm;   /* NULL */"),
            spin_unlock(KVM_REF_LOCK, "spin_unlock(&group->kvm_ref_lock);"),
        ])
    else:
        m.func("vfio_file_set_kvm", [
            mutex_lock(GROUP_LOCK, "mutex_lock(&group->group_lock);"),
            assign(GROUP_KVM, None, "group->kvm = kvm;   /* NULL */"),
            mutex_unlock(GROUP_LOCK, "mutex_unlock(&group->group_lock);"),
        ], via=("kvm_vfio_file_set_kvm",) if variant == "before" else ())


def _before(m: Model) -> None:
    # CPU0: close() of the vfio device fd.
    m.func("vfio_device_group_close", [
        mutex_lock(GROUP_LOCK, "mutex_lock(&device->group->group_lock);"),
        call("vfio_device_close", "vfio_device_close(device, device->group->iommufd);"),
        mutex_unlock(GROUP_LOCK, "mutex_unlock(&device->group->group_lock);"),
    ])
    m.func("vfio_device_close", [
        mutex_lock(DEV_SET, "mutex_lock(&device->dev_set->lock);"),
        call("vfio_device_last_close", "if (device->open_count == 1) vfio_device_last_close(device, iommufd);"),
        mutex_unlock(DEV_SET, "device->open_count--; mutex_unlock(&device->dev_set->lock);"),
    ])
    m.func("vfio_device_last_close", [
        call("vfio_ap_mdev_unset_kvm", "device->ops->close_device(device);"),
        step("device->kvm = NULL;"),
    ])
    m.func("vfio_ap_mdev_unset_kvm", [
        step("kvm_arch_crypto_clear_masks(kvm); vfio_ap_mdev_reset_queues(&matrix_mdev->qtable);"),
        put(KVM, release="kvm_destroy_vm", text="kvm_put_kvm(kvm);   /* the reference open_device took */"),
        step("matrix_mdev->kvm = NULL;"),
    ], via=("vfio_ap_mdev_close_device",))
    # CPU1: close() of the VM fd.
    m.func("kvm_vm_release", [
        step("kvm_irqfd_release(kvm);"),
        put(KVM, release="kvm_destroy_vm", text="kvm_put_kvm(kvm);"),
        step("return 0;"),
    ])
    m.cpu("CPU0", "vfio_device_group_close", comm="qemu-system-s39", pid=1180,
          stack=S390_CLOSE + ("vfio_device_fops_release",),
          context="QEMU closes the vfio device fd (vfio_device_fops_release)")
    m.cpu("CPU1", "kvm_vm_release", comm="qemu-system-s39", pid=1181, stack=S390_CLOSE,
          context="QEMU closes the VM fd (kvm_vm_release)")


def _release_and_open(m: Model, variant: str) -> None:
    # CPU0: the last close of the kvm-vfio device fd, as a vCPU thread exits.
    m.func("kvm_device_release", [
        mutex_lock(KVM_LOCK, "mutex_lock(&kvm->lock);   /* dev->ops->release is set */"),
        step("list_del(&dev->vm_node);"),
        call("kvm_vfio_release", "dev->ops->release(dev);"),
        mutex_unlock(KVM_LOCK, "mutex_unlock(&kvm->lock);"),
        put(KVM, release="kvm_destroy_vm", text="kvm_put_kvm(kvm);"),
        step("return 0;"),
    ])
    m.func("kvm_vfio_release", [
        call("vfio_file_set_kvm", "kvm_vfio_file_set_kvm(kvg->file, NULL);   /* for each group */"),
        step("fput(kvg->file); kfree(kvg); kfree(kv); kfree(dev);"),
    ])
    # CPU1: ioctl(VFIO_GROUP_GET_DEVICE_FD) opens the vfio_ap mediated device.
    if variant == "after":
        m.func("vfio_device_open_file", [
            mutex_lock(GROUP_LOCK, "mutex_lock(&device->group->group_lock);   /* vfio_device_group_open() */"),
            call("vfio_device_open", "ret = vfio_device_open(device, device->group->iommufd, device->group->kvm);"),
            mutex_unlock(GROUP_LOCK, "mutex_unlock(&device->group->group_lock);"),
        ])
        m.func("vfio_device_open", [
            mutex_lock(DEV_SET, "mutex_lock(&device->dev_set->lock);"),
            let("device->kvm", var(GROUP_KVM), "device->kvm = kvm;   /* vfio_device_first_open() */"),
            call("vfio_ap_mdev_open_device", "ret = device->ops->open_device(device);"),
            mutex_unlock(DEV_SET, "mutex_unlock(&device->dev_set->lock);"),
        ])
    else:
        m.func("vfio_device_open_file", [
            call("vfio_device_group_open", "ret = vfio_device_group_open(device);"),
        ])
        m.func("vfio_device_group_open", [
            mutex_lock(GROUP_LOCK, "mutex_lock(&device->group->group_lock);"),
            mutex_lock(DEV_SET, "mutex_lock(&device->dev_set->lock);"),
            call("vfio_device_group_get_kvm_safe",
                 "if (device->open_count == 0) vfio_device_group_get_kvm_safe(device);"),
            call("vfio_device_open", "ret = vfio_device_open(device, device->group->iommufd);"),
            mutex_unlock(DEV_SET, "mutex_unlock(&device->dev_set->lock);"),
            mutex_unlock(GROUP_LOCK, "mutex_unlock(&device->group->group_lock);"),
        ])
        m.func("vfio_device_group_get_kvm_safe", [
            spin_lock(KVM_REF_LOCK, "spin_lock(&device->group->kvm_ref_lock);"),
            if_(var(GROUP_KVM) == None, "unlock", "if (!device->group->kvm) goto unlock;"),
            get_not_zero(KVM, "device->kvm",
                         "ok = kvm_get_kvm_safe(kvm);   /* vfio_device_get_kvm_safe(): vfio's own reference */"),
            label("unlock"),
            spin_unlock(KVM_REF_LOCK, "spin_unlock(&device->group->kvm_ref_lock);   /* if (ok) device->kvm = kvm */"),
        ])
        m.func("vfio_device_open", [
            call("vfio_ap_mdev_open_device",
                 "ret = device->ops->open_device(device);   /* vfio_device_first_open(), dev_set->lock held */"),
        ])
    m.func("vfio_ap_mdev_open_device", [
        if_(~local("device->kvm"), "einval", "if (!vdev->kvm) return -EINVAL;"),
        # vfio_ap_mdev_set_kvm() -> get_update_locks_for_kvm(), inlined.
        mutex_lock(GUESTS, "mutex_lock(&matrix_dev->guests_lock);"),
        mutex_lock(KVM_LOCK, "mutex_lock(&kvm->lock);"),
        get(KVM, "kvm_get_kvm(kvm); matrix_mdev->kvm = kvm; vfio_ap_mdev_update_guest_apcb(matrix_mdev);"),
        mutex_unlock(KVM_LOCK, "mutex_unlock(&kvm->lock);"),
        mutex_unlock(GUESTS, "mutex_unlock(&matrix_dev->guests_lock);"),
        label("einval"),
    ])
    m.cpu("CPU0", "kvm_device_release", comm="CPU 0/KVM", pid=1173, stack=S390_EXIT,
          context="a vCPU thread exits and drops the last reference to the kvm-vfio device fd")
    m.cpu("CPU1", "vfio_device_open_file", comm="qemu-system-s39", pid=1165, stack=S390_IOCTL,
          context="QEMU opens the vfio_ap device (ioctl VFIO_GROUP_GET_DEVICE_FD)")


def build(variant: str):
    m = Model("kvm_vfio", variant, "kvm/vfio: group_lock, kvm->lock and the last kvm reference")
    m.mutex(GROUP_LOCK, cls="&group->group_lock")
    m.mutex(DEV_SET, cls="&new_dev_set->lock")
    if variant != "before":
        m.mutex(GUESTS, cls="&matrix_dev->guests_lock")
        m.mutex(KVM_LOCK, cls="&kvm->lock")
    if variant == "final":
        m.spinlock(KVM_REF_LOCK, cls="&group->kvm_ref_lock")
    # before: the VM fd and vfio_ap's reference (the kvm-vfio device fd is closed already);
    # after/final: the VM fd and the kvm-vfio device fd.
    m.ref(KVM, 2)
    m.shared(GROUP_KVM, True)         # set by KVM_DEV_VFIO_GROUP_ADD earlier
    _kvm_destroy(m, variant)
    _vfio_file_set_kvm(m, variant)
    if variant == "before":
        _before(m)
    else:
        _release_and_open(m, variant)
    return m.build()


CASE = Case(
    id="kvm_vfio",
    title="kvm/vfio: group_lock vs the last kvm reference, then vs kvm->lock",
    summary=("Closing a vfio device fd after the VM fd dropped the last kvm reference under vfio's "
             "group_lock, and kvm_destroy_vm() called back into vfio_file_set_kvm(), which takes "
             "group_lock again: a task deadlocked on itself. The fix moved kvm-vfio's teardown to "
             ".release, run when its device fd closes, but with kvm->lock held; vfio_ap takes "
             "kvm->lock in open_device under group_lock, and lockdep reported the new cycle within "
             "days. The follow-up has vfio hold its own kvm reference and protect group->kvm with a "
             "spinlock instead of group_lock."),
    variants=(
        Variant("before", "kvm-vfio .destroy: the last kvm_put_kvm() under group_lock",
                partial(build, "before"), lockdep=("CPU1* CPU0*",), expect="deadlock"),
        Variant("after", "kvm-vfio .release under kvm->lock vs vfio_ap open_device (51cdc8bc120e)",
                partial(build, "after"), lockdep=("CPU1*", "CPU0*"), expect="deadlock"),
        Variant("final", "vfio holds its own kvm reference; kvm_ref_lock replaces group_lock (2b48f52f2bff)",
                partial(build, "final"), lockdep=("CPU1*", "CPU0*"), expect="nothing"),
    ),
    fix=Fix("kvm/vfio: Fix potential deadlock on vfio group_lock", "51cdc8bc120e",
            "https://git.kernel.org/torvalds/c/51cdc8bc120e"),
    fixes=Fix("vfio: remove VFIO_GROUP_NOTIFY_SET_KVM", "421cfe6596f6",
              "https://git.kernel.org/torvalds/c/421cfe6596f6"),
    later=(Fix("vfio: fix deadlock between group lock and kvm lock", "2b48f52f2bff",
               "https://git.kernel.org/torvalds/c/2b48f52f2bff"),),
    links=("https://lore.kernel.org/r/20230120150528.471752-1-yi.l.liu@intel.com",
           "https://lore.kernel.org/kvm/20230114000351.115444-1-mjrosato@linux.ibm.com/T/#u",
           "https://lore.kernel.org/r/20230202162442.78216-1-mjrosato@linux.ibm.com"),
    date="2023-01",
    simplifications=leaves_out(__doc__),
)
