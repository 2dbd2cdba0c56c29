"""Self-checks: the engine judges a learner's answer, never a stored string.

Four kinds of answer, each judged by the part of the engine that knows:

* a **schedule** (:func:`check_schedule`) is replayed; it is right when its
  trace reaches the goal (a deadlock, a WARN ...). Any schedule that gets
  there is accepted; a wrong one gets a hint computed from the goal's
  shortest schedule (who must hold what at the same time, where a cpu must be
  interrupted) that does not spell the schedule out;
* a **verdict** (:func:`check_verdict`) is compared with what the explorer
  finds in every interleaving;
* a **fix** (:func:`check_fix`): the learner edits one function's pseudo-C —
  reorders its lines, adds or drops ``mutex_lock(&x);``-style lines — and the
  explorer runs the edited model. A "fix" that deadlocks elsewhere, leaves a
  lock held, or no longer protects what the function must protect is caught;
* a lockdep **chain** (:func:`check_chain`): the order of lock classes in a
  real report, compared with what the parser reads from it.

:func:`rarity` says why testing missed a bug: how many complete schedules
there are, how many reach it, how likely a random scheduler is to hit it, and
how few preemptions it needs.

>>> check_schedule("abba", "before", "CPU0 CPU1 CPU0 CPU1", goal="deadlock").ok
True
>>> check_schedule("abba", "before", "CPU0* CPU1*", goal="deadlock").ok
False
>>> r = rarity("abba", "before")
>>> (r.schedules, r.reaching, r.min_preemptions)
(22, 4, 1)
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .cases import get_case, program
from .cases.base import Exercise
from .errors import LabError, ModelError, ScheduleError
from .model import ACQUIRE_OPS, RELEASE_OPS, Op, Program, rebuild

__all__ = ["Check", "check", "check_schedule", "check_verdict", "check_fix", "check_chain",
           "exercise", "solution", "fix_template", "Rarity", "rarity", "VERDICTS"]

# What a learner may call each outcome; the explorer's kinds on the right.
VERDICTS = {
    "deadlock": "deadlock", "use_after_free": "use_after_free", "use after free": "use_after_free",
    "uaf": "use_after_free", "double_free": "double_free", "double free": "double_free",
    "refcount": "refcount", "warn": "warn", "warning": "warn", "warn_on": "warn",
    "clean": "clean", "nothing": "clean", "none": "clean", "no bug": "clean", "safe": "clean",
}
ROOT = Path(__file__).resolve().parents[1]


class Check:
    """The engine's judgement: ``ok``, a sentence, and a hint when not ok.

    Jupyter shows it as a short coloured box with a symbol and a word (never
    colour alone); ``print`` gives the same text.
    """

    def __init__(self, ok: bool, message: str, hint: str = ""):
        self.ok, self.message, self.hint = ok, message, hint

    @property
    def text(self) -> str:
        head = ("✓ Right. " if self.ok else "✗ Not yet. ") + self.message
        return head + (f"\nHint: {self.hint}" if self.hint else "")

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_mimebundle_(self, include=None, exclude=None):
        mark, word, cls = ("✓", "Right", "ok") if self.ok else ("✗", "Not yet", "no")
        body = html.escape(self.message).replace("\n", "<br>")
        hint = f"<div><b>Hint:</b> {html.escape(self.hint)}</div>" if self.hint else ""
        colour = "#0072B2" if self.ok else "#D55E00"       # Okabe-Ito blue / vermillion
        box = (f'<div class="labkit-check labkit-check-{cls}" role="status" style="border-left:0.4em solid '
               f'{colour};padding:0.3em 0.6em;margin:0.2em 0"><b>{mark} {word}.</b> {body}{hint}</div>')
        return {"text/plain": self.text, "text/html": box}


# --- schedules -----------------------------------------------------------------

def _answer_schedule(answer, variant):
    """A schedule string from a string, a list of cpu names, or a stepper widget."""
    if hasattr(answer, "shown") and hasattr(answer, "variant"):
        return answer.shown, answer.variant or variant
    if isinstance(answer, (list, tuple)):
        return " ".join(str(a) for a in answer), variant
    if not isinstance(answer, str):
        raise LabError(f"a schedule is a string like 'CPU0 CPU1 CPU0', not {type(answer).__name__}")
    return answer, variant


def _matches(f, goal: str, about: str | None) -> bool:
    return f.kind == goal and (about is None or about.lower() in f.message.lower())


def _target(prog: Program, goal: str, about: str | None):
    from .explore import explored
    r = explored(prog)
    for f in r.findings:
        if _matches(f, goal, about):
            return f
    return None


def _held_by(prog: Program, state, cpu_name: str) -> set[str]:
    th = state.threads[prog.cpu_id(cpu_name)]
    return {prog.locks[l].name for l, _ in th.held}


def _first_preemption(prog: Program, schedule: str) -> tuple[str, str] | None:
    """(cpu, function) where the shortest schedule first switches away from a
    cpu that could have gone on: the place the bug needs an interruption."""
    from .semantics import can_step
    from .trace import replay
    t = replay(prog, schedule)
    for i in range(1, len(t.steps)):
        prev, cur = t.steps[i - 1], t.steps[i]
        if prev.cpu != cur.cpu and can_step(prog, cur.before, prog.cpu_id(prev.cpu)):
            return prev.cpu, prev.stack[-1] if prev.stack else prog.cpus[prog.cpu_id(prev.cpu)].entry
    return None


def _schedule_hint(prog: Program, trace, target) -> str:
    steps = trace.steps
    if target is None:
        return ""
    if target.kind == "deadlock" and target.cycle:
        if _self_deadlock(target):
            cpu, lock, _ = target.cycle[0]
            return (f"in the deadlock {cpu} asks for {lock} while it already holds it, further down a call "
                    f"chain. Which step decides whether {cpu} goes down that path, and what must another cpu "
                    f"have done before it?")
        holders = {}
        for waiter, lock, holder in target.cycle:
            holders.setdefault(holder, set()).add(lock)
        need = "; ".join(f"{c} holds {', '.join(sorted(ls))}" for c, ls in sorted(holders.items()))
        states = [trace.initial] + [s.after for s in steps]
        together = any(all(ls <= _held_by(prog, st, c) for c, ls in holders.items()) for st in states)
        if not together:
            return (f"in the deadlock, at one moment {need}, and each waits for a lock another holds. "
                    f"Your schedule never reached such a moment: stop a cpu right after it takes its first lock "
                    f"and let another cpu run.")
        return (f"your schedule had {need} at once; now make each of them ask for its next lock "
                f"(keep stepping the cpus that are not stuck).")
    pre = _first_preemption(prog, target.schedule)
    where = f" The bug needs {pre[0]} to be interrupted inside {pre[1]}()." if pre else ""
    # Serial: each cpu's steps form one unbroken run (as many runs as cpus that ran).
    runs = 1 + sum(1 for a, b in zip(steps, steps[1:]) if a.cpu != b.cpu)
    if steps and runs == len({s.cpu for s in steps}):
        return (f"what goes wrong: {target.message}. Your schedule runs the cpus one after the other, "
                f"and that order is safe.{where}")
    return f"what goes wrong: {target.message}. It involves {', '.join(target.cpus) or 'the cpus'}.{where}"


def check_schedule(case_id: str, variant: str, answer, goal: str = "deadlock", about: str | None = None,
                   shortest: bool = False) -> Check:
    """Does the learner's schedule reach the goal (``deadlock``, ``warn`` ...)?

    ``answer`` is a schedule string, a list of cpu names, or a stepper widget
    (its steps on screen, on its variant). ``about`` narrows the goal to a
    finding whose message contains it; ``shortest`` also asks for the fewest
    steps. Any schedule that gets there is right.
    """
    goal = VERDICTS.get(goal, goal)
    try:
        sched, variant = _answer_schedule(answer, variant)
    except LabError as e:
        return Check(False, str(e))
    prog = program(case_id, variant)
    from .trace import replay
    try:
        trace = replay(prog, sched)
    except ScheduleError as e:
        return Check(False, f"that schedule cannot run: {e}")
    except ModelError as e:
        return Check(False, str(e))
    target = _target(prog, goal, about)
    what = goal.replace("_", " ") + (f" whose description mentions “{about}”" if about else "")
    if target is None:
        return Check(False, f"no schedule of {case_id}/{variant} reaches a {what}: the explorer tried them all.",
                     "is this the variant you meant?")
    got = [f for f in trace.findings if _matches(f, goal, about)]
    if got:
        n = got[0].step
        if shortest and n > target.step:
            return Check(False, f"your schedule reaches the {what} in {n} steps; the shortest takes {target.step}.",
                         "which steps before the bug change nothing that matters to it? Leave them out, "
                         "or take them later.")
        extra = "" if n == target.step else f" (in {n} steps; the shortest takes {target.step})"
        return Check(True, f"your schedule reaches the {what} at step {n}{extra}: {got[0].message}")
    if not trace.steps:
        return Check(False, "the schedule is empty.", "run a cpu: type its name, e.g. 'CPU0', or click it in the stepper.")
    other = trace.findings
    found = f" (it does reach: {other[0].kind} — {other[0].message})" if other else ""
    return Check(False, f"after {_n(len(trace.steps), 'step')} no {what} has happened{found}.",
                 _schedule_hint(prog, trace, target))


# --- verdicts -------------------------------------------------------------------

def _kinds(answer) -> set[str]:
    items = [answer] if isinstance(answer, str) else list(answer)
    out = set()
    for a in items:
        key = str(a).strip().lower().replace("-", "_")
        if key not in VERDICTS:
            raise LabError(f"{a!r} is not a verdict; say one of: deadlock, use_after_free, double_free, "
                           f"refcount, warn, clean")
        out.add(VERDICTS[key])
    if "clean" in out and len(out) > 1:
        raise LabError("'clean' means no bug at all: it cannot go with another verdict")
    return out


def check_verdict(case_id: str, variant: str, answer) -> Check:
    """Predict what the explorer finds in ``variant``: ``"deadlock"``,
    ``"clean"``, ``"warn"`` ... (or a list of them)."""
    from .explore import explored
    try:
        said = _kinds(answer)
    except LabError as e:
        return Check(False, str(e))
    r = explored(program(case_id, variant))
    found = r.kinds() or {"clean"}
    words = ", ".join(sorted(k.replace("_", " ") for k in found))
    if said == found:
        if found == {"clean"}:
            return Check(True, f"the explorer tried every interleaving of {case_id}/{variant} and found no bug.")
        return Check(True, f"in the interleavings of {case_id}/{variant} the explorer finds: {words}.")
    if said < found:
        return Check(False, f"{', '.join(sorted(said))} is right, but not all: there is more.",
                     "run the explorer on this variant and read every finding.")
    if found == {"clean"} and "deadlock" in said and _lockdep_warns(case_id, variant):
        hint = ("a cycle in lockdep's graph is not yet a deadlock: can any interleaving really have every cpu "
                "of the cycle holding its lock at once? Try it in the stepper.")
    elif found == {"clean"} and "deadlock" in said:
        hint = ("no locks are taken in a cycle here (lockdep is silent too). If you expected a wait to last "
                "forever, step to it in the stepper and see who ends it.")
    elif found == {"clean"}:
        hint = "which line did you expect to go wrong? Step to it in the stepper and see what stops it."
    elif "deadlock" in found and all(_self_deadlock(f) for f in r.findings if f.kind == "deadlock"):
        hint = ("follow one cpu at a time: does it ask for a lock it already holds (perhaps in a function it "
                "calls, or a release callback its put runs)?")
    elif "deadlock" in found:
        hint = "compare the order in which the cpus take their locks, and who waits behind whom."
    else:
        hint = "look for a line that reads something another cpu can change or free in between."
    return Check(False, f"that is not what happens in {case_id}/{variant}.", hint)


def _self_deadlock(f) -> bool:
    """An AA deadlock: one cpu waits for a lock it holds itself."""
    return bool(f.cycle) and all(w == h for w, _, h in f.cycle)


def _lockdep_warns(case_id: str, variant: str) -> bool:
    from .lockdep import lockdep_run
    try:
        return bool(lockdep_run(case_id, variant).reports)
    except LabError:
        return False


# --- fixes ----------------------------------------------------------------------

_LOCK_LINE = re.compile(r"^(?P<op>[a-z_]+)\s*\(\s*&?\s*(?P<name>[^,)]+?)\s*(,\s*(?P<flags>[A-Za-z_]\w*)\s*)?\)"
                        r"\s*;?\s*(/\*.*\*/|//.*)?$")
_LABEL_LINE = re.compile(r"^(?P<name>[A-Za-z_]\w*):\s*$")


def _norm(s: str) -> str:
    return " ".join(s.split())


def _with_labels(fn) -> list[tuple[str, Op | None]]:
    """The function's lines as the learner sees them: labels included."""
    at: dict[int, list[str]] = {}
    for name, i in fn.labels.items():
        at.setdefault(i, []).append(name)
    out = []
    for i in range(len(fn.ops) + 1):
        out += [(f"{name}:", None) for name in at.get(i, ())]
        if i < len(fn.ops):
            out.append((fn.ops[i].text, fn.ops[i]))
    return out


