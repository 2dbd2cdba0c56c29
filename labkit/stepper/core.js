// labkit stepper, the core: pure functions of the exported JSON, no DOM.
//
// The state of a stepper is {variant, schedule, position} (schedule: cpu
// indices, including steps undone with Back; position: how many are shown;
// carry: the cpu names a variant toggle came with). Every change is one of the
// state functions at the end, each returning a new state; everything else here
// reads the data: the walk (labkit.stepper.export.walk), schedule parsing
// (labkit.trace), lock intervals (labkit.render.timeline), the data lanes and
// release spans (labkit.render.events), event words, colours.
//
// An ES module of its own, so `node --test tests/js/` checks it against the
// Python engine on every case. The page and the notebook get it inlined in
// front of stepper.js (labkit/stepper/bundle.py): no build step, no imports,
// nothing from the network.

export const STATUS_LABEL = { run: "running", wait: "waiting", done: "finished" };
export const STATUS_GLYPH = { run: "▶", wait: "‖", done: "✓" };
export const KIND_LABEL = {
  deadlock: "Deadlock", use_after_free: "Use after free", double_free: "Double free",
  refcount: "Refcount bug", warn: "WARNING",
};
// Shapes of the data events on the timeline (labkit.render.style.EVENT_STYLE
// wins where it names the same event): a shape and a word, never colour alone.
export const DATA_EVENT_STYLE = {
  get: { marker: "^", label: "get" },
  put: { marker: "v", label: "put" },
  release_call: { marker: "v", label: "last put" },
  alloc: { marker: "o", label: "alloc" },
  free: { marker: "x", label: "kfree" },
  use: { marker: ".", label: "use" },
  assign: { marker: "D", label: "write" },
};

// Matplotlib marker codes of labkit.render.style, drawn in SVG (size r).
export function markerPath(m, x, y, r) {
  switch (m) {
    case "|": return `M${x},${y - r}V${y + r}`;
    case "x": return `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}`;
    case "X": {
      const a = r * 0.45;
      return `M${x - r},${y - r + a}L${x - r + a},${y - r}L${x},${y - a}L${x + r - a},${y - r}L${x + r},${y - r + a}` +
        `L${x + a},${y}L${x + r},${y + r - a}L${x + r - a},${y + r}L${x},${y + a}L${x - r + a},${y + r}` +
        `L${x - r},${y + r - a}L${x - a},${y}Z`;
    }
    case "^": return `M${x},${y - r}L${x + r},${y + r * 0.8}L${x - r},${y + r * 0.8}Z`;
    case "v": return `M${x},${y + r}L${x + r},${y - r * 0.8}L${x - r},${y - r * 0.8}Z`;
    case "*": {
      let d = "";
      for (let i = 0; i < 10; i++) {
        const rr = i % 2 ? r * 0.45 : r, a = -Math.PI / 2 + (i * Math.PI) / 5;
        d += (i ? "L" : "M") + (x + rr * Math.cos(a)).toFixed(2) + "," + (y + rr * Math.sin(a)).toFixed(2);
      }
      return d + "Z";
    }
    case "s": return `M${x - r},${y - r}H${x + r}V${y + r}H${x - r}Z`;
    case "D": return `M${x},${y - r}L${x + r},${y}L${x},${y + r}L${x - r},${y}Z`;
    case "P": { const a = r * 0.35; return `M${x - a},${y - r}H${x + a}V${y - a}H${x + r}V${y + a}H${x + a}V${y + r}H${x - a}V${y + a}H${x - r}V${y - a}H${x - a}Z`; }
    case ".": { const q = r * 0.5; return `M${x - q},${y}a${q},${q} 0 1,0 ${2 * q},0a${q},${q} 0 1,0 ${-2 * q},0`; }
    default: return `M${x - r},${y}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`;
  }
}
export const FILLED = { "X": 1, "^": 0, "*": 1, "s": 1, "D": 0, "o": 0, "v": 0, ".": 1, "P": 1 };

// The style of a data event: labkit.render.style.EVENT_STYLE where it has one
// (its "last_put" is the engine's "release_call"), else DATA_EVENT_STYLE.
export function dataEventStyle(eventStyle, ev) {
  const own = DATA_EVENT_STYLE[ev] || { marker: "o", label: ev };
  const py = eventStyle && eventStyle[ev === "release_call" ? "last_put" : ev];
  if (!py) return { marker: own.marker, label: own.label, filled: !!FILLED[own.marker] || ev === "release_call" };
  return { marker: py.marker, label: py.label || own.label, filled: py.hollow ? false : ev !== "get" && ev !== "put" };
}

