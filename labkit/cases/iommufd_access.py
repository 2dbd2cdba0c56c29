"""iommufd: an unmap callback against ``iommufd_access_destroy()``, and destroy against ``IOMMU_DESTROY``.

A driver that reads guest memory through iommufd without owning a domain
(an emulated vfio device, or the iommufd selftest) holds an
``iommufd_access``. When userspace unmaps IOVA that the access has pinned,
``IOMMU_IOAS_UNMAP`` calls back into the driver: ``iommufd_access_notify_unmap()``
takes a short-term reference on the access object with ``iommufd_lock_obj()``
(``down_read_trylock(&obj->destroy_rwsem)`` plus ``refcount_inc_not_zero(&obj->users)``),
calls ``access->ops->unmap()`` and drops both again. ``iommufd_access_destroy()``
takes ``destroy_rwsem`` for write, so it waits for every callback in flight:
once it returns no callback runs or will run, and the driver may free the data
the callback uses.

That wait is a lock. The rule, as the kernel-doc of
``iommufd_access_notify_unmap()`` states it since 8d40205f6093, in our words:
``iommufd_access_destroy()`` waits until every unmap callback that has
started has returned, so a driver must never call it while holding anything
its own unmap callback needs in order to return — in practice, drop your own
locks first. A driver that breaks the rule deadlocks: the callback holds
``destroy_rwsem`` for read and waits for the driver's lock; the destroyer
holds the driver's lock and waits for the callback to finish. In review, Eric
Auger asked (on v5, 28 November 2022) what the kernel-doc sentence about the
callback and the destroy meant; Jason Gunthorpe answered with the pattern a
driver must not write, reworded the kernel-doc for v6, and on 6 December
showed that lockdep already sees the cycle by locking the selftest driver
wrongly on purpose: its close path held
``staccess->lock`` across ``iommufd_access_destroy()`` while its unmap callback
takes ``staccess->lock``. ``before`` is that wrongly locked selftest; ``after``
is the selftest as merged, which drops the lock before destroying the access.

The real report needs no race. Lockdep recorded ``staccess->lock`` ->
``destroy_rwsem`` when the selftest closed an access fd, and reported when a
later ``IOMMU_IOAS_UNMAP`` ran an unmap callback (``destroy_rwsem`` ->
``staccess->lock``) on another access: lockdep knows lock classes, not
instances. The lockdep schedules replay exactly that: CPU1's close alone,
then CPU0's unmap alone from a fresh start. The explorer shows the real
deadlock two threads would hit. It also checks the promise the rwsem keeps:
the close frees ``staccess`` and the callback uses it, and in ``after`` no
interleaving uses it after the free.

The same ``down_write`` is what makes ``iommufd_access_destroy()`` succeed, and
``WARN_ON(!was_destroyed)`` says so: the destroyer drops the driver's
reference and expects to find only the xarray's. That holds only if every
temporary reference is taken under ``destroy_rwsem``. ``IOMMU_DESTROY`` broke
it before 99f98a7c0d69: it looked the object up (rwsem for read plus a
reference), then switched to the reference alone (``iommufd_ref_to_users()``,
an ``up_read``) and only later took the rwsem for write itself. A driver
destroying its access in that window found a reference the rwsem did not
cover, failed, and WARNed: syzbot hit it on 6.3-rc1 through the selftest's
create-access ioctl. ``destroy_race`` is that code; ``destroy_race_fixed`` is
99f98a7c0d69, where ``IOMMU_DESTROY`` takes no reference at all and checks
"only the xarray's reference left" and erases the id in one ``xa_lock``
section.

Which kernels: the report was taken on 6.1-rc7 with the series applied;
8d40205f6093 and the rule went into 6.2. ``destroy_rwsem`` existed from 6.2
to 6.6. Its lockdep class was ``&obj->destroy_rwsem`` until 83f7bc6fdfd2
(6.6) gave each object type its own class, named
``iommufd_object::destroy_rwsem``. 99f98a7c0d69 (6.5-rc) in turn let
``IOMMU_DESTROY`` free an object between another thread's ``refcount_dec()``
and ``up_read()`` in ``iommufd_put_object()`` (syzbot bisected a
use-after-free to it); 6f9c4d8c468c (6.7-rc) fixed that by replacing
``destroy_rwsem`` with a count of short-term users and a
``wait_event_timeout()``. On 6.7 and later the same driver mistake is no
longer a lock cycle lockdep can see: the destroyer sleeps until the timeout
(10 s, 60 s since d9df72c6acd6), then gives up with "Time out waiting for
iommufd object to become free" and a WARN.

What the model leaves out, and why: one access, one pinned area and one
unmap; the access list's ``xa_lock`` (a spinlock held only while looking up
the next access, never across the callback) and the IOAS object's own
``destroy_rwsem``, read-held by ``iommufd_get_ioas()`` for the whole ioctl
(a trylock, on another object); ``iopt->iova_rwsem`` and ``domains_rwsem``,
which ``iopt_unmap_iova_range()`` drops before the callbacks; the retry loop
that unmaps the area once no access pins it; the selftest's item list (one
step that unpins every item). ``before`` and ``after`` leave out
``ictx->objects``' ``xa_lock`` too (the destroyer holds ``destroy_rwsem`` for
write around it, so no unmap callback can interleave with it); the
``destroy_race`` variants model it, because 99f98a7c0d69 is about it, and
leave out the unmap path (no IOVA is pinned there). CPU1 of ``before`` and
``after`` is a second thread of the selftest (pid 405 is made up; the report
shows only 404); CPU0 of the ``destroy_race`` variants is a second
syz-executor thread (pid 3077 is made up; the WARN shows only 3076), and the
reply that fails is our reading of why the selftest destroyed the access it
had just created (its error path). ``before`` is not Jason's exact change,
which the thread does not show, but the pattern he describes. On 6.7 and
later kernels none of these variants is the code: they model 6.2–6.6.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, down_read_trylock, down_write, free, get_not_zero, if_,
                     label, let, local, mutex_lock, mutex_unlock, put, refcount, spin_lock, spin_unlock,
                     step, up_read, up_write, use, var, warn_on)
from .base import Case, Exercise, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

RWSEM = "obj->destroy_rwsem"
LOCK = "staccess->lock"
USERS = "obj->users"
LISTED = "access_on_list"
XA = "ictx->objects.xa_lock"

RULE = "8d40205f6093"
RACE_FIX = "99f98a7c0d69"
DESTROY_VARIANTS = ("destroy_race", "destroy_race_fixed")
WARN_MSG = "the object is still in use, so it was not destroyed (WARN_ON(!was_destroyed))"


def _destroy_user(m: Model, name: str, *, xa: bool, fixed: bool) -> None:
    """``iommufd_object_destroy_user()`` (6.2-6.4) or its 99f98a7c0d69 form.

    It drops the caller's reference and destroys the object only if the
    xarray's reference is the last one; ``down_write`` first waits for every
    short-term user. ``was_destroyed`` is what it returns (a cpu-local).
    """
    body = [down_write(RWSEM, "down_write(&obj->destroy_rwsem);   /* waits for every short-term user */")]
    if xa:
        body.append(spin_lock(XA, "xa_lock(&ictx->objects);" + (
            "   /* iommufd_object_remove(ictx, obj->id, true), inlined */" if fixed else "")))
    body += [
        put(USERS, text="refcount_dec(&obj->users);   /* the caller's reference */"),
        let("was_destroyed", refcount(USERS) == 1,
            "was_destroyed = refcount_dec_if_one(&obj->users);   /* only the xarray's reference left? */"),
        if_(~local("was_destroyed"), "out", "if (!was_destroyed) goto out;   /* -EBUSY */"),
        put(USERS, text=("xas_store(&xas, NULL);" if fixed else "__xa_erase(&ictx->objects, obj->id);")
            + "   /* users 1 -> 0 */"),
        label("out"),
    ]
    if xa:
        body.append(spin_unlock(XA, "xa_unlock(&ictx->objects);"))
    body.append(up_write(RWSEM, "up_write(&obj->destroy_rwsem);"))
    if fixed:
        # 99f98a7c0d69 moved the WARN here from iommufd_access_destroy().
        body.append(warn_on(~local("was_destroyed"), "if (WARN_ON(IS_ERR(ret))) return;", message=WARN_MSG))
    else:
        body.append(if_(~local("was_destroyed"), "done", "if (!was_destroyed) return false;"))
    body += [
        call("iommufd_access_destroy_object", "iommufd_object_ops[obj->type].destroy(obj); kfree(obj);"),
        label("done"),
    ]
    m.func(name, body)


def build(variant: str):
    m = Model("iommufd_access", variant, "iommufd: unmap callback vs iommufd_access_destroy()")
    if variant in DESTROY_VARIANTS:
        return _build_destroy_race(m, variant)
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
        warn_on(~local("was_destroyed"), "WARN_ON(!was_destroyed);", message=WARN_MSG),
    ])
    _destroy_user(m, "iommufd_object_destroy_user", xa=False, fixed=False)
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


def _build_destroy_race(m: Model, variant: str):
    """IOMMU_DESTROY on the access's id against the driver destroying it (syzbot, 6.3-rc1)."""
    fixed = variant == "destroy_race_fixed"
    m.rwsem(RWSEM, cls="&obj->destroy_rwsem")
    m.spinlock(XA, cls="&xa->xa_lock")
    # The xarray holds one reference, the driver one until iommufd_access_destroy().
    # A count of 0 also means "erased from ictx->objects": the erase drops the last one.
    m.ref(USERS, 2)
    m.object("access")

    # ---- CPU0: ioctl(IOMMU_DESTROY) on the access object's id ----
    if not fixed:
        m.func("iommufd_destroy", [
            call("iommufd_get_object", "obj = iommufd_get_object(ucmd->ictx, cmd->id, IOMMUFD_OBJ_ANY);"),
            if_(~local("got"), "out", "if (IS_ERR(obj)) return PTR_ERR(obj);   /* -ENOENT */"),
            up_read(RWSEM, "iommufd_ref_to_users(obj);   /* up_read(&obj->destroy_rwsem): keeps its reference */"),
            call("iommufd_object_destroy_user",
                 "if (!iommufd_object_destroy_user(ucmd->ictx, obj)) return -EBUSY;"),
            label("out"),
        ])
        m.func("iommufd_get_object", [
            spin_lock(XA, "xa_lock(&ictx->objects);"),
            if_(refcount(USERS) == 0, "enoent",
                "obj = xa_load(&ictx->objects, id); if (!obj) goto enoent;   /* NULL once erased */"),
            down_read_trylock(RWSEM, "locked",
                              "locked = down_read_trylock(&obj->destroy_rwsem);   /* iommufd_lock_obj() */"),
            if_(~local("locked"), "enoent", "if (!locked) goto enoent;   /* being destroyed */"),
            get_not_zero(USERS, "got", "got = refcount_inc_not_zero(&obj->users);   /* a short-term reference */"),
            if_(local("got"), "unlock", "if (got) goto unlock;"),
            up_read(RWSEM, "up_read(&obj->destroy_rwsem);"),
            label("enoent"),
            let("got", False, "obj = ERR_PTR(-ENOENT);"),
            label("unlock"),
            spin_unlock(XA, "xa_unlock(&ictx->objects);"),
        ])
        _destroy_user(m, "iommufd_object_destroy_user", xa=True, fixed=False)
    else:
        m.func("iommufd_destroy", [
            call("iommufd_object_remove", "obj = iommufd_object_remove(ucmd->ictx, cmd->id, false);"),
            if_(~local("removed"), "out", "if (IS_ERR(obj)) return PTR_ERR(obj);   /* -ENOENT or -EBUSY */"),
            call("iommufd_access_destroy_object", "iommufd_object_ops[obj->type].destroy(obj); kfree(obj);"),
            label("out"),
        ])
        m.func("iommufd_object_remove", [
            spin_lock(XA, "xa_lock(&ictx->objects);"),
            let("removed", refcount(USERS) == 1,
                "obj = xas_load(&xas); removed = obj && refcount_dec_if_one(&obj->users);   /* no reference taken */"),
            if_(~local("removed"), "out_xa", "if (!removed) goto out_xa;   /* -ENOENT, or -EBUSY */"),
            put(USERS, text="xas_store(&xas, NULL);   /* users 1 -> 0 */"),
            label("out_xa"),
            spin_unlock(XA, "xa_unlock(&ictx->objects);"),
        ])
        _destroy_user(m, "__iommufd_object_destroy_user", xa=True, fixed=True)

    # ---- CPU1: the selftest's IOMMU_TEST_OP_CREATE_ACCESS fails to reply and destroys its access ----
    m.func("iommufd_test_create_access", [
        step("rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));   /* fails: goto out_destroy */"),
        call("iommufd_access_destroy", "iommufd_access_destroy(access);"),
    ])
    if fixed:
        m.func("iommufd_access_destroy", [
            call("__iommufd_object_destroy_user", "iommufd_object_destroy_user(access->ictx, &access->obj);"),
        ])
    else:
        m.func("iommufd_access_destroy", [
            call("iommufd_object_destroy_user",
                 "was_destroyed = iommufd_object_destroy_user(access->ictx, &access->obj);"),
            warn_on(~local("was_destroyed"), "WARN_ON(!was_destroyed);", message=WARN_MSG),
        ])
    m.func("iommufd_access_destroy_object", [
        free("access", "iopt_remove_access(&access->ioas->iopt, access); kfree(obj);"),
    ])

    m.cpu("CPU0", "iommufd_destroy", comm="syz-executor.0", pid=3077,
          stack=("entry_SYSCALL_64_after_hwframe", "do_syscall_64", "__x64_sys_ioctl", "iommufd_fops_ioctl"),
          context="userspace destroys the access object by its id (ioctl IOMMU_DESTROY)")
    m.cpu("CPU1", "iommufd_test_create_access", comm="syz-executor.0", pid=3076,
          stack=("entry_SYSCALL_64_after_hwframe", "do_syscall_64", "__x64_sys_ioctl", "iommufd_fops_ioctl",
                 "iommufd_test"),
          context="the selftest driver destroys the access it has just created (IOMMU_TEST_OP_CREATE_ACCESS, "
                  "error path)")
    return m.build()