def fix_template(case_id: str, variant: str, function: str) -> str:
    """The pseudo-C of one function, one step a line, ready to edit."""
    prog = program(case_id, variant)
    try:
        fn = prog.function(function)
    except KeyError:
        raise LabError(f"{case_id}/{variant} has no function {function!r}") from None
    return "\n".join(text for text, _ in _with_labels(fn))


def _lock_named(prog: Program, name: str):
    name = name.strip()
    for l in prog.locks:
        if name in (l.name, l.cls, l.cls.lstrip("&"), "&" + l.name):
            return l
    return None


def parse_fix(prog: Program, function: str, text: str) -> list[Op]:
    """The learner's edit of ``function`` as steps; :class:`LabError` naming
    the line when it is not a line of the function or a lock call."""
    if not isinstance(text, str):
        raise LabError("a fix is the function's pseudo-C as a string, one step a line")
    try:
        fn = prog.function(function)
    except KeyError:
        raise LabError(f"{prog.case}/{prog.variant} has no function {function!r}") from None
    pool: dict[str, list[Op]] = {}
    for op in fn.ops:
        pool.setdefault(_norm(op.text), []).append(op)
    kept: set[int] = set()
    ops: list[Op] = []
    lock_ops = sorted(set(ACQUIRE_OPS) | set(RELEASE_OPS))
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        here = f"your {function}(), line {n}"
        key = _norm(line)
        if pool.get(key):
            op = pool[key].pop(0)
            kept.add(id(op))
            ops.append(Op(op.kind, op.args, op.text, here))
            continue
        m = _LABEL_LINE.match(line)
        if m:
            ops.append(Op("label", (m["name"],), line, here))
            continue
        m = _LOCK_LINE.match(line)
        if m and m["op"] in lock_ops:
            lock = _lock_named(prog, m["name"])
            if lock is None:
                raise LabError(f"{here}: no lock {m['name']!r} in this model (locks: "
                               f"{', '.join(l.name for l in prog.locks)})")
            want = (ACQUIRE_OPS.get(m["op"]) or RELEASE_OPS[m["op"]])[0]
            if lock.kind != want:
                raise LabError(f"{here}: {m['op']}() takes a {want}, but {lock.name} is a {lock.kind}")
            from .primitives import OPS
            two = len(OPS[m["op"]].operands) == 2          # spin_lock_irqsave(&l, flags)
            if two != bool(m["flags"]):
                form = f"{m['op']}(&{lock.name}, flags);" if two else f"{m['op']}(&{lock.name});"
                raise LabError(f"{here}: write it as {form}")
            ops.append(Op(m["op"], (lock.name, m["flags"]) if two else (lock.name,), line, here))
            continue
        raise LabError(f"{here}: {line!r} is neither a line of {function}() nor a lock call such as "
                       f"{_example_lock_line(prog)}; move lines, and add or drop lock calls only")
    for op in fn.ops:
        if id(op) not in kept and op.kind not in ACQUIRE_OPS and op.kind not in RELEASE_OPS:
            raise LabError(f"your {function}() lost the line {op.text!r}: a fix moves the work and the locks "
                           f"around it, it does not drop the work")
    return ops


