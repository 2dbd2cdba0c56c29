"""s390 IOMMU: VFIO keeps using a group whose device is being released, and ``iommu_detach_group`` WARNs.

Since fa7e9ecc5e1c ("iommu/s390: Tolerate repeat attach_dev calls") the s390
IOMMU driver lets a PCI function move between IOMMU domains and back to its
own DMA API: ``s390_iommu_attach_device()`` tears the DMA API table down and
registers the domain's table; ``s390_iommu_detach_device()`` forgets the
domain and rebuilds the DMA API table. ``zdev->s390_domain`` says which
domain the device is on.

Matthew Rosato hit this on 6.0-rc3 when a PCI function was deconfigured
(``echo 0 > /sys/bus/pci/slots/<fid>/power``) while QEMU was giving up its
vfio group:

* CPU1 removes the device. First the driver leaves it: vfio-pci's remove
  calls ``vfio_unregister_group_dev()``, which drops the driver's reference
  on the ``vfio_group`` and returns; QEMU's open group fd keeps the group,
  and with it the ``iommu_group``. Then ``device_del()`` runs the IOMMU bus
  notifier: ``iommu_release_device()`` calls the driver's
  ``ops->release_device()`` *without* the group's mutex, and only afterwards
  takes the device off the group's list (the order since 9ac8545199a1
  "iommu: Fix use-after-free in iommu_release_device").
* CPU0 is QEMU tearing down (its ``vfio_put_group()``): the ioctl
  ``VFIO_GROUP_UNSET_CONTAINER`` calls ``iommu_detach_group()``, which
  attaches the group's blocking domain to every device still on the list,
  then ``iommu_group_release_dma_owner()``; then QEMU closes the group fd.

If CPU0's attach comes after ``release_device`` but before the device leaves
the group, the s390 driver's ``attach_dev`` fails on a device it has already
released, and ``iommu_detach_group()`` WARNs "iommu driver failed to attach
the default/blocking domain". Matthew posted that WARN on 2 Sep 2022
(``data/splats/s390_release_warn.log``; ca5f21b25749 quotes it), said the
race shows in a few ways depending on timing, this WARN by far the most
common, and that the attach fails because release_device is in flight at
the same time. The model's finding is that WARN. A second, rarer outcome
the model also checks: if the attach lands *inside* ``release_device``
(between its look at ``group->domain`` and its detach), the device ends
released and off the group yet still pointing at the blocking domain. That
is the model's own state check (an invariant at the end), not something
that was reported.

The fix Matthew posted, v4 of "iommu/s390: Fix race with release_device ops"
(variant ``proposed``), was never merged. It adds ``zdev->dma_domain_lock``
around every change of ``zdev->s390_domain`` and has release clear
``dev_iommu_priv`` first, so a late attach returns 0 at once and a late
detach skips the DMA rebuild. Robin Murphy asked how VFIO could still be
doing anything with a device whose driver was gone; Jason Gunthorpe called
it a VFIO bug: nobody should hold ownership of a group, or keep a domain
attached, once no driver is bound to its device. He fixed VFIO instead:
ca5f21b25749 "vfio: Follow a strict lifetime for struct iommu_group"
(Fixes: 9ac8545199a1; variant ``strict_lifetime``) makes the unbind of the
group's last driver wait until every user of the ``vfio_group`` (QEMU's
group fd) is gone, so VFIO never calls the IOMMU API for the group after the
driver has left and the device can be released. (Its v1 also carried an
IOMMU-core patch, "iommu: Fix ordering of iommu_release_device()", taking the
device off the group's list before ``release_device()``; Robin Murphy
welcomed it, and v2 dropped it as needing more work and discussion.) That wait was a regression:
virtnodedevd keeps group fds open, and unplug hung. 3dd59a7dcb97 "vfio: Make
the group FD disassociate from the iommu_group" (Fixes: ca5f21b25749;
variant ``disassociate``) keeps the rule without the wait: the unbind takes
``group->group_lock``, detaches the container itself if one is still set,
and clears ``group->iommu_group``, so a group fd that stays open can no
longer reach the IOMMU API. Separately, Niklas Schnelle's bf8d2dd2ed08
"iommu/s390: Fix duplicate domain attachments" (Fixes: fa7e9ecc5e1c)
reworked the s390 attach/detach.

The rule upstream chose: a group is used through the IOMMU API only while a
driver is bound to its devices; unbinding the last driver ends VFIO's use
of it, and only then may the device be released.

What the model leaves out, and why: the domain's device list
(``s390_domain->devices``, ``list_lock``) is not modelled: the device is on
the list of every domain it is detached from, so only
``zdev->s390_domain == s390_domain`` decides. Why the attach fails after
release is not pinned down in the thread (Jason's commit message says the
driver had already passed the point of destructing the device); the model
says it with one flag, ``dev released``, set when ``ops->release_device()``
returns (a line that is not kernel code), and an attach on a released device
returns -EIO at once; the hardware calls of a working attach or detach always
succeed and are folded into the assignments to ``zdev->dma_table``. Only
the blocking domain is ever attached by CPU0. vfio-pci's remove is reduced
to its group reference (QEMU has closed the device fd already, so the wait
for device users is not modelled); QEMU's group fd is one reference on
``group->users``; ``vfio_group_fops_release()`` does nothing else because
the container is gone by then. The group's own mutex and
``group_rwsem``/``group_lock`` are modelled only where they order the two
cpus (``disassociate``). The ``drivers`` refcount of ca5f21b25749 is left
out: one driver, one device. In ``disassociate`` QEMU's close and the
``-ENODEV`` checks on a cleared ``iommu_group`` are reduced to what touches
the container. The kernel is 6.0-rc3 (``before``, ``proposed``, and the names in
``strict_lifetime``); ``disassociate`` uses the names of 3dd59a7dcb97's
time (``vfio_group_ioctl_unset_container``, ``vfio_group_detach_container``).
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, complete, goto, if_, label, let, local, mutex_lock, mutex_unlock, put,
                     ret, var, wait_event, warn_on)
from ..model import step as line
from .base import Case, Exercise, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

DOMAIN = "zdev->s390_domain"
TABLE = "zdev->dma_table"          # whose translation table is registered: a domain's, or "dma_api"
PRIV = "dev->iommu->priv"          # dev_iommu_priv_get(dev): zdev while probed (proposed only)
GROUP_DOMAIN = "group->domain"     # iommu_get_domain_for_dev(dev)
IN_GROUP = "group->devices"        # the device is on its iommu_group's list
RELEASED = "dev released"          # model only: ops->release_device(dev) has returned
USERS = "vfio_group->users"        # the vfio_group's users: its own reference and QEMU's group fd
USERS_DONE = "group->users_comp"   # strict_lifetime: completed when the last user is gone
CONTAINER = "group->container"     # disassociate: the vfio_group still has its container
IOMMU_GROUP = "group->iommu_group"  # disassociate: cleared by the unbind

WARN_TEXT = "iommu driver failed to attach the default/blocking domain"
SYSCALL = ("system_call", "__do_syscall")


def build(variant: str):
    proposed = variant == "proposed"
    m = Model("s390_release", variant, "s390 IOMMU: VFIO's detach vs release_device")
    if variant == "disassociate":
        m.mutex("group_lock", cls="&group->group_lock")
    m.mutex("group_mutex", cls="&group->mutex")
    if proposed:
        m.mutex("dma_domain_lock", cls="&zdev->dma_domain_lock")
    # QEMU has the device in a VFIO container: attached to VFIO's unmanaged domain.
    m.shared(DOMAIN, "vfio_domain")
    m.shared(TABLE, "vfio_domain")
    m.shared(GROUP_DOMAIN, "vfio_domain")
    m.shared(IN_GROUP, True)
    m.shared(RELEASED, False)
    if proposed:
        m.shared(PRIV, "zdev")         # set by s390_iommu_probe_device(): dev_iommu_priv_set(dev, zdev)
    if variant == "strict_lifetime":
        m.shared(USERS_DONE, False)
    if variant == "disassociate":
        m.shared(CONTAINER, True)
        m.shared(IOMMU_GROUP, "iommu_group")
    else:
        m.ref(USERS, 2)                # the vfio_group's own reference and QEMU's open group fd

    def locked(ops):
        if not proposed:
            return ops
        return [mutex_lock("dma_domain_lock", "mutex_lock(&zdev->dma_domain_lock);"), *ops,
                mutex_unlock("dma_domain_lock", "mutex_unlock(&zdev->dma_domain_lock);")]

    # --- drivers/iommu/s390-iommu.c -------------------------------------------------
    attach = []
    if proposed:
        attach += [
            mutex_lock("dma_domain_lock", "mutex_lock(&zdev->dma_domain_lock);"),
            if_(var(PRIV) == None, "out_unlock",  # noqa: E711 - builds an Expr
                "if (!dev_iommu_priv_get(dev)) goto out_unlock;   /* released: leave now, return 0 */"),
        ]
    attach += [
        if_(~var(RELEASED), "attach",
            "if (dev released)   /* model: the driver is done with dev, its hardware calls fail */"),
        let("ret", "-EIO", "    ret = -EIO;"),
        goto("out_unlock", "    goto out_unlock;") if proposed else ret("    return ret;"),
        label("attach"),
        if_(~((var(TABLE) != None) & (var(DOMAIN) == None)), "registered",  # noqa: E711
            "if (zdev->dma_table && !zdev->s390_domain)"),
        assign(TABLE, None, "    zpci_dma_exit_device(zdev);   /* the DMA API table goes */"),
        label("registered"),
        assign(TABLE, "blocking_domain",
               "zdev->dma_table = s390_domain->dma_table; zpci_register_ioat(zdev, 0, ...);"),
        assign(DOMAIN, "blocking_domain", "zdev->s390_domain = s390_domain;"),
    ]
    if proposed:
        attach += [label("out_unlock"),
                   mutex_unlock("dma_domain_lock", "mutex_unlock(&zdev->dma_domain_lock);")]
    m.func("s390_iommu_attach_device", attach, via=("__iommu_group_set_domain", "__iommu_group_for_each_dev",
                                                     "iommu_group_do_attach_device", "__iommu_attach_device"))

    # The caller has put the domain it detaches from in $domain.
    still_ours = var(DOMAIN) == local("domain")
    detach_text = "if (found && zdev->s390_domain == s390_domain)"
    if proposed:
        still_ours = still_ours & (var(PRIV) != None)  # noqa: E711
        detach_text = "if (found && zdev->s390_domain == s390_domain && dev_iommu_priv_get(dev))"
    m.func("s390_iommu_detach_device", locked([
        if_(~still_ours, "out", detach_text + " {"),
        assign(DOMAIN, None, "    zdev->s390_domain = NULL;"),
        assign(TABLE, "dma_api", "    zpci_unregister_ioat(zdev, 0); zpci_dma_init_device(zdev);"),
        label("out"),
    ]))

    if proposed:
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
    # CPU1, in device_del(): release_device runs before the device leaves the group
    # (since 9ac8545199a1) and without group->mutex.
    m.func("iommu_release_device", [
        call("s390_iommu_release_device", "ops->release_device(dev);"),
        assign(RELEASED, True, "/* release_device() returned: dev is released (model only) */"),
        mutex_lock("group_mutex", "mutex_lock(&group->mutex);   /* iommu_group_remove_device(dev) */"),
        assign(IN_GROUP, False, "list_del(&device->list);"),
        mutex_unlock("group_mutex", "mutex_unlock(&group->mutex);"),
    ], via=("blocking_notifier_call_chain", "iommu_bus_notifier"))
    # VFIO gives the group back: the blocking domain first (attach_dev on s390) ...
    failed = local("ret") == "-EIO"
    m.func("iommu_detach_group", [
        mutex_lock("group_mutex", "mutex_lock(&group->mutex);"),
        if_(~var(IN_GROUP), "set", "for_each_group_device(group, dev)   /* __iommu_group_set_core_domain() */"),
        call("s390_iommu_attach_device", "    ret = domain->ops->attach_dev(group->blocking_domain, dev);"),
        if_(failed, "warn", "    if (ret) goto warn;   /* group->domain stays as it was */"),
        label("set"),
        assign(GROUP_DOMAIN, "blocking_domain", "group->domain = group->blocking_domain;"),
        label("warn"),
        warn_on(failed, f'WARN(ret, "{WARN_TEXT}");',
                message=f"{WARN_TEXT}: QEMU's attach_dev reached a device "
                        f"that release_device() had already released (the WARN Matthew Rosato reported)"),
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

    # --- drivers/vfio -------------------------------------------------------------------
    unset = "vfio_group_detach_container" if variant == "disassociate" else "__vfio_group_unset_container"
    m.func(unset, [
        call("iommu_detach_group", "driver->ops->detach_group(container->iommu_data, group->iommu_group);"),
        call("iommu_group_release_dma_owner", "iommu_group_release_dma_owner(group->iommu_group);"),
    ] + ([assign(CONTAINER, None, "group->container = NULL;")] if variant == "disassociate" else []))
    ioctl_via = SYSCALL + ("__s390x_sys_ioctl", "vfio_group_fops_unl_ioctl")
    close_via = SYSCALL + ("__s390x_sys_close", "task_work_run", "____fput", "__fput")
    unbind_via = ("pci_stop_bus_device", "pci_stop_dev", "device_release_driver", "__device_release_driver",
                  "pci_device_remove", "vfio_pci_remove", "vfio_pci_core_unregister_device")
    del_via = ("pci_remove_bus_device", "pci_destroy_dev", "device_del")

    if variant == "disassociate":
        m.func("vfio_group_ioctl_unset_container", [
            mutex_lock("group_lock", "mutex_lock(&group->group_lock);"),
            if_(var(CONTAINER) == None, "unlock",  # noqa: E711
                "if (!group->container) goto out_unlock;   /* -EINVAL: the unbind detached it */"),
            call(unset, "vfio_group_detach_container(group);"),
            label("unlock"),
            mutex_unlock("group_lock", "mutex_unlock(&group->group_lock);"),
        ])
        qemu = [call("vfio_group_ioctl_unset_container", "ioctl(group_fd, VFIO_GROUP_UNSET_CONTAINER);",
                     via=ioctl_via),
                line("close(group_fd);   /* vfio_group_fops_release(): no container left to detach */")]
        m.func("vfio_device_remove_group", [
            mutex_lock("group_lock", "mutex_lock(&group->group_lock);"),
            if_(var(CONTAINER) == None, "revoke", "if (group->container)"),  # noqa: E711
            call(unset, "    vfio_group_detach_container(group);   /* the unbind detaches it itself */"),
            label("revoke"),
            assign(IOMMU_GROUP, None, "group->iommu_group = NULL;   /* no user of the group fd reaches it now */"),
            mutex_unlock("group_lock", "mutex_unlock(&group->group_lock);"),
        ])
        unbind = ("vfio_unregister_group_dev", [
            call("vfio_device_remove_group", "vfio_device_remove_group(device);"),
        ])
    else:
        qemu = [call(unset, "ioctl(group_fd, VFIO_GROUP_UNSET_CONTAINER);", via=ioctl_via),
                call("vfio_group_fops_release", "close(group_fd);", via=close_via)]
        m.func("vfio_group_fops_release", [
            put(USERS, "vfio_group_put", "vfio_group_put(group);   /* the group fd's reference */"),
        ])
        if variant == "strict_lifetime":
            m.func("vfio_group_put", [complete(USERS_DONE, "complete(&group->users_comp);   /* the last user is gone */")])
            m.func("vfio_device_remove_group", [
                put(USERS, "vfio_group_put", "vfio_group_put(group);   /* matches the get in vfio_group_alloc() */"),
                wait_event(var(USERS_DONE),
                           "wait_for_completion(&group->users_comp);   /* until every user (QEMU's group fd) is gone */"),
            ])
            unbind = ("vfio_unregister_group_dev", [
                call("vfio_device_remove_group", "vfio_device_remove_group(device);"),
            ])
        else:
            m.func("vfio_group_put", [
                line("list_del(&group->vfio_next); cdev_device_del(&group->cdev, &group->dev);   /* the last user frees it */"),
            ])
            unbind = ("vfio_unregister_group_dev", [
                put(USERS, "vfio_group_put",
                    "vfio_group_put(group);   /* the driver's reference; QEMU's group fd still holds one */"),
            ])
    m.func(*unbind)

    # The cpus. QEMU's vfio_put_group() (hw/vfio) is userspace: two system calls.
    m.func("vfio_put_group", qemu)
    m.func("pci_stop_and_remove_bus_device", [
        call("vfio_unregister_group_dev", "device_release_driver(&dev->dev);   /* vfio-pci leaves the device */",
             via=unbind_via),
        call("iommu_release_device", "device_del(&dev->dev);   /* the bus notifier releases it from the IOMMU */",
             via=del_via + ("blocking_notifier_call_chain", "iommu_bus_notifier")),
    ])
    m.cpu("CPU0", "vfio_put_group", comm="qemu-system-s39", pid=5082,
          context="QEMU gives the vfio group back: ioctl VFIO_GROUP_UNSET_CONTAINER, then close(group_fd)")
    m.cpu("CPU1", "pci_stop_and_remove_bus_device", comm="bash", pid=4711,
          stack=("system_call", "__do_syscall", "ksys_write", "vfs_write", "kernfs_fop_write_iter",
                 "sysfs_kf_write", "pci_slot_attr_store", "power_write_file", "disable_slot",
                 "zpci_deconfigure_device", "zpci_bus_remove_device", "pci_stop_and_remove_bus_device_locked"),
          context="the PCI function is deconfigured (echo 0 > /sys/bus/pci/slots/<fid>/power): "
                  "the driver leaves, then device_del()")

    m.invariant("released device detached", (var(DOMAIN) == None) | var(IN_GROUP),  # noqa: E711
                "the device has been released and has left its group, but zdev->s390_domain still points "
                "at an IOMMU domain (the model's own state check; what was reported is the WARN)", when="end")
    return m.build()


CASE = Case(
    id="s390_release",
    title="s390 IOMMU: VFIO detaches a group whose device is being released (WARN in iommu_detach_group)",
    summary=("When a PCI function on s390 was removed while QEMU gave its vfio group back, VFIO's "
             "iommu_detach_group() attached the blocking domain to a device whose release_device() had "
             "already run (release_device is called without the group's mutex, before the device leaves "
             "the group), the s390 driver's attach failed and iommu_detach_group() WARNed \"iommu driver "
             "failed to attach the default/blocking domain\". The s390 patch posted for it (v4, "
             "zdev->dma_domain_lock; proposed, not merged) made the driver tolerate such late calls. "
             "Upstream instead fixed VFIO (ca5f21b25749): the unbind of a group's last driver waits "
             "until VFIO's users of the group are gone, so the IOMMU API is never called for a group "
             "with no driver bound; 3dd59a7dcb97 later replaced the wait, which hung unplug while a "
             "group fd stayed open, by having the unbind detach the container itself."),
    variants=(
        Variant("before", "6.0-rc: vfio-pci's unbind returns while QEMU's group fd still reaches the IOMMU API",
                partial(build, "before"), expect="warn"),
        Variant("proposed", "the posted v4 s390 patch (dma_domain_lock, dev_iommu_priv cleared at release) — "
                "proposed, not merged", partial(build, "proposed"), expect="nothing",
                note="proposed, not merged: upstream fixed VFIO instead"),
        Variant("strict_lifetime", "upstream fix ca5f21b25749: the unbind waits until the group's users are gone",
                partial(build, "strict_lifetime"), expect="nothing"),
        Variant("disassociate", "3dd59a7dcb97: the unbind detaches the container itself under group_lock "
                "(no wait)", partial(build, "disassociate"), expect="nothing"),
    ),
    # v1..v4 were posted; the thread moved the fix into VFIO, so this patch has no commit.
    fix=Fix("iommu/s390: Fix race with release_device ops", None,
            "https://lore.kernel.org/r/20220831201236.77595-2-mjrosato@linux.ibm.com", status="proposed, not merged",
            note="Never merged: the reviewers called it a VFIO bug, and ca5f21b25749 fixed VFIO instead."),
    fixes=Fix("iommu/s390: Tolerate repeat attach_dev calls", "fa7e9ecc5e1c",
              "https://git.kernel.org/torvalds/c/fa7e9ecc5e1c",
              note="The Fixes: tag of the posted s390 patch (the upstream VFIO fix names 9ac8545199a1)."),
    later=(
        Fix("vfio: Follow a strict lifetime for struct iommu_group", "ca5f21b25749",
            "https://lore.kernel.org/r/0-v2-a3c5f4429e2a+55-iommu_group_lifetime_jgg@nvidia.com",
            note="The upstream fix (Fixes: 9ac8545199a1 \"iommu: Fix use-after-free in iommu_release_device\"); "
                 "the variant strict_lifetime."),
        Fix("vfio: Make the group FD disassociate from the iommu_group", "3dd59a7dcb97",
            "https://lore.kernel.org/r/3-v2-15417f29324e+1c-vfio_group_disassociate_jgg@nvidia.com",
            note="Fixes: ca5f21b25749, whose wait hung unplug while virtnodedevd kept a group fd open; "
                 "the variant disassociate."),
        Fix("iommu/s390: Fix duplicate domain attachments", "bf8d2dd2ed08",
            "https://lore.kernel.org/r/20221025115657.1666860-2-schnelle@linux.ibm.com",
            note="Fixes: fa7e9ecc5e1c; reworks the s390 attach/detach (not modelled)."),
    ),
    links=("https://lore.kernel.org/linux-iommu/20220831201236.77595-1-mjrosato@linux.ibm.com/",
           "https://lore.kernel.org/r/YxI7kzuchcJz8sRX@nvidia.com",
           "https://lore.kernel.org/r/ca1ba9d8-8d68-5869-9905-fce431ca14f8@arm.com",
           "https://lore.kernel.org/r/0-v2-a3c5f4429e2a+55-iommu_group_lifetime_jgg@nvidia.com",
           "https://lore.kernel.org/r/3-v2-15417f29324e+1c-vfio_group_disassociate_jgg@nvidia.com"),
    date="2022-08",
    kernels=("the WARN: 6.0-rc3 (s390 attach/detach since fa7e9ecc5e1c); the v4 patch was posted for 6.0-rc "
             "and never merged; ca5f21b25749 and its fix 3dd59a7dcb97 landed for 6.1"),
    simplifications=leaves_out(__doc__),
    exercises=(
        Exercise(
            1, "schedule", "before", title="Reach the WARN", goal="warn", about="failed to attach",
            answer=" ".join(["CPU1"] * 12 + ["CPU0"] * 10),
            explain=("CPU1 runs the unbind and the whole of release_device() (12 steps) and is interrupted just "
                     "before it takes group->mutex to take the device off the group's list. CPU0 then takes the "
                     "mutex, finds the device still on the list, and calls attach_dev on a device that is "
                     "already released: attach fails and iommu_detach_group() WARNs. One preemption is enough."),
            wrong=("CPU0* CPU1*", "CPU1* CPU0*", " ".join(["CPU1"] * 15 + ["CPU0"] * 10))),
        Exercise(
            2, "verdict", "proposed", title="Predict: the posted s390 patch (proposed, not merged)",
            answer="clean",
            explain=("The explorer finds nothing: release_device clears dev_iommu_priv under dma_domain_lock "
                     "before the device counts as released, so a late attach sees it and returns 0 without "
                     "touching the device, and a late detach skips the DMA rebuild. The patch works in the "
                     "model. It was not merged for a reason the model cannot judge: VFIO should not be calling "
                     "the IOMMU API for a group whose driver is gone, and every IOMMU driver would otherwise "
                     "need the same defence."),
            wrong=("warn", "deadlock")),
        Exercise(
            3, "verdict", "strict_lifetime", title="Predict: the upstream VFIO fix, whose unbind sleeps",
            answer="clean",
            explain=("Clean. The unbind now sleeps in wait_for_completion() until QEMU's group fd is closed, so "
                     "every IOMMU call QEMU makes comes before device_del() and release_device(). The sleep "
                     "ends in every interleaving because QEMU always closes its fd in this model. In the field "
                     "one did not: virtnodedevd kept a group fd open and unplug hung, which 3dd59a7dcb97 fixed "
                     "(the disassociate variant)."),
            wrong=("deadlock", "warn")),
        Exercise(
            4, "schedule", "before", title="The shortest way to the WARN", goal="warn", about="failed to attach",
            shortest=True,
            answer=" ".join(["CPU1"] * 12 + ["CPU0"] * 10),
            explain=("22 steps: CPU0 needs all 10 of its steps up to the WARN and CPU1 the 12 that release the "
                     "device, and nothing else. Any step of CPU1's after the release (trying to take "
                     "group->mutex, which CPU0 holds) is wasted. The order within that is free as long as "
                     "CPU0's check 'if (dev released)' comes after CPU1 marks the device released."),
            wrong=(" ".join(["CPU0"] * 3 + ["CPU1"] * 13 + ["CPU0"] * 7),
                   " ".join(["CPU1"] * 15 + ["CPU0"] * 10))),
        Exercise(
            5, "fix", "before", title="Fix it in the IOMMU core: edit iommu_release_device()",
            function="iommu_release_device",
            must_hold=(("ops->release_device", "group_mutex"), ("list_del(&device->list)", "group_mutex")),
            same_section=(("ops->release_device", "list_del(&device->list)", "group_mutex"),),
            answer="\n".join([
                "mutex_lock(&group->mutex);   /* iommu_group_remove_device(dev) */",
                "list_del(&device->list);",
                "ops->release_device(dev);",
                "/* release_device() returned: dev is released (model only) */",
                "mutex_unlock(&group->mutex);"]),
            explain=("Take group->mutex before ops->release_device() and hold it until the device is off the "
                     "group's list. iommu_detach_group() runs under the same mutex, so QEMU's attach comes "
                     "either before the release (the device is still live, and release_device() then sees the "
                     "blocking domain and detaches from it) or after the device has left the list (nothing to "
                     "attach). Taking the device off the list first but calling release_device() outside the "
                     "mutex is not enough: release_device() reads group->domain while QEMU may change it (that is "
                     "the order of Jason's v1 core patch, 'iommu: Fix ordering of iommu_release_device()', "
                     "dropped from v2; the objection is our reading, from the model's own state check). "
                     "Later kernels do call release_device() with group->mutex held (iommu_deinit_device() "
                     "asserts it), next to the VFIO rule, which keeps callers away in the first place."),
            wrong=(
                "\n".join(["ops->release_device(dev);",
                           "/* release_device() returned: dev is released (model only) */",
                           "mutex_lock(&group->mutex);   /* iommu_group_remove_device(dev) */",
                           "list_del(&device->list);",
                           "mutex_unlock(&group->mutex);"]),
                "\n".join(["mutex_lock(&group->mutex);   /* iommu_group_remove_device(dev) */",
                           "list_del(&device->list);",
                           "mutex_unlock(&group->mutex);",
                           "ops->release_device(dev);",
                           "/* release_device() returned: dev is released (model only) */"]),
                "\n".join(["mutex_lock(&group->mutex);",
                           "ops->release_device(dev);",
                           "/* release_device() returned: dev is released (model only) */",
                           "mutex_unlock(&group->mutex);",
                           "mutex_lock(&group->mutex);   /* iommu_group_remove_device(dev) */",
                           "list_del(&device->list);",
                           "mutex_unlock(&group->mutex);"]),
                "\n".join(["ops->release_device(dev);",
                           "/* release_device() returned: dev is released (model only) */",
                           "list_del(&device->list);"]))),
    ),
)
