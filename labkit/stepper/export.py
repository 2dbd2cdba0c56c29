"""Precompute a case for the browser stepper: every state, every step, as JSON.

As in Python Tutor, Python does all the work once and the browser only
looks things up: :func:`case_json` explores each variant and writes the
reachable state graph (``"mode": "graph"``), or, when a variant has more than
``max_states`` states, only the states along a few traces — the serial runs
and the shortest schedule of every finding (``"mode": "traces"``). The
browser then steps by following ``next[state][cpu]``; no kernel is needed.

The JSON is compact (texts, cpu records, lock tables and steps are interned
and referred to by index) and deterministic (same input, same bytes).
:func:`walk` is the reference reading of the format: the browser's
``stepper.js`` does exactly what it does, and the tests check it against
:func:`labkit.trace.replay` on every schedule of the small cases.

Format (``"format": "labkit-stepper/1"``; ``"schema"`` repeats this)::

    texts[i]                   every pseudo-C line, reason, stack name: an id
    case                       id, title, summary, kind, fix, fixes, date, simplifications
    lock_style[name]           color, pattern (svg), hatch, marker - labkit.render.style
    variants[k]                id, title, expect, mode, cpus, functions, locks, vars, refs,
                               objects, threads, locktables, data, stacks, states, next,
                               steps, findings, explorer, serial, explored, note
      cpus[c]                  name, comm, pid, context, stack, entry, functions (ids);
                               an interrupt handler also host (the cpu it runs on) and irq
                               (hardirq|softirq)
      functions[f]             name, via, lines (text ids)
      threads[t]               [frames [[f, pc]...], status run|wait|done, held [[lock, "w"|"r"]],
                                stack id, why (text id | null when the cpu can step)]
      locktables[l]            per lock [owner cpu | -1, readers [cpu], queue [[cpu, "w"|"r"]]]
      data[d]                  [vars values, refs counts, objects alive|freed|unallocated, broken]
      states[s]                [thread id per cpu..., locktable id, data id, [finding ids]]
      next[s][c]               [next state, step id] | null (cannot step / not precomputed)
      steps[i]                 [cpu, text id, event, detail, [finding ids]]
      findings[i]              key, kind, message, cpus, locks, cycle [[waiter, lock, holder]]
      explorer[i]              kind, message, schedule, step, cpus, locks

Showing a step's findings works as in :func:`labkit.trace.replay`: a step
reports its own findings (``steps[i][4]``) and those of the state it
reaches (``states[s][-1]``) whose ``key`` the schedule has not reported yet.

>>> d = case_json("abba", ["before"])
>>> v = d["variants"][0]
>>> v["mode"], len(v["states"]) == v["explored"]["states"]
('graph', True)
>>> [s["findings"] and s["findings"][0]["kind"] for s in walk(d, "before", "CPU0 CPU1 CPU0 CPU1")][-1]
'deadlock'
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from ..cases import get_case
from ..explore import explore
from ..model import Program
from ..render.style import EVENT_STYLE, FINDING_COLOR, style_table
from ..semantics import (DONE, RUN, WAIT, Finding, State, apply, blocked_reason, initial_state, stack_of,
                         state_findings)
from ..trace import replay, serial_schedule

__all__ = ["FORMAT", "case_json", "case_json_text", "variant_json", "variant_relations", "walk",
           "decode_state", "lock_names"]

FORMAT = "labkit-stepper/1"
DEFAULT_MAX_STATES = 5000
_STATUS = {RUN: "run", WAIT: "wait", DONE: "done"}
_OBJ = ("unallocated", "alive", "freed")
_MODE = {0: "w", 1: "r"}

SCHEMA = {
    "threads[t]": "[frames [[function, pc]...] outermost first, status run|wait|done, "
                  "held [[lock, 'w'|'r']] in the order taken, stack id, why text id or null if it can step]",
    "locktables[l]": "per lock: [owner cpu or -1, readers [cpu], wait queue [[cpu, 'w'|'r']] FIFO]",
    "data[d]": "[shared var values, refcounts, objects (alive|freed|unallocated), memory broken]",
    "states[s]": "[thread id per cpu..., locktable id, data id, [finding ids of the state]]",
    "next[s][c]": "[next state id, step id], or null: the cpu cannot step (why) or the step "
                  "is not precomputed (mode traces)",
    "steps[i]": "[cpu, text id of the pseudo-C line, event, detail, [finding ids of the step]]",
    "findings[i]": "key (equal keys: the same finding), kind, message, cpus, locks, "
                   "cycle [[waiter cpu, lock, holder cpu]]",
    "shown findings": "a step shows its own findings plus those of the state it reaches "
                      "whose key was not yet shown on the schedule (as labkit.trace.replay)",
}


class _Interner:
    """Values to dense ids, in first-seen order (so the output is deterministic)."""

    def __init__(self):
        self.ids: dict = {}
        self.items: list = []

    def __call__(self, key, value=None) -> int:
        i = self.ids.get(key)
        if i is None:
            i = self.ids[key] = len(self.items)
            self.items.append(key if value is None else value)
        return i


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


def _canon(k: Any) -> Any:
    """A finding key as a hashable, order-independent value (keys hold frozensets)."""
    if isinstance(k, (frozenset, set)):
        return ("set",) + tuple(sorted((_canon(x) for x in k), key=repr))
    if isinstance(k, (tuple, list)):
        return tuple(_canon(x) for x in k)
    return k


def lock_names(case_id: str, variants: Iterable[str] | None = None) -> list[str]:
    """The locks of a case in declaration order, over its variants in order:
    the order :func:`labkit.render.style.style_table` colours them in, so one
    lock has one look in every variant."""
    case = get_case(case_id)
    out: dict[str, None] = {}
    for vid in variants or case.variant_ids:
        for l in case.program(vid).locks:
            out.setdefault(l.name, None)
    return list(out)


class _VariantExport:
    def __init__(self, prog: Program, texts: _Interner):
        self.prog = prog
        self.text = texts
        self.threads = _Interner()
        self.locktables = _Interner()
        self.data = _Interner()
        self.stacks = _Interner()
        self.findings = _Interner()
        self.fkeys = _Interner()
        self.steps = _Interner()
        self.sids: dict[State, int] = {}
        self.states: list = []
        self.next: list[list] = []

    # -- records -------------------------------------------------------------
    def finding(self, f: Finding, cycle=()) -> int:
        k = self.fkeys(_canon(f.key))
        rec = {"key": k, "kind": f.kind, "message": f.message, "cpus": list(f.cpus),
               "locks": list(f.locks), "cycle": [list(e) for e in cycle]}
        return self.findings(json.dumps(rec, sort_keys=True), rec)

    def state_record(self, s: State) -> list:
        prog = self.prog
        tids = []
        for c, th in enumerate(s.threads):
            stack = self.stacks(tuple(self.text(n) for n in stack_of(prog, s, c)))
            why = blocked_reason(prog, s, c)
            rec = (tuple((f, pc) for f, pc in th.frames), _STATUS[th.status],
                   tuple((l, _MODE[m]) for l, m in th.held), stack,
                   None if why is None else self.text(why))
            tids.append(self.threads(rec))
        lt = tuple((s.owner[l], tuple(s.readers[l]), tuple((c, _MODE[m]) for c, m in s.queue[l]))
                   for l in range(len(prog.locks)))
        data = (tuple(_jsonable(v) for v in s.vars), tuple(s.refs), tuple(_OBJ[o] for o in s.objs),
                bool(s.broken))
        fids = [self.finding(f, [[prog.cpu_index[w], prog.lock_index[l], prog.cpu_index[h]] for w, l, h in f.cycle])
                for f in state_findings(prog, s)]
        return tids + [self.locktables(lt), self.data(data), fids]

    def add_state(self, s: State) -> int:
        sid = self.sids.get(s)
        if sid is None:
            sid = self.sids[s] = len(self.states)
            self.states.append(self.state_record(s))
            self.next.append([None] * len(self.prog.cpus))
        return sid

    def add_edge(self, s: State, cpu: int) -> State:
        """Take ``cpu``'s step from ``s``, record it, return the next state."""
        prog = self.prog
        sid = self.add_state(s)
        out = apply(prog, s, cpu)
        nid = self.add_state(out.state)
        op_text = prog.functions[s.threads[cpu].frames[-1][0]].ops[s.threads[cpu].frames[-1][1]].text
        fids = [self.finding(f) for f in out.findings]
        detail = _jsonable(out.detail)
        rec = [cpu, self.text(op_text), out.event, detail, fids]
        step = self.steps(json.dumps(rec, sort_keys=True), rec)
        self.next[sid][cpu] = [nid, step]
        return out.state

    # -- static parts ----------------------------------------------------------
    def static(self) -> dict:
        prog = self.prog
        functions = [{"name": f.name, "via": list(f.via), "lines": [self.text(op.text) for op in f.ops],
                      "kinds": [op.kind for op in f.ops]}
                     for f in prog.functions]
        cpus = [{"name": c.name, "comm": c.comm, "pid": c.pid, "context": c.context,
                 "stack": list(c.stack), "entry": prog.func_index[c.entry],
                 "functions": [prog.func_index[f] for f in prog.reachable(c.entry)]} for c in prog.cpus]
        for c, rec in zip(prog.cpus, cpus):
            if c.host is not None:           # an interrupt handler: it runs on top of cpu "host"
                rec["host"], rec["irq"] = prog.cpu_index[c.host], c.irq
        locks = [{"name": l.name, "kind": l.kind, "cls": l.cls, "reader_pref": l.reader_pref}
                 for l in prog.locks]
        return {"cpus": cpus, "functions": functions, "locks": locks,
                "vars": [n for n, _ in prog.vars], "refs": [n for n, _ in prog.refs],
                "objects": [n for n, _ in prog.objects], "branch_vars": branch_vars(prog),
                "entries": entries(prog)}

    def tables(self) -> dict:
        return {"threads": [[[list(fr) for fr in t[0]], t[1], [list(h) for h in t[2]], t[3], t[4]]
                            for t in self.threads.items],
                "locktables": [[[o, list(r), [list(q) for q in qs]] for o, r, qs in lt]
                               for lt in self.locktables.items],
                "data": [[list(v), list(r), list(o), b] for v, r, o, b in self.data.items],
                "stacks": [list(s) for s in self.stacks.items],
                "states": self.states, "next": self.next, "steps": self.steps.items,
                "findings": self.findings.items}


