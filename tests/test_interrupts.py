"""Interrupt contexts in the model: handlers that run on a cpu between two of its steps.

A handler (``Model.interrupt``) may start on its host cpu while the host
allows it, runs on top of the task it interrupted, and the host waits until
it returns. The explorer finds the classic deadlock (a lock held with
interrupts on, wanted by the interrupt on the same cpu); spin_lock_irq,
spin_lock_irqsave and spin_lock_bh prevent it; rwlock_t readers in an
interrupt get past a waiting writer; an unlock of a lock not held is lockdep's
bad unlock balance.
"""

import sys
from pathlib import Path

import pytest

from labkit.cases import program
from labkit.errors import ModelError, ScheduleError
from labkit.explore import explore
from labkit.lockdep import Lockdep, lockdep_run
from labkit.model import (IrqState, Model, line, local_bh_disable, local_bh_enable, local_irq_disable,
                          local_irq_enable, local_irq_restore, local_irq_save, mutex_lock, mutex_unlock, read_lock,
                          read_unlock, spin_lock, spin_lock_bh, spin_lock_irq, spin_lock_irqsave, spin_unlock,
                          spin_unlock_bh, spin_unlock_irq, spin_unlock_irqrestore, write_lock, write_unlock)
from labkit.semantics import DONE, WAIT
from labkit.splat import parse
from labkit.trace import replay

sys.path.insert(0, str(Path(__file__).parent))
import reference_explore  # noqa: E402  (the explorer before issue 14, over the same semantics)


def dev(task_ops, irq_ops=None, kind="hardirq", cpu1=None):
    """CPU0 runs ``task_ops``; its interrupt handler ``irq_ops`` (default: takes L)."""
    m = Model("t", "irq")
    m.spinlock("L", cls="&dev->lock")
    m.spinlock("M", cls="&dev->other")
    m.rwlock("R", cls="&dev->rwlock")
    m.func("task", task_ops)
    m.func("handler", irq_ops or [spin_lock("L"), line("dev->count++;"), spin_unlock("L")])
    m.cpu("CPU0", "task", comm="cat", pid=5)
    if cpu1:
        m.func("other", cpu1)
        m.cpu("CPU1", "other", comm="writer", pid=6)
    m.interrupt("CPU0", "handler", kind=kind)
    return m.build()


# -- the classic model: the explorer finds the deadlock on one cpu ----------------------------------

def test_the_explorer_finds_the_interrupt_deadlock_on_the_same_cpu():
    prog = program("irq_lock", "before")
    r = explore(prog)
    assert r.complete
    (f,) = r.findings
    assert (f.kind, f.schedule, f.cpus) == ("deadlock", "CPU0 CPU0.irq CPU0.irq CPU0.irq", ("CPU0", "CPU0.irq"))
    assert f.message == ("deadlock on one cpu: CPU0 is interrupted by CPU0.irq and cannot run until it returns; "
                         "CPU0.irq waits for dev->lock held by CPU0")
    t = replay(prog, f.schedule)
    assert t.steps[0].text == "spin_lock(&dev->lock);" and t.steps[-1].event == "block"
    # The handler stands on the task it interrupted, on the same cpu.
    assert t.steps[-1].stack == ("ksys_read", "kernfs_fop_read_iter", "stats_show", "<IRQ>",
                                 "asm_common_interrupt", "common_interrupt", "handle_irq_event",
                                 "handle_irq_event_percpu", "dev_interrupt")
    assert t.runnable() == {"CPU0": "CPU0 is interrupted: CPU0.irq runs on this cpu until it returns",
                            "CPU0.irq": "CPU0.irq waits for dev->lock held by CPU0"}
    # Every search agrees: sleep sets, folding, and the plain explorer before them.
    for kw in ({"reduction": False}, {"fold": False}, {"reduction": False, "fold": False}):
        assert [(g.kind, g.schedule) for g in explore(prog, **kw).findings] == [(f.kind, f.schedule)]
    ref = reference_explore.explore(prog)
    assert [(g.kind, g.schedule) for g in ref.findings] == [(f.kind, f.schedule)]


@pytest.mark.parametrize("variant, verdict", [("before", {"deadlock"}), ("irq", set()), ("nested", {"deadlock"}),
                                              ("irqsave", set())])
def test_irq_lock_variants(variant, verdict):
    prog = program("irq_lock", variant)
    r = explore(prog)
    assert r.complete and {f.kind for f in r.findings} == verdict
    ref = reference_explore.explore(prog, reduction=False)
    assert [(f.kind, f.schedule) for f in ref.findings] == [(f.kind, f.schedule) for f in r.findings]


