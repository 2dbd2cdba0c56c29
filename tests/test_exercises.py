"""Self-checks: every exercise accepts a right answer and rejects wrong ones,
and the checkers themselves judge by the engine (any right answer passes)."""

import pytest

from labkit import lab
from labkit.cases import all_cases, get_case
from labkit.exercises import Check, check, parse_fix, rarity, solution
from labkit.errors import LabError
from labkit.cases import program

EXERCISES = [(c.id, ex.number) for c in all_cases() for ex in c.exercises]


def test_every_kernel_case_has_exercises():
    from labkit.cases import KERNEL_CASES
    missing = [c for c in KERNEL_CASES if not get_case(c).exercises]
    assert not missing, f"cases without exercises: {missing}"


@pytest.mark.parametrize("case_id,number", EXERCISES)
def test_right_answer_accepted(case_id, number):
    ex = lab_exercise(case_id, number)
    got = check(case_id, number, ex.answer)
    assert isinstance(got, Check)
    assert got.ok, f"{case_id} exercise {number}: its own answer was rejected: {got}"


@pytest.mark.parametrize("case_id,number", EXERCISES)
def test_wrong_answers_rejected_with_a_message(case_id, number):
    ex = lab_exercise(case_id, number)
    assert ex.wrong, f"{case_id} exercise {number} lists no wrong answer to test against"
    for w in ex.wrong:
        got = check(case_id, number, w)
        assert not got.ok, f"{case_id} exercise {number}: wrong answer {w!r} was accepted"
        assert got.message and "Traceback" not in got.text


@pytest.mark.parametrize("case_id,number", EXERCISES)
def test_solution_is_folded_and_explained(case_id, number):
    ex = lab_exercise(case_id, number)
    assert ex.explain, f"{case_id} exercise {number}: no explanation"
    view = solution(case_id, number)
    assert "<details>" in view._repr_mimebundle_()["text/html"]
    assert "Show a solution" in view._repr_mimebundle_()["text/html"]


def lab_exercise(case_id, number):
    from labkit.exercises import exercise
    return exercise(case_id, number)


# --- the checkers, on the classic ABBA ----------------------------------------------

@pytest.mark.parametrize("sched", ["CPU0 CPU1 CPU0 CPU1", "CPU1 CPU0 CPU0 CPU1", "cpu1, cpu0, cpu1, cpu0"])
def test_any_schedule_into_the_deadlock_is_right(sched):
    assert lab.check_schedule("abba", "before", sched).ok


def test_serial_schedule_gets_a_hint_not_the_answer():
    got = lab.check_schedule("abba", "before", "CPU0* CPU1*")
    assert not got.ok
    assert "CPU0 holds A" in got.hint and "CPU1 holds B" in got.hint
    assert "CPU0 CPU1 CPU0 CPU1" not in got.text


def test_shortest_asks_for_the_fewest_steps():
    long = "CPU0 CPU1 CPU0 CPU1"
    assert lab.check_schedule("abba", "before", long, shortest=True).ok
    got = lab.check_schedule("mm_iommu", "before", lab.bug("mm_iommu", "before"), shortest=True)
    assert got.ok


def test_bad_schedule_is_one_line_not_a_traceback():
    got = lab.check_schedule("abba", "before", "CPU0 CPU7")
    assert not got.ok and "CPU7" in got.message and "\n" not in got.message
    got = lab.check_schedule("abba", "before", 42)
    assert not got.ok and "not int" in got.message


def test_schedule_from_a_stepper():
    s = lab.stepper("abba")
    s.goto("CPU0 CPU1 CPU0 CPU1")
    assert lab.check_schedule("abba", "before", s).ok
    s.position = 2
    assert not lab.check_schedule("abba", "before", s).ok


@pytest.mark.parametrize("answer,ok", [("deadlock", True), ("DEADLOCK", True), (["deadlock"], True),
                                       ("clean", False), ("warn", False), (["deadlock", "warn"], False)])
def test_verdict_is_judged_by_the_explorer(answer, ok):
    assert lab.check_verdict("abba", "before", answer).ok is ok


def test_verdict_clean_and_nonsense():
    assert lab.check_verdict("abba", "after", "clean").ok
    assert lab.check_verdict("abba", "after", "no bug").ok
    got = lab.check_verdict("abba", "after", "banana")
    assert not got.ok and "banana" in got.message


ABBA_FIXED_TWO = "mutex_lock(&A);\nmutex_lock(&B);\ndo_work();\nmutex_unlock(&B);\nmutex_unlock(&A);"


def test_fix_accepted_when_clean():
    assert lab.check_fix("abba", "before", "path_two", ABBA_FIXED_TWO).ok


def test_fix_rejected_when_bug_remains_or_a_new_one_appears():
    got = lab.check_fix("abba", "before", "path_two", lab.fix_template("abba", "before", "path_two"))
    assert not got.ok and "still there" in got.message
    got = lab.check_fix("abba", "before", "path_two", "mutex_lock(&A);\nmutex_lock(&B);\ndo_work();\nmutex_unlock(&B);")
    assert not got.ok and "new bug" in got.message


