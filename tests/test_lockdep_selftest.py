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

Each is played through the hooks the kernel calls, and also built as a model
(its interrupt blocks as interrupt handlers of the cpu, fired where the
selftest enters them), replayed, and watched by :meth:`Lockdep.observe`: both
must get the kernel's verdict, with the same report.
"""

import pytest
from selftest_tables import FAILURE, OUT_OF_SCOPE, SOURCE, SUCCESS, TESTS, run_events

from labkit.lockdep import REPORT_KINDS, Lockdep
from labkit.model import Model, builder, line
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
          "WSL": "down_write", "WSU": "up_write", "RSL": "down_read", "RSU": "up_read",
          "WL": "write_lock", "WU": "write_unlock", "RL": "read_lock", "RU": "read_unlock",
          "HARDIRQ_DISABLE": "local_irq_disable", "HARDIRQ_ENABLE": "local_irq_enable",
          "SOFTIRQ_DISABLE": "local_bh_disable", "SOFTIRQ_ENABLE": "local_bh_enable"}


def as_model(t):
    """The test as a model: the sequence is CPU0's code, and each
    IRQ_ENTER() ... IRQ_EXIT() block an interrupt handler of CPU0 that the
    schedule fires right there. Returns ``(program, schedule)``.

    A SOFTIRQ_ENTER() block is a softirq handler whose body disables hardirqs
    first and enables them last, as the selftest's macro does (a real softirq
    runs with them on)."""
    import re
    from selftest_tables import lock_ref
    m = Model("selftest", t.name)
    declared, task, sched, handlers = set(), [], [], []
    block = None
    for w in t.events.split():
        if w in ("HARDIRQ_ENTER", "SOFTIRQ_ENTER"):
            block = (w.split("_")[0].lower(), [])
            continue
        if w in ("HARDIRQ_EXIT", "SOFTIRQ_EXIT"):
            kind, ops = block
            if kind == "softirq":
                ops = [builder("local_irq_disable")()] + ops + [builder("local_irq_enable")()]
            name = f"CPU0.{kind}{len(handlers)}"
            handlers.append((name, kind, ops))
            sched.extend([name] * len(ops))
            block = None
            continue
        mm = re.fullmatch(r"(\w+)\((\w+)\)", w)
        if mm:
            op, letter = mm.groups()
            ref = lock_ref(op, letter)
            if ref.name not in declared:
                declared.add(ref.name)
                {"spinlock": m.spinlock, "mutex": m.mutex, "rwsem": m.rwsem, "rwlock": m.rwlock}[ref.kind](
                    ref.name, cls=ref.cls)
            step = builder(_BUILD[op])(ref.name)
        else:
            step = builder(_BUILD[w])()
        if block is not None:
            block[1].append(step)
        else:
            task.append(step)
            sched.append("CPU0")
    if not task:
        task, sched = [line("idle();")], sched + ["CPU0"]
    m.func("selftest", task)
    m.cpu("CPU0", "selftest", comm="swapper/0", pid=1)
    for name, kind, ops in handlers:
        fn = "handler_" + name.split(".")[1]
        m.func(fn, ops)
        m.interrupt("CPU0", fn, kind=kind, name=name)
    return m.build(), " ".join(sched)


@pytest.mark.parametrize("t", TESTS, ids=_IDS)
def test_selftest_as_a_model_gets_the_same_verdict_and_report(t):
    prog, sched = as_model(t)
    trace = replay(prog, sched)
    assert len(trace.steps) == len(sched.split())
    ld = Lockdep(force_read_lock_recursive=t.force_rr).observe(trace)
    got = FAILURE if ld.reports else SUCCESS
    assert got == t.expect, ld.text()
    ev = run_events(t.events, t.force_rr)
    assert [(r.kind, r.acquiring, r.held, r.chain, r.usage_transition, r.safe_lock, r.unsafe_lock)
            for r in ld.reports] == \
           [(r.kind, r.acquiring, r.held, r.chain, r.usage_transition, r.safe_lock, r.unsafe_lock)
            for r in ev.reports]
