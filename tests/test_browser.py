"""The stepper in a real browser: JupyterLab, and the standalone page offline.

(a) JupyterLab runs a notebook whose cell makes a stepper; the test clicks
    the cpus to the mm_iommu deadlock and checks what a learner sees, steps
    back, toggles to the fixed variant, pastes a schedule, uses the keyboard,
    reads the schedule back from the kernel, and looks at the dark theme.
(b) The standalone HTML from file:// with the network off (and every
    non-file request refused and recorded): steps to the deadlock.
(c) The browser's reading of the JSON (stepper.js) against the engine's
    replay, on every (state, findings shown) edge of two cases: what the
    page shows for each schedule is what labkit.trace.replay says.

Screenshots go to test-artifacts/ (stepper_*.png).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
from browserkit import LOCAL, guard, page_with_errors  # noqa: E402 - tests/ is on sys.path
DEADLOCK = "CPU0 CPU0 CPU0 CPU0 CPU1 CPU1 CPU1 CPU0 CPU1 CPU1 CPU1 CPU1"
CYCLE = "CPU0 → mem_list_mutex → CPU1 → mmap_sem → CPU0"
THEME_WAIT = 120_000    # ms: a theme switch waits for the theme, never for a fixed time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port, all its state in a temp dir."""
    pytest.importorskip("jupyterlab")
    nbformat = pytest.importorskip("nbformat")
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl")]:
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # No news or update pop-ups over the notebook (setup.sh also puts this in the venv's overrides).
    us = tmp / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    us.mkdir(parents=True)
    (us / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell('from labkit.stepper import stepper\nw = stepper("mm_iommu", "before")\nw'),
        nbformat.v4.new_code_cell('print(w.variant, w.position, "|" + w.shown + "|")'),
        nbformat.v4.new_code_cell('w.goto("CPU0 CPU1 CPU1", variant="before")'),
    ]
    nbformat.write(nb, str(root / "stepper.ipynb"))
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(tmp / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not start: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield {"base": base, "token": token, "root": root, "log": tmp / "server.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


_guard = guard


def _check_deadlock(st, expect):
    expect(st.locator(".lk-pos")).to_have_text("step 12 of 12")
    banner = st.locator('.lk-banner[role="alert"]')
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Deadlock at step 12")
    expect(banner).to_contain_text(CYCLE)
    # The lines each cpu waits on, marked by glyph and words as well as colour.
    w0 = st.locator('section[data-cpu="CPU0"] .lk-line.lk-wait')
    expect(w0).to_have_count(1)
    expect(w0).to_contain_text("mutex_lock(&mem_list_mutex);")
    expect(w0).to_contain_text("waiting for mem_list_mutex")
    w1 = st.locator('section[data-cpu="CPU1"] .lk-line.lk-wait')
    expect(w1).to_contain_text("down_write(&mm->mmap_sem);")
    expect(w1).to_contain_text("waiting for mmap_sem")
    assert w0.get_attribute("aria-current") == "step"
    # The lock table: owner and waiters.
    for lock, owner, waiting in [("mem_list_mutex", "CPU1", "CPU0 (write)"), ("mmap_sem", "CPU0", "CPU1 (write)")]:
        cells = st.locator(f'tr[data-lock="{lock}"] td')
        expect(cells.nth(1)).to_have_text(owner)
        expect(cells.nth(3)).to_have_text(waiting)
    # Both Step buttons disabled, with the reason as tooltip and as visible text.
    for cpu, lock in [("CPU0", "mem_list_mutex"), ("CPU1", "mmap_sem")]:
        b = st.locator(f'button[data-cpu="{cpu}"]')
        expect(b).to_be_disabled()
        assert f"waits for {lock}" in b.get_attribute("title")
        expect(b.locator("xpath=following-sibling::span[contains(@class,'lk-why')]")).to_contain_text(
            f"{cpu} waits for {lock}")
    # The timeline: bars as the static timeline's lock_intervals, the cycle's arrows.
    assert st.locator(".lk-tl .lk-cycle-arrow").count() == 2
    assert st.locator('.lk-tl .lk-event[data-kind="deadlock"]').count() == 1


def _contrast(page, locator) -> float:
    """WCAG contrast of an element's text colour against the stepper's background."""
    return page.evaluate("""(el) => {
        const rgb = (s) => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                                     return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
        const root = el.closest('.lk-stepper');
        const a = lum(rgb(getComputedStyle(el).color)), b = lum(rgb(getComputedStyle(root).backgroundColor));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""", locator.element_handle())


def test_jupyterlab_stepper(browser, lab, artifacts_dir):
    from playwright.sync_api import expect
    context = browser.new_context(viewport={"width": 1280, "height": 1900})
    refused = guard(context, lambda u: u.startswith(LOCAL))
    page, errors = page_with_errors(context, 30_000)
    try:
        page.goto(f"{lab['base']}/lab/tree/stepper.ipynb?token={lab['token']}")
        cells = page.locator(".jp-NotebookPanel .jp-Cell")
        expect(cells).to_have_count(3, timeout=60_000)
        # The kernel is up (a cell run before it is may be dropped).
        expect(page.get_by_role("button", name=re.compile(r"Python 3.*\| Idle"))).to_be_visible(timeout=90_000)
        # Run the first cell as a learner would: click into it, Shift+Enter.
        cells.nth(0).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        st = page.locator(".jp-OutputArea .lk-stepper").first
        expect(st).to_be_visible(timeout=90_000)
        expect(st.locator(".lk-pos")).to_have_text("step 0 of 0")

        for cpu in DEADLOCK.split():
            st.locator(f'button[data-cpu="{cpu}"]').click()
        _check_deadlock(st, expect)
        st.scroll_into_view_if_needed()
        st.screenshot(path=str(artifacts_dir / "stepper_lab_deadlock.png"))

        # Back one step: no deadlock yet, CPU1 may step again.
        st.get_by_role("button", name="Back one step").click()
        expect(st.locator(".lk-pos")).to_have_text("step 11 of 12")
        expect(st.locator(".lk-banner")).to_be_hidden()
        expect(st.locator('button[data-cpu="CPU1"]')).to_be_enabled()
        expect(st.locator(".lk-input")).to_have_value(" ".join(DEADLOCK.split()[:11]))

        # The fixed variant: the same schedule, as far as it goes, and where it parts.
        st.locator('button[data-variant="after"]').click()
        expect(st.locator('button[data-variant="after"]')).to_have_attribute("aria-pressed", "true")
        expect(st.locator(".lk-note")).to_contain_text(re.compile(r"runs (all 11|\d+ of 11) steps on 'after'"))
        expect(st.locator(".lk-banner")).to_be_hidden()
        st.screenshot(path=str(artifacts_dir / "stepper_lab_after.png"))

        # Paste a schedule and jump there; a bad one names the entry.
        inp = st.locator(".lk-input")
        inp.fill("cpu1, CPU1 CPU1 CPU0")
        inp.press("Enter")
        expect(st.locator(".lk-pos")).to_have_text("step 4 of 4")
        expect(inp).to_have_value("CPU1 CPU1 CPU1 CPU0")
        inp.fill("CPU1 CPU7")
        st.get_by_role("button", name="Go to this schedule").click()
        expect(st.locator(".lk-error")).to_contain_text("Entry 2 ('CPU7'): no cpu named 'CPU7'")
        expect(inp).to_have_attribute("aria-invalid", "true")
        expect(st.locator(".lk-pos")).to_have_text("step 4 of 4")

        # The keyboard, once the stepper has focus: digits step, arrows go back and forth,
        # and JupyterLab's own shortcuts ("1" makes a heading cell) stay out of it.
        st.get_by_role("button", name="Reset to the start").click()
        st.locator(".lk-legend").click()
        page.keyboard.press("1")
        expect(st.locator(".lk-pos")).to_have_text("step 1 of 1")
        page.keyboard.press("ArrowLeft")
        expect(st.locator(".lk-pos")).to_have_text("step 0 of 1")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("0")
        expect(st.locator(".lk-pos")).to_have_text("step 2 of 2")
        expect(page.locator(".jp-NotebookPanel .jp-MarkdownCell")).to_have_count(0)
        expect(cells).to_have_count(3)

        # The kernel sees what the learner did ...
        cells.nth(1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        expect(cells.nth(1).locator(".jp-OutputArea-output")).to_contain_text("after 2 |CPU1 CPU0|")
        # ... and moves the view.
        cells.nth(2).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        expect(st.locator('button[data-variant="before"]')).to_have_attribute("aria-pressed", "true")
        expect(st.locator(".lk-pos")).to_have_text("step 3 of 3")
        expect(inp).to_have_value("CPU0 CPU1 CPU1")

        # Dark theme (Settings > Theme), the deadlock again; text must stay legible.
        st.locator('button', has_text="Show me a bug").click()
        _check_deadlock(st, expect)
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
        page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
        # Wait for the theme itself, however long the machine takes to load it (expect's
        # own 5 s default failed under load with the attribute still saying light).
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=THEME_WAIT)
        expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=THEME_WAIT)   # the fade-in is over
        page.wait_for_function("""() => { const r = document.querySelector('.lk-stepper');
            const c = getComputedStyle(r).backgroundColor.match(/\\d+/g).map(Number);
            return c[0] + c[1] + c[2] < 3 * 100; }""", timeout=THEME_WAIT)
        st.scroll_into_view_if_needed()
        st.screenshot(path=str(artifacts_dir / "stepper_lab_dark.png"))
        for sel in [".lk-last", ".lk-pos", 'section[data-cpu="CPU0"] .lk-line.lk-wait code',
                    'tr[data-lock="mmap_sem"] td', ".lk-banner strong", ".lk-why"]:
            assert _contrast(page, st.locator(sel).first) >= 4.5, sel
        # Back to the light theme for whoever uses this server next.
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
        page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Light", exact=True).click()
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true", timeout=THEME_WAIT)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "stepper_lab_failure.png"), full_page=True)
        raise
    finally:
        context.close()
    assert not errors, errors
    assert not refused, f"the page tried to reach the network: {refused}"


def test_standalone_offline(browser, tmp_path, artifacts_dir):
    from playwright.sync_api import expect

    from labkit.stepper.standalone import export_html
    path = export_html("mm_iommu", "before", tmp_path / "mm_iommu.html")
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1150, "height": 900}, color_scheme=scheme)
        context.set_offline(True)
        refused = _guard(context, lambda u: u.startswith("file://"))
        page, errors = page_with_errors(context)
        page.goto(path.resolve().as_uri())
        st = page.locator(".lk-stepper")
        expect(st).to_be_visible()
        if scheme == "light":
            for cpu in DEADLOCK.split():
                st.locator(f'button[data-cpu="{cpu}"]').click()
        else:
            st.focus()
            for cpu in DEADLOCK.split():
                page.keyboard.press(cpu[-1])
        _check_deadlock(st, expect)
        # The schedule field holds the replay string; Copy works or falls back to a selection.
        expect(st.locator(".lk-input")).to_have_value(DEADLOCK)
        st.get_by_role("button", name="Copy the schedule").click()
        expect(st.locator(".lk-note")).to_contain_text(re.compile("Copied|selected"))
        page.screenshot(path=str(artifacts_dir / f"stepper_standalone_{scheme}.png"), full_page=True)
        if scheme == "dark":
            for sel in [".lk-last", 'section[data-cpu="CPU1"] .lk-line.lk-wait code', ".lk-why"]:
                assert _contrast(page, st.locator(sel).first) >= 4.5, sel
        context.close()
        assert not errors, errors
        assert not refused, f"the page tried to reach the network: {refused}"


