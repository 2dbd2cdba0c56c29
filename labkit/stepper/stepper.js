// labkit stepper: the learner schedules the cpus, one step per click.
//
// Python precomputed every state (labkit/stepper/export.py); this file only
// looks them up, so it keeps working with no kernel (Voila, a static HTML
// file, a notebook whose kernel died). Plain modern JS: no framework, no
// build, no imports, nothing loaded from the network.
//
// Used two ways: as an anywidget module (`export default {render}`), and
// inlined into the standalone HTML, whose bootstrap calls `render()` with a
// small stand-in for the widget model.

const SVGNS = "http://www.w3.org/2000/svg"; // an XML namespace name, never fetched
let instances = 0;

const STATUS_LABEL = { run: "running", wait: "waiting", done: "finished" };
const STATUS_GLYPH = { run: "▶", wait: "‖", done: "✓" };
const KIND_LABEL = {
  deadlock: "Deadlock", use_after_free: "Use after free", double_free: "Double free",
  refcount: "Refcount bug", warn: "WARNING",
};
// Matplotlib marker codes of labkit.render.style, drawn in SVG (size r).
function markerPath(m, x, y, r) {
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
    default: return `M${x - r},${y}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`;
  }
}
const FILLED = { "X": 1, "^": 1, "*": 1, "s": 1, "D": 1, "o": 1 };

// The svg patterns of labkit.render.style.SVG_PATTERNS, in a 6x6 tile.
const PATTERN_INK = {
  diag: '<path d="M-1,1l2,-2M0,6l6,-6M5,7l2,-2"/>',
  rdiag: '<path d="M-1,5l2,2M0,0l6,6M5,-1l2,2"/>',
  cross: '<path d="M0,6l6,-6M0,0l6,6"/>',
  dots: '<circle cx="3" cy="3" r="1.1" class="ink"/>',
  rings: '<circle cx="3" cy="3" r="1.8" fill="none"/>',
  horiz: '<path d="M0,3H6"/>',
  plus: '<path d="M3,1V5M1,3H5"/>',
  stars: '<path d="M3,0.8V5.2M0.8,3H5.2M1.4,1.4L4.6,4.6M4.6,1.4L1.4,4.6"/>',
};

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function modeWord(m) { return m === "r" ? "read" : "write"; }

// ---------------------------------------------------------------------------
// The reading of the JSON: the same as labkit.stepper.export.walk().