def _stub(case, vid: str, max_states: int) -> dict:
    v = case.variant(vid)
    return {"id": v.id, "title": v.title, "expect": v.expect, "pending": True,
            "note": f"more than {max_states} states: explored when you open it"}


def _variant_json(case, vid: str, texts: _Interner, max_states: int, explore_seconds: float,
                  stub_if_large: bool = False) -> dict:
    prog = case.program(vid)
    v = case.variant(vid)
    ex = _VariantExport(prog, texts)
    g = explore(prog, keep_graph=True, reduction=False, max_states=max_states)
    if stub_if_large and not g.complete:
        return _stub(case, vid, max_states)
    serial = []
    n = len(prog.cpus)
    for r in range(n):
        order = [prog.cpu_names[(r + i) % n] for i in range(n)]
        sched = replay(prog, serial_schedule(prog, order)).schedule
        if sched not in serial:
            serial.append(sched)
    if g.complete:
        mode, res = "graph", g
        states, edges = g.graph["states"], g.graph["edges"]
        for s in states:          # explorer order: breadth first, deterministic
            ex.add_state(s)
        for sid, s in enumerate(states):
            for c, _nid in sorted(edges[sid]):
                ex.add_edge(s, c)
        note = None
    else:
        mode = "traces"
        res = explore(prog, max_seconds=explore_seconds)
        ex.add_state(initial_state(prog))
        traces = serial + [f.schedule for f in res.findings]
        for sched in traces:
            s = initial_state(prog)
            for name in sched.split():
                s = ex.add_edge(s, prog.cpu_id(name))
        note = (f"more than {max_states} states: "      # the stepper's states (res counts the explorer's, folded)
                f"too many to ship, so only the serial runs and the explorer's bug schedules "
                f"are precomputed ({len(ex.states)} states)")
    explored = {"states": res.states, "transitions": res.transitions, "complete": res.complete,
                "stopped": res.stopped}
    explorer_findings = [{"kind": f.kind, "message": f.message, "schedule": f.schedule, "step": f.step,
                          "cpus": list(f.cpus), "locks": list(f.locks)} for f in res.findings]
    out = {"id": v.id, "title": v.title, "expect": v.expect, "mode": mode, "note": note,
           "explored": explored, "explorer": explorer_findings, "serial": serial}
    out.update(ex.static())
    out.update(ex.tables())
    return out