def _product_schedules(v):
    """One schedule per (state, findings shown) edge (see tests/test_stepper.py)."""
    from collections import deque
    names = [c["name"] for c in v["cpus"]]
    rep = {(0, frozenset()): []}
    q = deque(rep)
    out = []
    while q:
        node = q.popleft()
        sid, seen = node
        for c, nx in enumerate(v["next"][sid]):
            if not nx:
                continue
            nid, step = nx
            shown = list(v["steps"][step][4]) + [f for f in v["states"][nid][-1]
                                                 if v["findings"][f]["key"] not in seen]
            child = (nid, seen | {v["findings"][f]["key"] for f in shown})
            path = rep[node] + [names[c]]
            out.append(path)
            if child not in rep:
                rep[child] = path
                q.append(child)
    return out


_SNAPSHOT = """([vid, schedules]) => {
  const view = document.querySelector('.lk-stepper')._labkit;
  const b = [...view.root.querySelectorAll('.lk-variant')].find((x) => x.dataset.variant === vid);
  b.click();
  const out = [];
  for (const s of schedules) {
    view.input.value = s;
    view.jump();
    const cpus = {};
    for (const sec of view.root.querySelectorAll('section.lk-cpu')) {
      const line = sec.querySelector('.lk-line.lk-cur, .lk-line.lk-wait');
      cpus[sec.dataset.cpu] = {
        line: line ? [line.dataset.fn, +line.dataset.line, line.classList.contains('lk-wait')] : null,
        status: sec.querySelector('.lk-status').textContent,
        held: [...sec.querySelectorAll('.lk-held .lk-chip')].map((c) => c.textContent),
        stack: [...sec.querySelectorAll('.lk-stack li')].map((li) => li.textContent),
      };
    }
    const locks = {};
    for (const tr of view.root.querySelectorAll('.lk-locks tbody tr'))
      locks[tr.dataset.lock] = [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent);
    const buttons = [...view.root.querySelectorAll('button.lk-step')].map((x) => [x.dataset.cpu, x.disabled, x.title]);
    out.push({ pos: view.root.querySelector('.lk-pos').textContent, value: view.input.value,
               error: view.errEl.textContent, cpus, locks, buttons,
               banner: view.banner.hidden ? '' : view.banner.textContent,
               intervals: [...view.root.querySelectorAll('.lk-tl [data-iv]')].map((r) => r.dataset.iv) });
  }
  return out;
}"""