def _example_lock_line(prog: Program) -> str:
    l = prog.locks[0]
    op = {"mutex": "mutex_lock", "spinlock": "spin_lock", "rwsem": "down_write"}[l.kind]
    return f"'{op}(&{l.name});'"


def _obligations(prog: Program, ex: Exercise) -> str | None:
    """What the edited function must still guarantee, checked on serial runs:
    named steps run under their lock, pairs of steps in one critical section,
    and no cpu finishes holding a lock."""
    from .lockdep import lockdep_schedules
    from .trace import replay
    from .semantics import DONE
    schedules = lockdep_schedules(prog.case, ex.variant) or (" ".join(f"{c}*" for c in prog.cpu_names),)
    for sched in schedules:
        try:
            t = replay(prog, sched)
        except (ScheduleError, ModelError) as e:
            return f"a serial run ({sched}) fails: {e}"
        for s in t.steps:
            for needle, lock in ex.must_hold:
                if needle in s.op.text and lock not in _held_by(prog, s.before, s.cpu):
                    return f"{s.cpu} runs {s.op.text!r} without holding {lock}, which must protect it"
        for a, b, lock in ex.same_section:
            for cpu in prog.cpu_names:
                mine = [s for s in t.steps if s.cpu == cpu]
                ia = next((i for i, s in enumerate(mine) if a in s.op.text), None)
                ib = next((i for i, s in enumerate(mine) if b in s.op.text), None)
                if ia is None or ib is None:
                    continue
                lo, hi = sorted((ia, ib))
                if any(lock not in _held_by(prog, s.before, cpu) for s in mine[lo:hi + 1]):
                    return (f"{cpu} lets go of {lock} between {mine[lo].op.text!r} and {mine[hi].op.text!r}: "
                            f"another cpu could change what the first line saw before the second acts on it")
        fin = t.final
        for i, th in enumerate(fin.threads):
            if th.status == DONE and th.held:
                held = ", ".join(prog.locks[l].name for l, _ in th.held)
                return f"{prog.cpu_names[i]} finishes still holding {held}"
        from .model import irq_var_name
        for c in prog.cpu_names:
            v = prog.var_index.get(irq_var_name(c))
            irq = fin.vars[v] if v is not None else None
            if irq is not None and (not irq.on or irq.bh):
                return (f"{c} finishes with {'interrupts' if not irq.on else 'bottom halves'} still off "
                        f"(an irqsave needs its irqrestore, an _irq lock its _irq unlock)")
    return None