function walk(V, cpus) {
  // Follow the cpu indices `cpus` from state 0; stop where one cannot step.
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

class StepperView {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.uid = "lkst" + (++instances) + "-" + Math.random().toString(36).slice(2, 8);
    this.sched = [];      // cpu indices of the learner's schedule (incl. forward history)
    this.pos = 0;         // how many of them are shown
    this.carry = null;    // the schedule as it was before a variant toggle
    this.bugIndex = -1;
    this.synced = { schedule: null, position: null, variant: null };
    this.pulling = false;
    this.handlers = [];
    this.marked = [];
    this.lastBanner = "";
    this.pending = false;
    const onChange = () => {
      if (this.pushing || this.pending) return;
      this.pending = true;
      queueMicrotask(() => { this.pending = false; this.pull(); });
    };
    for (const name of ["schedule", "position", "variant"]) {
      model.on("change:" + name, onChange);
      this.handlers.push(["change:" + name, onChange]);
    }
    const onData = () => this.load(model.get("data"));
    model.on("change:data", onData);
    this.handlers.push(["change:data", onData]);
    this.load(model.get("data"));
  }

  destroy() {
    for (const [ev, fn] of this.handlers) { try { this.model.off(ev, fn); } catch (e) { /* no kernel */ } }
    this.el.textContent = "";
  }

  // -- model sync ----------------------------------------------------------
  push() {
    const schedule = this.names(this.sched).join(" ");
    const vals = { schedule, position: this.pos, variant: this.V.id };
    this.pushing = true;
    try {
      for (const [k, v] of Object.entries(vals)) {
        if (this.model.get(k) !== v) this.model.set(k, v);
      }
      this.synced = vals;
      try { this.model.save_changes(); } catch (e) { /* no kernel: keep stepping */ }
    } finally {
      this.pushing = false;
    }
  }

  pull() {
    // Python moved the view: variant, schedule and/or position.
    const m = this.model;
    const vid = m.get("variant") || this.data.variants[0].id;
    const sched = m.get("schedule") || "";
    const pos = m.get("position");
    const s = this.synced;
    if (vid === s.variant && sched === s.schedule && pos === s.position) return;
    if (vid !== (this.V && this.V.id)) {
      const V = this.data.variants.find((v) => v.id === vid);
      if (!V) { this.note(`No variant '${vid}' here (variants: ${this.data.variants.map((v) => v.id).join(", ")}).`); this.push(); return; }
      this.useVariant(V);
    }
    const p = this.parse(sched);
    this.carry = null;
    this.sched = p.cpus;
    const posChanged = pos !== s.position;
    this.pos = Math.max(0, Math.min(this.sched.length, (sched !== s.schedule && !posChanged) || pos == null ? this.sched.length : pos));
    this.showError(p.error);
    this.update();
    this.push();
  }

  // -- data ------------------------------------------------------------------
  load(data) {
    this.data = data;
    this.T = data.texts;
    this.el.textContent = "";
    if (!data || !data.variants || !data.variants.length) {
      this.el.append(h("div", { class: "lk-stepper", text: "No stepper data." }));
      return;
    }
    const vid = this.model.get("variant");
    const V = data.variants.find((v) => v.id === vid) || data.variants[0];
    this.buildShell();
    this.useVariant(V);
    const p = this.parse(this.model.get("schedule") || "");
    this.sched = p.cpus;
    const pos = this.model.get("position");
    this.pos = Math.max(0, Math.min(this.sched.length, pos == null ? this.sched.length : pos));
    this.showError(p.error);
    this.update();
    this.synced = { schedule: this.model.get("schedule"), position: this.model.get("position"), variant: this.model.get("variant") };
    if (p.error || this.synced.variant !== V.id || this.synced.position !== this.pos) this.push();
  }

  names(cpus) { return cpus.map((c) => this.V.cpus[c].name); }

  // Why cpu c cannot step from state sid (null when it can).
  blocker(sid, c) {
    const V = this.V;
    if (V.next[sid][c]) return null;
    const why = V.threads[V.states[sid][c]][4];
    if (why !== null) return this.T[why];
    return `not precomputed: '${V.id}' has too many states to ship them all, so only the serial runs ` +
      `and the explorer's bug schedules can be stepped here (use "Show me a bug", or a schedule from ` +
      `labkit.explore in Python)`;
  }

  // "CPU0 cpu1, CPU0*" -> cpu indices, as labkit.trace.parse_schedule + replay.
  parse(text) {
    const V = this.V;
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
      const why = this.blocker(sid, c);
      if (why) {
        return { cpus, error: `Step ${cpus.length + 1} (entry ${i + 1}, '${w}'): ${V.cpus[c].name} cannot run: ${why}.` };
      }
      cpus.push(c);
      sid = V.next[sid][c][0];
    }
    return { cpus, error: null };
  }

  // -- the static skeleton -----------------------------------------------------
  buildShell() {
    const d = this.data, uid = this.uid;
    const root = h("div", {
      class: "lk-stepper", tabindex: "0", role: "group",
      "aria-label": `Stepper: ${d.case.title}`,
      "data-lm-suppress-shortcuts": "true",
      onkeydown: (e) => this.onKey(e),
    });
    this.root = root;
    root._labkit = this;   // test hook: el.querySelector('.lk-stepper')._labkit

    const defs = h("div", { class: "lk-defs", "aria-hidden": "true" });
    defs.innerHTML = `<svg width="0" height="0" style="position:absolute"><defs>${this.patternDefs()}</defs></svg>`;
    root.append(defs);

    // Header: case, variants, bug, reset.
    const head = h("div", { class: "lk-head" },
      h("div", { class: "lk-title" },
        h("strong", { text: d.case.title }),
        h("span", { class: "lk-summary", text: d.case.summary || "" })));
    this.variantBar = h("div", { class: "lk-variants", role: "group", "aria-label": "Variant (version of the code)" });
    this.variantButtons = {};
    for (const v of d.variants) {
      const b = h("button", {
        type: "button", class: "lk-btn lk-variant", "aria-pressed": "false", title: v.title,
        "data-variant": v.id, text: v.id, onclick: () => this.toggleVariant(v.id),
      });
      this.variantButtons[v.id] = b;
      this.variantBar.append(b);
    }
    this.bugBtn = h("button", { type: "button", class: "lk-btn lk-bug", text: "Show me a bug",
      title: "Load the explorer's shortest schedule that reaches a bug in this variant",
      onclick: () => this.showBug() });
    this.resetBtn = h("button", { type: "button", class: "lk-btn", text: "Reset", "aria-label": "Reset to the start",
      onclick: () => { this.carry = null; this.sched = []; this.pos = 0; this.showError(null); this.note(""); this.changed(); } });
    head.append(h("div", { class: "lk-bar" }, h("span", { class: "lk-label", text: "Variant:" }), this.variantBar, this.bugBtn, this.resetBtn));
    this.variantTitle = h("div", { class: "lk-variant-title" });
    head.append(this.variantTitle);
    root.append(head);

    // Steps: one button per cpu (built per variant), back/forward, slider.
    this.stepBar = h("div", { class: "lk-steps", role: "group", "aria-label": "Step a cpu" });
    this.backBtn = h("button", { type: "button", class: "lk-btn", "aria-label": "Back one step", title: "Back (←)", text: "◀ Back", onclick: () => this.go(this.pos - 1) });
    this.fwdBtn = h("button", { type: "button", class: "lk-btn", "aria-label": "Forward one step", title: "Forward (→)", text: "Forward ▶", onclick: () => this.go(this.pos + 1) });
    this.slider = h("input", { type: "range", class: "lk-slider", min: "0", max: "0", value: "0", "aria-label": "Steps shown",
      oninput: (e) => this.go(+e.target.value) });
    this.posLabel = h("span", { class: "lk-pos", "aria-live": "off" });
    root.append(this.stepBar,
      h("div", { class: "lk-nav" }, this.backBtn, this.fwdBtn, this.slider, this.posLabel));

    this.lastStep = h("div", { class: "lk-last", "aria-live": "polite" });
    this.banner = h("div", { class: "lk-banner", role: "alert", hidden: true });
    this.noteEl = h("div", { class: "lk-note", "aria-live": "polite", hidden: true });
    root.append(this.lastStep, this.banner, this.noteEl);

    this.legend = h("div", { class: "lk-legend", text: "▶ next line to run · ‖ waiting on this line · ✓ line just run · ↳ call in progress" });
    this.cpuGrid = h("div", { class: "lk-cpus" });
    root.append(this.legend, this.cpuGrid);

    // Locks and data.
    this.lockTable = h("table", { class: "lk-locks" });
    this.dataEl = h("div", { class: "lk-data" });
    root.append(h("div", { class: "lk-tables" },
      h("div", { class: "lk-lockbox" }, h("div", { class: "lk-h", text: "Locks" }), this.lockTable),
      this.dataEl));

    // Timeline.
    this.timeline = h("div", { class: "lk-timeline" });
    this.tlLegend = h("div", { class: "lk-tl-legend" });
    root.append(h("div", { class: "lk-h", text: "Timeline" }), this.timeline, this.tlLegend);

    // Schedule field.
    const inId = uid + "-sched", errId = uid + "-err";
    this.input = h("input", { type: "text", id: inId, class: "lk-input", spellcheck: "false", autocomplete: "off",
      "aria-describedby": errId, placeholder: "e.g. CPU0 CPU1 CPU0*",
      onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.jump(); } e.stopPropagation(); } });
    this.goBtn = h("button", { type: "button", class: "lk-btn", text: "Go", "aria-label": "Go to this schedule", onclick: () => this.jump() });
    this.copyBtn = h("button", { type: "button", class: "lk-btn", text: "Copy", "aria-label": "Copy the schedule", onclick: () => this.copy() });
    this.errEl = h("div", { class: "lk-error", id: errId, role: "status" });
    root.append(h("div", { class: "lk-schedule" },
      h("label", { for: inId, class: "lk-label", text: "Schedule:" }), this.input, this.goBtn, this.copyBtn), this.errEl);
    root.append(h("div", { class: "lk-keys", text: "Keys (click the stepper first): 0–9 step that cpu · ← → back / forward · Home / End" }));
    this.el.append(root);
  }

  patternDefs() {
    let s = "";
    const style = this.data.lock_style;
    Object.keys(style).forEach((name) => {
      const st = style[name];
      const ink = PATTERN_INK[st.pattern] || "";
      s += `<pattern id="${this.pid(name)}" patternUnits="userSpaceOnUse" width="6" height="6">` +
        `<rect width="6" height="6" fill="${st.color}"/>` +
        `<g stroke="rgba(0,0,0,0.55)" stroke-width="1" fill="rgba(0,0,0,0.55)">${ink}</g></pattern>`;
    });
    return s;
  }

  pid(lockName) {
    const keys = Object.keys(this.data.lock_style);
    return `${this.uid}-pat${keys.indexOf(lockName)}`;
  }

  swatch(lockName) {
    const st = this.data.lock_style[lockName] || { color: "#999999" };
    const span = h("span", { class: "lk-swatch", "aria-hidden": "true" });
    span.innerHTML = `<svg width="14" height="14" viewBox="0 0 14 14"><rect x="0.5" y="0.5" width="13" height="13" ` +
      `fill="url(#${this.pid(lockName)})" stroke="${st.color}"/></svg>`;
    return span;
  }

  // -- per variant -------------------------------------------------------------
  useVariant(V) {
    this.V = V;
    this.bugIndex = -1;
    this.path = null;
    for (const [id, b] of Object.entries(this.variantButtons)) b.setAttribute("aria-pressed", String(id === V.id));
    this.variantTitle.textContent = `${V.id}: ${V.title}` + (V.mode === "traces" ? ` (${V.note})` : "");
    const T = this.T;

    // Step buttons.
    this.stepBar.textContent = "";
    this.stepBtns = V.cpus.map((cpu, c) => {
      const why = h("span", { class: "lk-why", id: `${this.uid}-why${c}` });
      const b = h("button", { type: "button", class: "lk-btn lk-step", "data-cpu": cpu.name,
        "aria-describedby": `${this.uid}-why${c}`, text: `Step ${cpu.name}`,
        onclick: () => this.stepCpu(c) });
      this.stepBar.append(h("div", { class: "lk-stepbox" }, b, why));
      return { b, why };
    });

    // Cpu panels: the code of every function the cpu can reach.
    this.cpuGrid.textContent = "";
    this.panels = V.cpus.map((cpu, c) => {
      const status = h("span", { class: "lk-status" });
      const stack = h("ol", { class: "lk-stack", "aria-label": `${cpu.name} call stack, outermost first` });
      const held = h("div", { class: "lk-held" });
      const code = h("div", { class: "lk-code", role: "list", "aria-label": `${cpu.name} code` });
      const lines = {};
      for (const f of cpu.functions) {
        const fn = V.functions[f];
        const block = h("div", { class: "lk-fn", role: "listitem" });
        block.append(h("div", { class: "lk-fnhead", text: `${fn.name}() {` }));
        lines[f] = fn.lines.map((t, pc) => {
          const mark = h("span", { class: "lk-mark", "aria-hidden": "true" });
          const tag = h("span", { class: "lk-tag" });
          const row = h("div", { class: "lk-line", "data-fn": fn.name, "data-line": String(pc) },
            mark, h("span", { class: "lk-ln", text: String(pc + 1) }), h("code", { text: T[t] }), tag);
          row._mark = mark; row._tag = tag;
          block.append(row);
          return row;
        });
        block.append(h("div", { class: "lk-fnhead", text: "}" }));
        code.append(block);
      }
      const panel = h("section", { class: "lk-cpu", "data-cpu": cpu.name, "aria-label": `${cpu.name} (${cpu.comm})` },
        h("div", { class: "lk-cpuhead" }, h("strong", { text: cpu.name }),
          h("span", { class: "lk-comm", text: ` ${cpu.comm}[${cpu.pid}]` }), status),
        cpu.context ? h("div", { class: "lk-context", text: cpu.context }) : null,
        stack, held, code);
      this.cpuGrid.append(panel);
      return { panel, status, stack, held, code, lines };
    });
    this.cpuGrid.style.setProperty("--lk-ncpu", String(Math.min(V.cpus.length, 3)));
    this.marked = [];

    // Lock table header.
    this.lockTable.textContent = "";
    this.lockTable.append(h("thead", null, h("tr", null,
      ...["Lock", "Kind", "Held by", "Readers", "Waiting (in order)"].map((t) => h("th", { scope: "col", text: t })))));
    this.lockBody = h("tbody");
    this.lockTable.append(this.lockBody);
    // One row per lock; its live cells are owner, readers, waiters.
    this.lockRows = V.locks.map((l) => {
      const cells = [h("td"), h("td"), h("td")];
      const kind = l.kind === "rwsem" ? (l.reader_pref ? "rwsem (reader-pref.)" : "rwsem") : l.kind;
      this.lockBody.append(h("tr", { "data-lock": l.name },
        h("th", { scope: "row" }, this.swatch(l.name), h("code", { text: l.name })),
        h("td", { text: kind }), ...cells));
      return cells;
    });

    // Timeline legend.
    this.tlLegend.textContent = "";
    for (const l of V.locks) this.tlLegend.append(h("span", { class: "lk-key" }, this.swatch(l.name), h("span", { text: ` ${l.name} held` })));
    this.tlLegend.append(h("span", { class: "lk-key lk-key-wait", text: "┄ dashed outline: waiting for it" }));
  }

  // -- actions -----------------------------------------------------------------
  changed() { this.update(); this.push(); }

  stepCpu(c) {
    const sid = this.walked().sids[this.pos];
    if (!this.V.next[sid] || !this.V.next[sid][c]) return;
    this.carry = null;
    this.sched = this.sched.slice(0, this.pos).concat([c]);
    this.pos += 1;
    this.showError(null);
    this.changed();
  }

  go(p) {
    p = Math.max(0, Math.min(this.sched.length, p));
    if (p === this.pos) { this.update(); return; }
    this.pos = p;
    this.changed();
  }

  jump() {
    const p = this.parse(this.input.value);
    if (p.error) {
      this.showError(p.error);
      return;
    }
    this.showError(null);
    this.carry = null;
    this.sched = p.cpus;
    this.pos = p.cpus.length;
    this.note(`Jumped to a schedule of ${p.cpus.length} step${p.cpus.length === 1 ? "" : "s"}.`);
    this.changed();
  }

  copy() {
    const text = this.names(this.sched.slice(0, this.pos)).join(" ");
    const fallback = () => {
      this.input.focus();
      this.input.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      this.note(ok ? "Copied the schedule." : "The schedule is selected: press Ctrl+C (⌘C) to copy it.");
    };
    try {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(() => this.note("Copied the schedule."), fallback);
        return;
      }
    } catch (e) { /* fall back */ }
    fallback();
  }

  toggleVariant(vid) {
    if (vid === this.V.id) return;
    const from = this.V;
    const to = this.data.variants.find((v) => v.id === vid);
    const names = this.carry ? this.carry : this.names(this.sched.slice(0, this.pos));
    const hadFinding = this.findingsUpTo(this.pos);
    this.useVariant(to);
    const byName = new Map(to.cpus.map((c, i) => [c.name, i]));
    const cpus = [];
    let msg = null, sid = 0;
    for (let i = 0; i < names.length; i++) {
      const c = byName.get(names[i]);
      if (c === undefined) { msg = `at step ${i + 1} ${names[i]} does not exist in '${vid}'`; break; }
      const why = this.blocker(sid, c);
      if (why) { msg = `at step ${i + 1} ${names[i]} cannot run: ${why}`; break; }
      cpus.push(c);
      sid = to.next[sid][c][0];
    }
    this.sched = cpus;
    this.pos = cpus.length;
    this.carry = names;
    this.showError(null);
    let text;
    if (!names.length) text = `Now showing '${vid}'.`;
    else if (msg) text = `The schedule runs ${cpus.length} of ${names.length} steps on '${vid}': ${msg}.`;
    else text = `The schedule runs all ${names.length} steps on '${vid}'.`;
    const nowFinding = this.findingsUpTo(this.pos);
    if (hadFinding.length && !nowFinding.length) {
      text += ` On '${from.id}' it reached: ${hadFinding.map((f) => KIND_LABEL[f.kind] || f.kind).join(", ")}; here, no bug so far.`;
    }
    this.note(text);
    this.changed();
  }

  showBug() {
    const V = this.V;
    const bugs = V.explorer || [];
    if (!bugs.length) {
      const ex = V.explored;
      this.note(ex.complete
        ? `The explorer checked all ${ex.states} states of '${V.id}' and found no bug.`
        : `The explorer found no bug in '${V.id}' within its budget (${ex.states} states; ${ex.stopped || "incomplete"}).`);
      return;
    }
    this.bugIndex = (this.bugIndex + 1) % bugs.length;
    const bug = bugs[this.bugIndex];
    const idx = this.bugIndex;
    const p = this.parse(bug.schedule);
    this.carry = null;
    this.sched = p.cpus;
    this.pos = p.cpus.length;
    this.bugIndex = idx;
    this.showError(p.error);
    this.note(`Bug ${idx + 1} of ${bugs.length} in '${V.id}' (${KIND_LABEL[bug.kind] || bug.kind}), the shortest schedule: ` +
      `${bug.step != null ? bug.step : p.cpus.length} steps. Step back with ◀ or ← to see how it got there.` +
      (bugs.length > 1 ? " Click again for the next bug." : ""));
    this.changed();
  }

  onKey(e) {
    if (e.target && (e.target.tagName === "INPUT" && e.target.type === "text")) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    let handled = true;
    if (/^[0-9]$/.test(e.key)) {
      const c = +e.key;
      if (c < this.V.cpus.length) this.stepCpu(c);
    } else if (e.key === "ArrowLeft") this.go(this.pos - 1);
    else if (e.key === "ArrowRight") this.go(this.pos + 1);
    else if (e.key === "Home") this.go(0);
    else if (e.key === "End") this.go(this.sched.length);
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  }

  note(text) {
    this.noteEl.textContent = text || "";
    this.noteEl.hidden = !text;
  }

  showError(text) {
    this.errEl.textContent = text || "";
    this.errEl.hidden = !text;
    if (text) this.input.setAttribute("aria-invalid", "true"); else this.input.removeAttribute("aria-invalid");
    this.errShown = !!text;
  }

  // -- rendering -----------------------------------------------------------------
  walked() {
    const key = this.V.id + ":" + this.sched.join(",");
    if (!this.path || this.pathKey !== key) { this.path = walk(this.V, this.sched); this.pathKey = key; }
    return this.path;
  }

  findingsUpTo(pos) {
    const p = this.walked(), out = [];
    for (let i = 0; i < pos && i < p.shown.length; i++) for (const f of p.shown[i]) out.push(Object.assign({ step: i + 1 }, this.V.findings[f]));
    return out;
  }

  cycleText(f) {
    const V = this.V;
    if (!f.cycle || !f.cycle.length) return "";
    const parts = [V.cpus[f.cycle[0][0]].name];
    for (const [, l, hcpu] of f.cycle) parts.push(V.locks[l].name, V.cpus[hcpu].name);
    return parts.join(" → ");
  }

  update() {
    const V = this.V, T = this.T, ncpu = V.cpus.length;
    const path = this.walked();
    if (this.pos > path.sids.length - 1) this.pos = path.sids.length - 1;
    const pos = this.pos;
    const sid = path.sids[pos];
    const st = V.states[sid];
    const lastStep = pos > 0 ? V.steps[path.steps[pos - 1]] : null;

    // Step buttons.
    for (let c = 0; c < ncpu; c++) {
      const why = this.blocker(sid, c);
      const { b, why: w } = this.stepBtns[c];
      b.disabled = !!why;
      b.title = why ? `${V.cpus[c].name} cannot step: ${why}` : `Run ${V.cpus[c].name}'s next line (key ${c < 10 ? c : "—"})`;
      w.textContent = why ? why : "";
      w.hidden = !why;
    }
    this.backBtn.disabled = pos === 0;
    this.fwdBtn.disabled = pos >= this.sched.length;
    this.slider.max = String(this.sched.length);
    this.slider.value = String(pos);
    this.slider.setAttribute("aria-valuetext", `step ${pos} of ${this.sched.length}`);
    this.posLabel.textContent = `step ${pos} of ${this.sched.length}`;

    // What the last step did.
    if (lastStep) {
      const [c, t, ev, det] = lastStep;
      let what = ev;
      if (ev === "block") what = `blocks: waits for ${det.lock}`;
      else if (ev === "acquire") what = `takes ${det.lock} (${det.mode === 1 ? "read" : "write"})`;
      else if (ev === "release") what = `releases ${det.lock}`;
      else if (ev === "trylock") what = `trylock ${det.lock}: ${det.ok ? "got it" : "failed"}`;
      else if (ev === "release_call") what = `drops the last reference: calls ${det.release}()`;
      else if (ev === "put" || ev === "get") what = `${ev} ${det.ref}: count ${det.count}`;
      else if (ev === "step") what = "runs";
      this.lastStep.textContent = `Step ${pos}: ${V.cpus[c].name} ${what} — ${T[t]}`;
    } else {
      this.lastStep.textContent = this.sched.length ? "Step 0: the start." : "The start: click a Step button (or press a cpu's digit) to run that cpu's next line.";
    }

    // Cpu panels.
    for (const row of this.marked) { row.classList.remove("lk-cur", "lk-wait", "lk-prev", "lk-caller"); row._mark.textContent = ""; row._tag.textContent = ""; row.removeAttribute("aria-current"); }
    this.marked = [];
    const mark = (row, cls, glyph, tag) => {
      row.classList.add(cls);
      if (glyph) row._mark.textContent = glyph;
      if (tag) row._tag.textContent = tag;
      this.marked.push(row);
    };
    for (let c = 0; c < ncpu; c++) {
      const [frames, status, held, stackId, why] = V.threads[st[c]];
      const P = this.panels[c];
      const locksWaited = [];
      const lt = V.locktables[st[ncpu]];
      lt.forEach(([, , q], l) => { for (const [qc] of q) if (qc === c) locksWaited.push(V.locks[l].name); });
      let label = STATUS_LABEL[status];
      if (status === "wait") label = locksWaited.length ? `waiting for ${locksWaited.join(", ")}` : "sleeping";
      if (status === "wait" && why === null) label += " (can go now)";
      P.status.textContent = `${STATUS_GLYPH[status]} ${label}`;
      P.status.className = `lk-status lk-st-${status}`;
      P.panel.classList.toggle("lk-done", status === "done");
      // Call stack, outermost first; the innermost (running) frame last.
      const names = V.stacks[stackId].map((i) => T[i]);
      P.stack.textContent = "";
      names.forEach((n, i) => P.stack.append(h("li", { class: i === names.length - 1 && frames.length ? "lk-top" : "", text: n })));
      if (!frames.length) P.stack.append(h("li", { class: "lk-top", text: "(returned to user space)" }));
      // Held locks.
      P.held.textContent = "";
      if (held.length) {
        P.held.append(h("span", { class: "lk-label", text: "holds " }));
        for (const [l, m] of held) P.held.append(h("span", { class: "lk-chip" }, this.swatch(V.locks[l].name), h("code", { text: V.locks[l].name }), h("span", { class: "lk-mode", text: ` (${modeWord(m)})` })));
      } else {
        P.held.append(h("span", { class: "lk-label", text: "holds no lock" }));
      }
      // Code marks.
      frames.forEach(([f, pc], i) => {
        const row = P.lines[f] && P.lines[f][pc];
        if (!row) return;
        if (i === frames.length - 1) {
          if (status === "wait") mark(row, "lk-wait", "‖", why ? ` ← waiting${locksWaited.length ? " for " + locksWaited.join(", ") : ""}` : " ← lock free: can take it now");
          else mark(row, "lk-cur", "▶", "");
          row.setAttribute("aria-current", "step");
        } else {
          mark(row, "lk-caller", "↳", "");
        }
      });
      const cur = P.code.querySelector(".lk-cur, .lk-wait");
      if (cur && P.code.scrollHeight > P.code.clientHeight + 4) {
        const top = cur.offsetTop - P.code.offsetTop;
        if (top < P.code.scrollTop || top > P.code.scrollTop + P.code.clientHeight - 24) P.code.scrollTop = Math.max(0, top - 40);
      }
    }

    if (lastStep && pos > 0) {
      // The line just run, in the state before the step.
      const before = V.threads[V.states[path.sids[pos - 1]][lastStep[0]]];
      const top = before[0][before[0].length - 1];
      const row = top && this.panels[lastStep[0]].lines[top[0]] && this.panels[lastStep[0]].lines[top[0]][top[1]];
      if (row && !this.marked.includes(row)) mark(row, "lk-prev", "✓", "");
    }
    // Lock table.
    const lt = V.locktables[st[ncpu]];
    lt.forEach(([owner, readers, queue], l) => {
      const [o, r, q] = this.lockRows[l];
      o.textContent = owner >= 0 ? V.cpus[owner].name : "—";
      r.textContent = readers.length ? readers.map((c) => V.cpus[c].name).join(", ") : "—";
      q.textContent = queue.length ? queue.map(([c, m]) => `${V.cpus[c].name} (${modeWord(m)})`).join(" → ") : "—";
    });

    // Data: refcounts, objects, shared variables.
    const [vars, refs, objs, broken] = V.data[st[ncpu + 1]];
    if (V.vars.length || V.refs.length || V.objects.length) {
      this.dataEl.textContent = "";
      this.dataEl.append(h("div", { class: "lk-h", text: "Data" }));
      const dl = h("dl");
      V.refs.forEach((n, i) => dl.append(h("dt", null, h("code", { text: n })), h("dd", { text: `refcount ${refs[i]}` })));
      V.objects.forEach((n, i) => dl.append(h("dt", null, h("code", { text: n })), h("dd", { class: "lk-obj-" + objs[i], text: objs[i] === "freed" ? "✗ freed" : objs[i] })));
      V.vars.forEach((n, i) => dl.append(h("dt", null, h("code", { text: n })), h("dd", { text: JSON.stringify(vars[i]) })));
      this.dataEl.append(dl);
      if (broken) this.dataEl.append(h("div", { class: "lk-broken", text: "memory corrupted: the run stops here" }));
      this.dataEl.hidden = false;
    } else {
      this.dataEl.hidden = true;
    }

    // Banner: the findings reached so far.
    const found = this.findingsUpTo(pos);
    const bannerKey = found.map((f) => f.step + ":" + f.message).join("|");
    if (bannerKey !== this.lastBanner) {
      this.lastBanner = bannerKey;
      this.banner.textContent = "";
      for (const f of found) {
        const cyc = this.cycleText(f);
        this.banner.append(h("div", { class: "lk-finding", "data-kind": f.kind },
          h("span", { class: "lk-fmark", "aria-hidden": "true", text: f.kind === "deadlock" ? "✖" : f.kind === "warn" ? "▲" : "✱" }),
          h("strong", { text: `${KIND_LABEL[f.kind] || f.kind} at step ${f.step}: ` }),
          h("span", { text: f.message }),
          cyc ? h("div", { class: "lk-cycle" }, h("span", { class: "lk-label", text: "wait-for cycle: " }), h("code", { text: cyc })) : null));
      }
      this.banner.hidden = !found.length;
    }

    // Timeline, schedule field, variant buttons.
    this.drawTimeline(path, pos);
    const text = this.names(this.sched.slice(0, pos)).join(" ");
    if (document.activeElement !== this.input || !this.errShown) this.input.value = text;
    this.input.setAttribute("data-schedule", text);
  }

  // -- the timeline: lanes per cpu, bars for holds, dashed for waits -------------
  drawTimeline(path, pos) {
    const V = this.V, T = this.T, ncpu = V.cpus.length;
    const style = this.data.lock_style, ev = this.data.event_style, FC = this.data.finding_color;
    const colW = pos > 40 ? 18 : 26, rowH = 16, pad = 5, markH = 14, labelW = 56, axisH = 18;
    // Intervals per cpu: holds and waits, in rows by nesting depth.
    const bars = [], waits = [];
    const depth = new Array(ncpu).fill(1);
    for (let c = 0; c < ncpu; c++) {
      const open = new Map();    // "l:m" -> {start, row}
      let waitOpen = null;       // {start, lock, row}
      for (let k = 0; k <= pos; k++) {
        const st = V.states[path.sids[k]];
        const [, status, held] = V.threads[st[c]];
        const keys = new Set();
        held.forEach(([l, m], i) => {
          const key = l + ":" + m;
          keys.add(key);
          if (!open.has(key)) open.set(key, { start: k, row: i, l, m });
        });
        for (const [key, o] of open) if (!keys.has(key)) { bars.push({ c, ...o, end: k }); open.delete(key); }
        let wl = -1;
        if (status === "wait") {
          V.locktables[st[ncpu]].forEach(([, , q], l) => { for (const [qc] of q) if (qc === c) wl = l; });
        }
        const wkey = status === "wait" ? String(wl) : null;
        if (waitOpen && waitOpen.key !== wkey) { waits.push({ c, ...waitOpen, end: k }); waitOpen = null; }
        if (wkey !== null && !waitOpen) waitOpen = { key: wkey, start: k, l: wl, row: held.length };
        depth[c] = Math.max(depth[c], held.length + (status === "wait" ? 1 : 0));
      }
      for (const o of open.values()) bars.push({ c, ...o, end: pos, open: true });
      if (waitOpen) waits.push({ c, ...waitOpen, end: pos, open: true });
    }
    const laneTop = [];
    let y = axisH;
    const laneH = (c) => pad + depth[c] * rowH + markH;
    for (let c = 0; c < ncpu; c++) { laneTop.push(y); y += laneH(c) + 6; }
    const height = y + 4;
    const X = (k) => labelW + k * colW;       // state k sits at the right edge of step k
    const width = X(Math.max(pos, 8)) + colW + 70;
    let s = `<svg xmlns="${SVGNS}" class="lk-tl" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ` +
      `aria-label="Timeline of ${pos} steps: a lane per cpu, bars for locks held, dashed bars for waits">`;
    // Lanes.
    for (let c = 0; c < ncpu; c++) {
      const top = laneTop[c], hgt = laneH(c);
      s += `<rect class="lk-lane" x="${labelW}" y="${top}" width="${width - labelW - 4}" height="${hgt}" rx="3"/>`;
      s += `<text class="lk-lanelabel" x="${labelW - 6}" y="${top + hgt / 2 + 4}" text-anchor="end">${esc(V.cpus[c].name)}</text>`;
    }
    // Step columns: number on the axis, a clickable band.
    for (let k = 1; k <= pos; k++) {
      const x0 = X(k - 1);
      if (colW >= 20 || k % 5 === 0 || k === 1) s += `<text class="lk-axis" x="${x0 + colW / 2}" y="12" text-anchor="middle">${k}</text>`;
      s += `<rect class="lk-col${k === pos ? " lk-col-cur" : ""}" data-step="${k}" x="${x0}" y="${axisH - 2}" width="${colW}" height="${height - axisH}"><title>step ${k}: show the state after it</title></rect>`;
    }
    // Hold bars (from the step that took the lock to the step that released it).
    const barY = (c, row) => laneTop[c] + pad + row * rowH + 1;
    for (const b of bars) {
      const name = V.locks[b.l].name, col = (style[name] || {}).color || "#999";
      const x0 = X(b.start) - colW / 2, x1 = b.open ? X(b.end) + colW * 0.4 : X(b.end) - colW / 2;
      const w = Math.max(4, x1 - x0);
      s += `<rect class="lk-hold" x="${x0}" y="${barY(b.c, b.row)}" width="${w}" height="${rowH - 2}" fill="url(#${this.pid(name)})" stroke="${col}" stroke-width="1.2">` +
        `<title>${esc(V.cpus[b.c].name)} holds ${esc(name)} (${modeWord(b.m)}) from step ${b.start}${b.open ? "" : " to step " + b.end}</title></rect>`;
      const label = name + (b.m === "r" ? " (r)" : "");
      if (w > label.length * 6.6 + 6) s += `<text class="lk-barlabel" x="${x0 + 4}" y="${barY(b.c, b.row) + rowH - 5}">${esc(label)}</text>`;
    }
    for (const b of waits) {
      const name = b.l >= 0 ? V.locks[b.l].name : null;
      const col = name ? ((style[name] || {}).color || "#999") : "#999999";
      const x0 = X(b.start) - colW / 2, x1 = b.open ? X(b.end) + colW * 0.4 : X(b.end) - colW / 2;
      const w = Math.max(4, x1 - x0);
      s += `<rect class="lk-waitbar" x="${x0}" y="${barY(b.c, b.row)}" width="${w}" height="${rowH - 2}" stroke="${col}" stroke-width="1.6" stroke-dasharray="4 3">` +
        `<title>${esc(V.cpus[b.c].name)} waits${name ? " for " + esc(name) : ""} from step ${b.start}</title></rect>`;
      const label = name ? `waits ${name}` : "sleeps";
      if (w > label.length * 6.6 + 6) s += `<text class="lk-barlabel lk-waitlabel" x="${x0 + 4}" y="${barY(b.c, b.row) + rowH - 5}">${esc(label)}</text>`;
    }
    // Event markers: who ran each step, and what happened.
    for (let k = 1; k <= pos; k++) {
      const [c, t, evn, det] = V.steps[path.steps[k - 1]];
      const xc = X(k) - colW / 2, yc = laneTop[c] + pad + depth[c] * rowH + markH / 2;
      const tip = `step ${k}: ${V.cpus[c].name} ${T[t]} (${evn})`;
      const es = ev[evn];
      if (es) {
        const filled = FILLED[es.marker];
        s += `<path class="lk-ev" d="${markerPath(es.marker, xc, yc, 4)}" ${filled ? 'fill="currentColor"' : 'fill="none"'} stroke="currentColor" stroke-width="1.6"><title>${esc(tip + " — " + es.label)}</title></path>`;
      } else {
        s += `<circle class="lk-ran" cx="${xc}" cy="${yc}" r="2.2"><title>${esc(tip)}</title></circle>`;
      }
      for (const f of path.shown[k - 1]) {
        const F = V.findings[f];
        const fs = ev[F.kind] || { marker: "X", label: F.kind };
        const cpusHit = F.cycle && F.cycle.length ? F.cycle.map((e) => e[0]) : (F.cpus.length ? F.cpus.map((n) => V.cpus.findIndex((x) => x.name === n)).filter((i) => i >= 0) : [c]);
        for (const fc of cpusHit) {
          const fy = laneTop[fc] + laneH(fc) / 2;
          const fx = X(k) + 7;
          s += `<path class="lk-fev" d="${markerPath(fs.marker, fx, fy, 6)}" fill="${FC}" stroke="${FC}" stroke-width="1.2"><title>${esc(`step ${k}: ${fs.label}: ${F.message}`)}</title></path>`;
        }
        const fc0 = cpusHit[0];
        s += `<text class="lk-flabel" x="${X(k) + 15}" y="${laneTop[fc0] + laneH(fc0) / 2 + 4}" fill="${FC}">${esc(fs.label)}</text>`;
      }
    }
    s += "</svg>";
    this.timeline.innerHTML = s;
    const svg = this.timeline.firstChild;
    svg.addEventListener("click", (e) => {
      const k = e.target && e.target.getAttribute && e.target.getAttribute("data-step");
      if (k) this.go(+k);
    });
    if (this.timeline.scrollWidth > this.timeline.clientWidth) this.timeline.scrollLeft = this.timeline.scrollWidth;
  }
}

function render({ model, el }) {
  const view = new StepperView(model, el);
  return () => view.destroy();
}

export default { render };