@pytest.mark.parametrize("case_id,vid", [("mm_iommu", "before"), ("rwsem_fairness", "writer_pref"),
                                         ("last_put", "before"), ("irq_lock", "nested")])
def test_browser_reads_the_json_as_the_engine_replays(browser, tmp_path, case_id, vid):
    """stepper.js, on every (state, findings shown) edge: the page shows the engine's replay."""
    from labkit.cases import get_case
    from labkit.render.timeline import lock_intervals
    from labkit.semantics import DONE, READ, WAIT, blocked_reason, stack_of
    from labkit.stepper.export import case_json
    from labkit.stepper.standalone import export_html
    prog = get_case(case_id).program(vid)
    data = case_json(case_id, [vid])
    schedules = [" ".join(p) for p in _product_schedules(data["variants"][0])]
    path = export_html(case_id, vid, tmp_path / "x.html")
    context = browser.new_context()
    context.set_offline(True)
    page = context.new_page()
    page.goto(path.resolve().as_uri())
    page.wait_for_selector(".lk-stepper")
    t0 = time.perf_counter()
    got = page.evaluate(_SNAPSHOT, [vid, schedules])
    elapsed = time.perf_counter() - t0
    context.close()
    names = prog.cpu_names
    mode = lambda m: "read" if m == READ else "write"   # noqa: E731
    from labkit.trace import replay
    for sched, g in zip(schedules, got):
        t = replay(prog, sched)
        s = t.final
        n = len(t.steps)
        assert g["error"] == "" and g["value"] == sched and g["pos"] == f"step {n} of {n}", sched
        for c, th in enumerate(s.threads):
            gc = g["cpus"][names[c]]
            if th.status == DONE:
                assert gc["line"] is None and "finished" in gc["status"], sched
            else:
                f, pc = th.frames[-1]
                assert gc["line"] == [prog.functions[f].name, pc, th.status == WAIT], sched
            assert gc["held"] == [f"{prog.locks[l].name} ({mode(m)})" for l, m in th.held], sched
            assert gc["stack"][:len(stack_of(prog, s, c))] == list(stack_of(prog, s, c)), sched
            why = blocked_reason(prog, s, c)
            name, disabled, title = g["buttons"][c]
            assert name == names[c] and disabled == (why is not None), sched
            assert why is None or why in title, sched
        for i, l in enumerate(prog.locks):
            owner = names[s.owner[i]] if s.owner[i] >= 0 else "—"
            readers = ", ".join(names[c] for c in s.readers[i]) or "—"
            waiting = " → ".join(f"{names[c]} ({mode(m)})" for c, m in s.queue[i]) or "—"
            assert g["locks"][l.name] == [owner, readers, waiting], sched
        found = t.findings
        assert bool(g["banner"]) == bool(found), sched
        for f in found:
            assert f.message in g["banner"], sched
        want_iv = [f"{iv.kind}:{iv.cpu}:{iv.lock or ''}:{iv.start}:{'' if iv.end is None else iv.end}:{iv.level}"
                   for iv in lock_intervals(t)]
        assert sorted(g["intervals"]) == sorted(want_iv), sched
    assert elapsed < 30


