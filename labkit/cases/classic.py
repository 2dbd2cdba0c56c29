"""Classic concurrency models with known answers, used to test the engine and
to warm up in the primer: ABBA, dining philosophers, the rwsem fairness
trap, and a last reference dropped under a lock its release needs.
"""

from __future__ import annotations

from functools import partial

from ..model import (Model, down_read, down_write, mutex_lock, mutex_unlock, put, step, up_read,
                     up_write)
from .base import Case, Variant

__all__ = ["CASES", "abba", "philosophers", "rwsem_fairness", "last_put"]


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


def rwsem_fairness(reader_pref: bool):
    """The three-thread trap of a writer-preferring rwsem.

    A holds the rwsem for read and wants lock D; C holds D and wants the rwsem
    for read; B wants it for write. Reads alone never exclude each other, but
    once B queues, Linux makes C's read wait behind B, B waits for A, A waits
    for C.
    """
    m = Model("rwsem_fairness", "reader_pref" if reader_pref else "writer_pref",
              "A reader, a writer and a lock: rwsem writer preference")
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


CASES = (
    Case("abba", "ABBA: two locks, two orders",
         "The smallest deadlock: CPU0 takes A then B, CPU1 takes B then A.",
         (Variant("before", "opposite orders", partial(abba, "before"), expect="deadlock"),
          Variant("after", "one global order", partial(abba, "after"), expect="nothing")),
         kind="classic"),
    Case("philosophers", "Dining philosophers",
         "N philosophers, N forks: everyone left-then-right deadlocks; one left-handed philosopher "
         "breaks the cycle.",
         tuple(Variant(f"n{n}", f"{n} philosophers", partial(philosophers, n, False), expect="deadlock")
               for n in range(2, 7))
         + tuple(Variant(f"lefty{n}", f"{n} philosophers, one left-handed", partial(philosophers, n, True),
                         expect="nothing") for n in range(2, 7)),
         kind="classic"),
    Case("rwsem_fairness", "The rwsem writer-preference trap",
         "Reader A, writer B, lock D held by C who then reads: a writer-preferring rwsem deadlocks.",
         (Variant("writer_pref", "Linux rw_semaphore (a queued writer blocks new readers)",
                  partial(rwsem_fairness, False), expect="deadlock"),
          Variant("reader_pref", "reader-preferring rwsem", partial(rwsem_fairness, True), expect="nothing")),
         kind="classic"),
    Case("last_put", "The last put under a lock",
         "kref_put() runs the release in the putter's context, under whatever it holds.",
         (Variant("before", "put while holding list_lock", partial(last_put, "before"), expect="deadlock"),
          Variant("after", "put after unlocking", partial(last_put, "after"), expect="nothing")),
         kind="classic"),
)