def case_json(case_id: str, variants: Iterable[str] | None = None, max_states: int = DEFAULT_MAX_STATES,
              explore_seconds: float = 60.0, lazy: str | None = None) -> dict:
    """Everything the browser stepper needs for one case, as plain JSON data.

    Parameters
    ----------
    case_id : a case id (``"mm_iommu"``).
    variants : the variant ids to export, in order; ``None`` exports all.
    max_states : beyond this many states a variant ships only the states
        along its serial runs and its findings' shortest schedules.
    explore_seconds : time budget of the explorer that finds the bugs of
        a variant too large to ship whole.
    lazy : a variant id: build that one in full, and of the others only
        those small enough to ship whole; the rest are stubs (``"pending":
        true``) that :func:`variant_json` builds when they are opened (the
        notebook widget does this, so a large case shows up in seconds).
    """
    case = get_case(case_id)
    vids = list(variants) if variants is not None else list(case.variant_ids)
    for vid in vids:
        case.variant(vid)        # an unknown variant fails here, naming the known ones
    if lazy is not None and lazy not in vids:
        case.variant(lazy)
        vids.append(lazy)
    texts = _Interner()

    def fx(f):
        return None if f is None else f.to_json()      # a fix that was never merged says so here too

    out_variants = [_variant_json(case, vid, texts, max_states, explore_seconds,
                                  stub_if_large=lazy is not None and vid != lazy) for vid in vids]
    return {
        "format": FORMAT,
        "schema": SCHEMA,
        "case": {"id": case.id, "title": case.title, "summary": case.summary, "kind": case.kind,
                 "fix": fx(case.fix), "fixes": fx(case.fixes), "date": case.date,
                 "simplifications": case.simplifications},
        "lock_style": style_table(lock_names(case_id, vids)),
        "event_style": EVENT_STYLE,
        "finding_color": FINDING_COLOR,
        "max_states": max_states,
        "texts": texts.items,
        "variants": out_variants,
        "relations": variant_relations(case_id, vids),
    }