export function modeWord(m) { return m === "r" || m === 1 ? "read" : "write"; }

// A pseudo-C line that is only a comment ("/* pin the pages */").
export function isCommentOnly(text) {
  const t = String(text || "").trim();
  return /^\/\*[\s\S]*\*\/$/.test(t) || t.startsWith("//");
}

// What a step did, in words (the step's event and detail from the engine;
// `kind` is the op's kind, for steps whose event says only "step").
export function eventWords(ev, d, kind) {
  switch (ev) {
    case "acquire": return `takes ${d.lock} (${modeWord(d.mode)})`;
    case "block": return `blocks: waits for ${d.lock} (${modeWord(d.mode)})`;
    case "release": return `releases ${d.lock}`;
    case "trylock": return `trylock ${d.lock}: ${d.ok ? "got it" : "failed"}`;
    case "release_call": return `drops the last reference on ${d.ref} (now ${d.count}): runs its release, ${d.release}()`;
    case "put": return `drops a reference on ${d.ref} (now ${d.count})`;
    case "get": return d.ok === false ? `fails to take a reference on ${d.ref} (it is zero)` : `takes a reference on ${d.ref} (now ${d.count})`;
    case "alloc": return `allocates ${d.object}`;
    case "free": return `frees ${d.object}`;
    case "use": return `uses ${d.object}`;
    case "assign": return `sets ${d.var} = ${valueText(d.value)}`;
    case "branch": return d.taken ? "branches (condition true)" : "goes on (condition false)";
    case "call": return `calls ${d.function}()`;
    case "return": return "returns";
    case "sleep": return `sleeps until ${d.cond}`;
    case "wake": return `wakes up: ${d.cond}`;
    case "warn": return "hits a WARN_ON";
    default:
      if (kind === "nop") return "runs a no-op line";
      if (kind === "let") return "computes a value of its own (nothing shared changes)";
      if (kind === "goto") return "jumps";
      if (kind === "warn_on") return "checks a WARN_ON: the condition is false, no warning";
      return "runs";
  }
}

// Does a step change nothing shared (a no-op for the model)?
export function isNoOp(ev, kind) { return ev === "step" && (kind === "nop" || kind === "goto"); }

export function valueText(v) {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

// Follow the cpu indices `cpus` from state 0; stop where one cannot step.
// The same reading as labkit.stepper.export.walk().
export function walk(V, cpus) {
  const ncpu = V.cpus.length;
  const sids = [0], steps = [], shown = [], seen = new Set();
  let stop = null;
  for (let i = 0; i < cpus.length; i++) {
    const sid = sids[i], c = cpus[i];
    const nx = c < ncpu ? V.next[sid][c] : null;
    if (!nx) { stop = { index: i, cpu: c }; break; }
    const [nid, stepId] = nx;
    const st = V.steps[stepId];
    const fresh = st[4].slice();
    for (const f of V.states[nid][ncpu + 2]) if (!seen.has(V.findings[f].key)) fresh.push(f);
    for (const f of fresh) seen.add(V.findings[f].key);
    sids.push(nid); steps.push(stepId); shown.push(fresh);
  }
  return { sids, steps, shown, stop };
}

// Why cpu c cannot step from state sid (null when it can).
export function blocker(V, T, sid, c, long = false) {
  if (V.next[sid][c]) return null;
  const why = V.threads[V.states[sid][c]][4];
  if (why !== null) return T[why];
  return long
    ? `not precomputed: '${V.id}' has too many states to ship them all, so only its serial runs ` +
      `and the explorer's bug schedules can be stepped here (try "Show me a bug")`
    : "not precomputed: off the shipped runs of this variant (see above)";
}

// "CPU0 cpu1, CPU0*" -> cpu indices, as labkit.trace.parse_schedule + replay.
export function parseSchedule(V, T, text) {
  const words = String(text).replace(/,/g, " ").split(/\s+/).filter((w) => w);
  const byName = new Map(V.cpus.map((c, i) => [c.name.toUpperCase(), i]));
  const cpus = [];
  let sid = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const star = w.endsWith("*");
    const name = star ? w.slice(0, -1) : w;
    const c = byName.get(name.toUpperCase());
    if (c === undefined) {
      return { cpus, error: `Entry ${i + 1} ('${w}'): no cpu named '${name}' in '${V.id}' (cpus: ${V.cpus.map((x) => x.name).join(", ")}).` };
    }
    if (star) {
      while (V.next[sid][c]) { cpus.push(c); sid = V.next[sid][c][0]; }
      continue;
    }
    const why = blocker(V, T, sid, c, true);
    if (why) {
      return { cpus, error: `Step ${cpus.length + 1} (entry ${i + 1}, '${w}'): ${V.cpus[c].name} cannot run: ${why}.` };
    }
    cpus.push(c);
    sid = V.next[sid][c][0];
  }
  return { cpus, error: null };
}