def test_spin_unlock_irq_turns_interrupts_on_inside_an_irqsave_section():
    prog = program("irq_lock", "nested")
    (f,) = explore(prog).findings
    t = replay(prog, f.schedule)
    irqs = [s.after.vars[prog.var_index["CPU0 irqs"]] for s in t.steps]
    assert [s.text for s in t.steps[:5]] == ["spin_lock_irqsave(&dev_list_lock, list_flags);", "stats_show();",
                                             "spin_lock_irq(&dev->lock);", "copy = dev->stats;",
                                             "spin_unlock_irq(&dev->lock);"]
    assert [i.on for i in irqs[:5]] == [False, False, False, False, True]    # on, inside the irqsave section
    assert "CPU0.irq waits for dev_list_lock held by CPU0" in f.message


def test_lockdep_sees_the_interrupt_in_a_serial_run():
    # No run deadlocks by itself (the interrupt comes after the read), lockdep reports all the same.
    for variant, lock in (("before", "&dev->lock"), ("nested", "dev_list_lock")):
        (r,) = lockdep_run("irq_lock", variant).reports
        assert (r.kind, r.acquiring, r.usage_transition) == ("inconsistent", lock, "{HARDIRQ-ON-W} -> {IN-HARDIRQ-W}")
        assert "cat/700 [HC1[1]:SC0[0]:HE0:SE1] takes:" in r.text
        got = parse(r.text).to_json()
        assert {k: got[k] for k in ("kind", "acquiring_lock", "usage_transition", "scenario", "irq_class")} == \
               {k: r.to_json()[k] for k in ("kind", "acquiring_lock", "usage_transition", "scenario", "irq_class")}
    assert lockdep_run("irq_lock", "irq").reports == lockdep_run("irq_lock", "irqsave").reports == []
    ld = lockdep_run("irq_lock", "irqsave")
    assert ld.usage_chars("&dev->lock") == "{-...}"           # used in a hardirq, never with irqs on


def test_the_stepper_export_says_where_a_handler_runs():
    from labkit.stepper.export import case_json, walk
    data = case_json("irq_lock", ["before"])
    v = data["variants"][0]
    assert [(c["name"], c.get("host"), c.get("irq")) for c in v["cpus"]] == [("CPU0", None, None),
                                                                             ("CPU0.irq", 0, "hardirq")]
    steps = walk(data, "before", "CPU0 CPU0.irq CPU0.irq CPU0.irq")
    assert steps[1]["detail"]["irq"] == "enter"
    assert steps[-1]["findings"][0]["kind"] == "deadlock"
    assert "IrqState" not in data["texts"] and "irqs off, in CPU0.irq" in str(v["data"])


# -- the rules ----------------------------------------------------------------------------------------

def test_a_handler_runs_once_on_top_of_its_host_and_only_while_it_allows_it():
    prog = dev([spin_lock_irq("L"), line("x;"), spin_unlock_irq("L"), line("y;")])
    assert prog.cpu_names == ("CPU0", "CPU0.irq") and prog.vars == (("CPU0 irqs", IrqState()),)
    t = replay(prog, "CPU0")
    assert t.runnable()["CPU0.irq"] == "CPU0.irq cannot interrupt CPU0 now: CPU0 has interrupts disabled"
    with pytest.raises(ScheduleError, match="CPU0 has interrupts disabled"):
        replay(prog, "CPU0 CPU0.irq")
    t = replay(prog, "CPU0 CPU0 CPU0 CPU0.irq")
    assert t.runnable()["CPU0"] == "CPU0 is interrupted: CPU0.irq runs on this cpu until it returns"
    t = replay(prog, "CPU0 CPU0 CPU0 CPU0.irq*")
    assert t.final.threads[prog.cpu_id("CPU0.irq")].status == DONE and t.runnable()["CPU0.irq"] == "CPU0.irq has finished"
    assert t.final.vars[0] == IrqState() and [s.detail.get("irq") for s in t.steps[3:]] == ["enter", None, "return"]
    assert not explore(prog).findings


def test_irqsave_restores_what_was_there_and_irq_enables_unconditionally():
    prog = dev([local_irq_disable(), spin_lock_irqsave("L", "flags"), spin_unlock_irqrestore("L", "flags"),
                line("still off;"), local_irq_enable()])
    t = replay(prog, "CPU0 CPU0 CPU0")
    assert t.final.vars[0].on is False
    prog = dev([local_irq_save("f"), spin_lock_irq("M"), spin_unlock_irq("M"), line("on again;"),
                local_irq_restore("f")])
    assert replay(prog, "CPU0 CPU0 CPU0").final.vars[0].on is True
    assert [f.kind for f in explore(prog).findings] == []      # the handler takes L, not M


