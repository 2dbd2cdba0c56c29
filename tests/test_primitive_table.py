"""The table of operations (labkit.primitives): one row is all a new lock primitive needs.

A toy ``spin_lock_irqsave`` / ``spin_unlock_irqrestore`` pair is added to the
table and goes end to end: the builder makes and checks its steps, the
explorer finds the ABBA deadlock, lockdep prints its frames, the stepper
export ships and walks it.
"""

import pytest

from labkit import primitives
from labkit.cases.base import Case, Variant
from labkit.errors import ModelError
from labkit.explore import explore
from labkit.lockdep import Lockdep
from labkit.model import Model, builder, mutex_lock
from labkit.primitives import FAMILIES, OPS
from labkit.trace import replay


@pytest.fixture
def irqsave():
    """Two rows of the table (a toy of the real ones), put back again after the test."""
    saved = {k: OPS.get(k) for k in ("spin_lock_irqsave", "spin_unlock_irqrestore")}
    added = [primitives.define("spin_lock_irqsave", "acquire", ("lock",), "spin_lock_irqsave(&{0}, flags);",
                               "spinlock", "write", (("w", 0),),
                               frames=("lock_acquire", "_raw_spin_lock_irqsave")),
             primitives.define("spin_unlock_irqrestore", "release", ("lock",),
                               "spin_unlock_irqrestore(&{0}, flags);", "spinlock", "write", (("w", 0),))]
    yield builder("spin_lock_irqsave"), builder("spin_unlock_irqrestore")
    for p in added:
        if saved[p.kind] is None:
            del OPS[p.kind]
        else:
            OPS[p.kind] = saved[p.kind]


def abba(lock, unlock):
    m = Model("irqsave", "before", "ABBA with irqsave spinlocks")
    m.spinlock("A", cls="&a->lock")
    m.spinlock("B", cls="&b->lock")
    m.func("one", [lock("A"), lock("B"), unlock("B"), unlock("A")])
    m.func("two", [lock("B"), lock("A"), unlock("A"), unlock("B")])
    m.cpu("CPU0", "one", comm="one", pid=1)
    m.cpu("CPU1", "two", comm="two", pid=2)
    return m.build()


def test_a_new_primitive_goes_through_builder_explorer_lockdep_and_export(irqsave):
    lock, unlock = irqsave
    prog = abba(lock, unlock)
    assert prog.function("one").ops[0].text == "spin_lock_irqsave(&A, flags);"
    assert prog.function("one").ops[0].lock == "A"

    # The explorer: the semantics run it through the acquire family's handler.
    r = explore(prog)
    assert r.complete and [(f.kind, f.schedule) for f in r.findings] == [("deadlock", "CPU0 CPU1 CPU0 CPU1")]
    assert explore(prog, reduction=False).states == r.states

    # Lockdep: the row's frames stand above the caller in the chain's stacks.
    ld = Lockdep()
    for c in prog.cpu_names:
        ld.observe(replay(prog, f"{c}*"))
    (rep,) = ld.reports
    assert rep.kind == "circular" and set(rep.chain) == {"&a->lock", "&b->lock"}
    assert all(stack[:2] == ("lock_acquire", "_raw_spin_lock_irqsave") for stack in rep.chain_stacks)
    assert "-{2:2}" in rep.text            # a spinlock's wait type, from the lock kind

    # The stepper export: the lines ship, and the deadlock schedule walks to the deadlock.
    from labkit.stepper.export import case_json, walk
    case = Case("irqsave", "ABBA with irqsave spinlocks", "toy", (Variant("before", "before", lambda: prog),),
                kind="classic")
    data = case_json(case)
    assert "spin_unlock_irqrestore(&B, flags);" in data["texts"]
    steps = walk(data, "before", "CPU0 CPU1 CPU0 CPU1")
    assert [s["event"] for s in steps] == ["acquire", "acquire", "block", "block"]
    assert steps[-1]["findings"][0]["kind"] == "deadlock"


def test_the_builder_checks_a_new_primitive_by_its_row(irqsave):
    lock, unlock = irqsave
    m = Model("irqsave", "wrong")
    m.mutex("M")
    m.func("f", [lock("M")])
    m.cpu("CPU0", "f")
    with pytest.raises(ModelError, match=r"spin_lock_irqsave\(\) needs a spinlock, but 'M' is a mutex"):
        m.build()
    m = Model("irqsave", "unknown")
    m.spinlock("S")
    m.func("f", [lock("T")])
    m.cpu("CPU0", "f")
    with pytest.raises(ModelError, match=r"unknown lock 'T' \(declared: S\)"):
        m.build()


def test_every_family_has_a_handler_and_every_row_a_family():
    from labkit.semantics import _HANDLERS
    assert set(_HANDLERS) == set(FAMILIES)
    assert {p.family for p in OPS.values()} <= set(FAMILIES)
    for p in OPS.values():
        if p.family in ("acquire", "release", "trylock"):
            assert p.lock_kind and p.mode in ("write", "read") and p.operands[0] == "lock", p
        for access, i in p.footprint:
            assert access in "rw" and p.operands[i] in ("lock", "ref", "object", "var"), p


def test_the_builders_lines_are_the_tables_defaults():
    assert mutex_lock("A").text == OPS["mutex_lock"].text.format("A") == "mutex_lock(&A);"
    from labkit.model import call, put
    assert put("kref").text == "kref_put(&kref, NULL);"
    assert call("f").text == "f();"