// Holds, waits and sleeps of the steps taken: labkit.render.timeline.lock_intervals().
export function lockIntervals(V, stepIds, n) {
  const out = [];
  const open = V.cpus.map(() => []);
  const used = V.cpus.map(() => new Set());
  const start = (c, kind, lock, mode, k, level) => {
    if (level === null || level === undefined) { level = 0; while (used[c].has(level)) level++; }
    used[c].add(level);
    const iv = { cpu: c, kind, lock, mode, start: k, end: null, level };
    out.push(iv);
    open[c].push(iv);
    return iv;
  };
  const close = (iv, k, freeRow = true) => {
    iv.end = k;
    open[iv.cpu].splice(open[iv.cpu].indexOf(iv), 1);
    if (freeRow) used[iv.cpu].delete(iv.level);
  };
  for (let k = 1; k <= n; k++) {
    const [c, , ev, d] = V.steps[stepIds[k - 1]];
    if (ev === "block") start(c, "wait", d.lock, d.mode, k);
    else if (ev === "sleep") start(c, "sleep", null, 0, k).cond = d.cond || "";
    else if (ev === "wake") {
      const iv = open[c].find((x) => x.kind === "sleep");
      if (iv) close(iv, k);
    } else if (ev === "acquire" || (ev === "trylock" && d.ok)) {
      let level = null;
      const iv = open[c].find((x) => x.kind === "wait" && x.lock === d.lock);
      if (iv) { level = iv.level; close(iv, k, false); }
      start(c, "hold", d.lock, d.mode, k, level);
    } else if (ev === "release") {
      for (let i = open[c].length - 1; i >= 0; i--) {
        const x = open[c][i];
        if (x.kind === "hold" && x.lock === d.lock && x.mode === d.mode) { close(x, k); break; }
      }
    }
  }
  for (const iv of out) {
    const r = iv.mode === 1 ? " (read)" : "";
    iv.label = iv.kind === "hold" ? iv.lock + r : iv.kind === "wait" ? "waits for " + iv.lock + r : "sleeps: " + iv.cond;
  }
  return out;
}

// "kind:cpu:lock:start:end:level", as labkit.render.timeline.Interval (end "" when open).
export function ivKeyText(iv, V) {
  return `${iv.kind}:${V.cpus[iv.cpu].name}:${iv.lock === null ? "" : iv.lock}:${iv.start}:${iv.end === null ? "" : iv.end}:${iv.level}`;
}

// The releases run by a last put, in the putter's context: from the put's step
// to the step after which the putter is back in the frame that put.
export function releaseSpans(V, sids, stepIds, n) {
  const ncpu = V.cpus.length, out = [];
  const depth = (sid, c) => V.threads[V.states[sid][c]][0].length;
  for (let k = 1; k <= n; k++) {
    const [c, , ev, d] = V.steps[stepIds[k - 1]];
    if (ev !== "release_call") continue;
    const base = depth(sids[k - 1], c);
    let end = null;
    for (let j = k + 1; j <= n; j++) {
      if (V.steps[stepIds[j - 1]][0] === c && depth(sids[j], c) <= base) { end = j; break; }
    }
    out.push({ cpu: c, start: k, end, ref: d.ref, release: d.release, count: d.count });
  }
  return out.filter((s) => s.cpu < ncpu);
}

