// labkit stepper: the learner schedules the cpus, one step per click.
//
// Python precomputed every state (labkit/stepper/export.py); this file only
// looks them up, so it keeps working with no kernel (Voila, a static HTML
// file, a notebook whose kernel died). Plain modern JS: no framework, no
// build, nothing loaded from the network.
//
// The view: the screen regions (Header, VariantBar, StepBar, Status,
// CpuPanels, Tables, Timeline, ScheduleField), each a class with build(),
// variant(V) and update(ctx), and the StepperView that owns the state, syncs
// it with the widget model and runs the actions (step, go, jump, toggle, bug,
// keys). What they show comes from core.js, the pure state and data
// functions (tested with node --test). Used two
// ways: as an anywidget module (`export default {render}`), and inlined into
// the standalone HTML, whose bootstrap calls `render()` with a small
// stand-in for the widget model; both get core.js inlined in front of this
// file in place of the import below (labkit/stepper/bundle.py).

import {
  DATA_EVENT_STYLE,
  FILLED,
  KIND_LABEL,
  STATUS_GLYPH,
  STATUS_LABEL,
  blocker,
  bugState,
  carrySchedule,
  codeParts,
  dataEventStyle,
  dataEvents,
  dataLanes,
  eventWords,
  goState,
  hex2rgb,
  initialState,
  isCommentOnly,
  isNoOp,
  ivKeyText,
  jumpState,
  lockIntervals,
  luminance,
  markerPath,
  mix,
  modeWord,
  parseSchedule,
  releaseSpans,
  roundEven,
  stepState,
  textOn,
  textsOf,
  threadsDiffer,
  toggleState,
  valueText,
  variantOf,
  walk,
} from "./core.js";

const SVGNS = "http://www.w3.org/2000/svg"; // an XML namespace name, never fetched
let instances = 0;

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
const BASE_PX = 13;            // the timeline is drawn for a 13 px font and scaled to the stepper's
const LAYOUT_KEY = "labkit-stepper-layout";

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

// A pseudo-C line as DOM: "->" never splits, and a line may break after it.
function codeEl(text) {
  const code = h("code");
  for (const p of codeParts(text)) {
    if (p === "->") code.append(h("span", { class: "lk-nb", text: "->" }), h("wbr"));
    else code.append(p);
  }
  return code;
}

function storedLayout() {
  try { return window.localStorage.getItem(LAYOUT_KEY); } catch (e) { return null; }
}

// A screen region: built once (build), rebuilt for each variant (variant),
// updated after every step (update, with ctx = {path, pos, sid}). It reads the
// view's state through the getters below and calls the view for actions.
class Region {
  constructor(view) { this.v = view; }
  get V() { return this.v.V; }
  get T() { return this.v.T; }
  get data() { return this.v.data; }
  get uid() { return this.v.uid; }
  get sched() { return this.v.sched; }
  get pos() { return this.v.pos; }
  get compact() { return this.v.compact; }
  get root() { return this.v.root; }
  walked() { return this.v.walked(); }
  blocker(sid, c, long = false) { return this.v.blocker(sid, c, long); }
  kindAt(sid, c) { return this.v.kindAt(sid, c); }
  swatch(name) { return this.v.swatch(name); }
  pid(name, read = false) { return this.v.pid(name, read); }
  findingsUpTo(pos) { return this.v.findingsUpTo(pos); }
  cycleText(f) { return this.v.cycleText(f); }
  variant(V) { /* most regions have nothing per variant */ }
  update(ctx) { /* nor per step */ }
}

// The case's title and summary; the layout buttons (Compact, Present).
class Header extends Region {
  build() {
    const d = this.data;
    this.layoutBtn = h("button", { type: "button", class: "lk-btn lk-tool lk-layout", "aria-pressed": "false",
      title: "Compact layout: controls, timeline and code on one screen (for a projector)", text: "Compact",
      onclick: () => this.v.setCompact(!this.compact, true) });
    this.presentBtn = h("button", { type: "button", class: "lk-btn lk-tool lk-present-btn", "aria-pressed": "false",
      title: "Present: the stepper alone, full screen, larger text (Esc leaves)", text: "Present",
      onclick: () => this.v.present(!this.root.classList.contains("lk-present")) });
    return h("div", { class: "lk-head" },
      h("div", { class: "lk-title" },
        h("strong", { text: d.case.title }),
        h("span", { class: "lk-summary", title: d.case.summary || "", text: d.case.summary || "" })),
      h("div", { class: "lk-tools" }, this.layoutBtn, this.presentBtn));
  }
}

// The variants (versions of the code), Show me a bug, Reset; the variant's title and what its fix changed.
class VariantBar extends Region {
  build() {
    const d = this.data;
    this.variantBar = h("div", { class: "lk-variants", role: "group", "aria-label": "Variant (version of the code)" });
    this.buttons = {};
    for (const v of d.variants) {
      const b = h("button", {
        type: "button", class: "lk-btn lk-variant" + (v.pending ? " lk-pending" : ""), "aria-pressed": "false",
        title: v.pending ? `${v.title} (${v.note})` : v.title,
        "data-variant": v.id, text: v.id, onclick: () => this.v.toggleVariant(v.id),
      });
      this.buttons[v.id] = b;
      this.variantBar.append(b);
    }
    this.bugBtn = h("button", { type: "button", class: "lk-btn lk-bug", text: "Show me a bug",
      title: "Load the explorer's shortest schedule that reaches a bug in this variant",
      onclick: () => this.v.showBug() });
    this.resetBtn = h("button", { type: "button", class: "lk-btn", text: "Reset", "aria-label": "Reset to the start",
      onclick: () => this.v.reset() });
    this.variantTitle = h("div", { class: "lk-variant-title" });
    this.diffEl = h("div", { class: "lk-diffnote", hidden: true });
    return h("div", { class: "lk-vbox" },
      h("div", { class: "lk-bar" }, h("span", { class: "lk-label", text: "Variant:" }), this.variantBar, this.bugBtn, this.resetBtn),
      this.variantTitle, this.diffEl);
  }

  variant(V) {
    for (const [id, b] of Object.entries(this.buttons)) b.setAttribute("aria-pressed", String(id === V.id));
    this.variantTitle.textContent = `${V.id}: ${V.title}` + (V.mode === "traces" ? ` (${V.note})` : "");
    this.variantTitle.title = this.variantTitle.textContent;
    this.diffNote(null);
  }

  // Says how many lines the fix changed against `fromId` (null: nothing to say).
  diffNote(counts, fromId) {
    const el = this.diffEl;
    if (!counts) { el.hidden = true; el.textContent = ""; return; }
    const V = this.V;
    const { nChanged, nRemoved } = counts;
    if (!nChanged && !nRemoved) {
      el.textContent = `The code of '${V.id}' is the same as '${fromId}' in the functions shown.`;
    } else {
      el.textContent = "";
      el.append(h("span", { class: "lk-diffkey lk-diffplus", text: "+" }),
        ` ${nChanged} line${nChanged === 1 ? "" : "s"} new or changed from '${fromId}'`,
        nRemoved ? h("span", null, " · ", h("span", { class: "lk-diffkey lk-diffminus", text: "−" }), ` ${nRemoved} removed (hover the marked line)`) : null);
    }
    el.hidden = false;
  }
}

// A Step button per cpu, each in a box of its own (fixed places), Back, Forward, the slider.
class StepBar extends Region {
  build() {
    // Step buttons (one per cpu, each in a box of its own fixed size, so a reason
    // appearing under one never moves another), back/forward, slider.
    this.stepBar = h("div", { class: "lk-steps", role: "group", "aria-label": "Step a cpu" });
    this.backBtn = h("button", { type: "button", class: "lk-btn lk-navbtn", "aria-label": "Back one step", title: "Back (←)", text: "◀ Back", onclick: () => this.v.go(this.pos - 1) });
    this.fwdBtn = h("button", { type: "button", class: "lk-btn lk-navbtn", "aria-label": "Forward one step", title: "Forward (→)", text: "Forward ▶", onclick: () => this.v.go(this.pos + 1) });
    this.slider = h("input", { type: "range", class: "lk-slider", min: "0", max: "0", value: "0", "aria-label": "Steps shown",
      oninput: (e) => this.v.go(+e.target.value) });
    this.posLabel = h("span", { class: "lk-pos", "aria-live": "off" });
    return h("div", { class: "lk-controls" }, this.stepBar,
      h("div", { class: "lk-nav" }, this.backBtn, this.fwdBtn, this.slider, this.posLabel));
  }

