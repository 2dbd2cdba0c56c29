"""HMM: ``hmm_release`` drops ``mirrors_sem`` around ``ops->release`` — a use
after free; the rule its fix imposes on drivers; and a three-thread rwsem
deadlock raised in its review, which the fix did not cause.

HMM (``mm/hmm.c``, 2019) lets a device driver mirror a process's page
tables: the driver registers a ``struct hmm_mirror`` on the mm's
``hmm->mirrors`` list, protected by the rw_semaphore ``hmm->mirrors_sem``.
When the process exits, ``exit_mmap()`` calls the mmu notifier ``.release``,
``hmm_release()``, which took each mirror off the list and called the
driver's ``mirror->ops->release(mirror)``. It dropped ``mirrors_sem`` around
that call, so that the callback could wait for work that might itself enter
an mmu notifier. That opens a window:

* CPU1 (``hmm_release``) unlinks the mirror and drops the lock (``up_write``);
* CPU0, a driver tearing its mirror down (nouveau: ``nouveau_svmm_fini()``
  when its DRM file is closed), runs ``hmm_mirror_unregister()`` — which
  now finds nothing to wait for — and frees the structure holding the mirror;
* CPU1 calls ``mirror->ops->release(mirror)``: a use after free.

Jason Gunthorpe found it by code review and fixed it in 14331726a3c4 "mm/hmm:
Remove confusing comment and logic from hmm_release" (merged for v5.3, no
``Fixes:`` tag): ``hmm_release()`` holds ``mirrors_sem`` for read across the
whole walk and leaves the mirrors on the list, so ``hmm_mirror_unregister()``
(a writer) waits until every callback has returned. The price is a rule for
drivers, stated in the commit: a release op may no longer register or
unregister a mirror. It would take ``down_write(&hmm->mirrors_sem)`` while
its own thread holds the lock for read, and wait for itself forever (the
``release_unregisters`` variant; lockdep calls it recursive locking). The
only release ops then were nouveau's (empty) and amdgpu's (a
``schedule_work()``).

In review John Hubbard suspected that this patch, which calls driver code
under a lock, caused a deadlock Ralph Campbell had seen in driver testing;
Jason answered that Ralph had not seen this patch yet (it was new in v2), so
it had to be an earlier one, and asked for the lockdep report (none was
posted). Ralph's own reply to the patch described a deadlock that needs no
release op at all and does not go through
``hmm_release()``: it goes through ``hmm_invalidate_range_start()``, which
held ``mirrors_sem`` for read around the drivers' ``sync_cpu_device_pagetables``
callbacks before this patch and after it. Thread A (``try_to_unmap``) holds
``mirrors_sem`` for read and, in the driver's callback, waits for the
driver's device lock; thread B (an unrelated ``hmm_mirror_unregister()``)
waits to write; thread C holds the device lock and calls ``migrate_vma()``,
whose invalidation's ``down_read`` must queue behind B. A waits for C, C for
B, B for A. It relies on how Linux's rw_semaphore queues: waiters are served
in arrival order (with a hand-off to the first waiter), so a reader that
arrives while a writer waits queues behind that writer instead of joining
the readers inside. Jason said he had not known that rwsems make a waiting
writer block new readers; his first reaction was that the driver in thread C
is wrong, unless a really good case were made that a driver had no
alternative: a lock
taken in ``sync_cpu_device_pagetables`` must only guard device state, and
the driver may not hold it across anything that enters an mmu notifier.
Ralph suggested SRCU for the mirror list; Jason declined (drivers would have
to handle the races themselves). Within months the ``hmm_mirror`` API was
gone: c7d8b7824ff9 let ``mmu_notifier_get()`` manage ``struct hmm``,
99cb252f5e68 added ``mmu_interval_notifier``, and a22dd506400d removed
``hmm_mirror``.

Variants: ``before`` (the use after free), ``after`` (the fix),
``release_unregisters`` (the fix with a driver whose release op breaks the
rule: a one-thread deadlock), ``three_threads`` (Ralph Campbell's scenario
with Linux's rwsem: deadlock; not caused by the fix) and
``three_threads_reader_pref`` (the same with a hypothetical
reader-preferring rwsem, which Linux does not have: no deadlock — the
queueing rule, not the lock order alone, closes the cycle).

What the model leaves out, and why: one mirror on the list (the race needs
one); ``hmm->lock`` and the ranges invalidation at the top of
``hmm_release()``, ``kref`` on ``struct hmm``, ``hmm_put()`` and the
``POISON_INUSE`` memset are not modelled — they do not touch the mirror
list. The mirror is embedded in the driver's structure, so ``kfree(svmm)``
frees it. The patch's CPU0/CPU1 diagram names no tasks; the model's pairing
is ours. CPU0 cannot be a thread of the exiting process (``exit_mmap()``
runs only once the mm has no user left), so read ``gpu_app``/3001 as another
process sharing the DRM file, e.g. a child forked from ``gpu_app`` that
inherited it, whose ``close()`` drops the file's last reference after the
parent closed its own copy. The patch has no ``Fixes:`` tag; the window dates from Ralph
Campbell's "mm/hmm: HMM should have a callback before MM is destroyed"
(posted for v4.17, whose v3 split the list removal from the callback;
commit id not verified, so none is given). In ``release_unregisters`` the
driver and its release op are invented (no driver in the tree did this) and
only the exiting thread runs: the deadlock needs no other. In the
three-thread variants the hmm_update argument, ``mmap_sem``, the page table
walks and the non-blocking ``down_read_trylock`` path are left out, B
unregisters an unrelated driver's mirror (nothing is freed), and
``drv->migrating`` is invented for the model: thread C's own
``sync_cpu_device_pagetables`` callback returns early for C's own migration
(``drv->migrating == current``, a cpu-local here). Without it thread C would
take its device lock a second time and deadlock on its own, a different bug
(Jason: such a driver "certainly can't recurse back into any mmu notifiers
while holding that lock"); Ralph did not say how his driver avoided that.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, down_read, down_write, free, goto, if_, label, let, local,
                     mutex_lock, mutex_unlock, step, up_read, up_write, use, var)
from .base import Case, Exercise, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

MIRRORS = "hmm->mirrors"   # True while the mirror is on the list
FIX = "14331726a3c4"
EXIT_STACK = ("do_exit", "exit_mm", "mmput", "__mmput", "exit_mmap", "__mmu_notifier_release")
EXIT_CONTEXT = "the process that owns the mm exits: exit_mmap() calls the mmu notifier .release"


def _hmm_mirror_unregister(m: Model, unlink: str) -> None:
    m.func("hmm_mirror_unregister", [
        down_write("mirrors_sem", "down_write(&hmm->mirrors_sem);"),
        assign(MIRRORS, False, unlink),
        up_write("mirrors_sem", "up_write(&hmm->mirrors_sem);"),
    ])


def _hmm_release_after(m: Model, callback) -> None:
    """hmm_release() as 14331726a3c4 left it: the read lock held across the callbacks."""
    m.func("hmm_release", [
        down_read("mirrors_sem", "down_read(&hmm->mirrors_sem);"),
        if_(~var(MIRRORS), "done", "list_for_each_entry(mirror, &hmm->mirrors, list) {"),
        callback,
        label("done"),
        up_read("mirrors_sem", "up_read(&hmm->mirrors_sem);"),
    ])


def _release(m: Model, variant: str) -> None:
    """before / after: hmm_release() on exit against a driver freeing its mirror."""
    m.shared(MIRRORS, True)
    m.object("mirror")   # embedded in struct nouveau_svmm

    if variant == "before":
        m.func("hmm_release", [
            down_write("mirrors_sem", "down_write(&hmm->mirrors_sem);"),
            label("loop"),
            if_(~var(MIRRORS), "done",
                "mirror = list_first_entry_or_null(&hmm->mirrors, ...); if (!mirror) break;"),
            assign(MIRRORS, False, "list_del_init(&mirror->list);"),
            up_write("mirrors_sem", "up_write(&hmm->mirrors_sem);   /* so ops->release may wait for work */"),
            use("mirror", "if (mirror->ops->release) mirror->ops->release(mirror);"),
            down_write("mirrors_sem", "down_write(&hmm->mirrors_sem);"),
            goto("loop", "}   /* while (mirror) */"),
            label("done"),
            up_write("mirrors_sem", "up_write(&hmm->mirrors_sem);"),
        ])
        unlink = "list_del_init(&mirror->list);"
    else:
        _hmm_release_after(m, use("mirror", "    if (mirror->ops->release) mirror->ops->release(mirror);"))
        unlink = "list_del(&mirror->list);"
    _hmm_mirror_unregister(m, unlink)
    m.func("nouveau_svmm_fini", [
        call("hmm_mirror_unregister", "hmm_mirror_unregister(&svmm->mirror);"),
        free("mirror", "kfree(*psvmm);   /* the mirror is embedded in the svmm */"),
    ])

    m.cpu("CPU0", "nouveau_svmm_fini", comm="gpu_app", pid=3001,
          stack=("exit_to_usermode_loop", "task_work_run", "____fput", "__fput", "drm_release", "drm_file_free",
                 "nouveau_drm_postclose", "nouveau_cli_fini", "nouveau_vmm_fini"),
          context="a driver unregisters and frees its mirror (nouveau: the DRM file is closed)")
    m.cpu("CPU1", "hmm_release", comm="gpu_app", pid=3000, stack=EXIT_STACK, context=EXIT_CONTEXT)


def _release_unregisters(m: Model) -> None:
    """The fix, and a driver whose release op breaks the rule it imposes."""
    m.shared(MIRRORS, True)
    _hmm_release_after(m, call("drv_mirror_release",
                               "    if (mirror->ops->release) mirror->ops->release(mirror);"))
    # An invented driver: when the mm goes away it stops mirroring it at once.
    m.func("drv_mirror_release", [
        step("drv->mm_gone = true;   /* the process is exiting: stop using its mm */"),
        call("hmm_mirror_unregister",
             "hmm_mirror_unregister(mirror);   /* forbidden in a release op since " + FIX + " */"),
    ])
    _hmm_mirror_unregister(m, "list_del(&mirror->list);")
    m.cpu("CPU0", "hmm_release", comm="gpu_app", pid=3000, stack=EXIT_STACK,
          context=EXIT_CONTEXT + "; the driver's release op unregisters its mirror")


def _three_threads(m: Model) -> None:
    """Ralph Campbell's scenario: try_to_unmap / hmm_mirror_unregister / migrate_vma."""
    m.mutex("device_lock", cls="&drv->device_lock")

    # The driver's mirror callback: it takes the device lock, unless this very
    # thread is the driver's own migrate_vma() (which holds it already).
    m.func("drv_sync_cpu_device_pagetables", [
        if_(local("migrating"), "out",
            "if (drv->migrating == current) return 0;   /* invented for the model: our own migrate_vma() */"),
        mutex_lock("device_lock", "mutex_lock(&drv->device_lock);"),
        step("invalidate the device's page table entries for [update->start, update->end);"),
        mutex_unlock("device_lock", "mutex_unlock(&drv->device_lock);"),
        label("out"),
    ])
    m.func("hmm_invalidate_range_start", [
        down_read("mirrors_sem", "down_read(&hmm->mirrors_sem);   /* held for read here before and after " + FIX + " */"),
        call("drv_sync_cpu_device_pagetables",
             "list_for_each_entry(mirror, ...) mirror->ops->sync_cpu_device_pagetables(mirror, &update);"),
        up_read("mirrors_sem", "up_read(&hmm->mirrors_sem);"),
    ], via=("__mmu_notifier_invalidate_range_start",))
    # Thread A: reclaim unmapping a page of the mirrored mm.
    m.func("try_to_unmap_one", [
        call("hmm_invalidate_range_start", "mmu_notifier_invalidate_range_start(&range);"),
    ])
    # Thread B: an unrelated driver unregisters its mirror.
    m.func("hmm_mirror_unregister", [
        down_write("mirrors_sem", "down_write(&hmm->mirrors_sem);"),
        step("list_del(&mirror->list);"),
        up_write("mirrors_sem", "up_write(&hmm->mirrors_sem);"),
    ])
    # Thread C: the driver migrates a range to its memory under its device lock.
    m.func("migrate_vma_collect", [
        call("hmm_invalidate_range_start", "mmu_notifier_invalidate_range_start(&range);"),
    ], via=("migrate_vma",))
    m.func("drv_migrate_to_device", [
        mutex_lock("device_lock", "mutex_lock(&drv->device_lock);"),
        let("migrating", True, "drv->migrating = current;   /* invented for the model */"),
        call("migrate_vma_collect", "migrate_vma(&drv_migrate_ops, vma, start, end, src, dst, drv);"),
        mutex_unlock("device_lock", "mutex_unlock(&drv->device_lock);"),
    ])

    m.cpu("CPU0", "try_to_unmap_one", comm="kswapd0", pid=90,
          stack=("kswapd", "balance_pgdat", "shrink_node", "shrink_inactive_list", "shrink_page_list",
                 "try_to_unmap", "rmap_walk"),
          context="thread A: page reclaim unmaps a page of the mirrored process (try_to_unmap)")
    m.cpu("CPU1", "hmm_mirror_unregister", comm="other_drv", pid=3100,
          stack=("exit_to_usermode_loop", "task_work_run", "____fput", "__fput", "other_drv_release"),
          context="thread B: some unrelated driver unregisters its mirror of the same mm")
    m.cpu("CPU2", "drv_migrate_to_device", comm="gpu_app", pid=3000,
          stack=("__x64_sys_ioctl", "drv_ioctl"),
          context="thread C: the driver migrates a range to device memory, holding its device lock")