def check_fix(case_id: str, variant: str, function: str, text: str, *, must_hold=(), same_section=()) -> Check:
    """Replace ``function`` in ``variant`` with the learner's pseudo-C and let
    the explorer judge it. The edit may reorder the function's lines and add
    or drop lock calls; it may not drop the work."""
    ex = Exercise(0, "fix", variant, function=function, must_hold=tuple(must_hold),
                  same_section=tuple(same_section))
    return _judge_fix(case_id, ex, text)


def _judge_fix(case_id: str, ex: Exercise, text: str) -> Check:
    from .explore import explore, explored
    base = program(case_id, ex.variant)
    try:
        ops = parse_fix(base, ex.function, text)
        prog = rebuild(base, {ex.function: ops})
    except LabError as e:
        return Check(False, str(e))
    try:
        r = explore(prog)
    except ModelError as e:
        return Check(False, f"the edited model cannot run: {e}",
                     "every unlock needs a lock taken before it on the same path.")
    if not r.complete:
        return Check(False, f"the explorer could not finish: {r.stopped}")
    # Compare by what happened, not by key: a key may name the model line
    # (use after free, WARN), and the learner's edit rebuilt those lines.
    before = {(f.kind, f.message) for f in explored(base).findings}
    if r.findings:
        f = r.findings[0]
        new = (f.kind, f.message) not in before
        head = "your version has a new bug" if new else "the original bug is still there"
        got = Check(False, f"{head}: {f.kind} — {f.message}\nshortest schedule: {f.schedule}",
                    "keep this result (r = lab.check(...)) and look at your version: lab.timeline(r.case, "
                    "\"yours\") draws that schedule, lab.stepper(r.case, \"yours\") lets you step it." if new else
                    "the interrupt arrives on the very cpu that holds the lock its handler wants, so that cpu "
                    "cannot go on to release it. While the task holds that lock, can the interrupt be kept "
                    "from arriving?" if f.kind == "deadlock" and "interrupted by" in f.message else
                    "a cpu waits for a lock it already holds: what does it call, or which release does its "
                    "put run, while it holds that lock? Let go of the lock first, or do that work later."
                    if f.kind == "deadlock" and _self_deadlock(f) else
                    "which cpu takes which lock first? A fix makes every path take them in one order, "
                    "or stops holding one while taking the other." if f.kind == "deadlock" else
                    "which cpu frees or changes what another still uses? Hold the lock from the moment "
                    "the object is looked up until its last use, so the other cpu has to wait.")
        got.case, got.schedule = _yours(case_id, ex, prog), f.schedule
        return got
    broken = _obligations(prog, ex)
    if broken:
        return Check(False, f"no deadlock or WARN any more, but {broken}.",
                     "a fix must leave the cpu as it found it, and keep protecting what the lock protected.")
    return Check(True, f"the explorer tried all {r.states} states of your version: no deadlock, use after free "
                       f"or WARN, and the function still protects what it must.")