  variant(V) {
    // Step buttons.
    this.stepBar.textContent = "";
    this.stepBar.style.setProperty("--lk-nstep", String(V.cpus.length));
    this.stepBtns = V.cpus.map((cpu, c) => {
      const why = h("span", { class: "lk-why", id: `${this.uid}-why${c}` });
      const b = h("button", { type: "button", class: "lk-btn lk-step", "data-cpu": cpu.name,
        "aria-describedby": `${this.uid}-why${c}`, text: `Step ${cpu.name}`, title: `Step ${cpu.name} (key ${c})`,
        onclick: () => this.v.stepCpu(c) });
      this.stepBar.append(h("div", { class: "lk-stepbox" }, b, why));
      return { b, why };
    });
  }

  update({ path, pos, sid }) {
    this.updateControls(path, pos, sid);
  }

  updateControls(path, pos, sid) {
    const V = this.V, ncpu = V.cpus.length;
    for (let c = 0; c < ncpu; c++) {
      const why = this.blocker(sid, c);
      const { b, why: w } = this.stepBtns[c];
      b.disabled = !!why;
      let next = "";
      if (!why) {
        const [, stepId] = V.next[sid][c];
        const [, , ev, det] = V.steps[stepId];
        const kind = this.kindAt(sid, c);
        next = isNoOp(ev, kind) ? "next: a line that changes nothing shared" : `next: ${eventWords(ev, det, kind)}`;
      }
      b.title = why ? `${V.cpus[c].name} cannot step: ${this.blocker(sid, c, true)}` : `Run ${V.cpus[c].name}'s next line (key ${c < 10 ? c : "—"}); ${next}`;
      w.textContent = why ? why : next;
      w.classList.toggle("lk-blocked", !!why);
      w.classList.toggle("lk-next", !why);
      w.hidden = false;
    }
    this.backBtn.disabled = pos === 0;
    this.fwdBtn.disabled = pos >= this.sched.length;
    this.slider.max = String(this.sched.length);
    this.slider.value = String(pos);
    this.slider.setAttribute("aria-valuetext", `step ${pos} of ${this.sched.length}`);
    this.posLabel.textContent = `step ${pos} of ${this.sched.length}`;
  }
}

// What the last step did; the banner of the findings so far; notes.
class Status extends Region {
  build() {
    this.lastBanner = "";
    this.lastStep = h("div", { class: "lk-last", "aria-live": "polite" });
    this.banner = h("div", { class: "lk-banner", role: "alert", hidden: true });
    this.noteEl = h("div", { class: "lk-note", "aria-live": "polite", hidden: true });
    return h("div", { class: "lk-statusbox" }, this.lastStep, this.banner, this.noteEl);
  }

  update({ path, pos }) {
    this.updateLastStep(path, pos);
    this.updateBanner(pos);
  }

  updateLastStep(path, pos) {
    const V = this.V, T = this.T;
    const lastStep = pos > 0 ? V.steps[path.steps[pos - 1]] : null;
    this.lastStep.classList.remove("lk-noopstep");
    if (!lastStep) {
      this.lastStep.textContent = this.sched.length ? "Step 0: the start." : "The start: click a Step button (or press a cpu's digit) to run that cpu's next line.";
      return;
    }
    const [c, t, ev, det] = lastStep;
    const kind = this.kindAt(path.sids[pos - 1], c);
    const what = eventWords(ev, det, kind);
    this.lastStep.textContent = "";
    this.lastStep.append(h("strong", { text: `Step ${pos}: ` }), `${V.cpus[c].name} ${what} — `, codeEl(T[t]));
    if (isNoOp(ev, kind)) {
      this.lastStep.classList.add("lk-noopstep");
      this.lastStep.append(h("span", { class: "lk-noopword", text: " ∅ no lock, refcount, object or shared variable changed: the line is there so the code reads whole" }));
    } else if (isCommentOnly(T[t])) {
      this.lastStep.append(h("span", { class: "lk-noopword", text: " (the line is only a comment: this step is the model's bookkeeping)" }));
    }
    this.lastStep.title = this.lastStep.textContent;     // the compact layout cuts it to one line
  }

  updateBanner(pos) {
    const found = this.findingsUpTo(pos);
    const bannerKey = found.map((f) => f.step + ":" + f.message).join("|");
    if (bannerKey === this.lastBanner) return;
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

  note(text) {
    this.noteEl.classList.remove("lk-busy");
    this.noteEl.textContent = text || "";
    this.noteEl.hidden = !text;
  }
}

// A panel per cpu: status, call stack, locks held, and the code of every function it can reach.
class CpuPanels extends Region {
  build() {
    this.marked = [];
    this.diffMarked = [];
    this.legend = h("div", { class: "lk-legend", text: "▶ next line to run · ‖ waiting on this line · ✓ line just run · ↳ call in progress · ∅ changes nothing shared" });
    this.cpuGrid = h("div", { class: "lk-cpus" });
    return h("div", { class: "lk-cpubox" }, this.legend, this.cpuGrid);
  }

  variant(V) {
    // Cpu panels: the code of every function the cpu can reach.
    const T = this.T;
    this.cpuGrid.textContent = "";
    this.panels = V.cpus.map((cpu, c) => {
      const status = h("span", { class: "lk-status" });
      const stack = h("ol", { class: "lk-stack", "aria-label": `${cpu.name} call stack, outermost first` });
      const held = h("div", { class: "lk-held" });
      const code = h("div", { class: "lk-code", role: "list", "aria-label": `${cpu.name} code` });
      const lines = {}, ends = {};
      for (const f of cpu.functions) {
        const fn = V.functions[f];
        const block = h("div", { class: "lk-fn", role: "listitem" });
        block.append(h("div", { class: "lk-fnhead", text: `${fn.name}() {` }));
        lines[f] = fn.lines.map((t, pc) => {
          const kind = fn.kinds ? fn.kinds[pc] : null;
          const mark = h("span", { class: "lk-mark", "aria-hidden": "true" });
          const tag = h("span", { class: "lk-tag" });
          const code = codeEl(T[t]);
          const noop = kind === "nop" || kind === "goto";
          if (isCommentOnly(T[t])) code.classList.add("lk-comment");
          const row = h("div", { class: "lk-line" + (noop ? " lk-noop" : ""), "data-fn": fn.name, "data-line": String(pc),
            title: noop ? "changes nothing the model tracks (no lock, no shared data)" : null },
          mark, h("span", { class: "lk-ln", text: String(pc + 1) }), code, tag);
          row._mark = mark; row._tag = tag;
          block.append(row);
          return row;
        });
        ends[f] = h("div", { class: "lk-fnhead lk-fnend", text: "}" });
        block.append(ends[f]);
        code.append(block);
      }
      // An interrupt handler runs on its host cpu, on top of the task there: its panel says so.
      const host = cpu.irq ? V.cpus[cpu.host].name : null;
      const panel = h("section", { class: "lk-cpu" + (cpu.irq ? " lk-irq" : ""), "data-cpu": cpu.name,
        "aria-label": cpu.irq ? `${cpu.name} (${cpu.irq} handler on ${host})` : `${cpu.name} (${cpu.comm})` },
        h("div", { class: "lk-cpuhead" }, h("strong", { class: "lk-nowrap", text: cpu.name }),
          h("span", { class: "lk-comm", text: cpu.irq ? ` ${cpu.irq} on ${host}, over ${cpu.comm}[${cpu.pid}]` : ` ${cpu.comm}[${cpu.pid}]` }), status),
        cpu.context ? h("div", { class: "lk-context", title: cpu.context, text: cpu.context }) : null,
        stack, held, code);
      this.cpuGrid.append(panel);
      return { panel, status, stack, held, code, lines, ends };
    });
    this.cpuGrid.style.setProperty("--lk-ncpu", String(Math.min(V.cpus.length, 3)));
    this.marked = [];
    this.diffMarked = [];
  }

  update({ path, pos, sid }) {
    this.updatePanels(path, pos, sid);
  }

