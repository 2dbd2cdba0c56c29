"""The kernel's own lockdep selftests, as data: lib/locking-selftest.c translated.

Source: ``lib/locking-selftest.c`` of torvalds/linux at commit 44722ff7611c
(its Makefile says 6.12), read with the lab's search tool. Each test there is
a C function built from a few macros (``LOCK(X1)``, ``IRQ_ENTER()`` ...) and
run by ``dotest(fn, SUCCESS | FAILURE, ...)`` on a freshly reset lockdep:
SUCCESS means lockdep stays quiet, FAILURE that it reports (and turns itself
off). Here every test is the same macro sequence written as a string, with the
expectation the ``DO_TESTCASE_*`` line gives it; the C macros are expanded the
way the kernel's headers expand them (``locking-selftest-spin.h`` makes
``LOCK`` mean ``L``, ``locking-selftest-softirq.h`` makes ``IRQ_ENTER`` mean
``SOFTIRQ_ENTER`` ...).

:func:`run_events` plays a sequence into :class:`labkit.lockdep.Lockdep`
through the hooks the kernel calls (lock_acquire, local_irq_disable, an
interrupt's entry ...); :data:`TESTS` lists every translated test;
:data:`OUT_OF_SCOPE` counts the ones the lab cannot express, and why.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

from labkit.lockdep import Lockdep, LockRef

SOURCE = "torvalds/linux lib/locking-selftest.c @ 44722ff7611c (6.12)"
SUCCESS, FAILURE = "SUCCESS", "FAILURE"


class SelfTest(NamedTuple):
    name: str          # the C function's name (dotest's first argument)
    group: str         # the print_testname() row it belongs to
    events: str        # the macro sequence, expanded for its lock type and irq kind
    expect: str        # SUCCESS or FAILURE
    irq: bool          # uses interrupt contexts (IRQ_ENTER, IRQ_DISABLE ...)
    force_rr: bool = True   # force_read_lock_recursive (1 for all but the queued tests)


# -- the locks: one instance per (family, letter); X1/X2 share a class -----------------------
_FAMILY = {"L": "spin", "U": "spin", "WL": "rwlock", "WU": "rwlock", "RL": "rwlock", "RU": "rwlock",
           "ML": "mutex", "MU": "mutex", "WSL": "rwsem", "WSU": "rwsem", "RSL": "rwsem", "RSU": "rwsem"}
_PREFIX = {"spin": "lock_", "rwlock": "rwlock_", "mutex": "mutex_", "rwsem": "rwsem_"}
_KIND = {"spin": "spinlock", "rwlock": "rwlock", "mutex": "mutex", "rwsem": "rwsem"}
_RELEASE = {"U", "WU", "RU", "MU", "WSU", "RSU"}


def lock_ref(op: str, letter: str) -> LockRef:
    fam = _FAMILY[op]
    cls = letter[0] if letter[0] in "XYZ" else letter       # init_class_X(): X1 and X2 share a class
    return LockRef(_PREFIX[fam] + letter, _PREFIX[fam] + cls, _KIND[fam], "ABCDXYZ".index(letter[0]))


# -- the macros -----------------------------------------------------------------------------
# HARDIRQ_ENTER(): local_irq_disable(); __irq_enter() ...  SOFTIRQ_ENTER(): local_bh_disable();
# local_irq_disable(); lockdep_softirq_enter() ... and their exits in reverse.
_COMPOUND = {
    "HARDIRQ_ENTER": "irq_off hardirq_enter", "HARDIRQ_EXIT": "hardirq_exit irq_on",
    "SOFTIRQ_ENTER": "bh_off irq_off softirq_enter", "SOFTIRQ_EXIT": "softirq_exit irq_on bh_on",
    "HARDIRQ_DISABLE": "irq_off", "HARDIRQ_ENABLE": "irq_on",
    "SOFTIRQ_DISABLE": "bh_off", "SOFTIRQ_ENABLE": "bh_on",
}
_LOCKS = {  # locking-selftest-<type>.h: what LOCK/UNLOCK mean
    "spin": ("L", "U"), "wlock": ("WL", "WU"), "rlock": ("RL", "RU"),
    "mutex": ("ML", "MU"), "wsem": ("WSL", "WSU"), "rsem": ("RSL", "RSU"),
}


def expand(body: str, ltype: str | None = None, irq: str | None = None) -> str:
    """``LOCK``/``UNLOCK`` for ``ltype`` and ``IRQ_*`` for ``irq`` (``hard``/``soft``),
    ``LOCK_UNLOCK_2(x,y)`` and ``LU(x)`` spelled out."""
    body = re.sub(r"LOCK_UNLOCK_2\((\w+),\s*(\w+)\)", r"LOCK(\1) LOCK(\2) UNLOCK(\2) UNLOCK(\1)", body)
    if ltype:
        lk, un = _LOCKS[ltype]
        body = re.sub(r"\bUNLOCK\(", un + "(", body)
        body = re.sub(r"\bLOCK\(", lk + "(", body)
    if irq:
        pre = "HARDIRQ" if irq == "hard" else "SOFTIRQ"
        body = re.sub(r"\bIRQ_(ENTER|EXIT|DISABLE|ENABLE)\b", pre + r"_\1", body)
    return " ".join(body.split())


def run_events(events: str, force_rr: bool = True, keep_going: bool = False, label: str = "selftest") -> Lockdep:
    """Play a macro sequence into a fresh emulator (one task, as dotest() runs it)."""
    ld = Lockdep(keep_going=keep_going, label=label, force_read_lock_recursive=force_rr)
    t = ld.task("CPU0", comm="swapper/0", pid=1, index=0)
    for word in events.split():
        for ev in _COMPOUND.get(word, word).split():
            m = re.fullmatch(r"(\w+)\((\w+)\)", ev)
            if m is None:
                {"irq_off": ld.hardirqs_off, "irq_on": ld.hardirqs_on, "bh_off": ld.softirqs_off,
                 "bh_on": ld.softirqs_on, "hardirq_enter": ld.hardirq_enter, "hardirq_exit": ld.hardirq_exit,
                 "softirq_enter": ld.softirq_enter, "softirq_exit": ld.softirq_exit}[ev](t)
                continue
            op, letter = m.groups()
            lock = lock_ref(op, letter)
            fn = "selftest_" + ev.lower().replace("(", "_").rstrip(")")
            if op in _RELEASE:
                ld.lock_release(t, lock, at=fn, frames=(fn,))
                continue
            read = {"RL": ld.rwlock_read(t), "RSL": 1}.get(op, 0)
            ld.lock_acquire(t, lock, read, at=fn, frames=("lock_acquire", fn))
    return ld


def outcome(events: str, force_rr: bool = True) -> str:
    return FAILURE if run_events(events, force_rr).reports else SUCCESS


# -- the tests ------------------------------------------------------------------------------
TYPES6 = ("spin", "wlock", "rlock", "mutex", "wsem", "rsem")
_6R = dict(spin=FAILURE, wlock=FAILURE, rlock=SUCCESS, mutex=FAILURE, wsem=FAILURE, rsem=FAILURE)
_6 = dict.fromkeys(TYPES6, FAILURE)
_3 = dict(spin=FAILURE, wlock=FAILURE, rlock=SUCCESS)            # DO_TESTCASE_3 / _3RW


def _perms(n: int):
    return ["".join(p) for p in itertools.permutations("123"[:n])]


def _build() -> list[SelfTest]:
    t: list[SelfTest] = []

    def add(name, group, events, expect, irq, force_rr=True):
        t.append(SelfTest(name, group, " ".join(events.split()), expect, irq, force_rr))

    # DO_TESTCASE_6R / DO_TESTCASE_6: one body, six lock types.
    six = [
        ("AA", "A-A deadlock", "LOCK(X1) LOCK(X2)", _6R),
        ("ABBA", "A-B-B-A deadlock", "LOCK_UNLOCK_2(A, B) LOCK_UNLOCK_2(B, A)", _6R),
        ("ABBCCA", "A-B-B-C-C-A deadlock",
         "LOCK_UNLOCK_2(A, B) LOCK_UNLOCK_2(B, C) LOCK_UNLOCK_2(C, A)", _6R),
        ("ABCABC", "A-B-C-A-B-C deadlock",
         "LOCK_UNLOCK_2(A, B) LOCK_UNLOCK_2(C, A) LOCK_UNLOCK_2(B, C)", _6R),
        ("ABBCCDDA", "A-B-B-C-C-D-D-A deadlock",
         "LOCK_UNLOCK_2(A, B) LOCK_UNLOCK_2(B, C) LOCK_UNLOCK_2(C, D) LOCK_UNLOCK_2(D, A)", _6R),
        ("ABCDBDDA", "A-B-C-D-B-D-D-A deadlock",
         "LOCK_UNLOCK_2(A, B) LOCK_UNLOCK_2(C, D) LOCK_UNLOCK_2(B, D) LOCK_UNLOCK_2(D, A)", _6R),
        ("ABCDBCDA", "A-B-C-D-B-C-D-A deadlock",
         "LOCK_UNLOCK_2(A, B) LOCK_UNLOCK_2(C, D) LOCK_UNLOCK_2(B, C) LOCK_UNLOCK_2(D, A)", _6R),
        ("double_unlock", "double unlock", "LOCK(A) UNLOCK(A) UNLOCK(A)", _6),
    ]
    for name, group, body, expect in six:
        for ty in TYPES6:
            add(f"{name}_{ty}", group, expand(body, ty), expect[ty], False)

    # The read-lock specials, written out in the source.
    specials = [
        ("rlock_AA1", "recursive read-lock", "RL(X1) RL(X1)", SUCCESS),
        ("rsem_AA1", "recursive read-lock", "RSL(X1) RSL(X1)", FAILURE),
        ("rlock_AA1B", "recursive read-lock #2", "RL(X1) RL(X2)", SUCCESS),
        ("rsem_AA1B", "recursive read-lock #2", "RSL(X1) RSL(X2)", FAILURE),
        ("rlock_AA2", "mixed read-write-lock", "RL(X1) WL(X2)", FAILURE),
        ("rsem_AA2", "mixed read-write-lock", "RSL(X1) WSL(X2)", FAILURE),
        ("rlock_AA3", "mixed write-read-lock", "WL(X1) RL(X2)", FAILURE),
        ("rsem_AA3", "mixed write-read-lock", "WSL(X1) RSL(X2)", FAILURE),
        ("rlock_ABBA1", "mixed read-lock/lock-write ABBA", "RL(X1) L(Y1) U(Y1) RU(X1) L(Y1) WL(X1) WU(X1) U(Y1)",
         FAILURE),
        ("rwsem_ABBA1", "mixed read-lock/lock-write ABBA",
         "RSL(X1) ML(Y1) MU(Y1) RSU(X1) ML(Y1) WSL(X1) WSU(X1) MU(Y1)", FAILURE),
        ("rlock_ABBA2", "mixed read-lock/lock-read ABBA", "RL(X1) L(Y1) U(Y1) RU(X1) L(Y1) RL(X1) RU(X1) U(Y1)",
         SUCCESS),
        ("rwsem_ABBA2", "mixed read-lock/lock-read ABBA",
         "RSL(X1) ML(Y1) MU(Y1) RSU(X1) ML(Y1) RSL(X1) RSU(X1) MU(Y1)", FAILURE),
        ("rlock_ABBA3", "mixed write-lock/lock-write ABBA",
         "WL(X1) L(Y1) U(Y1) WU(X1) L(Y1) WL(X1) WU(X1) U(Y1)", FAILURE),
        ("rwsem_ABBA3", "mixed write-lock/lock-write ABBA",
         "WSL(X1) ML(Y1) MU(Y1) WSU(X1) ML(Y1) WSL(X1) WSU(X1) MU(Y1)", FAILURE),
        ("rlock_chaincache_ABBA1", "chain cached mixed R-L/L-W ABBA",
         "RL(X1) L(Y1) U(Y1) RU(X1) L(Y1) RL(X1) RU(X1) U(Y1) L(Y1) WL(X1) WU(X1) U(Y1)", FAILURE),
    ]
    for name, group, body, expect in specials:
        add(name, group, body, expect, False)

    # The W1R2 groups: three events, six orders each (DO_TESTCASE_6x1RR / _6x1RRB).
    rr = [
        ("W1R2_W2R3_W3R1", "rlock W1R2/W2R3/W3R1", ("WL(X1) RL(Y1) RU(Y1) WU(X1)", "WL(Y1) RL(Z1) RU(Z1) WU(Y1)",
                                                    "WL(Z1) RL(X1) RU(X1) WU(Z1)"), FAILURE),
        ("W1W2_R2R3_W3R1", "rlock W1W2/R2R3/W3R1", ("WL(X1) WL(Y1) WU(Y1) WU(X1)", "RL(Y1) RL(Z1) RU(Z1) RU(Y1)",
                                                    "WL(Z1) RL(X1) RU(X1) WU(Z1)"), FAILURE),
        ("W1R2_R2R3_W3W1", "rlock W1W2/R2R3/R3W1", ("WL(X1) WL(Y1) WU(Y1) WU(X1)", "RL(Y1) RL(Z1) RU(Z1) RU(Y1)",
                                                    "RL(Z1) WL(X1) WU(X1) RU(Z1)"), SUCCESS),
        ("W1W2_R2R3_R3W1", "rlock W1R2/R2R3/W3W1", ("WL(X1) RL(Y1) RU(Y1) WU(X1)", "RL(Y1) RL(Z1) RU(Z1) RU(Y1)",
                                                    "WL(Z1) WL(X1) WU(X1) WU(Z1)"), SUCCESS),
    ]
    for name, group, es, expect in rr:
        for p in _perms(3):
            add(f"{name}_{p}", group, " ".join(es[int(i) - 1] for i in p), expect, False)

    # -- interrupt contexts --------------------------------------------------------------------
    irq = [  # (name, group, events, per-type expectations, lock types, irq kinds)
        ("irqsafe1", "irqs-on + irq-safe-A",
         ("IRQ_ENTER() LOCK(A) UNLOCK(A) IRQ_EXIT()", "LOCK(A) UNLOCK(A)"), _3, ("hard", "soft")),
        ("irqsafe2A", "sirq-safe-A => hirqs-on",
         ("SOFTIRQ_ENTER() LOCK(A) UNLOCK(A) SOFTIRQ_EXIT()", "HARDIRQ_DISABLE() LOCK(A) HARDIRQ_ENABLE() UNLOCK(A)"),
         _3, (None,)),
        ("irqsafe2B", "safe-A + irqs-on",
         ("IRQ_ENTER() LOCK(A) UNLOCK(A) IRQ_EXIT()", "IRQ_DISABLE() LOCK(A) IRQ_ENABLE() UNLOCK(A)"),
         _3, ("hard", "soft")),
        ("irqsafe3", "safe-A + unsafe-B #1",
         ("LOCK(A) LOCK(B) UNLOCK(B) UNLOCK(A)", "LOCK(B) UNLOCK(B)", "IRQ_ENTER() LOCK(A) UNLOCK(A) IRQ_EXIT()"),
         _3, ("hard", "soft")),
        ("irqsafe4", "safe-A + unsafe-B #2",
         ("IRQ_DISABLE() LOCK(A) LOCK(B) UNLOCK(B) UNLOCK(A) IRQ_ENABLE()", "LOCK(B) UNLOCK(B)",
          "IRQ_ENTER() LOCK(A) UNLOCK(A) IRQ_EXIT()"), _3, ("hard", "soft")),
        ("irq_inversion", "irq lock-inversion",
         ("IRQ_DISABLE() WL(A) LOCK(B) UNLOCK(B) WU(A) IRQ_ENABLE()", "LOCK(B) UNLOCK(B)",
          "IRQ_ENTER() RL(A) RU(A) IRQ_EXIT()"), _3, ("hard", "soft")),
        ("irq_read_recursion", "irq read-recursion",
         ("IRQ_DISABLE() WL(A) WU(A) IRQ_ENABLE()", "RL(A) RU(A)",
          "IRQ_ENTER() LOCK(A) L(B) U(B) UNLOCK(A) IRQ_EXIT()"), dict(wlock=FAILURE, rlock=SUCCESS), ("hard", "soft")),
        ("irq_read_recursion2", "irq read-recursion #2",
         ("IRQ_DISABLE() L(B) LOCK(A) UNLOCK(A) U(B) IRQ_ENABLE()", "RL(A) RU(A)",
          "IRQ_ENTER() L(B) U(B) IRQ_EXIT()"), dict(wlock=FAILURE, rlock=SUCCESS), ("hard", "soft")),
        ("irq_read_recursion3", "irq read-recursion #3",
         ("IRQ_DISABLE() WL(B) LOCK(A) UNLOCK(A) WU(B) IRQ_ENABLE()", "RL(A) RU(A)",
          "IRQ_ENTER() RL(B) RU(B) IRQ_EXIT()"), dict(wlock=FAILURE, rlock=SUCCESS), ("hard", "soft")),
    ]
    for name, group, es, expect, kinds in irq:
        es = [e.replace("()", "") for e in es]
        for p in _perms(len(es)):
            for kind in kinds:
                for ty, exp in expect.items():
                    fn = f"{name}_{kind}_{ty}_{p}" if kind else f"{name}_{ty}_{p}"
                    body = " ".join(es[int(i) - 1] for i in p)
                    add(fn, group, expand(body, ty, kind), exp, True)

    # queued_read_lock_tests(): force_read_lock_recursive is 0 again, so read_lock() is a
    # recursive reader only in interrupt context. LOCK() still means WL() here: the last
    # locking-selftest-*.h included above them is the wlock one.
    q = [
        ("queued_read_lock_hardirq_RE_Er", "hardirq read-lock/lock-read",
         "HARDIRQ_ENTER RL(A) WL(B) WU(B) RU(A) HARDIRQ_EXIT HARDIRQ_DISABLE WL(B) RL(A) RU(A) WU(B) HARDIRQ_ENABLE",
         FAILURE),
        ("queued_read_lock_hardirq_ER_rE", "hardirq lock-read/read-lock",
         "HARDIRQ_ENTER WL(B) RL(A) RU(A) WU(B) HARDIRQ_EXIT HARDIRQ_DISABLE RL(A) WL(B) WU(B) RU(A) HARDIRQ_ENABLE",
         SUCCESS),
        ("queued_read_lock_hardirq_inversion", "hardirq inversion",
         "HARDIRQ_ENTER WL(B) WU(B) HARDIRQ_EXIT HARDIRQ_DISABLE WL(B) RL(A) RU(A) WU(B) HARDIRQ_ENABLE RL(A) RU(A)",
         FAILURE),
    ]
    for name, group, body, expect in q:
        add(name, group, body, expect, True, force_rr=False)

    add("hardirq_deadlock_softirq_not_deadlock", "hardirq_unsafe_softirq_safe",
        "ML(A) HARDIRQ_DISABLE L(C) U(C) HARDIRQ_ENABLE MU(A) "
        "HARDIRQ_ENTER L(A) U(A) HARDIRQ_EXIT "
        "HARDIRQ_DISABLE L(A) L(B) U(B) U(A) HARDIRQ_ENABLE "
        "HARDIRQ_DISABLE L(B) L(C) U(C) U(B) HARDIRQ_ENABLE "
        "SOFTIRQ_ENTER L(D) U(D) SOFTIRQ_EXIT "
        "SOFTIRQ_DISABLE L(D) U(D) SOFTIRQ_ENABLE "
        "HARDIRQ_DISABLE L(C) L(D) U(D) U(C) HARDIRQ_ENABLE", FAILURE, True)

    # wait_context_tests(): the outer contexts and inner locks the lab has (hardirq,
    # softirq, spinlock_t, mutex outside; spinlock_t, mutex inside). Guards release in
    # reverse order: inner first.
    outer = {"HARDIRQ": ("HARDIRQ_ENTER", "HARDIRQ_EXIT"), "SOFTIRQ": ("SOFTIRQ_ENTER", "SOFTIRQ_EXIT"),
             "spinlock": ("L(A)", "U(A)"), "mutex": ("ML(A)", "MU(A)")}
    inner = {"spinlock": ("L(B)", "U(B)"), "mutex": ("ML(B)", "MU(B)")}
    for o, (oin, oout) in outer.items():
        for i, (iin, iout) in inner.items():
            expect = FAILURE if i == "mutex" and o != "mutex" else SUCCESS
            add(f"{i}_in_{o}", f"in {o} context", f"{oin} {iin} {iout} {oout}", expect,
                o in ("HARDIRQ", "SOFTIRQ"))
    return t


TESTS: list[SelfTest] = _build()

#: What the lab leaves out, with how many dotest() calls each is (at the version above).
OUT_OF_SCOPE = {
    "init_held (re-initialising a held lock: lockdep's 'held lock freed!'; no init primitive)": 6,
    "rtmutex columns (rt_mutex: AA..ABCDBCDA, double unlock, init held; CONFIG_RT_MUTEXES)": 9,
    "ww_mutex tests (wound/wait contexts, ww_tests())": 36,
    "local_lock tests (local_lock_t: inversion 2, 3A, 3B)": 3,
    "fs_reclaim tests (a lockdep_map, not a lock)": 3,
    "lockdep_set_subclass() name test (a lockdep_map API)": 1,
    "wait-context tests with RCU, raw_spinlock_t or a non-threaded hardirq (need "
    "CONFIG_PROVE_RAW_LOCK_NESTING's wait types)": 28,
}