def _yours(case_id: str, ex: Exercise, prog: Program):
    """The learner's edited model as a one-variant case (``"yours"``) that
    every lab view takes in place of a case id."""
    from .cases.base import Case, Variant
    base = get_case(case_id)
    v = base.variant(ex.variant)
    mine = Variant("yours", f"your {ex.function}() in {case_id}/{ex.variant}", lambda: prog,
                   lockdep=v.lockdep, expect="")
    return Case(f"{case_id}_yours", f"{base.title} — your edit", base.summary, (mine,), kind="classic")


# --- lockdep chains -------------------------------------------------------------

def check_chain(path, answer) -> Check:
    """Name the lock classes of a real report's dependency chain, in order.

    The chain is a cycle: any rotation of the right order is right.
    """
    from .splat import parse_file
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = ROOT / p
    s = parse_file(p)
    want = list(s.chain) if s.chain else [s.acquiring_lock]
    # Commas, or arrows with spaces around them: '->' inside a class name ('&kvm->lock') is not a separator.
    got = [a.strip() for a in (re.split(r",|\s-+>\s", answer) if isinstance(answer, str) else answer)]
    got = [a for a in got if a]
    if not got:
        return Check(False, "the answer is empty: list the lock classes, e.g. ['&kvm->lock', '&group->group_lock'].")
    unknown = [g for g in got if g not in want]
    if unknown:
        return Check(False, f"{unknown[0]!r} is not a lock class in this report's chain.",
                     "copy the class names from the '-> #N (...)' lines, e.g. '&kvm->lock'.")
    if len(got) != len(want):
        return Check(False, f"the chain has {len(want)} entries; you named {len(got)}.")
    rot = [want[i:] + want[:i] for i in range(len(want))]
    if got in rot:
        # The report lists #N first; each entry was taken while the one listed after it was held,
        # so the dependencies run the other way: A -> B means B was taken while A was held.
        fwd = got[::-1]
        return Check(True, "that is the chain lockdep recorded; read forwards, each class was taken while "
                           "the one before it was held: " + " -> ".join(fwd) + " -> " + fwd[0])
    return Check(False, "those are the right classes in the wrong order.",
                 "entry #0 is the lock being taken now; each '-> #N' entry was taken while the next one was held.")