  updatePanels(path, pos, sid) {
    const V = this.V, T = this.T, ncpu = V.cpus.length;
    const st = V.states[sid];
    for (const row of this.marked) { row.classList.remove("lk-cur", "lk-wait", "lk-prev", "lk-caller"); row._mark.textContent = ""; row._tag.textContent = ""; row.removeAttribute("aria-current"); }
    this.marked = [];
    const mark = (row, cls, glyph, tag) => {
      row.classList.add(cls);
      if (glyph) row._mark.textContent = glyph;
      if (tag) row._tag.textContent = tag;
      this.marked.push(row);
    };
    const lt = V.locktables[st[ncpu]];
    for (let c = 0; c < ncpu; c++) {
      const [frames, status, held, stackId, why] = V.threads[st[c]];
      const P = this.panels[c];
      const locksWaited = [];
      lt.forEach(([, , q], l) => { for (const [qc] of q) if (qc === c) locksWaited.push(V.locks[l].name); });
      let label = STATUS_LABEL[status];
      if (status === "wait") label = locksWaited.length ? `waiting for ${locksWaited.join(", ")}` : "sleeping";
      if (status === "wait" && why === null) label += " (can go now)";
      // Runnable in itself but held back: interrupted by a handler on its cpu, or a handler its cpu keeps out.
      const heldBack = status === "run" && why !== null;
      if (heldBack) label = T[why].includes(" is interrupted") ? "interrupted" : "cannot run now";
      P.status.textContent = `${heldBack ? STATUS_GLYPH.wait : STATUS_GLYPH[status]} ${label}`;
      P.status.className = `lk-status lk-st-${heldBack ? "wait" : status}`;
      P.panel.classList.toggle("lk-done", status === "done");
      // Call stack, outermost first; the innermost (running) frame last.
      const names = V.stacks[stackId].map((i) => T[i]);
      P.stack.textContent = "";
      names.forEach((n, i) => P.stack.append(h("li", { class: i === names.length - 1 && frames.length ? "lk-top" : "", text: n })));
      if (!frames.length) P.stack.append(h("li", { class: "lk-top", text: "(returned to user space)" }));
      P.stack.title = names.join(" → ");
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
    }
    const lastStep = pos > 0 ? V.steps[path.steps[pos - 1]] : null;
    if (lastStep) {
      // The line just run, in the state before the step.
      const before = V.threads[V.states[path.sids[pos - 1]][lastStep[0]]];
      const top = before[0][before[0].length - 1];
      const row = top && this.panels[lastStep[0]].lines[top[0]] && this.panels[lastStep[0]].lines[top[0]][top[1]];
      if (row && !this.marked.includes(row)) mark(row, "lk-prev", "✓", "");
    }
  }

  // Marks the lines `rel` says changed (+) and where lines were removed (−); returns the counts.
  markDiff(rel) {
    for (const row of this.diffMarked) { row.classList.remove("lk-changed", "lk-removed"); row.removeAttribute("data-removed"); }
    this.diffMarked = [];
    if (!rel) return { nChanged: 0, nRemoved: 0 };
    const V = this.V;
    // Counted once per line of code, though two cpus may show the same function.
    const changedSet = new Set(), removedSet = new Set();
    const byName = new Map(V.functions.map((f, i) => [f.name, i]));
    for (const P of this.panels) {
      for (const [fname, pcs] of Object.entries(rel.changed || {})) {
        const rows = P.lines[byName.get(fname)];
        if (!rows) continue;
        for (const pc of pcs) if (rows[pc]) { rows[pc].classList.add("lk-changed"); this.diffMarked.push(rows[pc]); changedSet.add(fname + ":" + pc); }
      }
      for (const fname of rel.new || []) {
        const rows = P.lines[byName.get(fname)];
        if (!rows) continue;
        rows.forEach((r, pc) => { r.classList.add("lk-changed"); this.diffMarked.push(r); changedSet.add(fname + ":" + pc); });
      }
      for (const [fname, spots] of Object.entries(rel.removed || {})) {
        const f = byName.get(fname);
        const rows = P.lines[f];
        if (!rows) continue;
        for (const [at, texts] of spots) {
          const row = rows[at] || P.ends[f];
          row.classList.add("lk-removed");
          row.setAttribute("data-removed", `− removed here in '${this.V.id}': ${texts.join(" ")}`);
          if (!row.title) row.title = row.getAttribute("data-removed");
          this.diffMarked.push(row);
          texts.forEach((t, i) => removedSet.add(`${fname}:${at}:${i}`));
        }
      }
    }
    const nChanged = changedSet.size, nRemoved = removedSet.size;
    return { nChanged, nRemoved };
  }
}

// The lock table (owner, readers, waiters in order) and the data (refcounts, objects, variables).
class Tables extends Region {
  build() {
    this.lockTable = h("table", { class: "lk-locks" });
    this.dataEl = h("div", { class: "lk-data" });
    return h("div", { class: "lk-tables" },
      h("div", { class: "lk-lockbox" }, h("div", { class: "lk-h", text: "Locks" }), this.lockTable),
      this.dataEl);
  }

  variant(V) {
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
  }

  update({ sid }) {
    const V = this.V, ncpu = V.cpus.length;
    const st = V.states[sid];
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
      V.refs.forEach((n, i) => dl.append(h("dt", null, codeEl(n)), h("dd", { text: `refcount ${refs[i]}` })));
      V.objects.forEach((n, i) => dl.append(h("dt", null, codeEl(n)), h("dd", { class: "lk-obj-" + objs[i], text: objs[i] === "freed" ? "✗ freed" : objs[i] })));
      V.vars.forEach((n, i) => dl.append(h("dt", null, codeEl(n)), h("dd", { text: JSON.stringify(vars[i]) })));
      this.dataEl.append(dl);
      if (broken) this.dataEl.append(h("div", { class: "lk-broken", text: "memory corrupted: the run stops here" }));
      this.dataEl.hidden = false;
    } else {
      this.dataEl.hidden = true;
    }
  }
}

// The timeline: a lane per cpu (locks held, waits, the data events), the data lanes, the cursor.
class Timeline extends Region {
  build() {
    this.timeline = h("div", { class: "lk-timeline" });
    this.tlLegend = h("div", { class: "lk-tl-legend" });
    return h("div", { class: "lk-tlbox" }, h("div", { class: "lk-h lk-tl-h", text: "Timeline" }), this.timeline, this.tlLegend);
  }

  variant(V) { this.dirty(); }

  // Redraw at the next update (the variant, the room or the font changed).
  dirty() { this.key = null; this.legendKey = null; }

  update({ path, pos }) { this.drawTimeline(path, pos); }