def variant_json(case_id: str, vid: str, max_states: int = DEFAULT_MAX_STATES,
                 explore_seconds: float = 60.0) -> dict:
    """One variant built in full, with its own ``texts``: what the widget sends
    when the learner opens a variant that :func:`case_json` left as a stub."""
    case = get_case(case_id)
    case.variant(vid)
    texts = _Interner()
    v = _variant_json(case, vid, texts, max_states, explore_seconds)
    return {"texts": texts.items, "variant": v}


# ---------------------------------------------------------------------------
# What the variant toggle needs to know: do two variants run the same threads,
# and which pseudo-C lines did the fix change?

def entries(prog: Program) -> list[list[str]]:
    """Each cpu's name and entry function: two variants with equal entries run
    the same threads, so one schedule means the same thing on both (the rule of
    :func:`labkit.lab.before_after_plan`)."""
    return [[c.name, c.entry] for c in prog.cpus]


def branch_vars(prog: Program) -> list[str]:
    """The shared variables the model branches on (:func:`labkit.render.events.branch_vars`),
    in declaration order: the ones whose writes can carry a bug."""
    from ..render.events import branch_vars as _read
    read = _read(prog)
    return [n for n, _ in prog.vars if n in read]


def _fn_diff(old: list[str], new: list[str]) -> tuple[list[int], list[list]]:
    """Lines of ``new`` that differ from ``old`` and, per place in ``new``, the lines dropped there."""
    import difflib
    changed, removed = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            changed.extend(range(j1, j2))
        if tag in ("replace", "delete"):
            removed.append([j1, old[i1:i2]])
    return changed, removed


def variant_relations(case_id: str, vids: Iterable[str] | None = None) -> dict:
    """For each ordered pair of variants (to, from): ``same_threads`` and the
    lines of ``to``'s functions that differ from ``from``'s (``changed``:
    function -> line indices; ``removed``: function -> [[index in to, [texts]]];
    ``new``: functions ``from`` does not have).

    >>> r = variant_relations("abba")
    >>> r["after"]["before"]["same_threads"], r["after"]["before"]["changed"]
    (True, {'path_two': [0, 3]})
    >>> r["after"]["before"]["removed"]      # B, A became A, B: a line moved is one removed, one added
    {'path_two': [[2, ['mutex_lock(&A);']], [5, ['mutex_unlock(&B);']]]}
    """
    case = get_case(case_id)
    vids = list(vids) if vids is not None else list(case.variant_ids)
    progs = {v: case.program(v) for v in vids}
    texts = {v: {f.name: [op.text for op in f.ops] for f in p.functions} for v, p in progs.items()}
    out: dict = {}
    for to in vids:
        rel = out[to] = {}
        for frm in vids:
            if frm == to:
                continue
            changed, removed, new = {}, {}, []
            for fn, lines in texts[to].items():
                if fn not in texts[frm]:
                    new.append(fn)
                    continue
                c, r = _fn_diff(texts[frm][fn], lines)
                if c:
                    changed[fn] = c
                if r:
                    removed[fn] = r
            rel[frm] = {"same_threads": entries(progs[to]) == entries(progs[frm]),
                        "changed": changed, "removed": removed, "new": new}
    return out


