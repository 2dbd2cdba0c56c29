"""From-splat for the interrupt reports: inconsistent lock state, irq lock inversion, safe -> unsafe.

Each real report of those kinds in data/splats becomes a model with an
interrupt handler on the cpu it interrupts (and, for an inversion, a second
cpu holding the irq-safe lock with interrupts off); the explorer finds the
deadlock the report's scenario describes, and the lockdep emulator, run over
the model's serial runs, prints a report of the same kind naming the same
locks (AGREE).
"""

from pathlib import Path

import pytest

from labkit.cli import main
from labkit.fromsplat import from_splat
from labkit.splat import parse_file

SPLATS = Path(__file__).resolve().parent.parent / "data" / "splats"
IRQ = [p for p in sorted(SPLATS.glob("*.txt"))
       if parse_file(p).kind in ("inconsistent", "irq_inversion", "irq_safe_unsafe")]


def test_there_are_irq_reports_of_each_kind():
    assert {parse_file(p).kind for p in IRQ} == {"inconsistent", "irq_inversion", "irq_safe_unsafe"}


@pytest.mark.parametrize("path", IRQ, ids=lambda p: p.name)
def test_an_irq_report_becomes_a_deadlock_on_a_cpu_and_its_interrupt(path):
    real = parse_file(path)
    sc = from_splat(path)
    prog = sc.program
    handlers = [c for c in prog.cpus if c.host is not None]
    assert [(c.host, c.irq) for c in handlers] == [("CPU0", real.irq_class.lower())]
    (f,) = [f for f in sc.explore().findings if f.kind == "deadlock"]
    assert handlers[0].name in f.cpus and "CPU0 is interrupted by" in f.message
    # Lockdep, over the serial runs, says what the kernel said.
    rep = sc.lockdep().reports[0]
    assert (rep.kind, rep.acquiring, rep.held) == (real.kind, real.acquiring_lock, real.held_lock)
    if real.kind == "inconsistent":
        assert rep.usage_transition == real.usage_transition
    else:
        assert rep.safe_lock == real.safe_lock and rep.irq_class == real.irq_class
    assert sc.compare().agree
    # The generated module builds the same model.
    ns: dict = {}
    exec(compile(sc.source(), "generated", "exec"), ns)
    assert [c.name for c in ns["build"]().cpus] == [c.name for c in prog.cpus]


def test_the_inconsistent_report_reads_both_stacks():
    sc = from_splat(SPLATS / "mt76_inconsistent.txt")
    p = sc.program
    assert p.function("mt76_dma_cleanup").ops[0].text.startswith("spin_lock(&dev->lock#2);")
    handler = p.cpus[p.cpu_id("CPU0.softirq")]
    assert handler.entry == "mt76_dma_tx_cleanup" and "net_rx_action" in handler.stack
    assert sc.bug() == "CPU0 CPU0.softirq"
    assert sc.lockdep().text().count("inconsistent {IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W} usage.") == 1


def test_a_read_read_inversion_gets_the_writer_lockdeps_rule_needs():
    sc = from_splat(SPLATS / "fasync_syzbot_softirq_safe_unsafe.txt")
    assert [c["name"] for c in sc.cpus] == ["CPU0", "CPU0.softirq", "CPU1", "CPU2"]
    assert sc.cpus[3]["task"] is None and "writer" in sc.cpus[3]["role"]
    assert sc.splat.chain_exists_of == ("fasync_lock", "&new->fa_lock", "&f->f_owner.lock")


def test_the_cli_builds_irq_reports(capsys):
    code = main(["from-splat", str(SPLATS / "cgroup_syzbot_irq_inversion.txt")])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and "AGREE" in out and "CPU0.softirq" in out