  drawTimeline(path, pos) {
    const V = this.V, T = this.T, ncpu = V.cpus.length;
    const n = path.steps.length;                   // the whole schedule; the cursor is at pos
    // Back and forward only move the cursor: redraw when the schedule (or the room) changes.
    const key = `${V.id}|${this.sched.join(",")}|${this.width}|${this.fontPx}|${this.compact}`;
    if (key === this.key && this.cursor) { this.moveCursor(pos); return; }
    this.key = key;
    const style = this.data.lock_style, FC = this.data.finding_color;
    const evStyle = Object.assign({}, DATA_EVENT_STYLE, this.data.event_style);
    // Drawn for a 13 px font, then scaled with the stepper's own font size
    // (JupyterLab's font settings, Presentation Mode, Present).
    const scale = (this.fontPx || BASE_PX) / BASE_PX;
    this.scale = scale;
    // Text, grid and page colours come from CSS classes (t-fg, s-grid, f-bg ...), so
    // the drawing follows a theme switch without being redrawn.
    const ivs = lockIntervals(V, path.steps, n);
    const rels = releaseSpans(V, path.sids, path.steps, n);
    const lanes = dataLanes(V, path.sids, path.steps, n);
    const devs = dataEvents(V, path.steps, n);
    // Release spans take a row of their own in the putter's lane.
    // Each lane as tall as its own rows.
    const rowsOf = V.cpus.map((_, c) => Math.max(1, ...ivs.filter((iv) => iv.cpu === c).map((iv) => iv.level + 1)));
    for (const r of rels) r.level = rowsOf[r.cpu]++;
    // The final state's wait-for cycles (drawn as arrows, as the static timeline does).
    const cycles = [];
    for (const f of V.states[path.sids[n]][ncpu + 2]) if (V.findings[f].cycle.length) cycles.push(V.findings[f].cycle);
    // Room for the longest lane name (cpu, comm/pid, data lanes), within reason.
    const subOf = (cpu) => (cpu.comm && cpu.comm !== "task" ? `${cpu.comm}/${cpu.pid}` : "");
    const nameW = Math.max(...V.cpus.map((cpu) => Math.max(cpu.name.length * 7.6, Math.min(22, subOf(cpu).length) * 6.4)),
      ...lanes.map((l) => Math.min(22, l.name.length) * 6.9));
    const labelW = Math.max(110, Math.min(190, Math.ceil(nameW) + 18));
    const avail = (this.width || 900) / scale - labelW - 24;
    const unit = Math.max(16, Math.min(56, Math.floor(avail / (Math.max(n, 8) + 1.6 + (cycles.length ? 0.9 * ncpu : 0)))));
    const compact = this.compact;
    const top = 22, stripH = 18, rowH = compact ? 18 : 20, footH = 12, dataH = 18;
    const laneHs = rowsOf.map((r) => stripH + r * rowH + footH);
    const laneTops = [top];
    for (const lh of laneHs) laneTops.push(laneTops[laneTops.length - 1] + lh);
    const END = n + 0.6, x0lim = 0.4, x1lim = END + (cycles.length ? 0.9 * ncpu + 0.4 : 0.4);
    const X = (k) => labelW + (k - x0lim) * unit;
    const width = Math.ceil(X(Math.max(x1lim, 8))) + 8;
    const lanesTop = laneTops[ncpu];
    const dataTop = lanesTop + (lanes.length ? 6 : 0);
    const height = dataTop + lanes.length * dataH + 36;
    const laneTop = (c) => laneTops[c];
    const rowY = (c, level) => laneTop(c) + stripH + level * rowH + 2;
    let s = `<svg xmlns="${SVGNS}" class="lk-tl" width="${Math.ceil(width * scale)}" height="${Math.ceil(height * scale)}" viewBox="0 0 ${width} ${height}" role="img" ` +
      `aria-label="Timeline of ${n} steps, at step ${pos}: a lane per cpu, bars for locks held, dashed bars for waits` +
      `${lanes.length ? "; below, the refcounts, objects and shared variables the steps change" : ""}">`;
    s += `<defs><marker id="${this.uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
      `<path d="M0,0L10,5L0,10Z" fill="${FC}"/></marker></defs>`;
    // Grid, lanes, cpu labels, the ticks of the steps each cpu took.
    for (let k = 1; k <= n; k++) s += `<line x1="${X(k)}" x2="${X(k)}" y1="${top}" y2="${dataTop + lanes.length * dataH}" class="s-grid" stroke-width="0.6"/>`;
    for (let c = 0; c <= ncpu; c++) s += `<line x1="${labelW}" x2="${X(x1lim)}" y1="${laneTops[c]}" y2="${laneTops[c]}" class="s-grid"/>`;
    V.cpus.forEach((cpu, c) => {
      const yc = laneTop(c) + laneHs[c] / 2;
      const sub = subOf(cpu);
      s += `<text x="${labelW - 8}" y="${yc + (sub ? -2 : 4)}" text-anchor="end" class="t-fg" font-size="12.5" font-weight="600">${esc(cpu.name)}</text>`;
      if (sub) s += `<text x="${labelW - 8}" y="${yc + 13}" text-anchor="end" class="t-muted" font-size="11">${esc(sub.length > 22 ? sub.slice(0, 21) + "…" : sub)}<title>${esc(sub)}</title></text>`;
    });
    for (let k = 1; k <= n; k++) {
      const [c, t, evn] = V.steps[path.steps[k - 1]];
      const y = laneTop(c) + laneHs[c] - footH / 2 - 1;
      s += `<line class="lk-tick s-muted" x1="${X(k)}" x2="${X(k)}" y1="${y - 4}" y2="${y + 4}" stroke-width="1.4">` +
        `<title>${esc(`step ${k}: ${V.cpus[c].name} ${T[t]} (${evn})`)}</title></line>`;
    }
    // Bars: holds (colour + hatch), waits (hollow dashed), sleeps (hollow dotted).
    const bars = [];
    const occupied = new Map();
    for (const iv of ivs) {
      const a = iv.start, b = iv.end === null ? END : iv.end;
      const y = rowY(iv.cpu, iv.level), hgt = rowH - 4;
      const st = iv.lock !== null ? style[iv.lock] || { color: "#999999" } : null;
      const tip = `${V.cpus[iv.cpu].name}: ${iv.label}, from step ${iv.start}${iv.end === null ? "" : " to step " + iv.end}`;
      let textClass = "t-fg", box = null;
      if (iv.kind === "hold") {
        const face = st.color;
        s += `<rect class="lk-hold" data-iv="${esc(ivKeyText(iv, V))}" x="${X(a)}" y="${y}" width="${(b - a) * unit}" height="${hgt}" ` +
          `fill="url(#${this.pid(iv.lock, iv.mode === 1)})" stroke="${mix(st.color, "#000000", 0.45)}" stroke-width="1"><title>${esc(tip)}</title></rect>`;
        // On a read bar (paler: half towards the page), the page's own text colour.
        if (iv.mode !== 1) { textClass = textOn(face) === "#111111" ? "t-dark" : "t-light"; box = face; } else box = "read:" + st.color;
      } else {
        const edge = st ? st.color : null;
        s += `<rect class="lk-waitbar${edge ? "" : " s-muted"}" data-iv="${esc(ivKeyText(iv, V))}" x="${X(a)}" y="${y}" width="${(b - a) * unit}" height="${hgt}" fill="none"${edge ? ` stroke="${edge}"` : ""} ` +
          `stroke-width="1.8" stroke-dasharray="${iv.kind === "wait" ? "6 4" : "2 3"}"><title>${esc(tip)}</title></rect>`;
      }
      bars.push({ iv, a, b, y, hgt, textClass, box });
      const key = iv.cpu + ":" + iv.level;
      if (!occupied.has(key)) occupied.set(key, []);
      occupied.get(key).push([a, b]);
    }
    // The release a last put runs, in the putter's lane: a bracket over its steps.
    for (const r of rels) {
      const a = r.start, b = r.end === null ? END : r.end;
      const y = rowY(r.cpu, r.level), hgt = rowH - 4;
      const label = `release: ${r.release}()`;
      const tip = `${V.cpus[r.cpu].name} dropped the last reference on ${r.ref} at step ${r.start} and runs ${r.release}() in its own context` +
        (r.end === null ? " (still running)" : `, until step ${r.end}`);
      s += `<path class="lk-release s-fg" data-rel="${esc(r.release)}" d="M${X(a)},${y + hgt}V${y + 2}H${X(b)}V${y + hgt}" fill="none" stroke-width="2"><title>${esc(tip)}</title></path>`;
      bars.push({ iv: { cpu: r.cpu, level: r.level, end: r.end, label }, a, b, y, hgt, textClass: "t-fg", box: null, release: true });
      const key = r.cpu + ":" + r.level;
      if (!occupied.has(key)) occupied.set(key, []);
      occupied.get(key).push([a, b]);
    }
    // Names inside the bar on a patch of its fill, else beside it where the row is free.
    for (const { iv, a, b, y, hgt, textClass, box, release } of bars) {
      const wpx = iv.label.length * 6.2 + 8, w = wpx / unit, yc = y + hgt / 2 + 4;
      if (w <= b - a) {
        const xm = (X(a) + X(b)) / 2;
        const bx = `x="${xm - wpx / 2 + 2}" y="${y + 3}" width="${wpx - 4}" height="${hgt - 6}"`;
        if (release) s += "";
        else if (box === null) s += `<rect ${bx} class="f-bg"/>`;
        else if (box.startsWith("read:")) s += `<rect ${bx} class="f-bg"/><rect ${bx} fill="${box.slice(5)}" fill-opacity="0.5"/>`;
        else s += `<rect ${bx} fill="${box}"/>`;
        s += `<text class="lk-barlabel ${textClass}" x="${xm}" y="${yc - 0.5 + (release ? 2 : 0)}" text-anchor="middle">${esc(iv.label)}</text>`;
        continue;
      }
      const row = occupied.get(iv.cpu + ":" + iv.level);
      const free = (p, q) => p >= x0lim && q <= x1lim && row.every(([u, v]) => q <= u || p >= v);
      const right = [b + 0.1, b + 0.1 + w], left = [a - 0.1 - w, a - 0.1];
      const order = iv.end === null ? [left, right] : [right, left];
      // With no free room, never spill left over the lane's name: go right instead.
      const pick = order.find((c) => free(c[0], c[1])) || (left[0] < x0lim ? right : order[0]);
      const isRight = pick === right;
      s += `<text class="lk-barlabel t-fg" x="${X(isRight ? pick[0] : pick[1])}" y="${yc - 0.5}" text-anchor="${isRight ? "start" : "end"}">${esc(iv.label)}</text>`;
      row.push(pick);
    }
    // Events in the strip at the top of each lane: findings (word and marker in
    // the finding colour) and data events (marker; their words are in the data lanes).
    const stripWords = V.cpus.map(() => []);
    for (const e of devs) {
      const es = dataEventStyle(this.data.event_style, e.ev);
      const x = X(e.k), y = laneTop(e.cpu) + stripH / 2 + 1;
      const last = e.ev === "release_call";
      s += `<path class="lk-event lk-dataevent s-fg" data-kind="${e.ev}" d="${markerPath(es.marker, x, y, 5)}" ` +
        `fill="${es.filled ? "currentColor" : "none"}" stroke-width="1.6"><title>${esc(e.title)}</title></path>`;
      if (last) stripWords[e.cpu].push([x + 8, "start", "last put", "t-fg", 700]);
    }
    for (let k = 1; k <= n; k++) {
      const [c] = V.steps[path.steps[k - 1]];
      path.shown[k - 1].forEach((f, j) => {
        const kind = V.findings[f].kind;
        const es = evStyle[kind] || { marker: "*", label: kind };
        const x = X(k), y = laneTop(c) + stripH / 2 + 1;
        s += `<path class="lk-event" data-kind="${esc(kind)}" d="${markerPath(es.marker, x, y, 5.5)}" fill="${FILLED[es.marker] ? FC : "none"}" stroke="${FC}" stroke-width="1.8">` +
          `<title>${esc(`step ${k}: ${es.label}: ${V.findings[f].message}`)}</title></path>`;
        const lastK = k === n;
        stripWords[c].push([lastK ? x - 10 : x + 10, lastK ? "end" : "start", es.label, "t-finding", 700, j]);
      });
    }
    stripWords.forEach((words, c) => {
      const y = laneTop(c) + stripH / 2 + 5;
      for (const [x, anchor, word, cls, weight] of words) {
        s += `<text x="${x}" y="${y}" text-anchor="${anchor}" class="lk-eventlabel ${cls}" font-size="11.5" font-weight="${weight}">${esc(word)}</text>`;
      }
    });
    // The data lanes: a refcount's count, an object's life (a bar that ends at
    // its free, hatched after it), a shared variable's value; marks where a cpu changed it.
    lanes.forEach((lane, i) => {
      const y0 = dataTop + i * dataH, yc = y0 + dataH / 2;
      const what = lane.kind === "ref" ? "refcount" : lane.kind === "obj" ? "object" : "variable";
      const nm = lane.name.length > 22 ? lane.name.slice(0, 21) + "…" : lane.name;
      s += `<text x="${labelW - 8}" y="${yc + 4}" text-anchor="end" class="t-fg lk-lanelabel" font-size="11.5">${esc(nm)}<title>${esc(`${what} ${lane.name}`)}</title></text>`;
      s += `<line x1="${labelW}" x2="${X(x1lim)}" y1="${y0 + dataH}" y2="${y0 + dataH}" class="s-grid"/>`;
      for (const seg of lane.segs) {
        const a = seg.from === 0 ? x0lim : seg.from, b = seg.to > n ? END : seg.to;
        const xa = X(a), xb = X(b), wseg = xb - xa;
        let word = "", cls = "lk-seg";
        if (lane.kind === "ref") {
          word = String(seg.value);
          cls += seg.value <= 0 ? " lk-seg-zero" : "";
          s += `<rect class="${cls} s-muted" x="${xa + 1}" y="${y0 + 3}" width="${Math.max(0, wseg - 2)}" height="${dataH - 6}" rx="3" fill="none" stroke-width="1"${seg.value <= 0 ? ` stroke-dasharray="3 2"` : ""}/>`;
        } else if (lane.kind === "obj") {
          if (seg.value === "alive") {
            word = "alive";
            s += `<rect class="lk-seg lk-alive" x="${xa}" y="${y0 + 4}" width="${Math.max(0, wseg)}" height="${dataH - 8}" rx="2"/>`;
          } else if (seg.value === "freed") {
            word = "freed";
            s += `<rect class="lk-seg lk-freed" x="${xa}" y="${y0 + 4}" width="${Math.max(0, wseg)}" height="${dataH - 8}" fill="url(#${this.uid}-freed)" stroke="${FC}" stroke-width="1" stroke-dasharray="3 2"/>`;
          }
        } else {
          word = valueText(seg.value);
          s += `<rect class="lk-seg s-muted" x="${xa + 1}" y="${y0 + 3}" width="${Math.max(0, wseg - 2)}" height="${dataH - 6}" rx="3" fill="none" stroke-width="0.8"/>`;
        }
        const wordW = word.length * 6.2 + 6;
        if (word && wordW <= wseg) {
          s += `<text x="${(xa + xb) / 2}" y="${yc + 4}" text-anchor="middle" font-size="11" class="${lane.kind === "obj" ? (seg.value === "freed" ? "t-finding" : "t-alive") : "t-fg"}" font-weight="${lane.kind === "ref" ? 700 : 400}">${esc(word)}<title>${esc(`${lane.name}: ${word}`)}</title></text>`;
        }
      }
      for (const m of lane.marks) {
        const es = dataEventStyle(this.data.event_style, m.ev);
        const x = X(m.k);
        // A use while the object is freed (in the state before the step): the finding's star.
        const bad = lane.kind === "obj" && m.ev === "use" && lane.segs.some((g) => g.value === "freed" && g.from <= m.k - 1 && m.k - 1 < g.to);
        const cls = bad ? "" : "s-fg";
        const col = bad ? FC : "currentColor";
        s += `<path class="lk-datamark ${cls}" data-kind="${m.ev}" d="${markerPath(bad ? "*" : es.marker, x, yc, bad ? 6 : 4.5)}" ` +
          `fill="${es.filled || bad ? col : "none"}" stroke="${col}" stroke-width="1.5">` +
          `<title>${esc(`step ${m.k}: ${V.cpus[m.cpu].name} ${eventWords(m.ev, m.ev === "assign" ? { var: lane.name, value: m.value } : { ref: lane.name, object: lane.name, count: m.count, ok: m.ok, release: m.release })}`)}</title></path>`;
      }
    });
    // The deadlock: dashed arrows from each waiter's wait bar to the bar of the lock
    // it waits for, each in a column of its own to the right (not piled on one spot).
    const barEnd = new Map();
    for (const { iv, b, y, hgt } of bars) if (iv.kind) barEnd.set(`${iv.cpu}:${iv.lock}:${iv.kind}`, [X(b), y + hgt / 2]);
    for (const cyc of cycles) {
      cyc.forEach(([w, l, hcpu], j) => {
        const lock = V.locks[l].name;
        const A = barEnd.get(`${w}:${lock}:wait`);
        const B = barEnd.get(`${hcpu}:${lock}:hold`) || barEnd.get(`${hcpu}:${lock}:wait`);
        if (!A || !B) return;
        const dy = B[1] - A[1];
        const col = X(END) + (0.45 + 0.9 * j) * unit;
        const cx = Math.max(A[0], B[0]) + (col - Math.max(A[0], B[0])) * 2, cy = (A[1] + B[1]) / 2;
        s += `<path class="lk-cycle-arrow" d="M${A[0] + 1},${A[1]}Q${cx},${cy} ${B[0] + 2},${B[1] + (dy > 0 ? -3 : 3)}" fill="none" stroke="${FC}" stroke-width="2" ` +
          `stroke-dasharray="6 4" marker-end="url(#${this.uid}-arrow)"><title>${esc(`${V.cpus[w].name} waits for ${lock} held by ${V.cpus[hcpu].name}`)}</title></path>`;
      });
    }
    // Steps not shown yet (after the cursor) are dimmed; the cursor itself (placed by moveCursor).
    const bottom = dataTop + lanes.length * dataH;
    s += `<rect class="lk-future f-bg" x="0" y="${top}" width="0" height="${bottom - top}" fill-opacity="0.55"/>`;
    s += `<line class="lk-cursor s-fg" x1="0" x2="0" y1="${top - 4}" y2="${bottom}" stroke-width="2"/>`;
    s += `<text class="lk-cursor-label t-fg" x="0" y="${top - 7}" font-size="11.5" font-weight="700"></text>`;
    // The step axis.
    const ay = bottom + 14;
    const every = unit >= 24 ? 1 : unit >= 16 ? 2 : 5;
    for (let k = 1; k <= n; k++) if (k % every === 0 || k === 1) s += `<text x="${X(k)}" y="${ay}" text-anchor="middle" class="t-fg" font-size="11">${k}</text>`;
    s += `<text x="${(X(x0lim) + X(x1lim)) / 2}" y="${ay + 16}" text-anchor="middle" class="t-fg" font-size="11.5">step</text>`;
    s += "</svg>";
    this.timeline.innerHTML = s;
    const svg = this.timeline.firstChild;
    svg.addEventListener("click", (e) => {
      const r = svg.getBoundingClientRect();
      const u = (e.clientX - r.left) / scale;
      const k = Math.round((u - labelW) / unit + x0lim);
      if (k >= 0 && k <= n && u > labelW - 4) this.v.go(k);
    });
    this.cursor = {
      X, n, right: X(x1lim), width,
      future: svg.querySelector(".lk-future"), line: svg.querySelector(".lk-cursor"),
      label: svg.querySelector(".lk-cursor-label"),
    };
    this.moveCursor(pos);
    this.drawLegend(ivs, path, n, cycles.length > 0, devs, lanes, rels);
  }

  moveCursor(pos) {
    const C = this.cursor;
    const xc = pos > 0 ? C.X(pos) : C.X(0.5);
    C.line.setAttribute("x1", xc);
    C.line.setAttribute("x2", xc);
    // Near the right edge the label goes on the left of the cursor, so it is never clipped.
    const flip = xc + 64 > C.width;
    C.label.setAttribute("x", flip ? xc - 4 : xc + 4);
    C.label.setAttribute("text-anchor", flip ? "end" : "start");
    C.label.textContent = pos ? "step " + pos : "start";
    C.future.setAttribute("x", xc + 1);
    C.future.setAttribute("width", pos < C.n ? C.right - xc - 1 : 0);
    this.cursorX = xc;
  }

  drawLegend(ivs, path, n, hasCycle, devs, lanes, rels) {
    const V = this.V, FC = this.data.finding_color;
    const evStyle = Object.assign({}, DATA_EVENT_STYLE, this.data.event_style);
    const key = [this.V.id, ...new Set(ivs.map((iv) => iv.kind + iv.lock + iv.mode)), hasCycle, ...new Set(devs.map((e) => e.ev)),
      ...lanes.map((l) => l.kind), rels.length].join("|") + "|" +
      path.shown.slice(0, n).flat().map((f) => V.findings[f].kind).join(",");
    if (key === this.legendKey) return;
    this.legendKey = key;
    const L = this.tlLegend;
    L.textContent = "";
    const item = (svgInner, text) => {
      const span = h("span", { class: "lk-key" });
      span.innerHTML = `<svg width="26" height="14" viewBox="0 0 26 14" aria-hidden="true">${svgInner}</svg>`;
      span.append(h("span", { text: " " + text }));
      L.append(span);
    };
    const holds = new Set(ivs.filter((iv) => iv.kind === "hold").map((iv) => iv.lock + ":" + iv.mode));
    for (const l of V.locks) {
      const st = this.data.lock_style[l.name];
      for (const m of [0, 1]) {
        if (!holds.has(l.name + ":" + m) && !(m === 0 && !holds.size)) continue;
        item(`<rect x="1" y="1" width="24" height="12" fill="url(#${this.pid(l.name, m === 1)})" stroke="${mix(st.color, "#000000", 0.45)}"/>`,
          l.name + (m === 1 ? " (read)" : ""));
      }
    }
    if (ivs.some((iv) => iv.kind === "wait") || !ivs.length) item(`<rect x="1" y="2" width="24" height="10" fill="none" stroke="currentColor" stroke-width="1.5" stroke-dasharray="5 3"/>`, "waiting for a lock");
    if (ivs.some((iv) => iv.kind === "sleep")) item(`<rect x="1" y="2" width="24" height="10" fill="none" stroke="currentColor" stroke-width="1.5" stroke-dasharray="2 3"/>`, "sleeping");
    const evs = new Set(devs.map((e) => e.ev));
    const mk = (ev, x = 13) => {
      const es = dataEventStyle(this.data.event_style, ev);
      return `<path d="${markerPath(es.marker, x, 7, 4.8)}" fill="${es.filled ? "currentColor" : "none"}" stroke="currentColor" stroke-width="1.5"/>`;
    };
    if (evs.has("get") || evs.has("put")) item(mk("get", 7) + mk("put", 19), "get / put a reference (count in its lane)");
    if (evs.has("release_call")) item(mk("release_call"), "last put: runs the release");
    if (rels.length) item(`<path d="M2,12V3H24V12" fill="none" stroke="currentColor" stroke-width="2"/>`, "the release, in the putter's context");
    if (evs.has("alloc")) item(mk("alloc"), "alloc");
    if (lanes.some((l) => l.kind === "obj")) {
      item(`<rect x="1" y="3" width="24" height="8" rx="2" class="lk-alive"/>`, "object alive");
      item(`<rect x="1" y="3" width="24" height="8" fill="url(#${this.uid}-freed)" stroke="${FC}" stroke-dasharray="3 2"/>`, "freed");
    }
    if (evs.has("free")) item(mk("free"), "kfree");
    if (evs.has("use")) item(mk("use"), "use");
    if (evs.has("assign")) item(mk("assign"), "write of a variable the code tests");
    const kinds = [...new Set(path.shown.slice(0, n).flat().map((f) => V.findings[f].kind))];
    for (const kind of kinds) {
      const es = evStyle[kind] || { marker: "*", label: kind };
      item(`<path d="${markerPath(es.marker, 13, 7, 5)}" fill="${FILLED[es.marker] ? FC : "none"}" stroke="${FC}" stroke-width="1.6"/>`, es.label);
    }
    if (hasCycle) item(`<path d="M1,7H22" stroke="${FC}" stroke-width="2" stroke-dasharray="5 3"/><path d="M19,3L25,7L19,11Z" fill="${FC}"/>`, "waits for (deadlock cycle)");
    item(`<path d="M13,0V14" stroke="currentColor" stroke-width="2"/>`, "current step");
  }
}