# --- exercises by number --------------------------------------------------------

def exercise(case_id: str, number: int) -> Exercise:
    for ex in get_case(case_id).exercises:
        if ex.number == number:
            return ex
    raise LabError(f"case {case_id!r} has no exercise {number} (exercises: "
                   f"{', '.join(str(e.number) for e in get_case(case_id).exercises) or 'none'})")


def check(case_id: str, number: int, answer) -> Check:
    """Judge ``answer`` to exercise ``number`` of a case (see its notebook)."""
    ex = exercise(case_id, number)
    try:
        if ex.kind == "schedule":
            return check_schedule(case_id, ex.variant, answer, goal=ex.goal, about=ex.about, shortest=ex.shortest)
        if ex.kind == "verdict":
            return check_verdict(case_id, ex.variant, answer)
        if ex.kind == "fix":
            return _judge_fix(case_id, ex, answer)
        if ex.kind == "chain":
            return check_chain(ex.report, answer)
    except LabError as e:
        return Check(False, str(e))
    raise LabError(f"exercise {case_id} {number}: unknown kind {ex.kind!r}")  # pragma: no cover


def solution(case_id: str, number: int):
    """A right answer and why, folded away until clicked (printed in full by ``print``)."""
    from .lab import View
    ex = exercise(case_id, number)
    ans = ex.answer if isinstance(ex.answer, str) else repr(ex.answer)
    text = f"Exercise {number}: a right answer\n{ans}\n\n{ex.explain}".rstrip()
    body = (f"<pre>{html.escape(ans)}</pre><p>{html.escape(ex.explain)}</p>")
    return View(text, html=f"<details><summary>Show a solution to exercise {number}</summary>{body}</details>")