def build(variant: str):
    m = Model("hmm_release", variant, "HMM: hmm_release vs hmm_mirror_unregister, and mirrors_sem")
    m.rwsem("mirrors_sem", cls="&hmm->mirrors_sem", reader_pref=(variant == "three_threads_reader_pref"))
    if variant in ("before", "after"):
        _release(m, variant)
    elif variant == "release_unregisters":
        _release_unregisters(m)
    else:
        _three_threads(m)
    return m.build()


UAF = "CPU0 CPU1 CPU1 CPU1 CPU1 CPU0 CPU0 CPU0 CPU0 CPU1"
FIXED_HMM_RELEASE = """down_write(&hmm->mirrors_sem);
loop:
mirror = list_first_entry_or_null(&hmm->mirrors, ...); if (!mirror) break;
list_del_init(&mirror->list);
if (mirror->ops->release) mirror->ops->release(mirror);
}   /* while (mirror) */
done:
up_write(&hmm->mirrors_sem);"""
FIXED_DRIVER_C = """mutex_lock(&drv->device_lock);
drv->migrating = current;   /* invented for the model */
mutex_unlock(&drv->device_lock);
migrate_vma(&drv_migrate_ops, vma, start, end, src, dst, drv);"""

EXERCISES = (
    Exercise(
        1, "schedule", "before", title="Reach the use after free: ops->release on a freed mirror",
        goal="use_after_free", answer=UAF,
        explain=("CPU0 must start tearing down first (it is in nouveau_svmm_fini), then CPU1 takes mirrors_sem, "
                 "unlinks the mirror and drops the lock for the callback. Now CPU0's hmm_mirror_unregister() "
                 "takes and releases mirrors_sem without waiting for anything, and kfree() frees the svmm that "
                 "holds the mirror. CPU1's next step calls mirror->ops->release(mirror) on freed memory. "
                 "Any order in which the free lands between CPU1's up_write and its callback is right."),
        wrong=("CPU0* CPU1*", "CPU1* CPU0*", "CPU1 CPU1 CPU1 CPU1 CPU1 CPU0 CPU0 CPU0 CPU0")),
    Exercise(
        2, "verdict", "three_threads_reader_pref",
        title="Predict: Ralph Campbell's three threads on a reader-preferring rwsem",
        answer="clean",
        explain=("With a reader-preferring rwsem, thread C's down_read() gets in beside thread A although thread "
                 "B waits to write, so C finishes migrate_vma() and drops the device lock; A then takes it, "
                 "finishes and drops mirrors_sem for B. The lock order is unchanged — A takes device_lock under "
                 "mirrors_sem, C mirrors_sem under device_lock — but a read lock taken under a read lock only "
                 "deadlocks if a waiting writer can stand between them. Linux's rw_semaphore queues a new "
                 "reader behind a waiting writer, which is why the real three threads deadlock; Linux has no "
                 "reader-preferring rw_semaphore, so this variant is hypothetical, for contrast only."),
        wrong=("deadlock", "use_after_free")),
    Exercise(
        3, "fix", "before", title="Write the fix yourself: make hmm_release() safe against the free",
        function="hmm_release", must_hold=(("mirror->ops->release", "mirrors_sem"),),
        answer=FIXED_HMM_RELEASE,
        explain=("Keep mirrors_sem across the callback: drop the up_write/down_write pair around "
                 "mirror->ops->release(mirror). hmm_mirror_unregister() needs the lock for write, so it now "
                 "waits until the callback has returned, and kfree() comes after. Upstream (" + FIX + ") went a "
                 "step further: hmm_release() no longer unlinks the mirrors (hmm_mirror_unregister() does), so "
                 "the walk only reads the list and down_read() is enough. Either way the lock is now held "
                 "while driver code runs, and that is the rule the fix imposes: a release op must not register "
                 "or unregister a mirror (variant release_unregisters)."),
        wrong=(
            # the unedited code: the window is still there
            "down_write(&hmm->mirrors_sem);\nloop:\n"
            "mirror = list_first_entry_or_null(&hmm->mirrors, ...); if (!mirror) break;\n"
            "list_del_init(&mirror->list);\nup_write(&hmm->mirrors_sem);   /* so ops->release may wait for work */\n"
            "if (mirror->ops->release) mirror->ops->release(mirror);\ndown_write(&hmm->mirrors_sem);\n"
            "}   /* while (mirror) */\ndone:\nup_write(&hmm->mirrors_sem);",
            # only the up_write dropped: the down_write after the callback waits for itself
            "down_write(&hmm->mirrors_sem);\nloop:\n"
            "mirror = list_first_entry_or_null(&hmm->mirrors, ...); if (!mirror) break;\n"
            "list_del_init(&mirror->list);\nif (mirror->ops->release) mirror->ops->release(mirror);\n"
            "down_write(&hmm->mirrors_sem);\n}   /* while (mirror) */\ndone:\nup_write(&hmm->mirrors_sem);",
            # no lock at all: nothing makes hmm_mirror_unregister() wait
            "loop:\nmirror = list_first_entry_or_null(&hmm->mirrors, ...); if (!mirror) break;\n"
            "list_del_init(&mirror->list);\nif (mirror->ops->release) mirror->ops->release(mirror);\n"
            "}   /* while (mirror) */\ndone:"),
    ),
    Exercise(
        4, "fix", "three_threads", title="Fix thread C's driver the way the thread asked",
        function="drv_migrate_to_device", must_hold=(("drv->migrating = current", "device_lock"),),
        answer=FIXED_DRIVER_C,
        explain=("Jason's answer in the thread was that thread C's driver is wrong: the lock its "
                 "sync_cpu_device_pagetables callback takes may only guard device state, so the driver must "
                 "not hold it across migrate_vma(), which enters the mmu notifiers and so takes mirrors_sem. "
                 "Update the device state under device_lock, drop it, then migrate. Thread A can then always "
                 "get device_lock, finish and let writer B through; nothing waits in a cycle. (Keeping the "
                 "lock across the call keeps the cycle; removing it leaves drv->migrating unprotected. Once C "
                 "no longer holds device_lock during migrate_vma(), its own callback could even take it: the "
                 "invented flag only spared the broken driver a self-deadlock.)"),
        wrong=(
            "mutex_lock(&drv->device_lock);\ndrv->migrating = current;   /* invented for the model */\n"
            "migrate_vma(&drv_migrate_ops, vma, start, end, src, dst, drv);\nmutex_unlock(&drv->device_lock);",
            "drv->migrating = current;   /* invented for the model */\n"
            "migrate_vma(&drv_migrate_ops, vma, start, end, src, dst, drv);",
            "mutex_lock(&drv->device_lock);\nmutex_unlock(&drv->device_lock);\n"
            "drv->migrating = current;   /* invented for the model */\n"
            "migrate_vma(&drv_migrate_ops, vma, start, end, src, dst, drv);"),
    ),
)