FIXED_RELEASE = """mutex_lock(&staccess->lock);
unpin and free every item on staccess->items;
mutex_unlock(&staccess->lock);
iommufd_access_destroy(staccess->access);
kfree(staccess);"""

EXERCISES = (
    Exercise(
        1, "schedule", "before", title="Be the scheduler: deadlock the unmap callback and the close",
        answer="CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU0 CPU1 CPU0 CPU1 CPU1 CPU1 CPU1",
        explain=("CPU0 must get inside the callback first: it takes destroy_rwsem for read (the trylock "
                 "succeeds because nobody writes yet) and its reference, and calls the driver's unmap. Now "
                 "CPU1 takes staccess->lock. CPU0 asks for staccess->lock and sleeps; CPU1 walks into "
                 "iommufd_access_destroy() and down_write() sleeps behind CPU0's read hold. If CPU1 reaches "
                 "down_write() before CPU0 tries the rwsem, CPU0's trylock fails and it skips the access — "
                 "no deadlock, which is why the trylock is there. Any schedule with CPU0 reading the rwsem "
                 "and CPU1 holding staccess->lock at the same moment is right."),
        wrong=("CPU1* CPU0*", "CPU0* CPU1*",
               # CPU1 is in down_write() first: CPU0's trylock fails and it skips the access
               "CPU1 CPU1 CPU1 CPU1 CPU1 CPU0* CPU1*")),
    Exercise(
        2, "verdict", "destroy_race",
        title="Predict: IOMMU_DESTROY on the access's id while the driver destroys it (6.2-6.4)",
        answer="warn",
        explain=("No deadlock: nobody holds a lock while waiting for another in a cycle, and the xa_lock "
                 "sections are short. But IOMMU_DESTROY keeps a reference after iommufd_ref_to_users() has "
                 "dropped destroy_rwsem. If the driver's destroy runs then, down_write() does not wait for "
                 "that reference, refcount_dec_if_one() sees 2, not 1, and iommufd_access_destroy() hits "
                 "WARN_ON(!was_destroyed) — the WARNING syzbot reported. The object is not leaked or freed "
                 "twice: IOMMU_DESTROY's own destroy then finds the last reference and frees it. "
                 + RACE_FIX + " made IOMMU_DESTROY take no reference at all (variant destroy_race_fixed is "
                 "clean)."),
        wrong=("deadlock", "clean", "use_after_free")),
    Exercise(
        3, "fix", "before", title="Write the fix yourself: the close path, by the rule",
        function="iommufd_test_staccess_release",
        must_hold=(("unpin and free every item", LOCK),),
        answer=FIXED_RELEASE,
        explain=("The rule: iommufd_access_destroy() waits for every unmap callback that has started, and "
                 "the callback takes staccess->lock, so the lock must be dropped before the destroy. The "
                 "items are still unpinned under the lock (the callback walks the same list). A callback "
                 "that runs between mutex_unlock() and the destroy is harmless: it finds the list empty, and "
                 "the destroy waits for it. kfree() stays last: freeing staccess before the destroy lets a "
                 "callback still in flight use freed memory, and the explorer finds it. Taking no lock at all "
                 "is also deadlock-free, but then the items are unpinned while a callback may walk the "
                 "list. The merged selftest does the unpinning through its own unmap callback, which takes "
                 "the lock itself (variant after)."),
        wrong=(
            # unedited: the cycle is still there
            "mutex_lock(&staccess->lock);\nunpin and free every item on staccess->items;\n"
            "iommufd_access_destroy(staccess->access);\nmutex_unlock(&staccess->lock);\nkfree(staccess);",
            # "drop every lock": no deadlock, but the list is no longer protected
            "unpin and free every item on staccess->items;\niommufd_access_destroy(staccess->access);\n"
            "kfree(staccess);",
            # the lock dropped, but kfree() moved before the destroy: a callback uses freed memory
            "mutex_lock(&staccess->lock);\nunpin and free every item on staccess->items;\n"
            "mutex_unlock(&staccess->lock);\nkfree(staccess);\niommufd_access_destroy(staccess->access);"),
    ),
    Exercise(
        4, "chain", title="Read the real report: which lock classes form the cycle?",
        report="data/splats/iommufd.txt",
        answer=["&staccess->lock", "&obj->destroy_rwsem"],
        explain=("Two classes. '-> #1 (&obj->destroy_rwsem)' was recorded earlier, with the close path's "
                 "stack: down_write() in iommufd_object_destroy_user(), called while staccess->lock was "
                 "held. '-> #0 (&staccess->lock)' is what the task iommufd/404 is taking now, inside the "
                 "unmap callback, while it holds destroy_rwsem for read. Each is taken while the other is "
                 "held: a cycle of two. Lockdep names classes with the '&' and the field, as declared — "
                 "not instances: the two runs used different accesses, so no two threads had to meet for "
                 "the warning. On 6.6 the rwsem's class would read 'iommufd_object::destroy_rwsem' "
                 "(83f7bc6fdfd2); this report is from 6.1-rc7 with the series applied."),
        wrong=(["staccess->lock", "obj->destroy_rwsem"],
               ["&staccess->lock"],
               ["&staccess->lock", "iommufd_object::destroy_rwsem"]),
    ),
)