# --- rarity ---------------------------------------------------------------------

@dataclass(frozen=True)
class Rarity:
    """How rare a bug is among the schedules of a variant.

    ``schedules`` counts complete schedules (every cpu runs until it finishes
    or nobody can run); ``reaching`` those that reach the bug; ``random`` the
    chance that a scheduler picking a runnable cpu uniformly at each step
    reaches it; ``min_preemptions`` the fewest times a cpu that could go on
    must be switched away from (CHESS's measure); ``min_switches`` the fewest
    context switches of any kind.
    """

    case: str
    variant: str
    goal: str
    states: int
    schedules: int
    reaching: int
    random: Fraction
    min_preemptions: int | None
    min_switches: int | None

    @property
    def share(self) -> float:
        return self.reaching / self.schedules if self.schedules else 0.0

    def text(self) -> str:
        what = "bug" if self.goal == "any" else self.goal.replace("_", " ")
        if not self.reaching:
            return f"{self.case}/{self.variant}: none of its {self.schedules:,} complete schedules reaches a {what}."
        need = ("It needs no preemption at all: a cpu that finishes or blocks lets the next run into it"
                if self.min_preemptions == 0 else f"It needs at least {_n(self.min_preemptions, 'preemption')}")
        return (f"{self.case}/{self.variant}: {self.reaching:,} of {self.schedules:,} complete schedules "
                f"({100 * self.share:.2g}%) reach the {what}; a scheduler choosing a "
                f"runnable cpu at random at every step hits it {100 * float(self.random):.2g}% of the time. "
                f"{need} ({_n(self.min_switches, 'context switch', 'context switches')} in all). Each step here stands for many "
                f"instructions in the kernel, so the real window is narrower still.")