# Every seed case: the learner reaches the bug by clicking, sees it, goes back,
# and toggles to the fix (a variant the explorer proves clean).
BUG_THEN_FIX = [("mm_iommu", "before", "after"), ("iommufd_access", "before", "after"),
                ("kvm_vfio", "before", "final"), ("kvm_vfio", "after", "final"),
                ("s390_release", "before", "strict_lifetime"), ("hmm_release", "before", "after"),
                ("hmm_release", "three_threads", "three_threads_reader_pref")]
KIND_LABEL = {"deadlock": "Deadlock", "use_after_free": "Use after free", "warn": "WARNING"}


@pytest.mark.browser
@pytest.mark.parametrize("case_id,bug_vid,fix_vid", BUG_THEN_FIX)
def test_every_seed_bug_by_clicking_back_and_fix(browser, tmp_path, artifacts_dir, case_id, bug_vid, fix_vid):
    from playwright.sync_api import expect

    from labkit.cases import program
    from labkit.explore import explore
    from labkit.stepper.standalone import export_html
    assert explore(program(case_id, fix_vid)).findings == []
    bug = explore(program(case_id, bug_vid)).findings[0]
    steps = bug.schedule.split()
    path = export_html(case_id, bug_vid, tmp_path / f"{case_id}.html")
    context = browser.new_context(viewport={"width": 1150, "height": 900})
    context.set_offline(True)
    page, errors = page_with_errors(context)
    page.goto(path.resolve().as_uri())
    st = page.locator(".lk-stepper")
    banner = st.locator('.lk-banner[role="alert"]')
    for i, cpu in enumerate(steps):
        button = st.locator(f'button[data-cpu="{cpu}"]')
        expect(button).to_be_enabled()
        button.click()
        if i < len(steps) - 1:
            expect(banner).to_be_hidden()       # the shortest schedule: no bug before its last step
    expect(st.locator(".lk-pos")).to_have_text(f"step {len(steps)} of {len(steps)}")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"{KIND_LABEL[bug.kind]} at step {len(steps)}")
    page.screenshot(path=str(artifacts_dir / f"stepper_bug_{case_id}_{bug_vid}.png"), full_page=True)
    st.get_by_role("button", name="Back one step").click()
    expect(banner).to_be_hidden()
    expect(st.locator(".lk-pos")).to_have_text(f"step {len(steps) - 1} of {len(steps)}")
    st.get_by_role("button", name="Forward one step").click()
    expect(banner).to_be_visible()
    st.locator(f'button[data-variant="{fix_vid}"]').click()
    from labkit.stepper.export import variant_relations
    if variant_relations(case_id, [bug_vid, fix_vid])[fix_vid][bug_vid]["same_threads"]:
        expect(st.locator(".lk-note")).to_contain_text(re.compile(rf"The schedule runs (all {len(steps)}|\d+ of {len(steps)}) steps on '{fix_vid}'"))
    else:   # other threads: the schedule is not replayed; the note says why
        expect(st.locator(".lk-note")).to_contain_text(f"Other threads run in '{fix_vid}'")
        expect(st.locator(".lk-pos")).to_have_text("step 0 of 0")
    expect(banner).to_be_hidden()
    context.close()
    assert not errors, errors