def test_fix_obligations_catch_a_lock_dropped():
    # Taking nothing at all is deadlock-free; the obligation says B must cover the work.
    prog = program("abba", "before")
    assert parse_fix(prog, "path_two", "mutex_lock(&A);\ndo_work();\nmutex_unlock(&A);")
    got = lab.check_fix("abba", "before", "path_two", "mutex_lock(&A);\ndo_work();\nmutex_unlock(&A);",
                        must_hold=[("do_work", "B")])
    assert not got.ok and "without holding B" in got.message


@pytest.mark.parametrize("text,words", [
    ("mutex_lock(&C);", "no lock 'C'"),
    ("printk(hello);", "neither a line of path_two()"),
    ("spin_lock(&A);", "takes a spinlock"),
    (None, "as a string"),
])
def test_fix_bad_input_names_the_line(text, words):
    got = lab.check_fix("abba", "before", "path_two", text)
    assert not got.ok and words in got.message, got.message


def test_fix_unknown_function():
    got = lab.check_fix("abba", "before", "path_three", ABBA_FIXED_TWO)
    assert not got.ok and "no function 'path_three'" in got.message


def test_chain_any_rotation_wrong_order_and_unknown():
    from labkit.splat import parse_file
    path = "data/splats/mm_iommu.txt"
    chain = list(parse_file(__import__("labkit.exercises", fromlist=["ROOT"]).ROOT / path).chain)
    assert len(chain) >= 2
    assert lab.check_chain(path, chain).ok
    assert lab.check_chain(path, chain[1:] + chain[:1]).ok
    if len(chain) > 2:
        assert not lab.check_chain(path, chain[::-1]).ok
    assert not lab.check_chain(path, ["&nobody"]).ok
    assert not lab.check_chain(path, []).ok


def test_unknown_exercise_is_a_lab_error():
    with pytest.raises(LabError, match="no exercise 99"):
        check("abba", 99, "")


# --- rarity ------------------------------------------------------------------------

def test_rarity_counts_every_schedule_of_abba():
    r = rarity("abba", "before")
    # Brute force: walk every complete schedule and count.
    from labkit.semantics import apply, can_step, initial_state, state_findings
    prog = program("abba", "before")

    def walk(s):
        en = [c for c in range(2) if can_step(prog, s, c)]
        if not en:
            return 1, int(any(f.kind == "deadlock" for f in state_findings(prog, s)))
        t = b = 0
        for c in en:
            x, y = walk(apply(prog, s, c).state)
            t, b = t + x, b + y
        return t, b
    assert (r.schedules, r.reaching) == walk(initial_state(prog))
    assert r.min_preemptions == 1 and 0 < r.random < 1


def test_rarity_of_a_clean_variant():
    r = rarity("abba", "after")
    assert r.reaching == 0 and r.min_preemptions is None and "none of its" in r.text()


def test_a_new_bug_in_a_fix_can_be_looked_at():
    r = lab.check_fix("abba", "before", "path_two", "mutex_lock(&A);\nmutex_lock(&B);\ndo_work();\nmutex_unlock(&B);")
    assert not r.ok and "new bug" in r.message and "r.case" in r.hint
    view = lab.timeline(r.case, "yours")          # the hint's call works, on the learner's version
    assert "DEADLOCK" in view.text
    assert lab.replay(r.case, "yours", r.schedule).trace.findings


def test_verdict_hint_fits_a_clean_variant_lockdep_is_silent_on():
    got = lab.check_verdict("abba", "after", "deadlock")
    assert not got.ok and "lockdep is silent too" in got.hint


IRQSAVE_FIX = ("spin_lock_irqsave(&dev->lock, flags);\ncopy = dev->stats;\n"
               "spin_unlock_irqrestore(&dev->lock, flags);\nreturn sprintf(buf, copy);")


def test_an_irqsave_fix_is_written_with_its_flags_and_judged():
    assert lab.check_fix("irq_lock", "before", "stats_show", IRQSAVE_FIX).ok
    got = lab.check_fix("irq_lock", "before", "stats_show", IRQSAVE_FIX.replace(", flags)", ")", 1))
    assert not got.ok and "write it as spin_lock_irqsave(&dev->lock, flags);" in got.message
    got = lab.check_fix("irq_lock", "before", "stats_show", lab.fix_template("irq_lock", "before", "stats_show"))
    assert not got.ok and "interrupt" in got.hint


def test_a_fix_that_leaves_interrupts_off_is_caught():
    got = lab.check_fix("irq_lock", "before", "stats_show",
                        IRQSAVE_FIX.replace("spin_unlock_irqrestore(&dev->lock, flags)", "spin_unlock(&dev->lock)"))
    assert not got.ok and "interrupts still off" in got.message