CASE = Case(
    id="iommufd_access",
    title="iommufd: iommufd_access_destroy() waits for unmap callbacks — a driver lock held across it "
          "deadlocks; a racing IOMMU_DESTROY made it WARN",
    summary=("iommufd_access_destroy() takes the access object's destroy_rwsem for write, so it waits for "
             "unmap callbacks in flight; iommufd_access_notify_unmap() runs the driver's unmap callback "
             "holding that rwsem for read. The rule, documented with " + RULE + ": never call "
             "iommufd_access_destroy() while holding anything your unmap callback needs to return — drop "
             "your own locks first. Lockdep showed the deadlock on the iommufd selftest locked wrongly on "
             "purpose (6.1-rc7 with the series). The same down_write is what lets the destroy succeed: "
             "before " + RACE_FIX + " (6.5), IOMMU_DESTROY held a reference outside the rwsem, so a driver "
             "destroying its access at that moment hit WARN_ON(!was_destroyed) (syzbot, 6.3-rc1). "
             "destroy_rwsem existed from 6.2 to 6.6; 6.7 waits for short-term users with a timeout "
             "instead (6f9c4d8c468c)."),
    kernels=("v6.2 to v6.6 (destroy_rwsem). The lockdep report: 6.1-rc7 with the iommufd series, before "
             "its merge for v6.2 (" + RULE + " carries the rule). Lock class &obj->destroy_rwsem until "
             "v6.5; per object type (iommufd_object::destroy_rwsem) in v6.6 (83f7bc6fdfd2). destroy_race: "
             "v6.2-v6.4, fixed in v6.5-rc by " + RACE_FIX + "; destroy_race_fixed: v6.5-v6.6. From v6.7 "
             "(6f9c4d8c468c) destroy waits for short-term users with wait_event_timeout(), not an rwsem: "
             "these models do not describe it."),
    variants=(
        Variant("before", "the driver holds staccess->lock across iommufd_access_destroy()",
                partial(build, "before"), lockdep=("CPU1*", "CPU0*"), expect="deadlock",
                note="the selftest locked wrongly on purpose, as in the thread; the pattern, not Jason's exact diff"),
        Variant("after", "the driver drops its lock before iommufd_access_destroy() (the documented rule)",
                partial(build, "after"), lockdep=("CPU1*", "CPU0*"), expect="nothing"),
        Variant("destroy_race", "v6.2-v6.4: IOMMU_DESTROY keeps a reference outside destroy_rwsem while "
                                "the driver destroys its access",
                partial(build, "destroy_race"), expect="warn"),
        Variant("destroy_race_fixed", RACE_FIX + ": IOMMU_DESTROY takes no reference; one xa_lock section "
                                      "checks and erases",
                partial(build, "destroy_race_fixed"), expect="nothing"),
    ),
    fix=Fix("iommufd: Add kAPI toward external drivers for kernel access", RULE,
            "https://git.kernel.org/torvalds/c/8d40205f6093",
            note="the rule is in the kernel-doc of iommufd_access_notify_unmap(); the deadlock was shown on "
                 "purpose in review, so no commit fixes it and none carries a Fixes: tag"),
    fixes=None,   # no Fixes: tag; the rule was written into the kAPI before it was merged
    later=(
        Fix("iommufd: IOMMUFD_DESTROY should not increase the refcount", RACE_FIX,
            "https://git.kernel.org/torvalds/c/99f98a7c0d69",
            note="v6.5-rc; Fixes: 2ff4bed7fee7 (\"iommufd: File descriptor, context, kconfig and "
                 "makefiles\"); syzbot's WARN_ON(!was_destroyed) in iommufd_access_destroy() on 6.3-rc1 "
                 "(variants destroy_race, destroy_race_fixed)"),
        Fix("iommufd: Make destroy_rwsem use a lock class per object type", "83f7bc6fdfd2",
            "https://git.kernel.org/torvalds/c/83f7bc6fdfd2",
            note="v6.6: lockdep then names the class iommufd_object::destroy_rwsem, one per object type"),
        Fix("iommufd: Do not UAF during iommufd_put_object()", "6f9c4d8c468c",
            "https://git.kernel.org/torvalds/c/6f9c4d8c468c",
            note="v6.7-rc: a use-after-free that syzbot bisected to " + RACE_FIX + "; destroy_rwsem "
                 "replaced by a short-term user count and wait_event_timeout()"),
    ),
    links=("https://lore.kernel.org/r/14-v6-a196d26f289e+11787-iommufd_jgg@nvidia.com",
           "https://lore.kernel.org/all/?q=%22iommufd%3A+Add+kAPI+toward+external+drivers+for+kernel+access%22",
           "https://lore.kernel.org/r/2-v1-85aacb2af554+bc-iommufd_syz3_jgg@nvidia.com",
           "https://lore.kernel.org/r/00000000000055ef9a0609336580@google.com"),
    date="2022-12",
    simplifications=leaves_out(__doc__),
    exercises=EXERCISES,
)