// The schedule as text (the replay string): type or paste one, Go, Copy; errors name the entry.
class ScheduleField extends Region {
  build() {
    const inId = this.uid + "-sched", errId = this.uid + "-err";
    this.input = h("input", { type: "text", id: inId, class: "lk-input", spellcheck: "false", autocomplete: "off",
      "aria-describedby": errId, placeholder: "e.g. CPU0 CPU1 CPU0*",
      onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.v.jump(); } e.stopPropagation(); } });
    this.goBtn = h("button", { type: "button", class: "lk-btn", text: "Go", "aria-label": "Go to this schedule", onclick: () => this.v.jump() });
    this.copyBtn = h("button", { type: "button", class: "lk-btn", text: "Copy", "aria-label": "Copy the schedule", onclick: () => this.v.copy() });
    this.errEl = h("div", { class: "lk-error", id: errId, role: "status" });
    return h("div", { class: "lk-schedbox" },
      h("div", { class: "lk-schedule" },
        h("label", { for: inId, class: "lk-label", text: "Schedule:" }), this.input, this.goBtn, this.copyBtn), this.errEl,
      h("div", { class: "lk-keys", text: "Keys (click the stepper first): 0–9 step that cpu · ← → back / forward · Home / End · Esc leaves Present" }));
  }

  update({ pos }) {
    const text = this.v.names(this.sched.slice(0, pos)).join(" ");
    if (document.activeElement !== this.input || !this.errShown) this.input.value = text;
    this.input.setAttribute("data-schedule", text);
  }

  showError(text) {
    this.errEl.textContent = text || "";
    this.errEl.hidden = !text;
    if (text) this.input.setAttribute("aria-invalid", "true"); else this.input.removeAttribute("aria-invalid");
    this.errShown = !!text;
  }
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
    this.handlers = [];
    this.pending = false;
    this.wanted = null;   // a variant being built by the kernel: {vid, names}
    const onChange = () => {
      if (this.pushing || this.pending) return;
      this.pending = true;
      queueMicrotask(() => { this.pending = false; this.pull(); });
    };
    for (const name of ["schedule", "position", "variant"]) this.listen("change:" + name, onChange);
    this.listen("change:data", () => this.load(model.get("data")));
    this.listen("msg:custom", (msg) => this.onMessage(msg));
    this.onFullscreen = () => { if (!document.fullscreenElement && this.root && this.root.classList.contains("lk-present")) this.present(false); };
    document.addEventListener("fullscreenchange", this.onFullscreen);
    this.load(model.get("data"));
  }

  listen(ev, fn) {
    try { this.model.on(ev, fn); this.handlers.push([ev, fn]); } catch (e) { /* a model without it */ }
  }

  destroy() {
    if (this.resizeObs) this.resizeObs.disconnect();
    document.removeEventListener("fullscreenchange", this.onFullscreen);
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
    if (!this.V) return;            // no data (yet): nothing to move
    const vid = m.get("variant") || this.data.variants[0].id;
    const sched = m.get("schedule") || "";
    const pos = m.get("position");
    const s = this.synced;
    if (vid === s.variant && sched === s.schedule && pos === s.position) return;
    if (vid !== this.V.id) {
      const V = this.data.variants.find((v) => v.id === vid);
      if (!V) { this.note(`No variant '${vid}' here (variants: ${this.data.variants.map((v) => v.id).join(", ")}).`); this.push(); return; }
      if (V.pending) { this.request(vid, null, true); return; }
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

  // A variant too large to ship with the page is built by the kernel when opened.
  request(vid, names, fromPython = false) {
    const V = this.data.variants.find((v) => v.id === vid);
    this.wanted = { vid, names, fromPython, from: this.V ? this.V.id : null };
    for (const [id, b] of Object.entries(this.variants.buttons)) b.setAttribute("aria-busy", String(id === vid));
    let sent = false;
    try {
      if (typeof this.model.send === "function") { this.model.send({ type: "want", variant: vid }); sent = true; }
    } catch (e) { sent = false; }
    if (!sent) {
      this.wanted = null;
      this.note(`'${vid}' is built by the notebook's kernel when you open it (${V.note}); there is no kernel here. ` +
        `Export it with: python -m labkit export ${this.data.case.id} --variant ${vid}`);
      return;
    }
    this.note(`⏳ Building '${vid}' in the kernel: ${V.note}. This takes a few seconds…`);
    this.noteEl.classList.add("lk-busy");
    clearTimeout(this.wantTimer);
    this.wantTimer = setTimeout(() => {
      if (this.wanted && this.wanted.vid === vid) this.note(`⏳ Still building '${vid}' (is the kernel running? Run the cell again if it was restarted)…`);
    }, 30000);
  }

  onMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "variant_error") {
      this.wanted = null;
      this.noteEl.classList.remove("lk-busy");
      this.note(`Could not build '${msg.id}': ${msg.message}`);
      return;
    }
    if (msg.type !== "variant" || !msg.variant) return;
    const i = this.data.variants.findIndex((v) => v.id === msg.id);
    if (i < 0) return;
    const V = msg.variant;
    V.texts = msg.texts;
    this.data.variants[i] = V;
    const b = this.variants.buttons[msg.id];
    if (b) { b.removeAttribute("aria-busy"); b.classList.remove("lk-pending"); b.title = V.title; }
    const w = this.wanted;
    if (!w || w.vid !== msg.id) return;
    this.wanted = null;
    clearTimeout(this.wantTimer);
    this.noteEl.classList.remove("lk-busy");
    if (w.fromPython) { this.useVariant(V); this.synced = {}; this.pull(); }
    else this.toggleVariant(msg.id, w.names);
  }

  // -- data ------------------------------------------------------------------
  load(data) {
    if (this.resizeObs) { this.resizeObs.disconnect(); this.resizeObs = null; }
    this.data = data;
    this.T = data && data.texts;
    this.V = null;
    this.el.textContent = "";
    if (!data || !data.variants || !data.variants.length) {
      this.el.append(h("div", { class: "lk-stepper", text: "No stepper data." }));
      return;
    }
    const V = variantOf(data, this.model.get("variant"));
    this.buildShell();
    this.useVariant(V);
    const init = initialState(data, V.id, this.model.get("schedule") || "", this.model.get("position"));
    this.adopt(init.state);
    this.showError(init.error);
    this.update();
    this.synced = { schedule: this.model.get("schedule"), position: this.model.get("position"), variant: this.model.get("variant") };
    if (init.error || this.synced.variant !== V.id || this.synced.position !== this.pos) this.push();
  }

  names(cpus) { return cpus.map((c) => this.V.cpus[c].name); }

  // The core's state {variant, schedule, position, carry}: read it, adopt a new one.
  state() { return { variant: this.V.id, schedule: this.sched, position: this.pos, carry: this.carry }; }

  adopt(st) {
    if (st.variant !== this.V.id) this.useVariant(this.data.variants.find((v) => v.id === st.variant));
    this.sched = st.schedule;
    this.pos = st.position;
    this.carry = st.carry;
  }

  blocker(sid, c, long = false) { return blocker(this.V, this.T, sid, c, long); }

  parse(text) { return parseSchedule(this.V, this.T, text); }

  kindAt(sid, c) {
    const V = this.V;
    const frames = V.threads[V.states[sid][c]][0];
    const top = frames[frames.length - 1];
    const fn = top && V.functions[top[0]];
    return fn && fn.kinds ? fn.kinds[top[1]] : null;
  }

  // -- the static skeleton: one region after the other -------------------------
  buildShell() {
    const root = h("div", {
      class: "lk-stepper", tabindex: "0", role: "group",
      "aria-label": `Stepper: ${this.data.case.title}`,
      "data-lm-suppress-shortcuts": "true",
      onkeydown: (e) => this.onKey(e),
    });
    this.root = root;
    root._labkit = this;   // test hook: el.querySelector('.lk-stepper')._labkit

    const defs = h("div", { class: "lk-defs", "aria-hidden": "true" });
    defs.innerHTML = `<svg width="0" height="0" style="position:absolute"><defs>${this.patternDefs()}</defs></svg>`;
    root.append(defs);
    // The regions, in screen order; each is built once, rebuilt per variant, updated per step.
    this.header = new Header(this);
    this.variants = new VariantBar(this);
    this.steps = new StepBar(this);
    this.status = new Status(this);
    this.cpus = new CpuPanels(this);
    this.tables = new Tables(this);
    this.tl = new Timeline(this);
    this.schedule = new ScheduleField(this);
    this.regions = [this.header, this.variants, this.steps, this.status, this.cpus, this.tables, this.tl, this.schedule];
    root.append(this.header.build(), this.variants.build(), this.steps.build(), this.status.build());
    const main = h("div", { class: "lk-main" });
    main.append(this.cpus.build(), this.tables.build(), this.tl.build());
    root.append(main, this.schedule.build());
    // Test hooks and the elements the actions use.
    this.input = this.schedule.input;
    this.errEl = this.schedule.errEl;
    this.banner = this.status.banner;
    this.noteEl = this.status.noteEl;
    this.el.append(root);
    const stored = storedLayout();
    const small = typeof window !== "undefined" && window.innerHeight && window.innerHeight < 900;
    this.setCompact(stored ? stored === "compact" : !!small, false);
    if (window.ResizeObserver) {
      // A wider or narrower notebook, or a larger font: redraw the timeline to fit (on the next frame).
      this.resizeObs = new ResizeObserver(() => this.afterFrame());
      this.resizeObs.observe(this.tl.timeline);
      this.resizeObs.observe(root);
    }
  }

  setCompact(on, remember) {
    this.compact = !!on;
    this.root.classList.toggle("lk-compact", this.compact);
    this.header.layoutBtn.setAttribute("aria-pressed", String(this.compact));
    if (remember) { try { window.localStorage.setItem(LAYOUT_KEY, this.compact ? "compact" : "full"); } catch (e) { /* private mode */ } }
    this.tl.dirty();
    if (this.V) this.update();
  }

  present(on) {
    const root = this.root;
    root.classList.toggle("lk-present", on);
    this.header.presentBtn.setAttribute("aria-pressed", String(on));
    this.header.presentBtn.textContent = on ? "Leave (Esc)" : "Present";
    if (on) {
      this.wasCompact = this.compact;
      this.setCompact(true, false);
      try { if (root.requestFullscreen && !document.fullscreenElement) root.requestFullscreen().catch(() => { /* the page fills the window instead */ }); } catch (e) { /* idem */ }
    } else {
      this.setCompact(this.wasCompact, false);
      try { if (document.fullscreenElement === root) document.exitFullscreen(); } catch (e) { /* already out */ }
    }
    root.focus({ preventScroll: true });
    this.tl.dirty();
    this.afterFrame();
  }

  patternDefs() {
    // Per lock: a write pattern (colour + hatch in a darker shade, as the static
    // timeline) and a read one (paler, half the hatch density).
    let s = "";
    const style = this.data.lock_style;
    for (const name of Object.keys(style)) {
      const st = style[name];
      const ink = PATTERN_INK[st.pattern] || "";
      const dark = mix(st.color, "#000000", 0.35);
      s += `<pattern id="${this.pid(name)}" patternUnits="userSpaceOnUse" width="6" height="6">` +
        `<rect width="6" height="6" fill="${st.color}"/>` +
        `<g stroke="${dark}" stroke-width="1" fill="${dark}">${ink}</g></pattern>`;
      s += `<pattern id="${this.pid(name, true)}" patternUnits="userSpaceOnUse" width="12" height="12">` +
        `<rect width="12" height="12" fill="${st.color}" fill-opacity="0.5"/>` +
        `<g stroke="${dark}" stroke-width="1" fill="${dark}" stroke-opacity="0.8">${ink}</g></pattern>`;
    }
    // A freed object: hatched in the finding colour.
    s += `<pattern id="${this.uid}-freed" patternUnits="userSpaceOnUse" width="6" height="6">` +
      `<path d="M-1,1l2,-2M0,6l6,-6M5,7l2,-2" stroke="${this.data.finding_color}" stroke-width="1.2"/></pattern>`;
    return s;
  }

  pid(lockName, read = false) {
    const keys = Object.keys(this.data.lock_style);
    return `${this.uid}-pat${keys.indexOf(lockName)}${read ? "r" : ""}`;
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
    this.T = V.texts || this.data.texts;
    this.bugIndex = -1;
    this.path = null;
    for (const r of this.regions) r.variant(V);
  }

  // The lines the fix changed: `to` against `from` (computed in Python at export).
  showDiff(fromId) {
    const rel = fromId && this.data.relations && this.data.relations[this.V.id] && this.data.relations[this.V.id][fromId];
    const counts = this.cpus.markDiff(rel || null);
    this.variants.diffNote(rel ? counts : null, fromId);
  }

  // -- actions -----------------------------------------------------------------
  changed() { this.update(); this.push(); }

  reset() { this.carry = null; this.sched = []; this.pos = 0; this.showError(null); this.note(""); this.changed(); }

  stepCpu(c) {
    const before = this.state();
    const st = stepState(this.V, before, c, this.walked().sids[this.pos]);
    if (st === before) return;
    this.adopt(st);
    this.showError(null);
    this.note("");
    this.changed();
  }

  go(p) {
    const before = this.state();
    const st = goState(before, p);
    if (st === before) { this.update(); return; }
    this.adopt(st);
    this.changed();
  }

  jump() {
    const r = jumpState(this.V, this.T, this.state(), this.input.value);
    if (r.error) {
      this.showError(r.error);
      return;
    }
    this.showError(null);
    this.adopt(r.state);
    const n = r.state.schedule.length;
    this.note(`Jumped to a schedule of ${n} step${n === 1 ? "" : "s"}.`);
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

  toggleVariant(vid, carried) {
    if (vid === this.V.id) return;
    const from = this.V;
    const to = this.data.variants.find((v) => v.id === vid);
    const names = carried || (this.carry ? this.carry : this.names(this.sched.slice(0, this.pos)));
    if (to.pending) { this.request(vid, names); return; }
    const hadFinding = this.findingsUpTo(this.pos);
    const t = toggleState(this.data, this.state(), names, vid);
    const r = t.carried;
    this.adopt(t.state);
    this.showDiff(from.id);
    this.showError(null);
    this.noteEl.textContent = "";
    if (!r.sameThreads) {
      // Another program: the schedule would compare different things.
      const differ = threadsDiffer(from, to);
      const bugs = to.explorer || [];
      this.note(`Other threads run in '${vid}' (${differ}), so the schedule from '${from.id}' means nothing here: ` +
        `starting from step 0. ` + (bugs.length
        ? `The explorer finds ${bugs.length === 1 ? "a bug" : bugs.length + " bugs"} in '${vid}' of its own.`
        : to.explored.complete ? `The explorer checked all ${to.explored.states} states of '${vid}': no bug.`
          : `The explorer found no bug in '${vid}' within its budget.`));
      if (bugs.length) {
        this.noteEl.append(" ", h("button", { type: "button", class: "lk-btn lk-inline lk-ownbug",
          text: `Show '${vid}''s own bug`, onclick: () => this.showBug() }));
      }
      this.changed();
      return;
    }
    let text;
    if (!names.length) text = `Now showing '${vid}'.`;
    else if (r.msg) text = `The schedule runs ${r.cpus.length} of ${names.length} steps on '${vid}': ${r.msg}.`;
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
    const b = bugState(V, this.T, this.bugIndex + 1);
    const bug = b.bug, idx = b.index;
    this.adopt(b.state);
    this.bugIndex = idx;
    this.showError(b.error);
    this.note(`Bug ${idx + 1} of ${bugs.length} in '${V.id}' (${KIND_LABEL[bug.kind] || bug.kind}), the shortest schedule: ` +
      `${bug.step != null ? bug.step : b.state.schedule.length} steps. Step back with ◀ or ← to see how it got there.` +
      (bugs.length > 1 ? " Click again for the next bug." : ""));
    this.changed();
  }

  onKey(e) {
    if (e.target && (e.target.tagName === "INPUT" && e.target.type === "text")) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    let handled = true;
    if (/^[0-9]$/.test(e.key)) {
      const c = +e.key;
      if (c < this.V.cpus.length) {
        const why = this.blocker(this.walked().sids[this.pos], c);
        if (why) this.note(`${this.V.cpus[c].name} cannot step: ${why}`);
        else this.stepCpu(c);
      }
    } else if (e.key === "ArrowLeft") this.go(this.pos - 1);
    else if (e.key === "ArrowRight") this.go(this.pos + 1);
    else if (e.key === "Home") this.go(0);
    else if (e.key === "End") this.go(this.sched.length);
    else if (e.key === "Escape" && this.root.classList.contains("lk-present")) this.present(false);
    else handled = false;
    if (handled) { e.preventDefault(); e.stopPropagation(); }
  }

  note(text) { this.status.note(text); }

  showError(text) { this.schedule.showError(text); }

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
    const path = this.walked();
    if (this.pos > path.sids.length - 1) this.pos = path.sids.length - 1;
    const ctx = { path, pos: this.pos, sid: path.sids[this.pos] };
    const focused = document.activeElement;
    for (const r of this.regions) r.update(ctx);
    this.afterFrame();
    // A focused button that became disabled would drop the focus to the page
    // (and the keys with it): keep it in the stepper.
    if (focused && this.root.contains(focused) && focused.disabled) this.root.focus({ preventScroll: true });
  }

  // -- the timeline: the look of labkit/render/timeline.py --------------------
  // Layout reads (scroll the current lines and the cursor into view) wait for the
  // next frame, so a click never forces a layout of the page in the middle of its
  // DOM writes.
  afterFrame() {
    if (this.frameQueued) return;
    this.frameQueued = true;
    requestAnimationFrame(() => {
      this.frameQueued = false;
      if (!this.root || !this.root.isConnected) return;
      const moves = [];
      for (const P of this.cpus.panels || []) {
        const cur = P.code.querySelector(".lk-cur, .lk-wait");
        if (!cur || P.code.scrollHeight <= P.code.clientHeight + 4) continue;
        const top = cur.offsetTop - P.code.offsetTop;
        if (top < P.code.scrollTop || top > P.code.scrollTop + P.code.clientHeight - 24) moves.push([P.code, Math.max(0, top - 40)]);
      }
      const T = this.tl, tl = T.timeline, w = tl.clientWidth;
      const fs = parseFloat(getComputedStyle(this.root).fontSize) || BASE_PX;
      if ((w && w !== T.width) || fs !== T.fontPx) { T.width = w; T.fontPx = fs; T.dirty(); this.update(); return; }
      if (T.cursorX !== undefined && tl.scrollWidth > w) {
        const x = T.cursorX * T.scale;
        if (x < tl.scrollLeft + 160 || x > tl.scrollLeft + w - 40) moves.push([tl, Math.max(0, x - w + 120), "left"]);
      }
      for (const [el, v, dir] of moves) { if (dir === "left") el.scrollLeft = v; else el.scrollTop = v; }
    });
  }
}

function render({ model, el }) {
  const view = new StepperView(model, el);
  return () => view.destroy();
}

export default { render };