def _n(k: int, one: str, many: str | None = None) -> str:
    return f"{k} {one if k == 1 else (many or one + 's')}"


def rarity(case_id: str, variant: str = "before", goal: str | None = None, max_states: int = 200_000) -> Rarity:
    """Count the complete schedules of a variant and those that reach ``goal``
    (default: the kind of the variant's first finding).

    Exact, over the full state graph (no reduction: every order counts).
    Raises :class:`LabError` when the model loops or the graph is larger than
    ``max_states``.
    """
    import sys
    from .explore import explored
    from .semantics import apply, can_step, initial_state, state_findings
    prog = program(case_id, variant)
    if goal is None:
        r = explored(prog)
        goal = r.findings[0].kind if r.findings else "any"
    goal = VERDICTS.get(goal, goal)
    n = len(prog.cpus)
    memo: dict = {}
    onstack: set = set()

    def hit(findings) -> bool:
        return any(goal == "any" or f.kind == goal for f in findings)

    def visit(s):
        # (schedules, reaching, random chance) from state s
        if s in memo:
            return memo[s]
        if s in onstack:
            raise LabError(f"{case_id}/{variant}: a schedule can loop forever, so schedules cannot be counted")
        if len(memo) >= max_states:
            raise LabError(f"{case_id}/{variant}: more than {max_states:,} states; rarity stopped "
                           f"(raise max_states to count further)")
        enabled = [c for c in range(n) if can_step(prog, s, c)]
        if not enabled:
            reached = int(hit(state_findings(prog, s)))
            res = (1, reached, Fraction(reached))
            memo[s] = res
            return res
        onstack.add(s)
        total, bad, chance = 0, 0, Fraction(0)
        for c in enabled:
            out = apply(prog, s, c)
            t, b, p = visit(out.state)
            if hit(out.findings) or (out.event in ("block", "sleep") and hit(
                    f for f in state_findings(prog, out.state) if f.kind == "deadlock")):
                b, p = t, Fraction(1)
            elif hit(state_findings(prog, out.state, cycles=False)):
                b, p = t, Fraction(1)
            total += t
            bad += b
            chance += p
        onstack.discard(s)
        res = (total, bad, chance / len(enabled))
        memo[s] = res
        return res

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    try:
        s0 = initial_state(prog)
        total, bad, chance = visit(s0)
    finally:
        sys.setrecursionlimit(old)
    pre = _min_switches(prog, goal, preemptions_only=True) if bad else None
    sw = _min_switches(prog, goal, preemptions_only=False) if bad else None
    return Rarity(case_id, variant, goal, len(memo), total, bad, chance, pre, sw)


def _min_switches(prog: Program, goal: str, preemptions_only: bool) -> int | None:
    """0-1 breadth-first search over (state, last cpu): the fewest switches
    (or preemptions: switches away from a cpu that could go on) to the goal."""
    from collections import deque
    from .semantics import apply, can_step, initial_state, state_findings
    n = len(prog.cpus)
    s0 = initial_state(prog)
    best = {(s0, -1): 0}
    dq = deque([(0, s0, -1)])
    while dq:
        d, s, last = dq.popleft()
        if best.get((s, last), 1 << 30) < d:
            continue
        if any(goal == "any" or f.kind == goal for f in state_findings(prog, s)):
            return d
        for c in range(n):
            if not can_step(prog, s, c):
                continue
            if last in (-1, c):
                cost = 0
            elif preemptions_only:
                cost = int(can_step(prog, s, last))
            else:
                cost = 1
            out = apply(prog, s, c)
            if any(goal == "any" or f.kind == goal for f in out.findings):
                return d + cost
            key = (out.state, c)
            if d + cost < best.get(key, 1 << 30):
                best[key] = d + cost
                (dq.appendleft if cost == 0 else dq.append)((d + cost, out.state, c))
    return None
