"""What carries a bug besides locks: the events of a trace, in words.

Locks are not the only thing a timeline must show. A last ``put`` runs a
release in whatever context drops it; a ``kfree`` ends an object's life and a
later use is the bug; a shared variable written by one cpu changes the branch
another takes. This module reads those out of a trace once, for every view:
the text table (:func:`labkit.render.text.timeline_text`) lists them under
their step and the pictures draw them (:mod:`labkit.render.timeline`).

* :func:`trace_events` — refcount ``get``/``put`` with the count (the last
  put marked, with the release it runs), ``alloc``/``free``/``use`` of
  objects (a use after the free marked), reads and writes of the shared
  variables the model branches on, and steps whose line is only a comment
  (``noop`` when it changes nothing, else the event says "model only");
* :func:`state_lanes` — the same as values over time: a refcount's count, an
  object's life, a variable's value, one row per thing the trace touches;
* :func:`release_spans` — the steps a release callback runs, and on which cpu.

>>> from labkit.cases import program
>>> from labkit.trace import replay
>>> t = replay(program("last_put", "before"), "CPU0* CPU1*")
>>> for e in trace_events(t):
...     print(e.step, e.cpu, e.text)
3 CPU0 [put] obj->kref 2 -> 1
7 CPU1 [last put] obj->kref 1 -> 0: runs obj_release()
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..semantics import _ALIVE, _FREED

__all__ = ["Event", "Lane", "Span", "trace_events", "state_lanes", "release_spans", "branch_vars",
           "comment_only", "show_value", "EVENT_WORDS"]

# The tag each event kind shows in the text views (and its word in the pictures).
EVENT_WORDS = {
    "get": "get", "put": "put", "last_put": "last put", "alloc": "alloc", "free": "kfree", "use": "use",
    "read": "read", "write": "write", "noop": "no-op",
}
_COMMENT = re.compile(r"\s*(/\*.*?\*/\s*)+|\s*//.*")


class Event(NamedTuple):
    """One thing a step did to a refcount, an object or a shared variable.

    ``kind`` is one of ``get``, ``put``, ``last_put``, ``alloc``, ``free``,
    ``use``, ``read``, ``write``, ``noop``; ``subject`` the refcount, object
    or variable (``""`` for a no-op); ``value`` the count after a get/put,
    the value read or written; ``old`` the count or value before; ``bad``
    marks a use after free or a count that was already zero; ``release`` the
    function a last put runs; ``model_only`` a step whose line is only a
    comment (the model's bookkeeping, not kernel code).
    """

    step: int
    cpu: str
    kind: str
    subject: str
    value: object = None
    old: object = None
    bad: bool = False
    release: str = ""
    model_only: bool = False

    @property
    def text(self) -> str:
        """One line for the text views: ``[put] kvm->users_count 2 -> 1``."""
        k, s = self.kind, self.subject
        tag = f"[{EVENT_WORDS[k]}]"
        if k in ("get", "put", "last_put"):
            out = f"{tag} {s} {self.old} -> {self.value}"
            if self.release:
                out += f": runs {self.release}()"
            if self.bad:
                out += " (it was already zero)"
        elif k == "free":
            out = f"{tag} {s}: freed from here on"
        elif k == "alloc":
            out = f"{tag} {s}"
        elif k == "use":
            out = f"{tag} {s}" + (" after it was freed" if self.bad else "")
        elif k == "read":
            out = f"{tag} {s} is {show_value(self.value)}"
        elif k == "write":
            out = f"{tag} {s} = {show_value(self.value)}"
            if self.old != self.value:
                out += f" (was {show_value(self.old)})"
        else:
            out = f"{tag} the line is only a comment: it changes nothing"
        if self.model_only and k != "noop":
            out += " (model only: the line is a comment)"
        return out

    @property
    def word(self) -> str:
        """A short label for the pictures: ``put -> 1``, ``= NULL``, ``kfree``."""
        k = self.kind
        if k in ("get", "put", "last_put"):
            return f"{EVENT_WORDS[k]} \u2192 {self.value}"
        if k == "write":
            return f"= {show_value(self.value)}"
        if k == "read":
            return "read"
        if k == "use":
            return "use after free" if self.bad else "use"
        return EVENT_WORDS[k]


class Lane(NamedTuple):
    """A thing the trace touches, as values over time.

    ``kind`` is ``ref``, ``object`` or ``var``; ``segments`` are
    ``(start, end, value)`` with 1-based step boundaries: the value holds
    after step ``start`` (0 = from the beginning) until after step ``end``
    (``None``: to the end of the trace). An object's value is ``alive``,
    ``freed`` or ``unallocated``.
    """

    kind: str
    name: str
    segments: tuple
    events: tuple


class Span(NamedTuple):
    """A release callback run by a last put: ``cpu`` runs ``function`` from
    step ``start`` (the put) to step ``end`` (its return; ``None`` if the
    trace ends first)."""

    cpu: str
    function: str
    start: int
    end: int | None


def show_value(v) -> str:
    """A model value as C would say it: ``NULL``, ``true``, ``false``, ``3``."""
    if v is None:
        return "NULL"
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def comment_only(text: str) -> bool:
    """Is this pseudo-C line only a comment?

    >>> comment_only("/* pin the pages */"), comment_only("kfree(m);  /* gone */")
    (True, False)
    """
    return bool(text.strip()) and _COMMENT.fullmatch(text) is not None


def _expr_vars(e) -> set[str]:
    return e.names("var") if hasattr(e, "names") else set()


def _reads(op) -> set[str]:
    """The shared variables an op's expression reads."""
    k = op.kind
    if k in ("if", "warn_on", "wait"):
        return _expr_vars(op.args[0])
    if k in ("let", "assign"):
        return _expr_vars(op.args[1])
    return set()


def branch_vars(prog) -> set[str]:
    """The shared variables the model branches on: read by an ``if``, a
    ``WARN_ON``, a ``wait_event`` or a ``let`` somewhere in the program."""
    out: set[str] = set()
    for fn in prog.functions:
        for op in fn.ops:
            out |= _reads(op)
    return out


def trace_events(trace) -> list[Event]:
    """Every refcount, object and shared-variable event of a trace, in step order.

    Reads and writes are listed only for :func:`branch_vars` (a variable no
    branch reads changes nothing a learner can see). A write that sets the
    value it already had is still a write.
    """
    prog = trace.program
    bvars = branch_vars(prog)
    out: list[Event] = []
    for s in trace.steps:
        k, cpu, ev, d, op = s.index + 1, s.cpu, s.event, s.detail, s.op
        model = comment_only(s.text)
        if ev in ("get", "put", "release_call"):
            ref = d["ref"]
            old = s.before.refs[prog.ref_index[ref]]
            kind = "last_put" if ev == "release_call" else ev
            if ev == "get" and d.get("ok") is False:
                continue          # get_not_zero on zero: nothing taken
            bad = any(f.kind == "refcount" for f in s.findings)
            out.append(Event(k, cpu, kind, ref, d["count"], old, bad, d.get("release", ""), model))
        elif ev in ("alloc", "free", "use"):
            bad = ev == "use" and any(f.kind == "use_after_free" for f in s.findings)
            bad = bad or (ev == "free" and any(f.kind == "double_free" for f in s.findings))
            out.append(Event(k, cpu, ev, d["object"], None, None, bad, "", model))
        reads = sorted(_reads(op) & bvars)
        for v in reads:
            out.append(Event(k, cpu, "read", v, s.before.vars[prog.var_index[v]], None, False, "", model))
        if ev == "assign" and d["var"] in bvars:
            v = d["var"]
            out.append(Event(k, cpu, "write", v, d["value"], s.before.vars[prog.var_index[v]], False, "", model))
        if op.kind == "nop" and model:
            out.append(Event(k, cpu, "noop", ""))
    return out


def release_spans(trace) -> list[Span]:
    """The steps each release callback runs: from its last put to its return.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> t = replay(program("last_put", "before"), "CPU0* CPU1*")
    >>> release_spans(t)
    [Span(cpu='CPU1', function='obj_release', start=7, end=None)]
    """
    prog = trace.program
    out = []
    for s in trace.steps:
        if s.event != "release_call":
            continue
        cid = prog.cpu_id(s.cpu)
        depth = len(s.before.threads[cid].frames)
        end = None
        for t in trace.steps[s.index + 1:]:
            if t.cpu == s.cpu and len(t.after.threads[cid].frames) <= depth:
                end = t.index + 1
                break
        out.append(Span(s.cpu, s.detail["release"], s.index + 1, end))
    return out


def _segments(values) -> tuple:
    """``[(step, value), ...]`` (step 0 = initial) as ``(start, end, value)`` runs."""
    segs = []
    for k, v in values:
        if segs and segs[-1][2] == v:
            continue
        if segs:
            segs[-1][1] = k
        segs.append([k, None, v])
    return tuple(tuple(x) for x in segs)


def state_lanes(trace, events: list[Event] | None = None) -> list[Lane]:
    """One :class:`Lane` per refcount and object the trace touches, and per
    branched-on variable it writes (a variable that only is read keeps its
    value: the text views list those reads, a lane would be one flat bar).

    Order: refcounts, objects, variables, each in declaration order.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> t = replay(program("last_put", "before"), "CPU0* CPU1*")
    >>> [(l.kind, l.name, l.segments) for l in state_lanes(t)]
    [('ref', 'obj->kref', ((0, 3, 2), (3, 7, 1), (7, None, 0)))]
    """
    prog = trace.program
    events = trace_events(trace) if events is None else events
    states = [trace.initial] + [s.after for s in trace.steps]
    lanes = []
    touched = {(e.kind, e.subject) for e in events}

    def by(subject, kinds):
        return tuple(e for e in events if e.subject == subject and e.kind in kinds)

    for i, (name, _) in enumerate(prog.refs):
        evs = by(name, ("get", "put", "last_put"))
        if evs:
            lanes.append(Lane("ref", name, _segments((k, st.refs[i]) for k, st in enumerate(states)), evs))
    names = {_ALIVE: "alive", _FREED: "freed"}
    for i, (name, _) in enumerate(prog.objects):
        evs = by(name, ("alloc", "free", "use"))
        if evs:
            segs = _segments((k, names.get(st.objs[i], "unallocated")) for k, st in enumerate(states))
            lanes.append(Lane("object", name, segs, evs))
    for i, (name, _) in enumerate(prog.vars):
        if ("write", name) in touched:
            segs = _segments((k, st.vars[i]) for k, st in enumerate(states))
            lanes.append(Lane("var", name, segs, by(name, ("read", "write"))))
    return lanes
