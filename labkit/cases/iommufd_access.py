"""iommufd: an unmap callback against ``iommufd_access_destroy()`` under the driver's lock.

A driver that reads guest memory through iommufd without owning a domain
(an emulated vfio device, or the iommufd selftest) holds an
``iommufd_access``. When userspace unmaps IOVA that the access has pinned,
``IOMMU_IOAS_UNMAP`` calls back into the driver: ``iommufd_access_notify_unmap()``
takes a temporary reference on the access object with ``iommufd_lock_obj()``
(``down_read_trylock(&obj->destroy_rwsem)`` plus ``refcount_inc_not_zero(&obj->users)``),
calls ``access->ops->unmap()`` and drops both again. ``iommufd_access_destroy()``
takes ``destroy_rwsem`` for write, so it waits for every callback in flight:
once it returns no callback runs or will run, and the driver may free the data
the callback uses.

That wait is a lock. A driver that calls ``iommufd_access_destroy()`` while
holding a lock its own unmap callback takes deadlocks: the callback holds
``destroy_rwsem`` for read and waits for the driver's lock; the destroyer
holds the driver's lock and waits for the callback to finish. During review
of the series Jason Gunthorpe wrote that rule into the kAPI's comment, and
showed that lockdep already sees the cycle by locking the selftest driver
wrongly on purpose: its close path held ``staccess->lock`` across
``iommufd_access_destroy()`` while its unmap callback takes
``staccess->lock``. ``before`` is that wrongly locked selftest; ``after`` is
the selftest as merged, which drops the lock before destroying the access.

The real report needs no race. Lockdep recorded ``staccess->lock`` ->
``destroy_rwsem`` when the selftest closed an access fd, and reported when a
later ``IOMMU_IOAS_UNMAP`` ran an unmap callback (``destroy_rwsem`` ->
``staccess->lock``) on another access: lockdep knows lock classes, not
instances. The lockdep schedules replay exactly that: CPU1's close alone,
then CPU0's unmap alone from a fresh start. The explorer shows the real
deadlock two threads would hit. It also checks the promise the rwsem keeps:
the close frees ``staccess`` and the callback uses it, and in ``after`` no
interleaving uses it after the free.

What the model leaves out, and why: one access, one pinned area and one
unmap; the access list's ``xa_lock`` (a spinlock held only while looking up
the next access, never across the callback) and the IOAS object's own
``destroy_rwsem``, read-held by ``iommufd_get_ioas()`` for the whole ioctl
(a trylock, on another object); ``iopt->iova_rwsem`` and ``domains_rwsem``,
which ``iopt_unmap_iova_range()`` drops before the callbacks; the retry loop
that unmaps the area once no access pins it; the selftest's item list (one
step that unpins every item). CPU1 is a second thread of the selftest (pid
405 is made up; the report shows only 404). ``before`` is not Jason's exact
change, which the thread does not show, but the pattern he describes.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, down_read_trylock, down_write, free, get_not_zero, if_,
                     label, local, mutex_lock, mutex_unlock, put, refcount, step, up_read, up_write,
                     use, var, warn_on)
from .base import Case, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

RWSEM = "obj->destroy_rwsem"
LOCK = "staccess->lock"
USERS = "obj->users"
LISTED = "access_on_list"


def build(variant: str):
    m = Model("iommufd_access", variant, "iommufd: unmap callback vs iommufd_access_destroy()")
    m.rwsem(RWSEM, cls="&obj->destroy_rwsem")
    m.mutex(LOCK, cls="&staccess->lock")
    # The xarray holds one reference, the driver one until iommufd_access_destroy().
    m.ref(USERS, 2)
    m.shared(LISTED, True)          # the access is on iopt->access_list
    m.object("staccess")            # the selftest's per-fd state, freed on close

    # ---- CPU0: ioctl(IOMMU_IOAS_UNMAP) over IOVA the access has pinned ----
    m.func("iopt_unmap_iova_range", [
        step("area = iopt_area_iter_first(iopt, start, last);   /* area->num_accesses != 0 */"),
        call("iommufd_access_notify_unmap",
             "iommufd_access_notify_unmap(iopt, area_first, iopt_area_length(area));"),
        step("WARN_ON(READ_ONCE(area->num_accesses)); goto again;   /* now unmap the area */"),
    ])
    m.func("iommufd_access_notify_unmap", [
        if_(var(LISTED) == False, "done",
            "xa_for_each(&ioas->iopt.access_list, index, access) {"),
        # iommufd_lock_obj(), inlined: a trylock, so it never waits for destroy.
        down_read_trylock(RWSEM, "locked",
                          "    locked = down_read_trylock(&obj->destroy_rwsem);   /* iommufd_lock_obj() */"),
        if_(~local("locked"), "done", "    if (!locked) continue;"),
        get_not_zero(USERS, "got", "    got = refcount_inc_not_zero(&obj->users);"),
        if_(~local("got"), "drop", "    if (!got) goto drop;   /* being destroyed */"),
        call("iommufd_test_access_unmap", "    access->ops->unmap(access->data, iova, length);"),
        put(USERS, text="    refcount_dec(&obj->users);   /* iommufd_put_object() */"),
        label("drop"),
        up_read(RWSEM, "    up_read(&obj->destroy_rwsem);"),
        label("done"),
    ])
    # The selftest driver's unmap callback (also called by its close path in ``after``).
    m.func("iommufd_test_access_unmap", [
        mutex_lock(LOCK, "mutex_lock(&staccess->lock);"),
        use("staccess", "list_for_each_entry_safe(item, ...) iommufd_access_unpin_pages(access, item->iova, item->length);"),
        mutex_unlock(LOCK, "mutex_unlock(&staccess->lock);"),
    ])

    # ---- CPU1: close() of the selftest's access fd ----
    if variant == "before":
        m.func("iommufd_test_staccess_release", [
            mutex_lock(LOCK, "mutex_lock(&staccess->lock);   /* WRONG: held across iommufd_access_destroy() */"),
            step("unpin and free every item on staccess->items;"),
            call("iommufd_access_destroy", "iommufd_access_destroy(staccess->access);"),
            mutex_unlock(LOCK, "mutex_unlock(&staccess->lock);"),
            free("staccess", "kfree(staccess);"),
        ])
    else:
        m.func("iommufd_test_staccess_release", [
            call("iommufd_test_access_unmap", "iommufd_test_access_unmap(staccess, 0, ULONG_MAX);"),
            call("iommufd_access_destroy", "iommufd_access_destroy(staccess->access);   /* no lock held */"),
            free("staccess", "mutex_destroy(&staccess->lock); kfree(staccess);"),
        ])
    m.func("iommufd_access_destroy", [
        call("iommufd_object_destroy_user",
             "was_destroyed = iommufd_object_destroy_user(access->ictx, &access->obj);"),
    ])
    m.func("iommufd_object_destroy_user", [
        down_write(RWSEM, "down_write(&obj->destroy_rwsem);   /* waits for every unmap callback */"),
        put(USERS, text="refcount_dec(&obj->users);   /* the driver's reference */"),
        warn_on(refcount(USERS) != 1,
                "if (!refcount_dec_if_one(&obj->users)) return false;   /* WARN_ON(!was_destroyed) */",
                message="iommufd_access_destroy: the access is still in use (WARN_ON(!was_destroyed))"),
        put(USERS, text="/* refcount_dec_if_one(): users 1 -> 0, xa_erase() from ictx->objects */"),
        up_write(RWSEM, "up_write(&obj->destroy_rwsem);"),
        call("iommufd_access_destroy_object", "iommufd_object_ops[obj->type].destroy(obj); kfree(obj);"),
    ])
    m.func("iommufd_access_destroy_object", [
        assign(LISTED, False, "iopt_remove_access(&access->ioas->iopt, access);"),
    ])

    m.cpu("CPU0", "iopt_unmap_iova_range", comm="iommufd", pid=404,
          stack=("entry_SYSCALL_64_after_hwframe", "do_syscall_64", "__x64_sys_ioctl",
                 "iommufd_fops_ioctl", "iommufd_ioas_unmap", "iopt_unmap_iova"),
          context="the selftest unmaps IOVA that the access has pinned (ioctl IOMMU_IOAS_UNMAP)")
    m.cpu("CPU1", "iommufd_test_staccess_release", comm="iommufd", pid=405,
          stack=("entry_SYSCALL_64_after_hwframe", "do_syscall_64", "syscall_exit_to_user_mode",
                 "exit_to_user_mode_prepare", "exit_to_user_mode_loop", "task_work_run", "____fput",
                 "__fput"),
          context="the selftest closes the access fd (close(2); __fput runs on the way back to user space)")
    return m.build()


CASE = Case(
    id="iommufd_access",
    title="iommufd: unmap callback vs iommufd_access_destroy() under the driver's lock",
    summary=("iommufd_access_destroy() takes the access object's destroy_rwsem for write, so it "
             "waits for unmap callbacks in flight; iommufd_access_notify_unmap() runs the driver's "
             "unmap callback holding that rwsem for read. A driver that destroys its access while "
             "holding a lock its unmap callback takes deadlocks against IOMMU_IOAS_UNMAP. Lockdep "
             "showed it on the iommufd selftest locked wrongly on purpose; the rule went into the "
             "kAPI's documentation: drop your locks before iommufd_access_destroy()."),
    variants=(
        Variant("before", "the driver holds staccess->lock across iommufd_access_destroy()",
                partial(build, "before"), lockdep=("CPU1*", "CPU0*"), expect="deadlock"),
        Variant("after", "the driver drops its lock before iommufd_access_destroy() (the documented rule)",
                partial(build, "after"), lockdep=("CPU1*", "CPU0*"), expect="nothing"),
    ),
    fix=Fix("iommufd: Add kAPI toward external drivers for kernel access", "8d40205f6093",
            "https://git.kernel.org/torvalds/c/8d40205f6093"),
    fixes=None,   # no Fixes: tag; the rule was written into the kAPI before it was merged
    later=(
        Fix("iommufd: IOMMUFD_DESTROY should not increase the refcount", "99f98a7c0d69",
            "https://git.kernel.org/torvalds/c/99f98a7c0d69"),
        # Seen under several ids across rebases of the series; the mainline one is not verified.
        Fix("iommufd: Make destroy_rwsem use a lock class per object type", None, None, status="unverified"),
    ),
    links=("https://lore.kernel.org/r/14-v6-a196d26f289e+11787-iommufd_jgg@nvidia.com",
           "https://lore.kernel.org/all/?q=%22iommufd%3A+Add+kAPI+toward+external+drivers+for+kernel+access%22"),
    date="2022-12",
    simplifications=leaves_out(__doc__),
)