// What carries a bug besides locks: per refcount, object and shared variable
// the schedule touches, its value along the steps and who changed it when.
// Lanes span the whole schedule (steps 0..n), so moving the cursor never moves them.
export function dataLanes(V, sids, stepIds, n) {
  const ncpu = V.cpus.length;
  const dataAt = (k) => V.data[V.states[sids[k]][ncpu + 1]];
  const touched = { ref: new Map(), obj: new Map(), var: new Map() };
  const note = (kind, name, mark) => {
    if (!touched[kind].has(name)) touched[kind].set(name, []);
    touched[kind].get(name).push(mark);
  };
  const branch = new Set(V.branch_vars || V.vars);
  for (let k = 1; k <= n; k++) {
    const [c, , ev, d] = V.steps[stepIds[k - 1]];
    if (ev === "get" || ev === "put" || ev === "release_call") note("ref", d.ref, { k, cpu: c, ev, count: d.count, ok: d.ok, release: d.release });
    else if (ev === "alloc" || ev === "free" || ev === "use") note("obj", d.object, { k, cpu: c, ev });
    else if (ev === "assign" && branch.has(d.var)) note("var", d.var, { k, cpu: c, ev, value: d.value });
  }
  const lanes = [];
  const segments = (get) => {
    const segs = [];
    for (let k = 0; k <= n; k++) {
      const v = get(dataAt(k));
      const last = segs[segs.length - 1];
      if (last && JSON.stringify(last.value) === JSON.stringify(v)) last.to = k + 1;
      else segs.push({ from: k, to: k + 1, value: v });
    }
    return segs;
  };
  V.refs.forEach((name, i) => {
    if (touched.ref.has(name)) lanes.push({ kind: "ref", name, marks: touched.ref.get(name), segs: segments((d) => d[1][i]) });
  });
  V.objects.forEach((name, i) => {
    if (touched.obj.has(name)) lanes.push({ kind: "obj", name, marks: touched.obj.get(name), segs: segments((d) => d[2][i]) });
  });
  V.vars.forEach((name, i) => {
    if (touched.var.has(name)) lanes.push({ kind: "var", name, marks: touched.var.get(name), segs: segments((d) => d[0][i]) });
  });
  return lanes;
}

// The data events of the steps (get, put, last put, alloc, free, use, writes of
// the variables the model branches on): [{k, cpu, ev, word, title}].
export function dataEvents(V, stepIds, n) {
  const branch = new Set(V.branch_vars || V.vars);
  const out = [];
  for (let k = 1; k <= n; k++) {
    const [c, , ev, d] = V.steps[stepIds[k - 1]];
    let word = null;
    if (ev === "get") word = d.ok === false ? `get ${d.ref} fails` : `get → ${d.count}`;
    else if (ev === "put") word = `put → ${d.count}`;
    else if (ev === "release_call") word = `last put → ${d.count}: ${d.release}()`;
    else if (ev === "alloc") word = `alloc ${d.object}`;
    else if (ev === "free") word = `kfree ${d.object}`;
    else if (ev === "use") word = `use ${d.object}`;
    else if (ev === "assign" && branch.has(d.var)) word = `${d.var} = ${valueText(d.value)}`;
    if (word !== null) out.push({ k, cpu: c, ev, word, title: `step ${k}: ${V.cpus[c].name} ${eventWords(ev, d)}` });
  }
  return out;
}

// The variant toggle: which steps of `names` (cpu names) run on variant `to`.
// Where `to`'s cpus run other entry functions than `from`'s, the schedule
// means nothing there: it is not replayed (sameThreads false).
export function carrySchedule(to, T, names, relation) {
  const sameThreads = !relation || relation.same_threads;
  if (!sameThreads) return { cpus: [], msg: null, sameThreads };
  const byName = new Map(to.cpus.map((c, i) => [c.name, i]));
  const cpus = [];
  let msg = null, sid = 0;
  for (let i = 0; i < names.length; i++) {
    const c = byName.get(names[i]);
    if (c === undefined) { msg = `at step ${i + 1} ${names[i]} does not exist in '${to.id}'`; break; }
    const why = blocker(to, T, sid, c, true);
    if (why) { msg = `at step ${i + 1} ${names[i]} cannot run: ${why}`; break; }
    cpus.push(c);
    sid = to.next[sid][c][0];
  }
  return { cpus, msg, sameThreads };
}

