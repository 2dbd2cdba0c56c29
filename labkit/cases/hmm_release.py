"""HMM: ``hmm_release`` drops ``mirrors_sem`` around ``ops->release`` — a use after free; and the
three-thread deadlock that holding it would risk.

HMM (``mm/hmm.c``, 2019) lets a device driver mirror a process's page
tables: the driver registers a ``struct hmm_mirror`` on the mm's
``hmm->mirrors`` list, protected by the rw_semaphore ``hmm->mirrors_sem``.
When the process exits, ``exit_mmap()`` calls the mmu notifier ``.release``,
``hmm_release()``, which takes each mirror off the list and calls the
driver's ``mirror->ops->release(mirror)``. It dropped ``mirrors_sem`` around
that call "so the release callback can wait on any pending work that might
itself trigger a mmu_notifier callback". That opens a window:

* CPU1 (``hmm_release``) unlinks the mirror and drops the lock (``up_write``);
* CPU0, a driver tearing its mirror down (nouveau: ``nouveau_svmm_fini()``
  when its DRM file is closed), runs ``hmm_mirror_unregister()`` — which
  now finds nothing to wait for — and frees the structure holding the mirror;
* CPU1 calls ``mirror->ops->release(mirror)``: a use after free.

Jason Gunthorpe's fix (14331726a3c4) holds ``mirrors_sem`` for read across
the whole walk and leaves the mirrors on the list; a driver may no longer
(un)register a mirror from its release op. Found by code review; the only
``release`` ops then were nouveau's (empty) and amdgpu's (a
``schedule_work``).

John Hubbard worried that calling driver code under the lock invites
deadlocks, and Ralph Campbell gave one that needs no release at all, only
Linux's writer-preferring rwsem: thread A (``try_to_unmap``) holds
``mirrors_sem`` for read in ``hmm_invalidate_range_start()`` and calls the
driver's ``sync_cpu_device_pagetables``, which wants the driver's device
lock; thread B (``hmm_mirror_unregister``) queues for write; thread C holds
the device lock and calls ``migrate_vma()``, whose invalidation's
``down_read`` now waits behind B. A waits for C, C for B, B for A. Jason:
the driver in thread C is wrong — it may not nest mmu-notifier work under a
lock its ``sync_cpu_device_pagetables`` takes. Ralph suggested SRCU for the
mirror list; Jason declined (drivers would have to handle the races
themselves). Within months the ``hmm_mirror`` API itself was removed
(a22dd506400d) in favour of ``mmu_interval_notifier`` (99cb252f5e68).

Variants: ``before`` (the UAF), ``after`` (the fix), ``three_threads``
(Ralph's scenario with a Linux rwsem: deadlock) and
``three_threads_reader_pref`` (the same with a reader-preferring rwsem: no
deadlock — the lesson is the rwsem's fairness, not the lock order alone).

What the model leaves out, and why: one mirror on the list (the race needs
one); ``hmm->lock`` and the ranges invalidation at the top of
``hmm_release()``, ``kref`` on ``struct hmm``, ``hmm_put()`` and the
``POISON_INUSE`` memset are not modelled — they do not touch the mirror
list. The mirror is embedded in the driver's structure, so ``kfree(svmm)``
frees it. The patch has no ``Fixes:`` tag; the window dates from Ralph
Campbell's "mm/hmm: HMM should have a callback before MM is destroyed"
(2018, whose v3 split the list removal from the callback; commit id not
verified, so none is given). In the three-thread variants the hmm_update
argument, ``mmap_sem``, the page table walks and the non-blocking
``down_read_trylock`` path are left out, B unregisters an unrelated
driver's mirror (nothing is freed), and thread C's own
``sync_cpu_device_pagetables`` callback returns early for its own
migration (``drv->migrating == current``, a cpu-local here): if it took the
device lock again thread C would deadlock on its own, which is a different
bug (Jason: such a driver "certainly can't recurse back into any mmu
notifiers while holding that lock"), and Ralph did not say how his driver
avoided it.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, down_read, down_write, free, goto, if_, label, let, local,
                     mutex_lock, mutex_unlock, step, up_read, up_write, use, var)
from .base import Case, Fix, Variant, leaves_out

__all__ = ["CASE", "build"]

MIRRORS = "hmm->mirrors"   # True while the mirror is on the list


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
        m.func("hmm_release", [
            down_read("mirrors_sem", "down_read(&hmm->mirrors_sem);"),
            if_(~var(MIRRORS), "done", "list_for_each_entry(mirror, &hmm->mirrors, list) {"),
            use("mirror", "    if (mirror->ops->release) mirror->ops->release(mirror);"),
            label("done"),
            up_read("mirrors_sem", "up_read(&hmm->mirrors_sem);"),
        ])
        unlink = "list_del(&mirror->list);"
    m.func("hmm_mirror_unregister", [
        down_write("mirrors_sem", "down_write(&hmm->mirrors_sem);"),
        assign(MIRRORS, False, unlink),
        up_write("mirrors_sem", "up_write(&hmm->mirrors_sem);"),
    ])
    m.func("nouveau_svmm_fini", [
        call("hmm_mirror_unregister", "hmm_mirror_unregister(&svmm->mirror);"),
        free("mirror", "kfree(*psvmm);   /* the mirror is embedded in the svmm */"),
    ])

    m.cpu("CPU0", "nouveau_svmm_fini", comm="gpu_app", pid=3001,
          stack=("exit_to_usermode_loop", "task_work_run", "____fput", "__fput", "drm_release", "drm_file_free",
                 "nouveau_drm_postclose", "nouveau_cli_fini", "nouveau_vmm_fini"),
          context="a driver unregisters and frees its mirror (nouveau: the DRM file is closed)")
    m.cpu("CPU1", "hmm_release", comm="gpu_app", pid=3000,
          stack=("do_exit", "exit_mm", "mmput", "__mmput", "exit_mmap", "__mmu_notifier_release"),
          context="the process that owns the mm exits: exit_mmap() calls the mmu notifier .release")


def _three_threads(m: Model) -> None:
    """Ralph Campbell's scenario: try_to_unmap / hmm_mirror_unregister / migrate_vma."""
    m.mutex("device_lock", cls="&drv->device_lock")

    # The driver's mirror callback: it takes the device lock, unless this very
    # thread is the driver's own migrate_vma() (which holds it already).
    m.func("drv_sync_cpu_device_pagetables", [
        if_(local("migrating"), "out",
            "if (drv->migrating == current) return 0;   /* our own migrate_vma() */"),
        mutex_lock("device_lock", "mutex_lock(&drv->device_lock);"),
        step("invalidate the device's page table entries for [update->start, update->end);"),
        mutex_unlock("device_lock", "mutex_unlock(&drv->device_lock);"),
        label("out"),
    ])
    m.func("hmm_invalidate_range_start", [
        down_read("mirrors_sem", "down_read(&hmm->mirrors_sem);"),
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
        let("migrating", True, "drv->migrating = current;"),
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
    else:
        _three_threads(m)
    return m.build()


CASE = Case(
    id="hmm_release",
    title="HMM: hmm_release drops mirrors_sem around ops->release (use after free)",
    summary=("hmm_release() unlinked each mirror under hmm->mirrors_sem, then dropped the lock to call "
             "mirror->ops->release(mirror). In that window hmm_mirror_unregister() had nothing left to "
             "wait for and the driver freed the mirror, so the release call used freed memory. The fix "
             "holds mirrors_sem for read across the callbacks. Ralph Campbell's three-thread scenario "
             "shows the cost of holding an rwsem across driver callbacks: with Linux's writer-preferring "
             "rwsem a queued hmm_mirror_unregister() makes a driver's device lock deadlock against "
             "try_to_unmap()."),
    variants=(
        Variant("before", "hmm_release drops mirrors_sem around ops->release",
                partial(build, "before"), expect="use_after_free"),
        Variant("after", "mirrors_sem held for read across the callbacks (14331726a3c4)",
                partial(build, "after"), expect="nothing"),
        Variant("three_threads", "try_to_unmap / hmm_mirror_unregister / migrate_vma, Linux rwsem",
                partial(build, "three_threads"), lockdep=("CPU0*", "CPU1*", "CPU2*"), expect="deadlock"),
        Variant("three_threads_reader_pref", "the same with a reader-preferring rwsem",
                partial(build, "three_threads_reader_pref"), lockdep=("CPU0*", "CPU1*", "CPU2*"),
                expect="nothing"),
    ),
    fix=Fix("mm/hmm: Remove confusing comment and logic from hmm_release", "14331726a3c4",
            "https://git.kernel.org/torvalds/c/14331726a3c4"),
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
)
