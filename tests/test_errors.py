"""Bad models and bad schedules get one clear sentence naming what and where."""

import re

import pytest

from labkit.cases import program
from labkit.errors import ModelError, ScheduleError, UnknownName
from labkit.explore import explore
from labkit.model import (Model, alloc, assign, call, down_read, goto, if_, label, local, mutex_lock, mutex_unlock, put,
                          spin_lock, step, up_read, up_write, var, warn_on)
from labkit.trace import replay

HERE = "tests/test_errors.py"


def model(body0, body1=(step("x;"),), setup=None):
    m = Model("bad", "v")
    m.mutex("A")
    m.rwsem("sem")
    if setup:
        setup(m)
    m.func("f0", list(body0))
    m.func("f1", list(body1))
    m.cpu("CPU0", "f0")
    m.cpu("CPU1", "f1")
    return m.build()


def line_of(text):
    for i, l in enumerate(open(__file__), 1):
        if text in l and "line_of" not in l:
            return i
    raise AssertionError(text)


# --- errors found when the model is built: file and line -----------------------

def test_unknown_lock_names_the_model_line():
    with pytest.raises(ModelError) as e:
        model([mutex_lock("nope")])  # the bad line
    assert re.match(rf".*{HERE}:{line_of('the bad line')}: in f0\(\), step 'mutex_lock\(&nope\);': "
                    r"unknown lock 'nope' \(declared: A, sem\)", str(e.value))


@pytest.mark.parametrize("body, message", [
    ([goto("nowhere")], r"no label 'nowhere' in f0\(\)"),
    ([call("ghost")], r"calls 'ghost', which is not defined"),
    ([if_(local("never_set"), "x"), label("x"), step("y;")], r"cpu-local 'never_set' is never set"),
    ([warn_on(var("nope") == 1)], r"unknown shared variable 'nope'"),
    ([spin_lock("A")], r"spin_lock\(\) needs a spinlock, but 'A' is a mutex"),
])
def test_build_errors(body, message):
    with pytest.raises(ModelError, match=message):
        model(body)


def test_release_function_must_exist_and_names_are_unique():
    def setup(m):
        m.ref("r")
    with pytest.raises(ModelError, match="release function 'gone' is not defined"):
        model([put("r", "gone")], setup=setup)
    m = Model("bad", "v")
    m.mutex("A")
    with pytest.raises(ModelError, match="'A' is declared twice"):
        m.shared("A")
    m = Model("bad", "v")
    m.func("f", [step("x;")])
    with pytest.raises(ModelError, match="declares no cpu"):
        m.build()
    m.cpu("CPU0", "g")
    with pytest.raises(ModelError, match="CPU0 runs 'g', which is not a function"):
        m.build()


# --- errors found while running: cpu, step, schedule ---------------------------

def test_a_model_error_names_cpu_step_and_schedule():
    def objects(m):
        m.object("obj")            # allocated at start: allocating it again is a model error
    p = model([mutex_lock("A"), step("x;"), mutex_unlock("A")], [alloc("obj")], objects)
    with pytest.raises(ModelError) as e:
        replay(p, "CPU0 CPU1")
    msg = str(e.value)
    assert "CPU1 in f1(), step 'obj = kzalloc(sizeof(*obj), GFP_KERNEL);': obj is allocated already" in msg
    assert "(step 2 of schedule 'CPU0 CPU1')" in msg
    assert msg.startswith(HERE + ":")


def test_unlocks_of_a_lock_not_held_are_bad_unlock_balance_findings():
    # Lockdep's "bad unlock balance": the step runs, changes no lock, and is a warn finding.
    p = model([mutex_lock("A"), step("x;"), mutex_unlock("A")], [mutex_unlock("A")])
    (f,) = replay(p, "CPU0 CPU1").findings
    assert (f.kind, f.cpus, f.locks) == ("warn", ("CPU1",), ("A",))
    assert f.message == ("CPU1 unlocks A, which it does not hold: A is held by CPU0, not CPU1 "
                         "(lockdep: bad unlock balance detected)")
    p = model([mutex_lock("A"), mutex_unlock("A"), mutex_unlock("A")])
    t = replay(p, "CPU0 CPU0 CPU0")
    assert [s.event for s in t.steps] == ["acquire", "release", "bad_unlock"]
    assert "A is not locked (a double unlock)" in t.findings[0].message
    p = model([up_read("sem")])
    assert "up_read(&sem); without a read lock: CPU0 does not hold sem for read" in replay(p, "CPU0").findings[0].message
    p = model([down_read("sem"), up_write("sem")])
    assert "CPU0 holds sem for read, not write" in replay(p, "CPU0 CPU0").findings[0].message


def test_explorer_reports_model_errors_with_the_schedule():
    def objects(m):
        m.object("obj")
    p = model([mutex_lock("A"), mutex_unlock("A")], [step("x;"), alloc("obj")], objects)
    with pytest.raises(ModelError, match=r"obj is allocated already \(reached by schedule 'CPU1 CPU1'\)"):
        explore(p)
    p = model([mutex_lock("A"), mutex_unlock("A")], [step("x;"), mutex_unlock("A")])
    assert [(f.kind, f.schedule) for f in explore(p).findings] == [("warn", "CPU1 CPU1")]


