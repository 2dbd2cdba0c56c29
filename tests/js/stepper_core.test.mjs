// The stepper's core (the pure functions stepper.js exports) against the Python
// engine, on the exported JSON of every case: `node --test tests/js/`.
//
// The reference files come from tests/js/fixtures.py (tests/test_stepper_js.py
// writes them and sets LABKIT_FIXTURES); run alone, this makes them with the
// project's Python (LABKIT_PYTHON, default .venv/bin/python).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, mkdtempSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "..", "..");
// core.js is an ES module with no imports: load it as it is (it is a Python
// package file, so from its text rather than by path: no package.json needed).
const core = await import("data:text/javascript," + encodeURIComponent(readFileSync(join(REPO, "labkit", "stepper", "core.js"), "utf8")));

function fixtures() {
  let dir = process.env.LABKIT_FIXTURES;
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), "labkit-js-"));
    const py = process.env.LABKIT_PYTHON || join(REPO, ".venv", "bin", "python");
    const r = spawnSync(existsSync(py) ? py : "python3", [join(HERE, "fixtures.py"), dir], { encoding: "utf8" });
    if (r.status !== 0) throw new Error("tests/js/fixtures.py failed: " + r.stderr);
  }
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
}

const CASES = fixtures();

function cpuIndices(V, schedule) {
  const byName = new Map(V.cpus.map((c, i) => [c.name, i]));
  return schedule.split(/\s+/).filter((w) => w).map((w) => byName.get(w));
}

function textsOf(data, V) { return V.texts || data.texts; }

test("the fixtures cover every case", () => {
  assert.ok(CASES.length >= 5, `only ${CASES.length} cases`);
  for (const fx of CASES) assert.equal(fx.data.format, "labkit-stepper/1");
});

for (const fx of CASES) {
  const data = fx.data;
  test(`${fx.case}: walk, events and findings are the engine's replay`, () => {
    for (const V of data.variants) {
      const T = textsOf(data, V);
      for (const run of fx.variants[V.id].runs) {
        const where = `${fx.case}/${V.id} '${run.schedule}'`;
        const p = core.walk(V, cpuIndices(V, run.schedule));
        assert.equal(p.stop, null, where);
        assert.equal(p.steps.length, run.steps.length, where);
        run.steps.forEach((want, i) => {
          const [c, t, ev, detail] = V.steps[p.steps[i]];
          const at = `${where} step ${i + 1}`;
          assert.equal(V.cpus[c].name, want.cpu, at);
          assert.equal(T[t], want.text, at);
          assert.equal(ev, want.event, at);
          assert.deepEqual(detail, want.detail, at);
          assert.deepEqual(p.shown[i].map((f) => V.findings[f].message), want.findings, at);
          // Every event has words, and only a no-op line says it changes nothing.
          const words = core.eventWords(ev, detail, null);
          assert.ok(words && words.length > 2, at);
        });
      }
    }
  });

  test(`${fx.case}: parsing a schedule is replay's (names, commas, CPU0*, errors)`, () => {
    for (const V of data.variants) {
      const T = textsOf(data, V);
      const [star, expanded] = fx.variants[V.id].star;
      const p = core.parseSchedule(V, T, star);
      if (V.mode === "graph") {
        assert.equal(p.error, null, `${V.id} ${star}`);
        assert.deepEqual(p.cpus.map((c) => V.cpus[c].name).join(" "), expanded, `${V.id} ${star}`);
      }
      for (const run of fx.variants[V.id].runs) {
        const loose = run.schedule.toLowerCase().split(" ").join(", ");
        const q = core.parseSchedule(V, T, loose);
        assert.equal(q.error, null, `${V.id} ${loose}`);
        assert.equal(q.cpus.map((c) => V.cpus[c].name).join(" "), run.schedule);
      }
      const bad = core.parseSchedule(V, T, `${V.cpus[0].name} CPU9`);
      assert.match(bad.error, /^Entry 2 \('CPU9'\): no cpu named 'CPU9'/);
      assert.deepEqual(bad.cpus.length, 1);
    }
  });

  test(`${fx.case}: lock intervals are labkit.render.timeline.lock_intervals`, () => {
    for (const V of data.variants) {
      for (const run of fx.variants[V.id].runs) {
        const p = core.walk(V, cpuIndices(V, run.schedule));
        const got = core.lockIntervals(V, p.steps, p.steps.length).map((iv) => core.ivKeyText(iv, V));
        assert.deepEqual(got.sort(), run.intervals.slice().sort(), `${V.id} '${run.schedule}'`);
      }
    }
  });

  test(`${fx.case}: data lanes and release spans are labkit.render.events'`, () => {
    for (const V of data.variants) {
      for (const run of fx.variants[V.id].runs) {
        const where = `${V.id} '${run.schedule}'`;
        const p = core.walk(V, cpuIndices(V, run.schedule));
        const n = p.steps.length;
        const lanes = core.dataLanes(V, p.sids, p.steps, n);
        assert.deepEqual(lanes.map((l) => [l.kind, l.name]), run.lanes.map((l) => [l.kind, l.name]), where);
        lanes.forEach((lane, i) => {
          const want = run.lanes[i].segments.map(([a, b, v]) => [a, b === null ? n + 1 : b, v]);
          assert.deepEqual(lane.segs.map((s) => [s.from, s.to, s.value]), want, `${where} ${lane.name}`);
        });
        const spans = core.releaseSpans(V, p.sids, p.steps, n).map((s) => [V.cpus[s.cpu].name, s.release, s.start, s.end]);
        assert.deepEqual(spans, run.spans, where);
      }
    }
  });

  test(`${fx.case}: the variant toggle carries a schedule as far as replay runs it`, () => {
    for (const [frm, to, names, n] of fx.carry) {
      const V = data.variants.find((v) => v.id === to);
      const rel = data.relations[to][frm];
      const r = core.carrySchedule(V, textsOf(data, V), names, rel);
      assert.equal(r.sameThreads, true);
      if (V.mode === "graph") assert.equal(r.cpus.length, n, `${frm} -> ${to}`);
      else assert.ok(r.cpus.length <= n, `${frm} -> ${to}`);
      assert.equal(r.msg === null, r.cpus.length === names.length);
    }
    // Variants whose cpus run other functions: nothing is carried, and the words say which.
    for (const to of data.variants) {
      for (const from of data.variants) {
        if (to.id === from.id || data.relations[to.id][from.id].same_threads) continue;
        const r = core.carrySchedule(to, textsOf(data, to), ["CPU0"], data.relations[to.id][from.id]);
        assert.deepEqual([r.sameThreads, r.cpus], [false, []]);
        assert.ok(core.threadsDiffer(from, to).length > 0, `${from.id} -> ${to.id}`);
      }
    }
  });

  test(`${fx.case}: colours are the static views'`, () => {
    for (const [color, text, dark] of fx.colours) {
      assert.equal(core.textOn(color), text, color);
      assert.equal(core.mix(color, "#000000", 0.45).toUpperCase(), dark.toUpperCase(), color);
    }
  });
}