// Which entry functions differ between two variants, in words.
export function threadsDiffer(from, to) {
  const fname = (V, c) => V.functions[c.entry].name;
  const parts = [];
  const n = Math.max(from.cpus.length, to.cpus.length);
  for (let i = 0; i < n; i++) {
    const a = from.cpus[i], b = to.cpus[i];
    if (!a) parts.push(`${b.name} runs ${fname(to, b)}() only here`);
    else if (!b) parts.push(`${a.name} does not run here`);
    else if (a.name !== b.name || fname(from, a) !== fname(to, b)) parts.push(`${b.name} runs ${fname(to, b)}() here, ${fname(from, a)}() in '${from.id}'`);
  }
  return parts.join("; ");
}

// Colours, as labkit/render/timeline.py and graphs.py compute them.
export function hex2rgb(c) { return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)); }
// Python's round(): halves go to the even neighbour (so mix() matches labkit.render.svg.mix).
export function roundEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
export function mix(color, other, t) {
  const a = hex2rgb(color), b = hex2rgb(other);
  return "#" + a.map((x, i) => roundEven(x + (b[i] - x) * t).toString(16).padStart(2, "0").toUpperCase()).join("");
}
export function luminance(color) {
  const lin = hex2rgb(color).map((v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}
export function textOn(color) {
  const lum = luminance(color);
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#111111" : "#FFFFFF";
}

// Code text split where a name may break: after "->", ".", ", " and spaces,
// never inside a name ("zdev->s390_domain" breaks after "->" or not at all).
export function codeParts(text) {
  return String(text).split(/(->)/).filter((p) => p !== "");
}

// ---------------------------------------------------------------------------
// The state and its changes.

export function textsOf(data, V) { return V.texts || data.texts; }

// A variant by id (a stub not built yet does not count), else the first built one.
export function variantOf(data, vid) {
  return data.variants.find((v) => v.id === vid && !v.pending) || data.variants.find((v) => !v.pending);
}

function clamp(x, lo, hi) { return Math.max(lo, Math.min(hi, x)); }

// The state a view opens on: `schedule` parsed ("CPU0*" expanded), `position`
// clamped (null: the whole schedule). `error` names the entry that failed.
export function initialState(data, vid, schedule, position) {
  const V = variantOf(data, vid);
  const p = parseSchedule(V, textsOf(data, V), schedule || "");
  const pos = position === null || position === undefined ? p.cpus.length : clamp(position, 0, p.cpus.length);
  return { state: { variant: V.id, schedule: p.cpus, position: pos, carry: null }, error: p.error };
}

// Run cpu c's next line: the steps after the cursor are dropped. Unchanged if c cannot step.
export function stepState(V, st, c, sid = walk(V, st.schedule).sids[st.position]) {
  if (!V.next[sid] || !V.next[sid][c]) return st;
  return { variant: st.variant, schedule: st.schedule.slice(0, st.position).concat([c]), position: st.position + 1, carry: null };
}

// Move the cursor (Back, Forward, the slider, Home, End, a click on the timeline).
export function goState(st, p) {
  const pos = clamp(p, 0, st.schedule.length);
  return pos === st.position ? st : Object.assign({}, st, { position: pos });
}

// A typed or pasted schedule: the new state, or the old one and the error.
export function jumpState(V, T, st, text) {
  const p = parseSchedule(V, T, text);
  if (p.error) return { state: st, error: p.error };
  return { state: { variant: V.id, schedule: p.cpus, position: p.cpus.length, carry: null }, error: null };
}

// The explorer's bug number `index` (of V.explorer) as the state.
export function bugState(V, T, index) {
  const bugs = V.explorer || [];
  if (!bugs.length) return null;
  const i = ((index % bugs.length) + bugs.length) % bugs.length;
  const p = parseSchedule(V, T, bugs[i].schedule);
  return { state: { variant: V.id, schedule: p.cpus, position: p.cpus.length, carry: null }, error: p.error, index: i, bug: bugs[i] };
}

// To another variant, with the cpu names of the steps shown (or those a
// previous toggle carried): replayed as far as they run where the threads
// are the same; not at all where they differ (see carrySchedule).
export function toggleState(data, st, names, toVid) {
  const from = st.variant;
  const to = data.variants.find((v) => v.id === toVid);
  const rel = data.relations && data.relations[toVid] && data.relations[toVid][from];
  const r = carrySchedule(to, textsOf(data, to), names, rel);
  return { state: { variant: toVid, schedule: r.cpus, position: r.cpus.length, carry: names }, carried: r };
}
