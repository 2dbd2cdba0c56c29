"""Random small models over every kind of step, for the explorer's property
tests (tests/test_explore_fast.py, tests/test_properties.py)."""

from hypothesis import strategies as st

from labkit.model import (Model, alloc, assign, call, complete, down_read, down_read_trylock, down_write, free,
                          get, get_not_zero, if_, label, let, line, local, mutex_lock, mutex_trylock, mutex_unlock,
                          put, refcount, spin_lock, spin_unlock, up_read, up_write, use, var, wait_event, warn_on)

KINDS = ["mutex", "spin", "read", "write", "trylock", "read_trylock", "free", "use", "alloc", "get", "put",
         "get_not_zero", "set", "if", "warn", "wait", "complete", "call", "let"]


@st.composite
def random_models(draw):
    ncpus = draw(st.integers(2, 3))
    return ([draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4)) for _ in range(ncpus)],
            draw(st.booleans()))


def build(progs, invariant):
    m = Model("random", "mixed")
    m.mutex("M")
    m.mutex("N")
    m.spinlock("S")
    m.rwsem("R")
    m.object("obj")
    m.ref("ref", 1)
    m.shared("flag", 0)
    m.shared("done", False)
    m.func("release", [free("obj")])
    m.func("helper", [mutex_lock("N"), line("help;"), mutex_unlock("N")])
    if invariant:
        m.invariant("flag small", var("flag") != 3, "flag reached 3")
    for c, kinds in enumerate(progs):
        ops = []
        for i, k in enumerate(kinds):
            ops += {
                "mutex": [mutex_lock("M"), line("work;"), mutex_unlock("M")],
                "spin": [spin_lock("S"), mutex_lock("M"), mutex_unlock("M"), spin_unlock("S")],
                "read": [down_read("R"), mutex_lock("N"), mutex_unlock("N"), up_read("R")],
                "write": [down_write("R"), line("write;"), up_write("R")],
                "trylock": [mutex_trylock("M", f"ok{c}"), if_(~local(f"ok{c}"), f"t{i}"), mutex_unlock("M"),
                            label(f"t{i}")],
                "read_trylock": [down_read_trylock("R", f"r{c}"), if_(~local(f"r{c}"), f"r{i}"), up_read("R"),
                                 label(f"r{i}")],
                "free": [free("obj")],
                "use": [use("obj")],
                "alloc": [if_(refcount("ref") != 0, f"a{i}"), alloc("obj"), label(f"a{i}")],
                "get": [get("ref")],
                "put": [put("ref", "release")],
                "get_not_zero": [get_not_zero("ref", f"g{c}")],
                "set": [assign("flag", c + 1)],
                "if": [if_(var("flag") == 0, f"l{i}"), line("skipped;"), label(f"l{i}")],
                "warn": [warn_on(var("flag") == c + 1)],
                "wait": [wait_event(var("done") == True)],  # noqa: E712
                "complete": [complete("done")],
                "call": [mutex_lock("M"), call("helper"), mutex_unlock("M")],
                "let": [let(f"x{c}", var("flag")), if_(local(f"x{c}") == 0, f"x{i}"), assign("flag", 3),
                        label(f"x{i}")],
            }[k]
        m.func(f"f{c}", ops)
        m.cpu(f"CPU{c}", f"f{c}", comm=f"t{c}", pid=c)
    return m.build()
