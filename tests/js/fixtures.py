"""The reference the front-end core is checked against (tests/js/*.test.mjs).

For every case: the stepper JSON the browser gets (:func:`case_json`), and,
per variant, what the Python engine says about a set of schedules — each
step's cpu, line, event, detail and findings (:func:`labkit.trace.replay`),
the lock intervals (:func:`labkit.render.timeline.lock_intervals`), the data
lanes and release spans (:mod:`labkit.render.events`) — plus how far one
variant's schedule replays on another that runs the same threads, and the
colours the static views compute. ``tests/test_stepper_js.py`` writes these
files and runs ``node --test tests/js/`` on them.

    python tests/js/fixtures.py OUTDIR [CASE ...]
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from labkit.cases import case_ids, get_case  # noqa: E402
from labkit.errors import LabError  # noqa: E402
from labkit.render.events import release_spans, state_lanes  # noqa: E402
from labkit.render.style import text_on  # noqa: E402
from labkit.render.svg import mix  # noqa: E402
from labkit.render.timeline import lock_intervals  # noqa: E402
from labkit.semantics import DONE, can_step  # noqa: E402
from labkit.stepper.export import case_json  # noqa: E402
from labkit.trace import replay  # noqa: E402

RANDOM_WALKS = 12
MAX_STEPS = 60


def _random_schedules(prog, n: int, seed: int) -> list[str]:
    """Seeded random complete runs (each step a random cpu that can step)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        names: list[str] = []
        t = replay(prog, "")
        state = t.final
        for _ in range(MAX_STEPS):
            ok = [c for c in range(len(prog.cpus)) if state.threads[c].status != DONE and can_step(prog, state, c)]
            if not ok:
                break
            names.append(prog.cpu_names[rng.choice(ok)])
            state = replay(prog, " ".join(names)).final
        out.append(" ".join(names))
    return out


def _json(v):
    return json.loads(json.dumps(v, default=str))


def _reference(prog, schedule: str) -> dict:
    t = replay(prog, schedule)
    steps = [{"cpu": s.cpu, "text": s.op.text, "event": s.event, "detail": _json(s.detail),
              "findings": [f.message for f in s.findings]} for s in t.steps]
    ivs = [f"{iv.kind}:{iv.cpu}:{iv.lock or ''}:{iv.start}:{'' if iv.end is None else iv.end}:{iv.level}"
           for iv in lock_intervals(t)]
    lanes = [{"kind": {"object": "obj"}.get(l.kind, l.kind), "name": l.name,
              "segments": [[a, b, _json(v)] for a, b, v in l.segments]} for l in state_lanes(t)]
    spans = [[s.cpu, s.function, s.start, s.end] for s in release_spans(t)]
    return {"schedule": t.schedule, "steps": steps, "intervals": ivs, "lanes": lanes, "spans": spans}


def _prefix_on(prog, names: list[str]) -> int:
    """How many steps of ``names`` replay on ``prog`` (the variant toggle's carry)."""
    n = 0
    for k in range(1, len(names) + 1):
        try:
            replay(prog, " ".join(names[:k]))
        except LabError:
            break
        n = k
    return n


def case_fixture(case_id: str) -> dict:
    case = get_case(case_id)
    data = case_json(case_id)
    out = {"case": case_id, "data": data, "variants": {}, "carry": [], "colours": []}
    for v in data["variants"]:
        prog = case.program(v["id"])
        scheds = list(v["serial"]) + [f["schedule"] for f in v["explorer"]]
        if v["mode"] == "graph":
            scheds += _random_schedules(prog, RANDOM_WALKS, seed=sum(map(ord, case_id + v["id"])))
        seen, refs = set(), []
        for s in scheds:
            if s and s not in seen:
                seen.add(s)
                refs.append(_reference(prog, s))
        # "CPU0*": each cpu as far as it goes, in turn, as replay expands it.
        star = " ".join(f"{c}*" for c in prog.cpu_names)
        out["variants"][v["id"]] = {"runs": refs, "star": [star, replay(prog, star).schedule]}
    ids = [v["id"] for v in data["variants"]]
    for frm in ids:
        fv = next(v for v in data["variants"] if v["id"] == frm)
        names = (fv["explorer"][0]["schedule"] if fv["explorer"] else fv["serial"][0]).split()
        for to in ids:
            if to != frm and data["relations"][to][frm]["same_threads"]:
                out["carry"].append([frm, to, names, _prefix_on(case.program(to), names)])
    for name, st in data["lock_style"].items():
        out["colours"].append([st["color"], text_on(st["color"]), mix(st["color"], "#000000", 0.45)])
    return out


def main(argv: list[str]) -> int:
    outdir = Path(argv[0])
    outdir.mkdir(parents=True, exist_ok=True)
    for cid in argv[1:] or case_ids():
        (outdir / f"{cid}.json").write_text(json.dumps(case_fixture(cid)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
