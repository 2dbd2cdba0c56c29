"""The lockdep emulator against the kernel's own lockdep selftests.

``lib/locking-selftest.c`` (torvalds/linux at 44722ff7611c, 6.12) runs about
395 small lock sequences on a freshly reset lockdep and says for each whether
lockdep must stay quiet (SUCCESS) or report (FAILURE). ``selftest_tables``
translates every one the lab can express — the AA ... ABCDBCDA tables over
spin/wlock/rlock/mutex/wsem/rsem, double unlock, the read-recursion specials
and the W1R2 groups, all the interrupt tables (irqsafe1/2A/2B/3/4,
irq_inversion, irq_read_recursion #1-#3, the queued read-lock tests, the
hardirq-unsafe/softirq-safe special) and the wait-context tests over the
contexts and locks the lab has — and counts what it leaves out.

Each is played through the hooks the kernel calls; the ones a model can
already express (no rwlock_t, no interrupts, no double unlock) are also built
as a model, replayed, and watched by :meth:`Lockdep.observe`, and must get the
same verdict and the same report.
"""

import pytest
from selftest_tables import FAILURE, OUT_OF_SCOPE, SOURCE, SUCCESS, TESTS, run_events

from labkit.lockdep import REPORT_KINDS, Lockdep
from labkit.model import Model, builder
from labkit.trace import replay

_IDS = [t.name for t in TESTS]


def test_the_translation_is_complete_and_counted():
    # 87 non-irq (81 + 6 double unlock), 214 with interrupts, 8 wait-context tests.
    assert len(TESTS) == len(set(_IDS)) == 309
    non_irq = [t for t in TESTS if not t.irq and "_in_" not in t.name]
    assert len(non_irq) == 87
    assert len([t for t in TESTS if t.irq and "_in_" not in t.name]) == 214
    assert len([t for t in TESTS if "_in_" in t.name]) == 8
    # Together with what stays out, the whole suite at that version.
    assert len(TESTS) + sum(OUT_OF_SCOPE.values()) == 395
    assert "44722ff7611c" in SOURCE


@pytest.mark.parametrize("t", TESTS, ids=_IDS)
def test_selftest_verdict(t):
    ld = run_events(t.events, t.force_rr)
    got = FAILURE if ld.reports else SUCCESS
    assert got == t.expect, f"{t.name} ({t.group}): {t.events}\n{ld.text()}"
    assert all(r.kind in REPORT_KINDS for r in ld.reports)


def test_each_kind_of_report_is_exercised():
    kinds = {run_events(t.events, t.force_rr).reports[0].kind for t in TESTS if t.expect == FAILURE}
    assert kinds == set(REPORT_KINDS)


def test_after_its_first_report_lockdep_is_off_unless_keep_going():
    t = next(t for t in TESTS if t.name == "ABBCCDDA_spin")
    body = t.events + " " + t.events.replace("(A)", "(Z1)")
    assert len(run_events(body).reports) == 1
    assert len(run_events(body, keep_going=True).reports) >= 2


# -- the same tests as models -----------------------------------------------------------------
_BUILD = {"L": "spin_lock", "U": "spin_unlock", "ML": "mutex_lock", "MU": "mutex_unlock",
          "WSL": "down_write", "WSU": "up_write", "RSL": "down_read", "RSU": "up_read"}


def as_model(t):
    """The test as a one-cpu model, or None when the model cannot say it yet
    (rwlock_t, interrupts, a second unlock)."""
    import re
    from selftest_tables import lock_ref
    if t.irq or t.name.startswith("double_unlock"):
        return None
    words = [re.fullmatch(r"(\w+)\((\w+)\)", w).groups() for w in t.events.split()]
    if any(op not in _BUILD for op, _ in words):
        return None
    m = Model("selftest", t.name)
    declared = set()
    for op, letter in words:
        ref = lock_ref(op, letter)
        if ref.name not in declared:
            declared.add(ref.name)
            {"spinlock": m.spinlock, "mutex": m.mutex, "rwsem": m.rwsem}[ref.kind](ref.name, cls=ref.cls)
    m.func(t.name, [builder(_BUILD[op])(lock_ref(op, letter).name) for op, letter in words])
    m.cpu("CPU0", t.name, comm="swapper/0", pid=1)
    return m.build()


_MODELLED = [t for t in TESTS if as_model(t) is not None]


def test_the_modelled_share():
    # The spin, mutex, wsem and rsem columns of the seven tables, the seven rsem/rwsem
    # specials, the four wait-context tests between a spinlock and a mutex.
    assert len(_MODELLED) == 4 * 7 + 7 + 4


@pytest.mark.parametrize("t", _MODELLED, ids=[t.name for t in _MODELLED])
def test_selftest_as_a_model_gets_the_same_verdict_and_report(t):
    ld = Lockdep().observe(replay(as_model(t), "CPU0*"))
    got = FAILURE if ld.reports else SUCCESS
    assert got == t.expect, ld.text()
    ev = run_events(t.events, t.force_rr)
    assert [(r.kind, r.acquiring, r.held, r.chain) for r in ld.reports] == \
           [(r.kind, r.acquiring, r.held, r.chain) for r in ev.reports]
