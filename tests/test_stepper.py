"""The JSON shipped to the browser stepper says what the engine says.

For every small case, every schedule of its exported state graph is walked
to its end and compared, step by step, with :func:`labkit.trace.replay` of
that schedule: each cpu's line, call stack, status, held locks and why it
cannot step, the lock table, the data, and the findings shown. The walk is
:func:`labkit.stepper.export.walk`, the reference reading of the format
that ``stepper.js`` implements (the browser tests check the JS against it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from labkit.cases import case_ids, get_case
from labkit.errors import ScheduleError, UnknownName
from labkit.semantics import (DONE, READ, RUN, WAIT, blocked_reason, stack_of, state_findings)
from labkit.stepper.export import FORMAT, case_json, case_json_text, decode_state, walk
from labkit.trace import replay

REPO = Path(__file__).resolve().parent.parent
MAX_PATHS = 3_000         # beyond this many schedules, cover every (state, findings shown) edge
FULL_WALK = {"abba": 50_000, "rwsem_fairness": 50_000, "last_put": 50_000, "mm_iommu": 50_000}
SMALL = 3000              # graphs below this many states are checked schedule by schedule
_STATUS = {RUN: "run", WAIT: "wait", DONE: "done"}
_OBJ = ("unallocated", "alive", "freed")


# ---------------------------------------------------------------------------
# The engine's view of a state, written from the semantics (not from the export)

def engine_view(prog, s) -> dict:
    names = prog.cpu_names
    cpus = {}
    for c, th in enumerate(s.threads):
        top = th.frames[-1] if th.frames else None
        cpus[names[c]] = {
            "function": prog.functions[top[0]].name if top else None,
            "line": top[1] if top else None,
            "text": prog.functions[top[0]].ops[top[1]].text if top else None,
            "frames": [(prog.functions[f].name, pc) for f, pc in th.frames],
            "stack": list(stack_of(prog, s, c)),
            "status": _STATUS[th.status],
            "held": [(prog.locks[l].name, "r" if m == READ else "w") for l, m in th.held],
            "why": blocked_reason(prog, s, c),
        }
    locks = {}
    for i, l in enumerate(prog.locks):
        locks[l.name] = {"owner": None if s.owner[i] < 0 else names[s.owner[i]],
                         "readers": [names[c] for c in s.readers[i]],
                         "waiters": [(names[c], "r" if m == READ else "w") for c, m in s.queue[i]]}
    return {"cpus": cpus, "locks": locks,
            "vars": {n: (v if v is None or isinstance(v, (bool, int, float, str)) else str(v))
                     for (n, _), v in zip(prog.vars, s.vars)},
            "refs": {n: v for (n, _), v in zip(prog.refs, s.refs)},
            "objects": {n: _OBJ[v] for (n, _), v in zip(prog.objects, s.objs)},
            "broken": bool(s.broken),
            "findings": [_f(f) for f in state_findings(prog, s)]}


def _f(f) -> tuple:
    """A finding as the learner sees it (a Finding or an exported record)."""
    if isinstance(f, dict):
        return (f["kind"], f["message"], tuple(f["cpus"]), tuple(f["locks"]))
    return (f.kind, f.message, tuple(f.cpus), tuple(f.locks))


def _json_view(data, vid, sid) -> dict:
    d = decode_state(data, vid, sid)
    d["findings"] = [_f(f) for f in d["findings"]]
    return d


def check_steps(prog, data, vid, schedule: list[str], start: int = 0, verified=None) -> None:
    """The export walk of ``schedule`` equals ``replay`` of it, from step ``start`` on.

    ``verified`` (state id -> engine state) skips rebuilding the views of an
    exported state already found equal to the very same engine state.
    """
    verified = {} if verified is None else verified
    trace = replay(prog, " ".join(schedule))
    steps = walk(data, vid, schedule)
    assert len(steps) == len(trace.steps) == len(schedule)
    for i in range(start, len(schedule)):
        want, got = trace.steps[i], steps[i]
        where = f"{prog.case}/{vid} step {i + 1} of {' '.join(schedule)!r}"
        assert got["cpu"] == want.cpu, where
        assert got["text"] == want.op.text, where
        assert got["event"] == want.event, where
        assert got["detail"] == json.loads(json.dumps(want.detail, default=str)), where
        assert [_f(f) for f in got["findings"]] == [_f(f) for f in want.findings], where
        if verified.get(got["state"]) != want.after:
            assert _json_view(data, vid, got["state"]) == engine_view(prog, want.after), where
            verified[got["state"]] = want.after


def _export(case_id, vid, **kw):
    data = case_json(case_id, [vid], **kw)
    return data, data["variants"][0]


def _count_paths(v) -> int:
    """How many maximal schedules the graph has (10**9 if it has a cycle)."""
    memo: dict[int, int | None] = {}
    stack = [(0, False)]
    while stack:
        sid, done = stack.pop()
        nxt = [n[0] for n in v["next"][sid] if n]
        if done:
            counts = [memo[n] for n in nxt]
            if None in counts:       # a child still open: a cycle, unboundedly many schedules
                return 10**9
            memo[sid] = sum(counts) if nxt else 1
            continue
        if sid in memo:
            continue
        memo[sid] = None
        stack.append((sid, True))
        stack.extend((n, False) for n in nxt if n not in memo)
    return memo[0]


def _paths(v):
    """Every maximal schedule of the graph, in DFS order, with the step where
    it leaves the previous one (the shared prefix was already checked)."""
    ncpu = len(v["cpus"])
    names = [c["name"] for c in v["cpus"]]
    prev: list[str] = []
    stack = [(0, [])]
    while stack:
        sid, path = stack.pop()
        nxt = [(c, v["next"][sid][c][0]) for c in range(ncpu) if v["next"][sid][c]]
        if not nxt:
            common = 0
            while common < min(len(prev), len(path)) and prev[common] == path[common]:
                common += 1
            yield path, common
            prev = path
            continue
        for c, nid in reversed(nxt):
            stack.append((nid, path + [names[c]]))


def _product_edges(v):
    """One schedule per (state, findings already shown) node, and each edge out
    of it. The next step of a replay depends on nothing else, so covering these
    edges covers every schedule."""
    ncpu = len(v["cpus"])
    names = [c["name"] for c in v["cpus"]]
    start = (0, frozenset())
    rep = {start: []}
    q = deque([start])
    while q:
        node = q.popleft()
        sid, seen = node
        for c in range(ncpu):
            nx = v["next"][sid][c]
            if not nx:
                continue
            nid, step = nx
            shown = list(v["steps"][step][4]) + [f for f in v["states"][nid][-1]
                                                 if v["findings"][f]["key"] not in seen]
            nseen = seen | {v["findings"][f]["key"] for f in shown}
            path = rep[node] + [names[c]]
            yield path
            child = (nid, nseen)
            if child not in rep:
                rep[child] = path
                q.append(child)


def _graph_variants():
    out = []
    for cid in case_ids():
        for vid in get_case(cid).variant_ids:
            if cid == "philosophers" and vid[-1] in "5678":
                continue      # tens of thousands of states: the traces-mode test below
            out.append((cid, vid))
    return out


# ---------------------------------------------------------------------------

@pytest.mark.parametrize("case_id,vid", _graph_variants())
def test_every_schedule_matches_replay(case_id, vid):
    prog = get_case(case_id).program(vid)
    data, v = _export(case_id, vid)
    if v["mode"] == "traces":
        # A case too large to ship whole: its traces, edge by edge.
        for sched in v["serial"] + [f["schedule"] for f in v["explorer"]]:
            check_steps(prog, data, vid, sched.split())
        return
    assert len(v["states"]) == v["explored"]["states"]
    n = _count_paths(v) if len(v["states"]) < SMALL else 10**9
    checked, verified = 0, {}
    if n <= FULL_WALK.get(case_id, MAX_PATHS):
        for path, common in _paths(v):
            check_steps(prog, data, vid, path, start=common, verified=verified)
            checked += 1
        assert checked == n
    else:
        for path in _product_edges(v):
            check_steps(prog, data, vid, path, start=len(path) - 1, verified=verified)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("case_id,vid", _graph_variants())
def test_graph_is_complete_and_code_covers_every_frame(case_id, vid):
    """Every enabled step is there; every frame's line is in its cpu's code panel."""
    data, v = _export(case_id, vid)
    ncpu = len(v["cpus"])
    for sid, st in enumerate(v["states"]):
        for c in range(ncpu):
            frames, status, held, stack, why = v["threads"][st[c]]
            if v["mode"] == "graph":
                assert (v["next"][sid][c] is None) == (why is not None), (sid, c)
            for f, pc in frames:
                assert f in v["cpus"][c]["functions"], (v["functions"][f]["name"], v["cpus"][c]["name"])
                assert 0 <= pc < len(v["functions"][f]["lines"])


def test_deadlock_cycle_edges():
    data = case_json("mm_iommu", ["before"])
    v = data["variants"][0]
    bug = v["explorer"][0]
    assert bug["kind"] == "deadlock"
    steps = walk(data, "before", bug["schedule"])
    (f,) = steps[-1]["findings"]
    # The browser writes it "CPU0 → mem_list_mutex → CPU1 → mmap_sem → CPU0".
    text = [v["cpus"][f["cycle"][0][0]]["name"]]
    for w, l, h in f["cycle"]:
        text += [v["locks"][l]["name"], v["cpus"][h]["name"]]
    assert " → ".join(text) == "CPU0 → mem_list_mutex → CPU1 → mmap_sem → CPU0"
    # Every deadlock-cycle finding of every state chains waiter -> lock -> holder.
    for st in v["states"]:
        lt = v["locktables"][st[len(v["cpus"])]]
        for fid in st[-1]:
            f = v["findings"][fid]
            if f["kind"] != "deadlock" or f["message"].startswith("no cpu can run"):
                continue
            assert f["cycle"]
            for i, (w, l, h) in enumerate(f["cycle"]):
                owner, readers, queue = lt[l]
                assert w in [c for c, _ in queue]
                assert h == owner or h in readers or h in [c for c, _ in queue]
                assert f["cycle"][i - 1][2] == w


def test_traces_mode_philosophers_n6():
    prog = get_case("philosophers").program("n6")
    data, v = _export("philosophers", "n6", max_states=200)
    assert v["mode"] == "traces" and v["note"]
    assert len(v["serial"]) == 6
    # The explorer's bug: the shortest deadlock takes two steps per philosopher.
    assert [(f["kind"], len(f["schedule"].split())) for f in v["explorer"]] == [("deadlock", 12)]
    for sched in v["serial"] + [f["schedule"] for f in v["explorer"]]:
        check_steps(prog, data, "n6", sched.split())
    # Only the traces' steps are there ...
    on_traces = set()
    for sched in v["serial"] + [f["schedule"] for f in v["explorer"]]:
        sid = 0
        for name in sched.split():
            c = [x["name"] for x in v["cpus"]].index(name)
            on_traces.add((sid, c))
            sid = v["next"][sid][c][0]
    assert on_traces == {(sid, c) for sid, row in enumerate(v["next"]) for c, n in enumerate(row) if n}
    # ... and the other enabled steps are marked as not precomputed.
    off = [(sid, c) for sid, row in enumerate(v["next"]) for c, n in enumerate(row)
           if n is None and v["threads"][v["states"][sid][c]][4] is None]
    assert off, "some enabled steps are off the precomputed traces"
    with pytest.raises(ValueError, match="not precomputed"):
        sid, c = off[0]
        # A schedule to that state, then the step off the traces.
        path = _path_to(v, sid)
        walk(data, "n6", path + [v["cpus"][c]["name"]])


def _path_to(v, target):
    names = [c["name"] for c in v["cpus"]]
    prev = {0: None}
    q = deque([0])
    while q:
        sid = q.popleft()
        for c, n in enumerate(v["next"][sid]):
            if n and n[0] not in prev:
                prev[n[0]] = (sid, c)
                q.append(n[0])
    out = []
    while prev[target] is not None:
        target, c = prev[target]
        out.append(names[c])
    return out[::-1]


def test_export_is_deterministic():
    a = case_json_text("mm_iommu")
    assert a == case_json_text("mm_iommu")
    # ... across processes too (no set or dict order from hashing leaks out).
    code = ("import hashlib,sys; from labkit.stepper.export import case_json_text as j; "
            "print(hashlib.sha256((j('mm_iommu') + j('rwsem_fairness') + j('last_put')).encode()).hexdigest())")
    digests = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
    here = hashlib.sha256((a + case_json_text("rwsem_fairness") + case_json_text("last_put")).encode()).hexdigest()
    assert digests == {here}


def test_json_shape():
    data = case_json("mm_iommu")
    assert data["format"] == FORMAT
    assert list(data["lock_style"]) == ["mem_list_mutex", "mmap_sem"]
    assert data["lock_style"]["mem_list_mutex"]["pattern"] == "diag"
    v = {x["id"]: x for x in data["variants"]}
    assert {"before", "after"} <= set(v)
    assert v["before"]["explorer"][0]["kind"] == "deadlock" and v["after"]["explorer"] == []
    cpu0 = v["before"]["cpus"][0]
    assert cpu0["comm"] == "qemu-system-ppc" and "mmap" in cpu0["context"]
    fnames = [v["before"]["functions"][f]["name"] for f in cpu0["functions"]]
    assert fnames[0] == "vm_mmap_pgoff" and "mm_iommu_do_alloc" in fnames
    # Texts are interned: each pseudo-C line once.
    assert len(data["texts"]) == len(set(data["texts"]))
    # Release callbacks count as reachable code.
    lp = case_json("last_put", ["before"])["variants"][0]
    assert "obj_release" in [lp["functions"][f]["name"] for f in lp["cpus"][0]["functions"]]


def test_unknown_names():
    with pytest.raises(UnknownName):
        case_json("nope")
    with pytest.raises(UnknownName, match="variants: before, after"):
        case_json("abba", ["sideways"])


# ---------------------------------------------------------------------------
# The widget (no browser: its Python side)

def test_widget_traits_and_checks():
    pytest.importorskip("anywidget")
    from labkit.stepper import Stepper, stepper
    w = stepper("mm_iommu", "before")
    assert isinstance(w, Stepper)
    assert (w.variant, w.schedule, w.position) == ("before", "", 0)
    assert w.data["case"]["id"] == "mm_iommu"
    w = stepper("abba", schedule="CPU0* CPU1")
    assert w.schedule == "CPU0 CPU0 CPU0 CPU0 CPU0 CPU1" and w.position == 6
    w.position = 2
    assert w.shown == "CPU0 CPU0" and len(w.trace().steps) == 2
    w.goto("CPU0 CPU1 CPU0 CPU1")
    assert w.position == 4 and [f.kind for f in w.trace().findings] == ["deadlock"]
    assert stepper("rwsem_fairness").variant == "writer_pref"     # no "before": the first variant
    with pytest.raises(ScheduleError, match="entry 2"):
        stepper("abba", "before", "CPU0 CPU7")
    with pytest.raises(UnknownName):
        stepper("abba", "sideways")
    # The front end is inline: no imports, nothing from a URL.
    assert "export default" in w._esm
    assert not re.search(r"^\s*import\s", w._esm, re.M)
    assert not re.search(r"https?://", w._esm.replace("http://www.w3.org/2000/svg", ""))
    assert ".lk-stepper" in w._css


# ---------------------------------------------------------------------------
# The standalone page

def test_standalone_html_is_self_contained(tmp_path):
    from labkit.stepper.standalone import export_html
    path = export_html("mm_iommu", "before", tmp_path / "mm.html")
    text = path.read_text()
    # Nothing is loaded: no src=/href= to a URL, no <link>, no external script.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", text, re.I)
    assert not re.search(r"\bimport\s*\(|^\s*import\s", text, re.M)
    # The data is there and parses, and no inline text closes its script early.
    m = re.search(r'<script type="application/json" id="labkit-data">(.*?)</script>', text, re.S)
    data = json.loads(m.group(1))
    assert data["case"]["id"] == "mm_iommu"
    assert text.count("</script>") == 2
    # The command line: python -m labkit export.
    from labkit.cli import main
    out = tmp_path / "cli.html"
    assert main(["export", "abba", "--variant", "after", "--schedule", "CPU0 CPU1", "-o", str(out)]) == 0
    assert 'variant: "after", schedule: "CPU0 CPU1", position: 2' in out.read_text()
    assert main(["export", "abba", "--variant", "sideways", "-o", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "x.html").exists()
    assert main(["export", "abba", "--variant", "before", "--schedule", "CPU0 CPU9",
                 "-o", str(tmp_path / "y.html")]) == 2


# ---------------------------------------------------------------------------
# Issue 9: what the variant toggle and the lazy widget need from the export

def test_relations_same_threads_and_the_lines_the_fix_changed():
    from labkit.lab import _same_threads
    from labkit.stepper.export import variant_relations
    for cid in ("mm_iommu", "kvm_vfio", "hmm_release"):
        case = get_case(cid)
        rel = variant_relations(cid)
        for to in case.variant_ids:
            for frm in case.variant_ids:
                if to != frm:     # the rule of lab.before_after
                    assert rel[to][frm]["same_threads"] == _same_threads(case.program(frm), case.program(to))
    r = variant_relations("kvm_vfio")
    assert r["final"]["before"]["same_threads"] is False and r["final"]["after"]["same_threads"] is True
    # mm_iommu's fix moves the accounting before the mutex: changed lines point at real text.
    mm = variant_relations("mm_iommu")["after"]["before"]
    prog = get_case("mm_iommu").program("after")
    texts = [prog.function("mm_iommu_do_alloc").ops[i].text for i in mm["changed"]["mm_iommu_do_alloc"]]
    assert any("mutex_lock(&mem_list_mutex)" in t for t in texts)
    # The export carries them, with each line's op kind and the variables the code branches on.
    data = case_json("s390_release", ["before"])
    v = data["variants"][0]
    assert "zdev->s390_domain" in v["branch_vars"]
    kinds = {k for f in v["functions"] for k in f["kinds"]}
    assert {"mutex_lock", "assign"} <= kinds
    assert all(len(f["kinds"]) == len(f["lines"]) for f in v["functions"])


def test_widget_builds_large_variants_when_opened():
    pytest.importorskip("anywidget")
    from labkit.stepper import stepper
    w = stepper("philosophers", "n6")
    pending = [v["id"] for v in w.data["variants"] if v.get("pending")]
    assert "n6" not in pending and set(pending) == {"n5", "n7", "n8", "lefty5", "lefty6"}
    sent = []
    w.send = sent.append
    w._on_msg(w, {"type": "want", "variant": "n5"}, [])
    (msg,) = sent
    assert msg["type"] == "variant" and msg["id"] == "n5" and msg["variant"]["mode"] == "traces"
    # Its texts are its own: every text id it uses is in them.
    v = msg["variant"]
    assert max(i for f in v["functions"] for i in f["lines"]) < len(msg["texts"])
    # What the page walks for n5 is the engine's replay.
    prog = get_case("philosophers").program("n5")
    data = {"texts": msg["texts"], "variants": [v]}
    for sched in v["serial"] + [f["schedule"] for f in v["explorer"]]:
        check_steps(prog, data, "n5", sched.split())
    w._on_msg(w, {"type": "want", "variant": "n9"}, [])
    assert sent[-1]["type"] == "variant_error" and "n9" in sent[-1]["message"]
    w._on_msg(w, "noise", [])                  # anything else is ignored
    assert len(sent) == 2


def test_a_fix_never_merged_says_so_in_the_stepper_data_too():
    fix = case_json("s390_release")["case"]["fix"]
    assert fix["status"] == "proposed, not merged" and fix["commit"] is None
    assert fix == get_case("s390_release").to_json()["fix"]      # one JSON form of a fix
