"""s390 IOMMU: ``release_device`` races VFIO's attach/detach, and the device stays attached.

Since fa7e9ecc5e1c the s390 IOMMU driver lets a device move between IOMMU
domains and back to its own DMA API: ``s390_iommu_attach_device()`` tears the
DMA API table down (``zpci_dma_exit_device``) and registers the domain's
table; ``s390_iommu_detach_device()`` forgets the domain and brings the DMA
API back (``zpci_unregister_ioat`` + ``zpci_dma_init_device``).
``zdev->s390_domain`` says which domain the device is on.

The IOMMU core calls attach/detach under the group's mutex, but it calls
``ops->release_device()`` *without* it, from the ``device_del()`` bus
notifier, and only afterwards takes the device off the group's list
(``iommu_group_remove_device``). Matthew Rosato hit the window on s390 when a
PCI function was deconfigured while QEMU was setting up or tearing down
vfio-pci:

* CPU0: QEMU's ``VFIO_GROUP_UNSET_CONTAINER`` ioctl runs
  ``__vfio_group_unset_container()``: ``iommu_detach_group()`` switches the
  group to its blocking domain (on s390 that is an ``attach_dev``), then
  ``iommu_group_release_dma_owner()`` detaches it (``detach_dev``);
* CPU1: ``device_del()`` calls ``s390_iommu_release_device()``, which checks
  ``zdev->s390_domain``, reads ``iommu_get_domain_for_dev()`` and detaches
  from that domain.

If CPU0's attach lands between CPU1's read of the domain and its detach,
CPU1 detaches from a domain the device has already left (the check
``zdev->s390_domain == s390_domain`` fails, so nothing happens), then removes
the device from the group, and CPU0's later detach no longer sees it: the
device is released yet still attached to the blocking domain, and its DMA
API table is never rebuilt. The window is wider than it looks: the core
sets ``group->domain`` only after ``attach_dev`` returns, so CPU1 can still
read VFIO's domain after the attach (the explorer's shortest run). If CPU0's
attach lands after CPU1's detach but before the group removal, the attach
even tears the fresh DMA API table down again. Matthew saw WARNs and
potential kernel panics.

The patch modelled as ``after`` (v4 of "iommu/s390: Fix race with
release_device ops") adds ``zdev->dma_domain_lock`` around every change of
``zdev->s390_domain`` and marks the device as probed with
``dev_iommu_priv_set(dev, zdev)`` in ``s390_iommu_probe_device()``.
``release_device`` clears that pointer under the lock first, so a later
attach leaves at once and a later detach skips the DMA re-init; then
``release_device`` itself detaches and re-initialises DMA under the lock.

That patch was never merged: the thread (Robin Murphy, Jason Gunthorpe)
concluded that VFIO must not touch a group after the last driver has left a
device, and ca5f21b25749 ("vfio: Follow a strict lifetime for struct
iommu_group") fixed the race in VFIO; Niklas Schnelle's bf8d2dd2ed08 later
reworked the s390 attach/detach (the duplicate list entries that
fa7e9ecc5e1c allowed).

What the model leaves out, and why: the domain's device list
(``s390_domain->devices``, ``list_lock``) is not modelled: here the device
is on the list of every domain it is detached from, so ``found`` is always
true and only ``zdev->s390_domain == s390_domain`` decides. The hardware
calls (``zpci_register_ioat``, ``zpci_unregister_ioat``) always succeed and
are folded into the assignments to ``zdev->dma_table``; the WARN Matthew saw
("iommu driver failed to attach the default/blocking domain" in
``iommu_detach_group``) came from such a call failing on a function being
torn down, so instead of that WARN the model checks the state both paths
leave behind (two invariants checked when every cpu has finished). Only the
blocking domain is ever attached by CPU0, so its attach is written for that
domain. The vfio-pci driver unbind that precedes ``device_del`` and the
``kzalloc``/error paths of attach are not modelled. The kernel is 6.0-rc,
after 9ac8545199a1 moved ``iommu_group_remove_device`` after
``release_device``.
"""