INVENTED = ("drv->migrating is invented for the model: it lets thread C's own invalidation skip the device "
            "lock it already holds (Ralph did not say how his driver avoided that self-deadlock)")

CASE = Case(
    id="hmm_release",
    title="HMM: hmm_release drops mirrors_sem around ops->release (use after free); the rule its fix imposes",
    summary=("hmm_release() unlinked each mirror under hmm->mirrors_sem, then dropped the lock to call "
             "mirror->ops->release(mirror). In that window hmm_mirror_unregister() had nothing left to wait "
             "for and the driver freed the mirror, so the release call used freed memory. The fix ("
             + FIX + ") holds mirrors_sem for read across the callbacks, so a release op may no longer "
             "register or unregister a mirror: hmm_mirror_unregister() would wait to write behind its own "
             "thread's read lock. In review Ralph Campbell described a three-thread deadlock that the fix did "
             "not cause: it goes through hmm_invalidate_range_start(), which already held mirrors_sem for read "
             "around the drivers' sync_cpu_device_pagetables callbacks. Because Linux's rw_semaphore queues a "
             "new reader behind a waiting writer, a driver that holds its device lock across migrate_vma() "
             "deadlocks against try_to_unmap() and a queued hmm_mirror_unregister(); the answer in the thread "
             "was that such a driver is wrong."),
    kernels=("the use-after-free window: from the addition of ops->release (posted for v4.17; that commit "
             "not verified) to v5.2; fixed in v5.3 by " + FIX + "; hmm_mirror was removed for v5.5 (a22dd506400d)"),
    variants=(
        Variant("before", "hmm_release drops mirrors_sem around ops->release (use after free)",
                partial(build, "before"), expect="use_after_free"),
        Variant("after", FIX + ": mirrors_sem held for read across ops->release",
                partial(build, "after"), expect="nothing"),
        Variant("release_unregisters",
                "the fix, with a driver whose release op calls hmm_mirror_unregister() (the rule it breaks)",
                partial(build, "release_unregisters"), expect="deadlock",
                note=("invented driver: no release op in the tree did this; " + FIX
                      + " forbids it (down_write under the thread's own down_read)")),
        Variant("three_threads",
                "Ralph Campbell's three threads via hmm_invalidate_range_start (not caused by the fix): "
                "thread C's driver holds its device lock across migrate_vma",
                partial(build, "three_threads"), lockdep=("CPU0*", "CPU1*", "CPU2*"), expect="deadlock",
                note=INVENTED),
        Variant("three_threads_reader_pref",
                "the same three threads with a reader-preferring rwsem (hypothetical)",
                partial(build, "three_threads_reader_pref"), lockdep=("CPU0*", "CPU1*", "CPU2*"),
                expect="nothing",
                note="hypothetical: Linux has no reader-preferring rw_semaphore; shown for contrast. " + INVENTED),
    ),
    fix=Fix("mm/hmm: Remove confusing comment and logic from hmm_release", FIX,
            "https://git.kernel.org/torvalds/c/14331726a3c4",
            note=("Merged for v5.3; no Fixes: tag. Drivers may no longer register or unregister mirrors "
                  "from within a release op.")),
    fixes=None,   # the patch carries no Fixes: tag (see the module docstring)
    later=(
        Fix("hmm: use mmu_notifier_get/put for 'struct hmm'", "c7d8b7824ff9",
            "https://lore.kernel.org/r/20190806231548.25242-6-jgg@ziepe.ca"),
        Fix("mm/mmu_notifier: add an interval tree notifier", "99cb252f5e68",
            "https://lore.kernel.org/r/20191112202231.3856-3-jgg@ziepe.ca"),
        Fix("mm/hmm: remove hmm_mirror and related", "a22dd506400d",
            "https://lore.kernel.org/r/20191112202231.3856-14-jgg@ziepe.ca"),
    ),
    links=("https://lore.kernel.org/r/20190606184438.31646-12-jgg@ziepe.ca",
           "https://lore.kernel.org/r/20190624210110.5098-12-jgg@ziepe.ca"),
    date="2019-06",
    simplifications=leaves_out(__doc__),
    exercises=EXERCISES,
)