def test_softirqs_wait_for_bottom_halves_and_spin_lock_bh_keeps_them_out():
    plain = dev([spin_lock("L"), line("x;"), spin_unlock("L")], kind="softirq")
    (f,) = explore(plain).findings
    assert f.kind == "deadlock" and f.cpus == ("CPU0", "CPU0.softirq")
    bh = dev([spin_lock_bh("L"), line("x;"), spin_unlock_bh("L")], kind="softirq")
    assert not explore(bh).findings
    t = replay(bh, "CPU0")
    assert "bottom halves disabled" in t.runnable()["CPU0.softirq"]
    # A hardirq is not kept out by spin_lock_bh().
    hard = dev([spin_lock_bh("L"), line("x;"), spin_unlock_bh("L")])
    assert [f.kind for f in explore(hard).findings] == ["deadlock"]
    both = dev([local_bh_disable(), spin_lock("L"), spin_unlock("L"), local_bh_enable()], kind="softirq")
    assert not explore(both).findings


def test_rwlock_readers_share_and_an_interrupts_reader_passes_a_waiting_writer():
    # CPU0 reads; CPU1 queues to write; the interrupt on CPU0 reads too. In task
    # context a new reader would wait behind the writer (and deadlock here); an
    # interrupt's reader only waits for a writer inside, as queued rwlocks do.
    task = [read_lock("R"), line("x = dev->x;"), read_unlock("R")]
    writer = [write_lock("R"), line("dev->x = 1;"), write_unlock("R")]
    prog = dev(task, [read_lock("R"), line("y = dev->x;"), read_unlock("R")], cpu1=writer)
    t = replay(prog, "CPU0 CPU1 CPU0.irq")
    assert t.final.threads[prog.cpu_id("CPU1")].status == WAIT and t.steps[-1].event == "acquire"
    assert not [f for f in explore(prog).findings if f.kind == "deadlock"]
    # A plain second reader in task context queues behind the writer.
    m = Model("t", "rw")
    m.rwlock("R")
    m.func("r", [read_lock("R"), read_lock("R"), read_unlock("R"), read_unlock("R")])
    m.func("w", writer)
    m.cpu("CPU0", "r")
    m.cpu("CPU1", "w")
    t = replay(m.build(), "CPU0 CPU1 CPU0")
    assert t.steps[-1].event == "block" and [f.kind for f in t.findings] == ["deadlock"]


def test_a_handler_may_not_sleep_and_lockdep_says_so():
    m = Model("t", "sleep")
    m.mutex("mx")
    m.func("task", [line("idle();")])
    m.func("handler", [mutex_lock("mx"), mutex_unlock("mx")])
    m.cpu("CPU0", "task")
    m.interrupt("CPU0", "handler")
    (r,) = Lockdep().observe(replay(m.build(), "CPU0.irq*")).reports
    assert r.kind == "invalid_wait_context" and "context-{2:2}" in r.text


def test_a_double_unlock_is_a_warning_and_lockdeps_bad_unlock_balance():
    prog = dev([spin_lock("M"), spin_unlock("M"), spin_unlock("M")])
    t = replay(prog, "CPU0 CPU0 CPU0")
    (f,) = t.findings
    assert f.kind == "warn" and "bad unlock balance" in f.message
    (r,) = Lockdep().observe(t).reports
    assert (r.kind, r.acquiring, r.cpu) == ("bad_unlock_balance", "&dev->other", "CPU0")


def test_interrupt_declarations_are_checked():
    m = Model("t", "bad")
    m.func("f", [line("x;")])
    m.cpu("CPU0", "f")
    m.interrupt("CPU9", "f")
    with pytest.raises(ModelError, match="interrupt 'CPU9.irq' runs on 'CPU9', which is not a cpu of the model"):
        m.build()
    with pytest.raises(ModelError, match="kind must be 'hardirq' or 'softirq'"):
        Model("t", "bad").interrupt("CPU0", "f", kind="nmi")
    m = Model("t", "nested")
    m.func("f", [line("x;")])
    m.cpu("CPU0", "f")
    m.interrupt("CPU0", "f")
    m.interrupt("CPU0.irq", "f")
    with pytest.raises(ModelError, match="which is an interrupt itself"):
        m.build()


def test_models_without_interrupts_have_no_irq_state():
    prog = program("abba", "before")
    assert prog.vars == () and set(prog.irq_var) == {-1}
