"""kvm/vfio: the last kvm reference, vfio's ``group_lock`` and ``kvm->lock``.

KVM tells vfio which VM a vfio group belongs to: the kvm-vfio pseudo device
calls ``vfio_file_set_kvm()`` when a group is added to it, and again with
``NULL`` when it goes away. ``vfio_file_set_kvm()`` takes the group's
``group_lock``, the lock vfio holds while it opens and closes devices, so
that an opening driver sees a stable ``group->kvm``: ``group->kvm`` is a bare
pointer, and holding ``group_lock`` across the open is the only thing that
keeps the VM alive until the driver takes its own reference. Drivers that
need the VM (vfio_ap on s390, kvmgt, vfio-pci-zdev) take a kvm reference in
their ``open_device`` and drop it in ``close_device``.

vfio_ap takes that reference in ``vfio_ap_mdev_set_kvm()`` and drops it in
``vfio_ap_mdev_unset_kvm()``, both times inside
``get_update_locks_for_kvm()``: ``matrix_dev->guests_lock``, then
``kvm->lock``, then ``matrix_dev->mdevs_lock`` (it needs ``kvm->lock`` to
take the vCPUs out of SIE while it changes the guest's AP configuration,
Anthony Krowiak said on the thread). So its final ``kvm_put_kvm()`` runs
with all three held, and with ``group_lock`` and the device set's lock that
vfio holds around ``close_device``.

``before`` (v6.0 to v6.2-rc5, since 421cfe6596f6 replaced the notifier with
a kvm pointer handed over at open): closing the vfio device fd runs
``close_device`` under ``group_lock``. If the VM fd (and the vCPU and
kvm-vfio device fds) were closed first, vfio_ap's ``kvm_put_kvm()`` drops
the last reference and ``kvm_destroy_vm()`` runs right there:
``kvm_destroy_devices()`` calls the kvm-vfio device's ``.destroy``, which
calls ``vfio_file_set_kvm()``, which takes ``group_lock`` again. One task
deadlocks on itself; no second cpu is needed, only this order of closes. If
the vfio device is closed first, the VM fd's close drops the last reference
with no lock held, and nothing happens. No hang was reported: Alex
Williamson pointed out the call chain from the code, in a reply to
421cfe6596f6's patch (January 2023).

``after`` (51cdc8bc120e, in v6.2-rc6 and v6.2) makes kvm-vfio use
``.release``, which ``kvm_device_release()`` calls when the kvm-vfio device
fd is closed, so ``kvm_destroy_vm()`` no longer calls into vfio. But
``kvm_device_release()`` calls ``.release`` with ``kvm->lock`` held, and
vfio_ap's ``open_device`` takes ``kvm->lock`` (after ``guests_lock``) while
vfio holds ``group_lock`` and the device set's lock: ``group_lock`` ->
``kvm->lock`` on open, ``kvm->lock`` -> ``group_lock`` on release. Anthony
Krowiak's lockdep report on the thread (data/splats/kvm_vfio.txt) is that
cycle. It was lockdep's prediction, not a hang: during a vfio_ap regression
test the device was opened (most likely by QEMU when the guest started: the
report's older stacks show the ioctl, not the task that made it) and QEMU's
last thread closed the kvm-vfio fd when it exited seconds later; lockdep put
the two orders together and warned, and the test finished. The two paths can only
deadlock if they overlap, and they cannot overlap inside one QEMU: an
exiting thread closes the process's files in ``do_exit()`` only when it is
the last thread to leave, so no other thread of that QEMU can still be in
an ioctl. So the model's CPU0 is QEMU exiting, as in the
report, and CPU1 is another process that holds the same vfio group file
(passed over a Unix socket or inherited) and opens the device while QEMU
exits. Jason Gunthorpe first answered that drivers could no longer take
``kvm->lock`` in ``open_device``; vfio_ap needs it, so he suggested keeping
the patch and also letting vfio hold its own kvm reference. Matthew Rosato
pointed out that this alone would not help, as ``kvm_vfio_release()`` still
takes ``group_lock`` under ``kvm->lock``; Jason replied that
``vfio_file_set_kvm()`` holds ``group_lock`` only to keep the kvm pointer
alive across the open, and that with a real reference it could be a
spinlock held just long enough to take one.

``half_fix`` (hypothetical) is that middle step: vfio takes its own kvm
reference under ``kvm_ref_lock`` as 2b48f52f2bff does, but
``vfio_file_set_kvm()`` still takes ``group_lock``. It deadlocks exactly as
``after`` does, which is Matthew's point; it exists for the exercise that
asks the learner to finish the fix.

``final`` (2b48f52f2bff, v6.3): vfio takes its own kvm reference
(``kvm_get_kvm_safe()``) under a new spinlock, ``kvm_ref_lock``, when a
device is first opened, and ``vfio_file_set_kvm()`` takes only that spinlock.
Nothing on the release path waits for ``group_lock`` any more. vfio drops
its reference after ``close_device``, still under ``group_lock`` and the
device set's lock, so vfio_ap's put is never the last one and vfio's may be;
that is harmless since 51cdc8bc120e, because ``kvm_destroy_vm()`` no longer
calls into vfio.

What the model leaves out, and why: one group, one device, one VM; each
variant has only the two tasks its bug needs (``before``: the vfio device
close and the VM fd close, two threads of one QEMU; ``after``, ``half_fix``
and ``final``: QEMU's exit closing the kvm-vfio device fd, and the other
process's first open of the device). A real deadlock in ``after`` also
needs the device to be closed when the other process opens it (only the
first open calls ``open_device``); the model starts there. The kvm-vfio
device fd is already closed in ``before`` (with ``.destroy`` its close only
drops a reference), vCPU fds are closed, and the reference counts start
where that leaves them (``before``: the VM fd's and vfio_ap's; the others:
the VM fd's and the kvm-vfio device's). ``kvm_destroy_vm()``'s other work
(``kvm_lock`` around the VM list, memslots, ``kvm_arch_destroy_vm()``) is one
step, and takes neither ``kvm->lock`` nor a vfio lock. In ``before`` the
task never gets past ``group_lock``; had it gone on, ``kvm_arch_free_vm()``
would have freed the ``struct kvm`` whose ``kvm->lock`` vfio_ap still holds
(our reading of the code; the thread does not discuss it). vfio_ap also
takes ``kvm->arch.crypto.pqap_hook_rwsem`` for write just before
``get_update_locks_for_kvm()`` and drops it again, left out because it is
not held across anything modelled; error paths other than vfio_ap's
``-EINVAL`` when the device has no kvm are left out too. Function names
follow the kernel each variant comes from: in the 6.2 report
``vfio_device_open_file()`` takes ``group_lock`` itself (with whatever it
inlines), so ``after`` steps it there; ``half_fix`` and ``final`` use the
functions of the fixed code (later kernels renamed them again, e.g.
``vfio_df_group_open()``). Task names: ``CPU 0/KVM``/1173 is from the
report; QEMU's other tasks are ``qemu-system-s39`` (the 15 characters the
kernel keeps of ``qemu-system-s390x``) with made-up pids, and the other
process is a made-up ``vfio-helper``.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, get, get_not_zero, if_, label, let, local, mutex_lock,
                     mutex_unlock, put, spin_lock, spin_unlock, step, var)
from .base import Case, Exercise, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

GROUP_LOCK = "group->group_lock"
DEV_SET = "dev_set->lock"
GUESTS = "matrix_dev->guests_lock"
KVM_LOCK = "kvm->lock"
MDEVS = "matrix_dev->mdevs_lock"
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
    # get_update_locks_for_kvm() and release_update_locks_for_kvm() inlined:
    # the final put runs under all three of vfio_ap's locks.
    m.func("vfio_ap_mdev_unset_kvm", [
        mutex_lock(GUESTS, "mutex_lock(&matrix_dev->guests_lock);   /* get_update_locks_for_kvm(kvm) */"),
        mutex_lock(KVM_LOCK, "mutex_lock(&kvm->lock);"),
        mutex_lock(MDEVS, "mutex_lock(&matrix_dev->mdevs_lock);"),
        step("kvm_arch_crypto_clear_masks(kvm); vfio_ap_mdev_reset_queues(&matrix_mdev->qtable);"),
        put(KVM, release="kvm_destroy_vm", text="kvm_put_kvm(kvm);   /* the reference open_device took */"),
        step("matrix_mdev->kvm = NULL;"),
        mutex_unlock(MDEVS, "mutex_unlock(&matrix_dev->mdevs_lock);   /* release_update_locks_for_kvm(kvm) */"),
        mutex_unlock(KVM_LOCK, "mutex_unlock(&kvm->lock);"),
        mutex_unlock(GUESTS, "mutex_unlock(&matrix_dev->guests_lock);"),
    ], via=("vfio_ap_mdev_close_device",))
    # CPU1: close() of the VM fd.
    m.func("kvm_vm_release", [
        step("kvm_irqfd_release(kvm);"),
        put(KVM, release="kvm_destroy_vm", text="kvm_put_kvm(kvm);"),
        step("return 0;"),
    ])
    m.cpu("CPU0", "vfio_device_group_close", comm="qemu-system-s39", pid=1180,
          stack=S390_CLOSE + ("vfio_device_fops_release",),
          context="a QEMU thread closes the vfio device fd (vfio_device_fops_release)")
    m.cpu("CPU1", "kvm_vm_release", comm="qemu-system-s39", pid=1181, stack=S390_CLOSE,
          context="another QEMU thread closes the VM fd (kvm_vm_release)")


def _release_and_open(m: Model, variant: str) -> None:
    # CPU0: QEMU exits; its last thread drops the last reference to the kvm-vfio device fd.
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
    # vfio_ap_mdev_set_kvm() with get_update_locks_for_kvm() and
    # release_update_locks_for_kvm() inlined.
    m.func("vfio_ap_mdev_open_device", [
        if_(~local("device->kvm"), "einval", "if (!vdev->kvm) return -EINVAL;"),
        mutex_lock(GUESTS, "mutex_lock(&matrix_dev->guests_lock);   "
                           "/* vfio_ap_mdev_set_kvm(): get_update_locks_for_kvm(kvm) */"),
        mutex_lock(KVM_LOCK, "mutex_lock(&kvm->lock);"),
        mutex_lock(MDEVS, "mutex_lock(&matrix_dev->mdevs_lock);"),
        get(KVM, "kvm_get_kvm(kvm); matrix_mdev->kvm = kvm; vfio_ap_mdev_update_guest_apcb(matrix_mdev);"),
        mutex_unlock(MDEVS, "mutex_unlock(&matrix_dev->mdevs_lock);   /* release_update_locks_for_kvm(kvm) */"),
        mutex_unlock(KVM_LOCK, "mutex_unlock(&kvm->lock);"),
        mutex_unlock(GUESTS, "mutex_unlock(&matrix_dev->guests_lock);"),
        label("einval"),
    ])
    m.cpu("CPU0", "kvm_device_release", comm="CPU 0/KVM", pid=1173, stack=S390_EXIT,
          context="QEMU exits: its last thread drops the last reference to the kvm-vfio device fd "
                  "(as in the report)")
    m.cpu("CPU1", "vfio_device_open_file", comm="vfio-helper", pid=1190, stack=S390_IOCTL,
          context="another process holding the same vfio group file opens the vfio_ap device "
                  "(ioctl VFIO_GROUP_GET_DEVICE_FD) while QEMU exits")


def build(variant: str):
    m = Model("kvm_vfio", variant, "kvm/vfio: group_lock, kvm->lock and the last kvm reference")
    m.mutex(GROUP_LOCK, cls="&group->group_lock")
    m.mutex(DEV_SET, cls="&new_dev_set->lock")
    m.mutex(GUESTS, cls="&matrix_dev->guests_lock")
    m.mutex(KVM_LOCK, cls="&kvm->lock")
    m.mutex(MDEVS, cls="&matrix_dev->mdevs_lock")
    if variant in ("half_fix", "final"):
        m.spinlock(KVM_REF_LOCK, cls="&group->kvm_ref_lock")
    # before: the VM fd and vfio_ap's reference (the kvm-vfio device fd is closed already);
    # the others: the VM fd and the kvm-vfio device fd.
    m.ref(KVM, 2)
    m.shared(GROUP_KVM, True)         # set by KVM_DEV_VFIO_GROUP_ADD earlier
    _kvm_destroy(m, variant)
    _vfio_file_set_kvm(m, variant)
    if variant == "before":
        _before(m)
    else:
        _release_and_open(m, variant)
    return m.build()

SET_KVM_WITH_GROUP_LOCK = """mutex_lock(&group->group_lock);
group->kvm = kvm;   /* NULL */
mutex_unlock(&group->group_lock);"""
SET_KVM_FINAL = """spin_lock(&group->kvm_ref_lock);
group->kvm = kvm;   /* NULL */
spin_unlock(&group->kvm_ref_lock);"""

EXERCISES = (
    Exercise(
        1, "schedule", "before", title="Be the scheduler: make the vfio close deadlock on itself",
        answer="CPU1* CPU0*",
        explain=("Let CPU1 close the VM fd first: its kvm_put_kvm() is not the last (vfio_ap still holds a "
                 "reference), so nothing happens. Then CPU0 closes the vfio device fd: under group_lock, "
                 "dev_set->lock and vfio_ap's three locks, vfio_ap's kvm_put_kvm() is now the last; "
                 "kvm_destroy_vm() walks into kvm_vfio_destroy() and vfio_file_set_kvm(), which asks for "
                 "group_lock, which CPU0 already holds. No interleaving is needed, only this order of the two "
                 "closes; the other order is safe. Any schedule in which CPU1's put comes before CPU0's is "
                 "right."),
        wrong=("CPU0* CPU1*", "CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU1 CPU0", "CPU1 CPU1")),
    Exercise(
        2, "verdict", "after", title="Predict: the first fix, 51cdc8bc120e",
        answer="deadlock",
        explain=("kvm_destroy_vm() no longer calls into vfio, so the self-deadlock is gone, but .release runs "
                 "with kvm->lock held and takes group_lock (kvm->lock -> group_lock), while vfio_ap's "
                 "open_device takes kvm->lock under group_lock (group_lock -> ... -> kvm->lock). Two tasks "
                 "that each hold one and want the other deadlock: the explorer finds it, and lockdep reported "
                 "the same cycle eleven days after the fix was applied."),
        wrong=("clean", "use_after_free")),
    Exercise(
        3, "chain", title="Read the real report: the chain lockdep recorded",
        report="data/splats/kvm_vfio.txt",
        answer=["&kvm->lock", "&matrix_dev->guests_lock", "&new_dev_set->lock", "&group->group_lock"],
        explain=("Copy the classes of the '-> #N (class)' lines in the order printed, #3 to #0. Each entry was "
                 "taken while the entry printed after it was held: vfio_ap's open took kvm->lock (#3) holding "
                 "guests_lock (#2), guests_lock holding the device set's lock (#1), and that holding group_lock "
                 "(#0), all on one path, a VFIO_GROUP_GET_DEVICE_FD ioctl (most likely QEMU's at guest start; the "
                 "report does not name that task). Seconds later the exiting vCPU thread, holding "
                 "kvm->lock in kvm_device_release(), asked for group_lock: the cycle closes. 'Chain exists of' "
                 "prints it forwards, shortened to three classes."),
        wrong=(["&group->group_lock", "&new_dev_set->lock", "&matrix_dev->guests_lock", "&kvm->lock"],
               ["&kvm->lock", "&group->group_lock"],
               ["&kvm->lock", "&matrix_dev->mdevs_lock", "&new_dev_set->lock", "&group->group_lock"])),
    Exercise(
        4, "fix", "half_fix", title="Write the fix yourself: finish what the half fix started",
        function="vfio_file_set_kvm", must_hold=(("group->kvm = kvm", KVM_REF_LOCK),),
        answer=SET_KVM_FINAL,
        explain=("group_lock was only ever held here to keep group->kvm alive across an open. In half_fix the "
                 "open already takes vfio's own reference under group->kvm_ref_lock, so the writer only needs "
                 "that spinlock: a reader then sees either the VM, while its reference is still held, or NULL. "
                 "Nothing on the release path waits for group_lock any more, and the cycle is gone. That is "
                 "2b48f52f2bff (the final variant). Taking no lock at all is no fix: the open could read the "
                 "pointer just before the release clears it and drops the last reference. Taking the device "
                 "set's lock instead falls into the same trap as 51cdc8bc120e: the open holds dev_set->lock while "
                 "vfio_ap takes kvm->lock, so the release path, holding kvm->lock, would deadlock on it."),
        wrong=(SET_KVM_WITH_GROUP_LOCK,
               "group->kvm = kvm;   /* NULL */",
               "mutex_lock(&dev_set->lock);\ngroup->kvm = kvm;   /* NULL */\nmutex_unlock(&dev_set->lock);",
               "spin_lock(&group->kvm_ref_lock);\nmutex_lock(&group->group_lock);\ngroup->kvm = kvm;   /* NULL */\n"
               "mutex_unlock(&group->group_lock);\nspin_unlock(&group->kvm_ref_lock);")),
)

CASE = Case(
    id="kvm_vfio",
    title="kvm/vfio: the last kvm reference under group_lock, then group_lock against kvm->lock",
    summary=("Closing a vfio device fd after the VM fd could drop the last kvm reference under vfio's "
             "group_lock (vfio_ap drops it holding guests_lock, kvm->lock and mdevs_lock as well), and "
             "kvm_destroy_vm() called back into vfio_file_set_kvm(), which takes group_lock again: a task "
             "deadlocked on itself. Alex Williamson pointed it out from the code; no hang was reported. "
             "The fix, 51cdc8bc120e, moved kvm-vfio's teardown to .release, run when its device fd "
             "closes, but with kvm->lock held; vfio_ap takes kvm->lock in open_device under group_lock, "
             "and eleven days later lockdep predicted the new cycle in a test run (nothing hung: the "
             "open, most likely QEMU's at guest start, and the release at QEMU's exit were seconds "
             "apart). The follow-up, 2b48f52f2bff, has "
             "vfio hold its own kvm reference and protect group->kvm with a spinlock instead of "
             "group_lock."),
    variants=(
        Variant("before", "kvm-vfio .destroy: the last kvm_put_kvm() under group_lock",
                partial(build, "before"), lockdep=("CPU1* CPU0*",), expect="deadlock"),
        Variant("after", "kvm-vfio .release under kvm->lock vs vfio_ap open_device (51cdc8bc120e)",
                partial(build, "after"), lockdep=("CPU1*", "CPU0*"), expect="deadlock"),
        Variant("half_fix", "vfio's own kvm reference, but vfio_file_set_kvm() still takes group_lock",
                partial(build, "half_fix"), lockdep=("CPU1*", "CPU0*"), expect="deadlock",
                note="hypothetical: 2b48f52f2bff without its change to vfio_file_set_kvm(), the middle step "
                     "Matthew Rosato showed on the thread was not enough; never posted as a patch"),
        Variant("final", "vfio holds its own kvm reference; kvm_ref_lock replaces group_lock (2b48f52f2bff)",
                partial(build, "final"), lockdep=("CPU1*", "CPU0*"), expect="nothing"),
    ),
    fix=Fix("kvm/vfio: Fix potential deadlock on vfio group_lock", "51cdc8bc120e",
            "https://git.kernel.org/torvalds/c/51cdc8bc120e",
            note="It removed the self-deadlock and created the kvm->lock one; the final fix is 2b48f52f2bff."),
    fixes=Fix("vfio: remove VFIO_GROUP_NOTIFY_SET_KVM", "421cfe6596f6",
              "https://git.kernel.org/torvalds/c/421cfe6596f6"),
    later=(Fix("vfio: fix deadlock between group lock and kvm lock", "2b48f52f2bff",
               "https://git.kernel.org/torvalds/c/2b48f52f2bff",
               note="Fixes: 51cdc8bc120e; Reported-by Anthony Krowiak, Suggested-by Jason Gunthorpe; "
                    "applied for v6.3 together with b0d2d5697e4c \"vfio: no need to pass kvm pointer during "
                    "device open\"."),),
    links=("https://lore.kernel.org/kvm/20230105150930.6ee65182.alex.williamson@redhat.com/",
           "https://lore.kernel.org/r/20230120150528.471752-1-yi.l.liu@intel.com",
           "https://lore.kernel.org/kvm/20230114000351.115444-1-mjrosato@linux.ibm.com/T/#u",
           "https://lore.kernel.org/r/20230203215027.151988-2-mjrosato@linux.ibm.com"),
    date="2023-01",
    kernels=("before: v6.0 (421cfe6596f6) to v6.2-rc5; after: v6.2-rc6 and the v6.2 release "
             "(51cdc8bc120e went in for 6.2-rc6 and was also backported to 6.1 stable, review of 30 January "
             "2023; 2b48f52f2bff only for v6.3, and we did not check which 6.1.y or 6.2.y stable kernels "
             "took it); final: v6.3 on, where later kernels rename the functions "
             "(vfio_df_group_open() ...). The report: 6.2.0-rc6 on s390 (IBM z15)."),
    simplifications=leaves_out(__doc__),
    exercises=EXERCISES,
)