def case_json_text(case_id: str, variants: Iterable[str] | None = None,
                   max_states: int = DEFAULT_MAX_STATES) -> str:
    """:func:`case_json` serialised: sorted keys, no spaces (byte-for-byte deterministic)."""
    return json.dumps(case_json(case_id, variants, max_states), sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------
# The reference reading of the format (stepper.js does the same)

def _variant(data: dict, vid: str) -> dict:
    for v in data["variants"]:
        if v["id"] == vid:
            return v
    raise KeyError(f"variant {vid!r} not in the export ({', '.join(v['id'] for v in data['variants'])})")


def decode_state(data: dict, vid: str, sid: int) -> dict:
    """State ``sid`` of a variant as plain names: per cpu and per lock."""
    v = _variant(data, vid)
    T = data["texts"]
    st = v["states"][sid]
    ncpu = len(v["cpus"])
    cpus = {}
    for c in range(ncpu):
        frames, status, held, stack, why = v["threads"][st[c]]
        top = frames[-1] if frames else None
        cpus[v["cpus"][c]["name"]] = {
            "function": v["functions"][top[0]]["name"] if top else None,
            "line": top[1] if top else None,
            "text": T[v["functions"][top[0]]["lines"][top[1]]] if top else None,
            "frames": [(v["functions"][f]["name"], pc) for f, pc in frames],
            "stack": [T[i] for i in v["stacks"][stack]],
            "status": status,
            "held": [(v["locks"][l]["name"], m) for l, m in held],
            "why": None if why is None else T[why],
        }
    cname = [c["name"] for c in v["cpus"]]
    locks = {}
    for l, (owner, readers, queue) in enumerate(v["locktables"][st[ncpu]]):
        locks[v["locks"][l]["name"]] = {"owner": None if owner < 0 else cname[owner],
                                        "readers": [cname[c] for c in readers],
                                        "waiters": [(cname[c], m) for c, m in queue]}
    vars_, refs, objs, broken = v["data"][st[ncpu + 1]]
    return {"cpus": cpus, "locks": locks, "vars": dict(zip(v["vars"], vars_)),
            "refs": dict(zip(v["refs"], refs)), "objects": dict(zip(v["objects"], objs)),
            "broken": broken, "findings": [v["findings"][i] for i in st[ncpu + 2]]}


def walk(data: dict, vid: str, schedule: str | Iterable[str]) -> list[dict]:
    """Follow a schedule through the export, as the browser does.

    Returns one dict per step: ``cpu``, ``text``, ``event``, ``detail``,
    ``findings`` (those shown at that step), ``state`` (the id reached).
    Raises ``ValueError`` naming the step where the schedule leaves the export.
    """
    v = _variant(data, vid)
    names = {c["name"].upper(): i for i, c in enumerate(v["cpus"])}
    words = schedule.replace(",", " ").split() if isinstance(schedule, str) else list(schedule)
    sid, seen, out = 0, set(), []
    for i, w in enumerate(words):
        c = names.get(w.upper())
        if c is None:
            raise ValueError(f"step {i + 1}: no cpu named {w!r}")
        nxt = v["next"][sid][c]
        if nxt is None:
            why = v["threads"][v["states"][sid][c]][4]
            raise ValueError(f"step {i + 1}: {w} cannot run: "
                             f"{data['texts'][why] if why is not None else 'not precomputed'}")
        nid, step = nxt
        cpu, text, event, detail, fids = v["steps"][step]
        shown = list(fids) + [f for f in v["states"][nid][-1] if v["findings"][f]["key"] not in seen]
        seen.update(v["findings"][f]["key"] for f in shown)
        out.append({"cpu": v["cpus"][cpu]["name"], "text": data["texts"][text], "event": event,
                    "detail": detail, "findings": [v["findings"][f] for f in shown], "state": nid})
        sid = nid
    return out