from __future__ import annotations

from functools import partial

from ..model import Model, assign, call, if_, label, let, local, mutex_lock, mutex_unlock, var
from .base import Case, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

DOMAIN = "zdev->s390_domain"
TABLE = "zdev->dma_table"          # whose translation table is registered: a domain's, or "dma_api"
PRIV = "dev->iommu->priv"          # dev_iommu_priv_get(dev): zdev while probed (after only)
GROUP_DOMAIN = "group->domain"     # iommu_get_domain_for_dev(dev)
IN_GROUP = "group->devices"        # the device is on its iommu_group's list


def build(variant: str):
    fixed = variant == "after"
    m = Model("s390_release", variant, "s390 IOMMU: release_device vs attach_dev/detach_dev")
    m.mutex("group_mutex", cls="&group->mutex")
    if fixed:
        m.mutex("dma_domain_lock", cls="&zdev->dma_domain_lock")
    # QEMU has the device in a VFIO container: attached to VFIO's unmanaged domain.
    m.shared(DOMAIN, "vfio_domain")
    m.shared(TABLE, "vfio_domain")
    m.shared(GROUP_DOMAIN, "vfio_domain")
    m.shared(IN_GROUP, True)
    if fixed:
        m.shared(PRIV, "zdev")         # set by s390_iommu_probe_device(): dev_iommu_priv_set(dev, zdev)

    def locked(ops):
        if not fixed:
            return ops
        return [mutex_lock("dma_domain_lock", "mutex_lock(&zdev->dma_domain_lock);"), *ops,
                mutex_unlock("dma_domain_lock", "mutex_unlock(&zdev->dma_domain_lock);")]

    # --- drivers/iommu/s390-iommu.c -------------------------------------------------
    attach = []
    if fixed:
        attach += [
            mutex_lock("dma_domain_lock", "mutex_lock(&zdev->dma_domain_lock);"),
            if_(var(PRIV) == None, "out_unlock",  # noqa: E711 - builds an Expr
                "if (!dev_iommu_priv_get(dev)) goto out_unlock;   /* released: leave now, return 0 */"),
        ]
    attach += [
        if_(~((var(TABLE) != None) & (var(DOMAIN) == None)), "registered",  # noqa: E711
            "if (zdev->dma_table && !zdev->s390_domain)"),
        assign(TABLE, None, "    zpci_dma_exit_device(zdev);   /* the DMA API table goes */"),
        label("registered"),
        assign(TABLE, "blocking_domain",
               "zdev->dma_table = s390_domain->dma_table; zpci_register_ioat(zdev, 0, ...);"),
        assign(DOMAIN, "blocking_domain", "zdev->s390_domain = s390_domain;"),
    ]
    if fixed:
        attach += [label("out_unlock"),
                   mutex_unlock("dma_domain_lock", "mutex_unlock(&zdev->dma_domain_lock);")]
    m.func("s390_iommu_attach_device", attach, via=("__iommu_group_set_domain", "__iommu_group_for_each_dev",
                                                     "iommu_group_do_attach_device", "__iommu_attach_device"))

    # The caller has put the domain it detaches from in $domain.
    still_ours = var(DOMAIN) == local("domain")
    detach_text = "if (found && zdev->s390_domain == s390_domain)"
    if fixed:
        still_ours = still_ours & (var(PRIV) != None)  # noqa: E711
        detach_text = "if (found && zdev->s390_domain == s390_domain && dev_iommu_priv_get(dev))"
    m.func("s390_iommu_detach_device", locked([
        if_(~still_ours, "out", detach_text + " {"),
        assign(DOMAIN, None, "    zdev->s390_domain = NULL;"),
        assign(TABLE, "dma_api", "    zpci_unregister_ioat(zdev, 0); zpci_dma_init_device(zdev);"),
        label("out"),
    ]))

    if fixed:
        m.func("s390_iommu_release_device", [
            mutex_lock("dma_domain_lock", "mutex_lock(&zdev->dma_domain_lock);"),
            assign(PRIV, None, "dev_iommu_priv_set(dev, NULL);   /* no more attaches, detaches skip DMA */"),
            mutex_unlock("dma_domain_lock", "mutex_unlock(&zdev->dma_domain_lock);"),
            let("domain", var(GROUP_DOMAIN), "domain = iommu_get_domain_for_dev(dev);"),
            if_(local("domain") == None, "reinit", "if (domain)"),  # noqa: E711
            call("s390_iommu_detach_device", "    s390_iommu_detach_device(domain, dev);"),
            label("reinit"),
            mutex_lock("dma_domain_lock", "mutex_lock(&zdev->dma_domain_lock);"),
            if_(var(DOMAIN) == None, "unlock", "if (zdev->s390_domain) {   /* now DMA is ours to re-init */"),  # noqa: E711
            assign(DOMAIN, None, "    zdev->s390_domain = NULL;"),
            assign(TABLE, "dma_api", "    zpci_unregister_ioat(zdev, 0); zpci_dma_init_device(zdev);"),
            label("unlock"),
            mutex_unlock("dma_domain_lock", "mutex_unlock(&zdev->dma_domain_lock);"),
        ])
    else:
        m.func("s390_iommu_release_device", [
            if_(var(DOMAIN) == None, "out", "if (zdev && zdev->s390_domain) {"),  # noqa: E711
            let("domain", var(GROUP_DOMAIN), "    domain = iommu_get_domain_for_dev(dev);"),
            if_(local("domain") == None, "out", "    if (domain)"),  # noqa: E711
            call("s390_iommu_detach_device", "        s390_iommu_detach_device(domain, dev);"),
            label("out"),
        ])

    # --- drivers/iommu/iommu.c --------------------------------------------------------
    # CPU1: the bus notifier. release_device runs before the device leaves the group
    # (since 9ac8545199a1) and without group->mutex.
    m.func("iommu_release_device", [
        call("s390_iommu_release_device", "ops->release_device(dev);   /* no group->mutex held */"),
        mutex_lock("group_mutex", "mutex_lock(&group->mutex);   /* iommu_group_remove_device(dev) */"),
        assign(IN_GROUP, False, "list_del(&device->list);"),
        mutex_unlock("group_mutex", "mutex_unlock(&group->mutex);"),
    ])
    # CPU0: VFIO gives the group back: blocking domain first (attach_dev on s390) ...
    m.func("iommu_detach_group", [
        mutex_lock("group_mutex", "mutex_lock(&group->mutex);"),
        if_(~var(IN_GROUP), "set", "for_each_group_device(group, dev)   /* __iommu_group_set_core_domain() */"),
        call("s390_iommu_attach_device", "    ret = domain->ops->attach_dev(group->blocking_domain, dev);"),
        label("set"),
        assign(GROUP_DOMAIN, "blocking_domain", "group->domain = group->blocking_domain;"),
        mutex_unlock("group_mutex", "mutex_unlock(&group->mutex);"),
    ], via=("vfio_iommu_type1_detach_group",))
    # ... then no owner, no default domain on s390 (6.0): detach_dev back to the DMA API.
    m.func("iommu_group_release_dma_owner", [
        mutex_lock("group_mutex", "mutex_lock(&group->mutex);"),
        if_(~var(IN_GROUP), "set", "for_each_group_device(group, dev)   /* __iommu_group_set_domain(group, NULL) */"),
        let("domain", var(GROUP_DOMAIN), "    domain = group->domain;"),
        call("s390_iommu_detach_device", "    domain->ops->detach_dev(domain, dev);"),
        label("set"),
        assign(GROUP_DOMAIN, None, "group->domain = NULL;"),
        mutex_unlock("group_mutex", "mutex_unlock(&group->mutex);"),
    ])
    m.func("__vfio_group_unset_container", [
        call("iommu_detach_group", "driver->ops->detach_group(container->iommu_data, group->iommu_group);"),
        call("iommu_group_release_dma_owner", "iommu_group_release_dma_owner(group->iommu_group);"),
    ])

    m.cpu("CPU0", "__vfio_group_unset_container", comm="qemu-system-s39", pid=5082,
          stack=("system_call", "__do_syscall", "__s390x_sys_ioctl", "vfio_group_fops_unl_ioctl"),
          context="QEMU gives the vfio group back (ioctl VFIO_GROUP_UNSET_CONTAINER)")
    m.cpu("CPU1", "iommu_release_device", comm="bash", pid=4711,
          stack=("system_call", "__do_syscall", "ksys_write", "vfs_write", "kernfs_fop_write_iter",
                 "sysfs_kf_write", "pci_slot_attr_store", "power_write_file", "disable_slot",
                 "zpci_deconfigure_device", "zpci_bus_remove_device", "pci_stop_and_remove_bus_device_locked",
                 "pci_destroy_dev", "device_del", "blocking_notifier_call_chain", "iommu_bus_notifier"),
          context="the PCI function is deconfigured (echo 0 > /sys/bus/pci/slots/<fid>/power): device_del()")

    m.invariant("released device detached", var(DOMAIN) == None,  # noqa: E711
                "the device has been released (s390_iommu_release_device returned and it left its group) "
                "but zdev->s390_domain is still set: it stays attached to an IOMMU domain", when="end")
    m.invariant("DMA API re-initialised", var(TABLE) == "dma_api",
                "the released device's DMA API translation table was not re-initialised "
                "(no zpci_dma_init_device() after the last attach)", when="end")
    return m.build()