test("words: no-op lines say so; comment-only lines are recognised", () => {
  assert.match(core.eventWords("step", {}, "nop"), /no-op/);
  assert.equal(core.isNoOp("step", "nop"), true);
  assert.equal(core.isNoOp("call", "call"), false);
  assert.equal(core.isCommentOnly("  /* pin the pages */ "), true);
  assert.equal(core.isCommentOnly("kfree(m);  /* gone */"), false);
  assert.match(core.eventWords("release_call", { ref: "kvm->users_count", count: 0, release: "kvm_destroy_vm" }), /last reference.*kvm_destroy_vm\(\)/);
  assert.equal(core.eventWords("assign", { var: "zdev->s390_domain", value: null }), "sets zdev->s390_domain = NULL");
});

test("code text never breaks inside '->'", () => {
  assert.deepEqual(core.codeParts("zdev->s390_domain = NULL;"), ["zdev", "->", "s390_domain = NULL;"]);
});

for (const fx of CASES) {
  const data = fx.data;
  test(`${fx.case}: the state {variant, schedule, position} changes only as a learner can change it`, () => {
    for (const V of data.variants) {
      const T = core.textsOf(data, V);
      for (const run of fx.variants[V.id].runs) {
        const where = `${V.id} '${run.schedule}'`;
        // Open on the schedule, halfway.
        const half = Math.floor(run.steps.length / 2);
        const init = core.initialState(data, V.id, run.schedule, half);
        assert.equal(init.error, null, where);
        let st = init.state;
        assert.deepEqual([st.variant, st.position, st.schedule.length], [V.id, half, run.steps.length], where);
        // Back to the start, then click the schedule again step by step: the same schedule.
        st = core.goState(st, -5);
        assert.equal(st.position, 0);
        st = core.goState(st, 0);
        for (const name of run.schedule.split(" ")) {
          const c = V.cpus.findIndex((x) => x.name === name);
          const next = core.stepState(V, st, c);
          assert.notEqual(next, st, where);
          st = next;
        }
        assert.equal(st.schedule.map((c) => V.cpus[c].name).join(" "), run.schedule, where);
        // At the end of a complete run no cpu can step: the state stays the very same object.
        const p = core.walk(V, st.schedule);
        for (let c = 0; c < V.cpus.length; c++) {
          if (!V.next[p.sids[st.position]][c]) assert.equal(core.stepState(V, st, c), st, where);
        }
        // Back one step keeps the steps after the cursor; a bad jump leaves the state as it was.
        const back = core.goState(st, st.position - 1);
        assert.equal(back.schedule.length, st.schedule.length);
        const j = core.jumpState(V, T, back, "CPU9");
        assert.equal(j.state, back);
        assert.match(j.error, /no cpu named 'CPU9'/);
      }
      // The explorer's bugs, in turn.
      const bugs = V.explorer || [];
      if (bugs.length) {
        for (let i = 0; i < bugs.length + 1; i++) {
          const b = core.bugState(V, T, i);
          assert.equal(b.index, i % bugs.length);
          assert.equal(b.state.schedule.map((c) => V.cpus[c].name).join(" "), bugs[i % bugs.length].schedule);
        }
      } else {
        assert.equal(core.bugState(V, T, 0), null);
      }
    }
    for (const [frm, to, names, n] of fx.carry) {
      const st = core.initialState(data, frm, "", 0).state;
      const t = core.toggleState(data, st, names, to);
      assert.equal(t.state.variant, to);
      assert.deepEqual(t.state.carry, names);
      const V = data.variants.find((v) => v.id === to);
      if (V.mode === "graph") assert.equal(t.state.position, n, `${frm} -> ${to}`);
    }
  });
}