def test_schedule_naming_unknown_finished_or_blocked_cpu():
    p = program("abba", "before")
    with pytest.raises(ScheduleError, match=r"schedule entry 2 \('CPU7'\): no cpu named 'CPU7' in abba/before "
                                            r"\(cpus: CPU0, CPU1\)"):
        replay(p, "CPU0 CPU7")
    with pytest.raises(ScheduleError, match=r"step 6 of the schedule: CPU0 cannot run: CPU0 has finished"):
        replay(p, "CPU0 CPU0 CPU0 CPU0 CPU0 CPU0")
    with pytest.raises(ScheduleError, match=r"step 5 of the schedule: CPU0 cannot run: CPU0 waits for B "
                                            r"held by CPU1 \(after 'CPU0 CPU1 CPU0 CPU1'\)"):
        replay(p, "CPU0 CPU1 CPU0 CPU1 CPU0")


def test_schedule_parsing_is_forgiving_about_case_commas_and_stars():
    p = program("abba", "before")
    assert replay(p, "cpu0, cpu1").schedule == "CPU0 CPU1"
    assert replay(p, "CPU0*").schedule == "CPU0 CPU0 CPU0 CPU0 CPU0"


def test_unknown_case_and_variant():
    with pytest.raises(UnknownName, match=r"no case 'nope' \(cases: .*abba"):
        program("nope", "before")
    with pytest.raises(UnknownName, match=r"case 'abba' has no variant 'x' \(variants: before, after\)"):
        program("abba", "x")


def test_budget_stops_and_says_so():
    r = explore(program("philosophers", "n4"), max_states=100)
    assert not r.complete and r.states == 100
    assert r.stopped == "stopped after 100 states: the state budget (--max-states 100) ran out"
    assert r.to_json()["complete"] is False and "stopped" in r.to_json()


# --- builder arguments of the wrong type: a ModelError naming the line, never a raw TypeError ---

@pytest.mark.parametrize("build, message", [
    (lambda m: m.func("f0", None), "function 'f0': its steps must be a list of steps (mutex_lock(), put(), step() ...), not None"),
    (lambda m: m.ref("r", "x"), "refcount 'r': the initial count must be a whole number 0 or more, not 'x'"),
    (lambda m: m.ref("r", -1), "refcount 'r': the initial count must be a whole number 0 or more, not -1"),
    (lambda m: m.mutex(None), "a lock's name must be a non-empty string, not None"),
    (lambda m: m.rwsem("L", cls=3), "lock 'L': its class must be a non-empty string, not 3"),
    (lambda m: m.shared("s", [1]), "[1] cannot be a value in a model (use a number, a string, None or a tuple"),
    (lambda m: m.object("o", "yes"), "object 'o': allocated must be True or False, not 'yes'"),
    (lambda m: m.func("g", [step("x;")], via="do_mmap"), "function 'g': via must be a list of names, not 'do_mmap'"),
    (lambda m: m.func(None, [step("x;")]), "a function's name must be a non-empty string, not None"),
    (lambda m: m.cpu("CPU0", "f", stack="sys_ioctl"), "cpu 'CPU0': stack must be a list of names, not 'sys_ioctl'"),
    (lambda m: m.cpu("CPU0", "f", pid="1"), "cpu 'CPU0': pid must be a whole number, not '1'"),
    (lambda m: m.cpu("CPU0", None), "cpu 'CPU0': its entry function must be a non-empty string, not None"),
    (lambda m: m.invariant("i", True, "msg"), "invariant 'i' needs an Expr condition, got True"),
    (lambda m: step(None), "step(): the line's text must be a string, not None"),
    (lambda m: mutex_lock("A", text=5), "mutex_lock(): the line's text must be a string, not 5"),
    (lambda m: call("f", via="do_mmap"), "call(via=...) must be a list of names, not 'do_mmap'"),
    (lambda m: label(["x"]), "label()'s name must be a non-empty string, not ['x']"),
    (lambda m: assign("x", [2]), "[2] cannot be a value in a model"),
    (lambda m: var("x") == {}, "{} cannot be a value in a model"),
])
def test_builder_arguments_are_model_errors_naming_the_line(build, message):
    with pytest.raises(ModelError) as e:
        build(Model("bad", "v"))
    assert str(e.value).startswith(f"{HERE}:{line_of(message)}: {message}"), str(e.value)


def test_a_name_that_is_not_a_string_is_caught_at_build():
    with pytest.raises(ModelError, match=rf"^{HERE}:{line_of('a list for a lock name')}: in f0\(\), step "
                                         r"\"mutex_lock\(&\['A'\]\);\": \['A'\] is not a name \(names are strings\)"):
        model([mutex_lock(["A"])])  # a list for a lock name


@pytest.mark.parametrize("schedule, entry", [("CPU0**", "1 ('CPU0**')"), ("*", "1 ('*')"), ("CPU0 CPU*1", "2 ('CPU*1')")])
def test_malformed_schedule_entries_say_malformed(schedule, entry):
    # Before: "CPU0**" said there is no cpu named 'CPU0' (there is).
    p = program("abba", "before")
    with pytest.raises(ScheduleError, match=re.escape(f"schedule entry {entry}: malformed: write a cpu name, "
                                                      f"or a cpu name and one '*' (e.g. 'CPU0' or 'CPU0*'; "
                                                      f"cpus: CPU0, CPU1)")):
        replay(p, schedule)
    with pytest.raises(ScheduleError, match=r"schedule entry 2 \(1\): malformed: an entry is a cpu name"):
        replay(p, ["CPU0", 1])