CASE = Case(
    id="s390_release",
    title="s390 IOMMU: release_device races attach_dev/detach_dev",
    summary=("s390_iommu_release_device() runs from device_del() without the iommu group's mutex, while "
             "VFIO_GROUP_UNSET_CONTAINER attaches the blocking domain and detaches it under that mutex. "
             "If the attach lands between release_device's look at the domain and its detach, the device "
             "is released still attached, with no DMA API table. The v4 patch serialises every change of "
             "zdev->s390_domain with zdev->dma_domain_lock and clears dev_iommu_priv at release so late "
             "attaches leave and late detaches skip; upstream instead fixed VFIO (ca5f21b25749)."),
    variants=(
        Variant("before", "release_device without the group mutex (6.0-rc, after fa7e9ecc5e1c)",
                partial(build, "before"), expect="warn"),
        Variant("after", "dma_domain_lock + dev_iommu_priv cleared at release (the v4 patch)",
                partial(build, "after"), expect="nothing"),
    ),
    # v1..v4 were posted; the thread moved the fix into VFIO, so this patch has no commit.
    fix=Fix("iommu/s390: Fix race with release_device ops", None,
            "https://lore.kernel.org/r/20220831201236.77595-2-mjrosato@linux.ibm.com", status="proposed, not merged"),
    fixes=Fix("iommu/s390: Tolerate repeat attach_dev calls", "fa7e9ecc5e1c",
              "https://git.kernel.org/torvalds/c/fa7e9ecc5e1c"),
    later=(
        Fix("vfio: Follow a strict lifetime for struct iommu_group", "ca5f21b25749",
            "https://lore.kernel.org/r/0-v2-a3c5f4429e2a+55-iommu_group_lifetime_jgg@nvidia.com"),
        Fix("iommu/s390: Fix duplicate domain attachments", "bf8d2dd2ed08",
            "https://git.kernel.org/torvalds/c/bf8d2dd2ed08"),
        Fix("vfio: Make the group FD disassociate from the iommu_group", "3dd59a7dcb97",
            "https://git.kernel.org/torvalds/c/3dd59a7dcb97"),
    ),
    links=("https://lore.kernel.org/linux-iommu/20220831201236.77595-1-mjrosato@linux.ibm.com/",
           "https://lore.kernel.org/r/0-v2-a3c5f4429e2a+55-iommu_group_lifetime_jgg@nvidia.com",
           "https://lore.kernel.org/r/20220922095239.2115309-1-schnelle@linux.ibm.com"),
    date="2022-08",
    simplifications=leaves_out(__doc__),
)
