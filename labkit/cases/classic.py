"""Classic concurrency models with known answers, used to test the engine and
to warm up in the primer (``notebooks/00_primer.ipynb``): ABBA, dining
philosophers, two instances of one lock class, the rwsem queueing trap, a
last reference dropped under a lock its release needs, a pointer used
after the lock that found it was dropped, and a spinlock shared with an
interrupt handler (``notebooks/07_interrupts.ipynb``).
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, assign, call, down_read, down_write, free, get, if_, label, line, mutex_lock,
                     mutex_unlock, put, ret, spin_lock, spin_lock_irq, spin_lock_irqsave, spin_unlock,
                     spin_unlock_irq, spin_unlock_irqrestore, step, up_read, up_write, use, var)
from .base import Case, Exercise, Variant

__all__ = ["CASES", "abba", "philosophers", "lock_classes", "rwsem_fairness", "last_put", "lifetime",
           "irq_lock"]


def abba(variant: str):
    """Two cpus take locks A and B: in opposite orders (``before``) or the same order (``after``)."""
    m = Model("abba", variant, "ABBA: two locks taken in opposite orders")
    m.mutex("A")
    m.mutex("B")
    m.func("path_one", [mutex_lock("A"), mutex_lock("B"), step("do_work();"),
                        mutex_unlock("B"), mutex_unlock("A")])
    second = ("A", "B") if variant == "after" else ("B", "A")
    m.func("path_two", [mutex_lock(second[0]), mutex_lock(second[1]), step("do_work();"),
                        mutex_unlock(second[1]), mutex_unlock(second[0])])
    m.cpu("CPU0", "path_one", comm="task_one", pid=100, stack=("sys_ioctl",))
    m.cpu("CPU1", "path_two", comm="task_two", pid=101, stack=("sys_ioctl",))
    return m.build()


def philosophers(n: int, lefty: bool):
    """``n`` philosophers, fork ``i`` between ``i`` and ``i+1``; each takes its
    left fork then its right — except, with ``lefty``, the last one, which
    breaks the cycle by taking its right fork first."""
    variant = f"{'lefty' if lefty else 'n'}{n}"
    m = Model("philosophers", variant, f"{n} dining philosophers" + (", one left-handed" if lefty else ""))
    for i in range(n):
        m.mutex(f"fork{i}")
    for i in range(n):
        first, second = f"fork{i}", f"fork{(i + 1) % n}"
        if lefty and i == n - 1:
            first, second = second, first
        m.func(f"philosopher{i}", [mutex_lock(first), mutex_lock(second), step("eat();"),
                                   mutex_unlock(second), mutex_unlock(first)])
        m.cpu(f"CPU{i}", f"philosopher{i}", comm=f"philosopher{i}", pid=200 + i)
    return m.build()


def lock_classes(variant: str):
    """Two objects, each with its own ``lock``, both of lockdep class
    ``&obj->lock`` (one ``mutex_init()`` site). CPU0 moves from a to b, CPU1
    from b to a: in opposite orders (``before``) or both a first (``after``,
    a fixed order such as lower address first).

    The explorer sees instances: ``before`` deadlocks, ``after`` is clean.
    Lockdep sees classes: both variants take ``&obj->lock`` while holding
    ``&obj->lock``, so it reports recursive locking in both — the kernel
    silences the fixed-order case with ``mutex_lock_nested(&b->lock,
    SINGLE_DEPTH_NESTING)``, an annotation the model does not have.
    """
    m = Model("lock_classes", variant, "Two instances of one lock class")
    m.mutex("a->lock", cls="&obj->lock")
    m.mutex("b->lock", cls="&obj->lock")
    m.func("move_a_to_b", [mutex_lock("a->lock"), mutex_lock("b->lock"), step("move(a, b);"),
                           mutex_unlock("b->lock"), mutex_unlock("a->lock")])
    first, second = ("a->lock", "b->lock") if variant == "after" else ("b->lock", "a->lock")
    m.func("move_b_to_a", [mutex_lock(first), mutex_lock(second), step("move(b, a);"),
                           mutex_unlock(second), mutex_unlock(first)])
    m.cpu("CPU0", "move_a_to_b", comm="mover0", pid=500, stack=("sys_ioctl",))
    m.cpu("CPU1", "move_b_to_a", comm="mover1", pid=501, stack=("sys_ioctl",))
    return m.build()


def rwsem_fairness(reader_pref: bool):
    """The three-thread trap of an rwsem whose waiters queue in order.

    A holds the rwsem for read and wants lock D; C holds D and wants the rwsem
    for read; B wants it for write. Reads alone never exclude each other, but
    once B queues, Linux makes C's new read wait behind B (it does not let a
    reader overtake a queued writer), B waits for A, A waits for C. Linux's
    rw_semaphore is not simply "writer-preferring": its waiters queue in
    arrival order, with a handoff that stops newcomers stealing the lock
    from a waiter that has waited too long (``kernel/locking/rwsem.c``).
    """
    m = Model("rwsem_fairness", "reader_pref" if reader_pref else "writer_pref",
              "A reader, a writer and a lock: a new reader queues behind a waiting writer")
    m.rwsem("sem", reader_pref=reader_pref)
    m.mutex("D")
    m.func("thread_a", [down_read("sem"), mutex_lock("D"), mutex_unlock("D"), up_read("sem")])
    m.func("thread_b", [down_write("sem"), up_write("sem")])
    m.func("thread_c", [mutex_lock("D"), down_read("sem"), up_read("sem"), mutex_unlock("D")])
    m.cpu("CPU0", "thread_a", comm="thread_a", pid=300)
    m.cpu("CPU1", "thread_b", comm="thread_b", pid=301)
    m.cpu("CPU2", "thread_c", comm="thread_c", pid=302)
    return m.build()


def last_put(variant: str):
    """A cpu drops the last reference while holding ``list_lock``; the release
    function takes ``list_lock`` to unlink the object: AA deadlock. The fix
    drops the reference after unlocking."""
    m = Model("last_put", variant, "The last put runs its release under the putter's locks")
    m.mutex("list_lock")
    m.ref("obj->kref", 2)
    m.object("obj")
    m.func("obj_release", [mutex_lock("list_lock"), step("list_del(&obj->node);"),
                           mutex_unlock("list_lock"), ])
    if variant == "before":
        body = [mutex_lock("list_lock"), step("obj->in_use = false;"),
                put("obj->kref", "obj_release", "kref_put(&obj->kref, obj_release);"),
                mutex_unlock("list_lock")]
    else:
        body = [mutex_lock("list_lock"), step("obj->in_use = false;"), mutex_unlock("list_lock"),
                put("obj->kref", "obj_release", "kref_put(&obj->kref, obj_release);")]
    m.func("user_done", body)
    m.cpu("CPU0", "user_done", comm="user0", pid=400)
    m.cpu("CPU1", "user_done", comm="user1", pid=401)
    return m.build()


def lifetime(variant: str):
    """A reader finds ``obj`` on a list under ``list_lock`` and uses it after
    unlocking; a remover unlinks it and drops the list's reference, which
    frees it. ``before``: the reader holds no reference, so the object can be
    freed between its unlock and its use (use after free). ``after``: the
    reader takes a reference while the lock still guarantees the object is
    alive, and drops it when done; whoever puts last frees."""
    m = Model("lifetime", variant, "A pointer outlives the lock that found it")
    m.mutex("list_lock")
    m.shared("obj_listed", True)
    m.ref("obj->refcount", 1)
    m.object("obj")
    m.func("obj_free", [free("obj", "kfree(obj);")])
    head = [mutex_lock("list_lock"), if_(~var("obj_listed"), "empty", "if (list_empty(&list)) goto empty;"),
            step("obj = list_first_entry(&list, struct obj, node);")]
    tail = [ret("return;"), label("empty"), mutex_unlock("list_lock")]
    if variant == "before":
        body = head + [mutex_unlock("list_lock"), use("obj", "obj->count++;")] + tail
    else:
        body = head + [get("obj->refcount", "kref_get(&obj->refcount);"), mutex_unlock("list_lock"),
                       use("obj", "obj->count++;"),
                       put("obj->refcount", "obj_free", "kref_put(&obj->refcount, obj_free);")] + tail
    m.func("obj_lookup", body)
    m.func("obj_remove", [mutex_lock("list_lock"), assign("obj_listed", False, "list_del(&obj->node);"),
                          mutex_unlock("list_lock"),
                          put("obj->refcount", "obj_free", "kref_put(&obj->refcount, obj_free);")])
    m.cpu("CPU0", "obj_lookup", comm="reader", pid=600)
    m.cpu("CPU1", "obj_remove", comm="remover", pid=601)
    return m.build()


def irq_lock(variant: str):
    """A driver's ``dev->lock`` guards its statistics, which its interrupt
    handler updates and a sysfs read copies out, on the same cpu.

    ``before``: the read takes the lock with plain ``spin_lock()``, so the
    interrupt can arrive while the read holds it, and the handler spins on a
    lock its own cpu holds. ``irq``: ``spin_lock_irq()`` keeps interrupts off
    while the lock is held. ``nested``: the same ``spin_lock_irq()`` read,
    called by a walk over the device list that already holds
    ``dev_list_lock`` with interrupts off (``spin_lock_irqsave()``):
    ``spin_unlock_irq()`` turns interrupts on unconditionally, inside the
    walk, and the handler wants ``dev_list_lock``. ``irqsave``: the read
    saves and restores the interrupt state instead.
    """
    m = Model("irq_lock", variant, "A spinlock shared with an interrupt handler")
    m.spinlock("dev_list_lock")
    m.spinlock("dev->lock", cls="&dev->lock")
    lock, unlock = {"before": (spin_lock("dev->lock"), spin_unlock("dev->lock")),
                    "irq": (spin_lock_irq("dev->lock"), spin_unlock_irq("dev->lock")),
                    "nested": (spin_lock_irq("dev->lock"), spin_unlock_irq("dev->lock")),
                    "irqsave": (spin_lock_irqsave("dev->lock", "flags"),
                                spin_unlock_irqrestore("dev->lock", "flags"))}[variant]
    m.func("stats_show", [lock, line("copy = dev->stats;"), unlock, line("return sprintf(buf, copy);")])
    m.func("dev_interrupt", [spin_lock("dev_list_lock"), line("dev = find_dev(irq);"), spin_lock("dev->lock"),
                             line("dev->stats.rx++;"), spin_unlock("dev->lock"), spin_unlock("dev_list_lock")],
           via=("handle_irq_event_percpu",))
    if variant in ("nested", "irqsave"):
        m.func("devs_show", [spin_lock_irqsave("dev_list_lock", "list_flags"), call("stats_show"),
                             line("total += copy;"), spin_unlock_irqrestore("dev_list_lock", "list_flags")])
        m.cpu("CPU0", "devs_show", comm="cat", pid=700, stack=("ksys_read", "kernfs_fop_read_iter"),
              context="cat /sys/class/net/all/stats: every device, under dev_list_lock")
    else:
        m.cpu("CPU0", "stats_show", comm="cat", pid=700, stack=("ksys_read", "kernfs_fop_read_iter"),
              context="cat /sys/class/net/eth0/stats")
    m.interrupt("CPU0", "dev_interrupt", context="the device's interrupt, arriving on CPU0")
    return m.build()


CASES = (
    Case("abba", "ABBA: two locks, two orders",
         "The smallest deadlock: CPU0 takes A then B, CPU1 takes B then A.",
         (Variant("before", "opposite orders", partial(abba, "before"), expect="deadlock"),
          Variant("after", "one global order", partial(abba, "after"), expect="nothing")),
         kind="classic",
         exercises=(
             Exercise(1, "schedule", "before", title="Be the scheduler: deadlock CPU0 and CPU1",
                      answer="CPU0 CPU1 CPU0 CPU1",
                      explain="Each cpu must take its first lock before either takes its second: CPU0 holds A, "
                              "CPU1 holds B, then each asks for the lock the other holds. Any order of those "
                              "four steps with both first locks taken first is right.",
                      wrong=("CPU0* CPU1*", "CPU0 CPU0 CPU1 CPU1", "CPU1 CPU1 CPU1")),
         )),
    Case("philosophers", "Dining philosophers",
         "N philosophers, N forks: everyone left-then-right deadlocks; one left-handed philosopher "
         "breaks the cycle.",
         tuple(Variant(f"n{n}", f"{n} philosophers", partial(philosophers, n, False), expect="deadlock")
               for n in range(2, 9))
         + tuple(Variant(f"lefty{n}", f"{n} philosophers, one left-handed", partial(philosophers, n, True),
                         expect="nothing") for n in range(2, 7)),
         kind="classic",
         exercises=(
             Exercise(1, "chain", title="A real cycle of four lock classes",
                      report="data/splats/kvm_vfio.txt",
                      answer=["&kvm->lock", "&matrix_dev->guests_lock", "&new_dev_set->lock",
                              "&group->group_lock"],
                      explain="Copy the classes of the '-> #N (class)' lines in the order printed, #3 to #0. "
                              "Each entry was taken while the entry printed after it was held: kvm->lock (#3) "
                              "while holding guests_lock (#2), guests_lock while holding the device set's lock "
                              "(#1), that while holding group_lock (#0); and now this task wants group_lock "
                              "while holding kvm->lock, which closes the cycle — four philosophers, four "
                              "forks. 'Chain exists of' prints the same cycle forwards, shortened to three.",
                      wrong=(["&group->group_lock", "&new_dev_set->lock", "&matrix_dev->guests_lock",
                              "&kvm->lock"],
                             ["&kvm->lock", "&group->group_lock"],
                             "&kvm->lock, &matrix_dev->guests_lock, &kvm->lock, &group->group_lock")),
         )),
    Case("lock_classes", "One lock class, two instances",
         "Lockdep reasons about lock classes, not instances: two objects' locks share one class, so "
         "taking one while holding the other looks like taking a lock twice — whether or not the order "
         "is safe.",
         (Variant("before", "a->b on one cpu, b->a on the other", partial(lock_classes, "before"),
                  expect="deadlock"),
          Variant("after", "both take a->lock first (a fixed order)", partial(lock_classes, "after"),
                  expect="nothing",
                  note="lockdep still reports recursive locking: it sees &obj->lock taken while "
                       "&obj->lock is held; the kernel annotates the second with "
                       "mutex_lock_nested(..., SINGLE_DEPTH_NESTING), which the model leaves out")),
         kind="classic",
         exercises=(
             Exercise(1, "verdict", "after", title="Lockdep warns about 'after'. Can it deadlock?",
                      answer="clean",
                      explain="Both cpus take a->lock before b->lock, so nobody can hold b->lock while "
                              "waiting for a->lock: no cycle, and the explorer finds none in any "
                              "interleaving. Lockdep warns anyway because it only sees the class "
                              "&obj->lock taken while &obj->lock is held; it cannot tell a from b.",
                      wrong=("deadlock", "warn")),
         )),
    Case("rwsem_fairness", "The rwsem queueing trap: a new reader waits behind a waiting writer",
         "Reader A holds the rwsem and wants lock D; C holds D and wants to read; writer B queued in "
         "between. Linux's rwsem queues waiters in order, so C's read waits behind B, B waits for A, "
         "A waits for C.",
         (Variant("writer_pref", "Linux rw_semaphore (waiters queue in order: a new reader waits behind a "
                                 "queued writer)",
                  partial(rwsem_fairness, False), expect="deadlock",
                  note="the id is historical: Linux's rwsem is not simply writer-preferring; its waiters "
                       "queue in arrival order, with lock handoff"),
          Variant("reader_pref", "reader-preferring rwsem", partial(rwsem_fairness, True), expect="nothing",
                  note="hypothetical: Linux has no reader-preferring rw_semaphore")),
         kind="classic",
         exercises=(
             Exercise(1, "schedule", "writer_pref", title="Deadlock three threads with one rwsem and one mutex",
                      answer="CPU0 CPU1 CPU2 CPU0 CPU2",
                      explain="A (CPU0) must hold the rwsem for read and C (CPU2) must hold D before the "
                              "writer B (CPU1) queues; then A asks for D (held by C) and C asks to read: "
                              "it queues behind B, who waits for A. Without B in the queue, C's read would "
                              "get in beside A.",
                      wrong=("CPU0 CPU2 CPU2", "CPU0* CPU1* CPU2*", "CPU2 CPU0 CPU2 CPU0")),
         )),
    Case("last_put", "The last put under a lock",
         "kref_put() runs the release in the putter's context, under whatever it holds.",
         (Variant("before", "put while holding list_lock", partial(last_put, "before"), expect="deadlock"),
          Variant("after", "put after unlocking", partial(last_put, "after"), expect="nothing")),
         kind="classic",
         exercises=(
             Exercise(1, "fix", "before", title="Write the fix: who runs obj_release, holding what?",
                      function="user_done",
                      must_hold=(("obj->in_use = false", "list_lock"),),
                      answer="mutex_lock(&list_lock);\nobj->in_use = false;\nmutex_unlock(&list_lock);\n"
                             "kref_put(&obj->kref, obj_release);",
                      explain="Whichever cpu drops the last reference runs obj_release() right there, still "
                              "holding what it holds; obj_release() takes list_lock, so the put must come "
                              "after mutex_unlock(). The flag stays under the lock that protects it.",
                      wrong=("mutex_lock(&list_lock);\nobj->in_use = false;\nkref_put(&obj->kref, obj_release);"
                             "\nmutex_unlock(&list_lock);",
                             "obj->in_use = false;\nkref_put(&obj->kref, obj_release);",
                             "mutex_lock(&list_lock);\nobj->in_use = false;\nkref_put(&obj->kref, obj_release);")),
         )),
    Case("lifetime", "Use after free: a pointer outlives the lock that found it",
         "A reader finds an object under a lock and uses it after unlocking; a remover unlinks and frees "
         "it in between. The lock protected the list, not the object's lifetime: a reference does.",
         (Variant("before", "the reader holds no reference", partial(lifetime, "before"),
                  expect="use_after_free"),
          Variant("after", "kref_get() under the lock, kref_put() when done", partial(lifetime, "after"),
                  expect="nothing")),
         kind="classic"),
    Case("irq_lock", "A spinlock shared with an interrupt handler: why spin_lock_irqsave() exists",
         "A sysfs read and the device's interrupt handler share dev->lock. Taken with interrupts on, the "
         "interrupt can arrive on the cpu that holds it, and its handler spins forever on a lock its own "
         "cpu holds. spin_lock_irq() keeps interrupts off while the lock is held, but spin_unlock_irq() "
         "turns them on whatever they were before; spin_lock_irqsave() puts them back as they were.",
         (Variant("before", "spin_lock(): interrupts stay on", partial(irq_lock, "before"), expect="deadlock"),
          Variant("irq", "spin_lock_irq() from a read with interrupts on", partial(irq_lock, "irq"),
                  expect="nothing"),
          Variant("nested", "the same spin_lock_irq() read, called with interrupts already off",
                  partial(irq_lock, "nested"), expect="deadlock"),
          Variant("irqsave", "spin_lock_irqsave(): the interrupt state saved and restored",
                  partial(irq_lock, "irqsave"), expect="nothing")),
         kind="classic",
         exercises=(
             Exercise(1, "verdict", "nested",
                      title="stats_show() uses spin_lock_irq() now, and devs_show() calls it with interrupts "
                            "already off. Can CPU0 still deadlock?",
                      answer="deadlock",
                      explain="spin_unlock_irq() turns interrupts on unconditionally. devs_show() still holds "
                              "dev_list_lock after stats_show() returns, so the interrupt can now arrive, and "
                              "its handler spins on dev_list_lock, which its own cpu holds. "
                              "spin_lock_irqsave()/spin_unlock_irqrestore() put interrupts back as they were "
                              "(off), which is why a function that may be called with interrupts off uses them.",
                      wrong=("clean", "warn")),
         )),
)
