"""The lab as a JupyterLite site (``python -m labkit lite``), in Chromium with the network blocked.

One build per test run (module scope), cached under build/lite-test/<content hash>
so a rerun with the same sources skips it. The site is served from a thread on
127.0.0.1; every request for anything else is refused and counted (must be 0),
and the test checks that the kernel's own requests (its wheels, fetched from a
Web Worker) went through that guard, so the count means something.

* the primer opens by itself, its kernel starts, every cell runs with no error
  and nothing on stderr; a stepper is clicked to its bug and the kernel reads the
  position back (the widget's state synced through the in-browser kernel);
* one case notebook runs top to bottom with no error (LABKIT_LITE_NOTEBOOKS=all
  runs every notebook instead: slow, for a release check).

Fast checks without a browser: the contents listing the build writes against
jupyter_server's, labkit's browser wheel, the pins.

Screenshots: test-artifacts/lite_*.png.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import threading
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
from browserkit import ARGS, guard  # noqa: E402 - tests/ is on sys.path
#: A name for 127.0.0.1 in this browser only: a site on a LAN address over plain http. Browsers allow
#: service workers only on https and localhost, so there JupyterLite cannot give the kernel the site's files.
LAN = "lab.test"
KERNEL_START = 240_000    # ms: Pyodide + IPython + labkit on a loaded 2-core machine (about 12 s when idle)
RUN_ALL = 900_000         # ms: a whole notebook

#: Every public lab call once, on the cases' real data; run in the browser's kernel after the primer.
EVERY_CALL = """
import sys
from labkit import lab
fails, tried = [], set()
def t(name, f):
    tried.add(name.split("(")[0])
    try:
        r = f()
        if hasattr(r, "_repr_mimebundle_"):
            r._repr_mimebundle_()
    except Exception as e:
        fails.append(f"{name}: {type(e).__name__}: {e}")
S = "../data/splats/"
sched = lab.bug("abba", "before")
t("set_theme", lambda: lab.set_theme("auto"))
t("cases", lab.cases)
t("story", lambda: lab.story("mm_iommu"))
t("code", lambda: lab.code("mm_iommu", "before"))
t("explore", lambda: lab.explore("mm_iommu", "before"))
t("bug", lambda: lab.bug("kvm_vfio", "after"))
t("replay", lambda: lab.replay("abba", "before", sched))
t("timeline", lambda: lab.timeline("mm_iommu", "before"))
t("before_after", lambda: lab.before_after("mm_iommu"))
t("before_after_plan", lambda: lab.before_after_plan("mm_iommu"))
t("lockdep", lambda: lab.lockdep("mm_iommu", "before"))
t("lock_order", lambda: lab.lock_order("kvm_vfio", "after"))
t("wait_for", lambda: lab.wait_for("abba", "before"))
t("compare", lambda: lab.compare("mm_iommu", "before", S + "mm_iommu.txt"))
t("stepper", lambda: lab.stepper("mm_iommu", "before"))
t("rarity", lambda: lab.rarity("abba", "before"))
t("check", lambda: lab.check("abba", 1, ""))
t("solution", lambda: lab.solution("abba", 1))
t("check_schedule", lambda: lab.check_schedule("abba", "before", sched))
t("check_verdict", lambda: lab.check_verdict("abba", "after", "clean"))
t("fix_template", lambda: lab.fix_template("last_put", "before", "user_done"))
t("check_fix", lambda: lab.check_fix("last_put", "before", "user_done",
                                     lab.fix_template("last_put", "before", "user_done")))
t("check_chain", lambda: lab.check_chain(S + "kvm_vfio.txt", ["&group->group_lock", "&kvm->lock"]))
t("from_splat", lambda: lab.from_splat(S + "mm_iommu.txt"))
sc = lab.from_splat(S + "mm_iommu.txt")
for m in ("explore", "bug", "stepper", "compare", "source"):
    t(f"from_splat().{m}", getattr(sc, m))
untried = sorted(set(lab.__all__) - {"View"} - tried)
import os
print(f"lab calls: {len(tried)} tried; failures: {fails}; untried: {untried}; "
      f"matplotlib loaded: {'matplotlib' in sys.modules}; cwd: {os.getcwd()}")
"""


def _notebooks():
    want = os.environ.get("LABKIT_LITE_NOTEBOOKS", "01_mm_iommu")
    names = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9]*.ipynb"))
    return [n for n in names if n != "00_primer"] if want == "all" else want.split(",")


# --- fast: no browser ---------------------------------------------------------------------------

def test_contents_index_matches_jupyter_server(tmp_path):
    """The api/contents listing the build writes is the one jupyter_server would write."""
    fcm = pytest.importorskip("jupyter_server.services.contents.filemanager")
    from labkit.lite import write_contents_index
    files = tmp_path / "files"
    (files / "notebooks").mkdir(parents=True)
    (files / "data" / "splats").mkdir(parents=True)
    (files / "notebooks" / "a.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (files / "data" / "splats" / "r.txt").write_text("report\n")
    assert write_contents_index(tmp_path) == 4
    fm = fcm.FileContentsManager(root_dir=str(files))
    for rel in ["", "notebooks", "data", "data/splats"]:
        ours = json.loads((tmp_path / "api" / "contents" / rel / "all.json").read_text())
        theirs = json.loads(json.dumps(fm.get(rel), default=str))
        for m in [ours, theirs, *ours["content"], *theirs["content"]]:
            m.pop("last_modified"), m.pop("created")
        key = lambda m: m["name"]   # noqa: E731
        assert sorted(ours.pop("content"), key=key) == sorted(theirs.pop("content"), key=key), rel
        assert ours == theirs, rel


def test_labkit_wheel(tmp_path):
    """labkit's browser wheel: the package without its build tooling, the reports where exercises look."""
    from labkit.lite import labkit_wheel
    a = labkit_wheel(tmp_path, "t1")
    names = zipfile.ZipFile(a).namelist()
    assert "labkit/lab.py" in names and "labkit/stepper/stepper.js" in names
    assert not [n for n in names if n.startswith("labkit/lite/") or "__pycache__" in n]
    assert "data/splats/kvm_vfio.txt" in names          # exercises.ROOT / "data/splats/..." in site-packages
    assert a.name.startswith("labkit-") and "+t1-py3-none-any.whl" in a.name
    first = a.read_bytes()
    assert labkit_wheel(tmp_path, "t1").read_bytes() == first   # reproducible


def test_pins_agree():
    """The front end and the kernel side of each widget library are one release; Pyodide matches its kernel."""
    here = REPO / "labkit" / "lite"
    build = dict(re.findall(r"^([\w.-]+)==([\w.+-]+)", (here / "build-requirements.txt").read_text(), re.M))
    wheels = {w["name"]: w for w in json.loads((here / "wheels.json").read_text())["packages"]}
    assert build["anywidget"] == wheels["anywidget"]["version"]
    assert build["jupyterlab_widgets"].startswith("3.")
    assert wheels["ipywidgets"]["version"].startswith("8.")
    assert "matplotlib" not in wheels and "numpy" not in wheels
    for w in wheels.values():
        assert re.fullmatch(r"[0-9a-f]{64}", w["sha256"]) and w["file_name"].endswith("-none-any.whl"), w
        assert set(w["depends"]) <= set(wheels) | {"widgetsnbextension"}, w["name"]
    lock = json.loads((here / "package-lock.json").read_text())
    pyodide = json.loads((here / "package.json").read_text())["dependencies"]["pyodide"]
    assert lock["packages"]["node_modules/pyodide"]["version"] == pyodide


# --- the site in a browser ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def site():
    """The built site: build/lite-test/<content hash>/ (older builds there are removed)."""
    from labkit import lite
    if not shutil.which("npm"):      # skip locally, fail under CI (as conftest's fixtures do)
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "npm not installed: the Lite build takes Pyodide from the npm registry (scripts/setup.sh installs it)")
    root = REPO / "build" / "lite-test"
    out = root / lite.content_hash()
    if not (out / "labkit-lite.json").exists():
        if root.exists():
            shutil.rmtree(root)
        t0 = time.monotonic()
        try:
            lite.build(out, log=print)
        except lite.LiteBuildError as e:
            pytest.fail(f"the Lite build failed: {e}", pytrace=False)
        print(f"lite build: {time.monotonic() - t0:.0f} s")
    return out


@pytest.fixture(scope="module")
def server(site):
    """The site on a free port of 127.0.0.1; yields the port."""
    from labkit.lite import make_server
    srv = make_server(site)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(chromium_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=ARGS + [f"--host-resolver-rules=MAP {LAN} 127.0.0.1"])
        yield b
        b.close()


def _guarded(browser, base):
    """A fresh context (no storage, no service worker yet) where only ``base`` may be reached."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    served: list[str] = []
    refused = guard(context, lambda u: u.startswith(base), served)
    return context, {"served": served, "refused": refused}


def _kernel_idle(page, timeout=KERNEL_START):
    page.wait_for_function("""() => {
        const k = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-KernelName');
        const e = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
        return k && k.textContent.includes('Pyodide') && e && e.getAttribute('data-status') === 'idle';
    }""", timeout=timeout, polling=200)


def _problems(page) -> list[str]:
    out = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")
    bad = out.and_(page.locator('[data-mime-type="application/vnd.jupyter.stderr"], '
                                '[data-mime-type="application/vnd.jupyter.error"]'))
    return [t[-1500:] for t in bad.all_inner_texts()]


def _run_all(page, n_code: int) -> float:
    """Run > Run All Cells; wait until every code cell has run (or one failed). Returns seconds."""
    t0 = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function("""(n) => {
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const prompts = Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'), e => e.textContent);
        if (prompts.some(p => p.includes('*'))) return false;
        const failed = panel.querySelector('[data-mime-type="application/vnd.jupyter.error"]');
        return failed || (prompts.length === n && prompts.every(p => /\\[\\d+\\]/.test(p)));
    }""", arg=n_code, timeout=RUN_ALL, polling=500)
    return time.monotonic() - t0


def _run_typed(page, line: str) -> None:
    """A new cell at the end of the notebook, one line put into it and run (Shift+Enter)."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(line)
    page.keyboard.press("Shift+Enter")


def _code_cells(name: str) -> int:
    nb = json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text())
    return sum(c["cell_type"] == "code" for c in nb["cells"])


def _open(context, url, errors):
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(60_000)
    t0 = time.monotonic()
    page.goto(url)
    _kernel_idle(page)
    return page, time.monotonic() - t0


def _every_call(page, expect) -> str:
    """Run EVERY_CALL in the page's kernel; returns its line."""
    _run_typed(page, "import base64; exec(base64.b64decode('%s').decode())"
               % base64.b64encode(EVERY_CALL.encode()).decode())
    out = page.locator(".jp-NotebookPanel .jp-OutputArea-output").filter(has_text="lab calls: ")
    expect(out).to_contain_text("failures: []; untried: []; matplotlib loaded: False", timeout=120_000)
    return out.inner_text()


@pytest.mark.browser
def test_primer_in_lite(browser, server, artifacts_dir):
    from playwright.sync_api import expect

    from labkit import lab
    base = f"http://127.0.0.1:{server}/"
    context, seen = _guarded(browser, base)
    errors = []
    page = None
    try:
        page, ready = _open(context, base, errors)              # the site opens on the primer by itself
        expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")).to_have_text("00_primer.ipynb")
        took = _run_all(page, _code_cells("00_primer"))
        assert not _problems(page), _problems(page)
        cell = page.locator(".jp-NotebookPanel .jp-CodeCell").filter(has_text='lab.code("abba", "before")').first
        cell.scroll_into_view_if_needed()
        expect(cell.locator(".jp-OutputArea-output").first).to_be_visible()
        page.wait_for_timeout(1000)      # JupyterLab paints the cells around it after the scroll
        page.screenshot(path=str(artifacts_dir / "lite_primer.png"))
        # The pictures, drawn as SVG in the browser's Python: a timeline and a lock-order graph.
        for call, shot in [('lab.timeline("abba", "before")', "lite_primer_timeline.png"),
                           ('lab.lock_order("abba", "before")', "lite_primer_lock_order.png")]:
            cell = page.locator(".jp-NotebookPanel .jp-CodeCell").filter(has_text=call).first
            cell.scroll_into_view_if_needed()
            expect(cell.locator(".jp-OutputArea-output svg").first).to_be_visible()
            cell.screenshot(path=str(artifacts_dir / shot))

        # A stepper, clicked to its bug, as a learner would.
        schedule = lab.bug("abba", "before")
        st = page.locator(".jp-OutputArea .lk-stepper").first
        st.scroll_into_view_if_needed()
        expect(st.locator(".lk-pos")).to_have_text("step 0 of 0")
        for cpu in schedule.split():
            st.locator(f'button[data-cpu="{cpu}"]').click()
        n = len(schedule.split())
        expect(st.locator(".lk-pos")).to_have_text(f"step {n} of {n}")
        expect(st.locator('.lk-banner[role="alert"]')).to_contain_text("Deadlock")
        st.screenshot(path=str(artifacts_dir / "lite_stepper_bug.png"))

        # The kernel reads the learner's position back (synced through the in-browser kernel).
        _run_typed(page, 'print("position", stepper.position, "|" + stepper.shown + "|")')
        expect(page.locator(".jp-NotebookPanel .jp-OutputArea-output").filter(has_text="position ")).to_have_text(
            f"position {n} |{schedule}|", timeout=60_000)

        # Every lab call, self-checks included, works in the browser (no matplotlib there at all),
        # reading the site's own files (the kernel runs in the notebook's folder of the drive).
        assert "cwd: /drive/notebooks" in _every_call(page, expect)
    except Exception:
        if page:
            page.screenshot(path=str(artifacts_dir / "lite_primer_failure.png"))
        raise
    finally:
        context.close()
    print(f"lite primer: kernel idle {ready:.1f} s after page load; all cells {took:.1f} s; "
          f"{len(seen['served'])} requests served")
    assert not seen["refused"], f"the site tried to reach the network: {seen['refused']}"
    assert any("/static/pyodide/" in u and u.endswith(".whl") for u in seen["served"]), \
        "the kernel's wheel requests did not pass the guard: the refused count proves nothing"
    assert any("/static/pyodide/pyodide-lock.json?v=" in u for u in seen["served"]), "the lock file was not cache-busted"
    assert not errors, errors


@pytest.mark.browser
def test_primer_over_plain_http_lan(browser, server, artifacts_dir):
    """A lecturer's laptop serving the hall over http: no service worker, no drive; the primer still runs,
    reports and exercises included (labkit's wheel puts data/ where "../data" points from the kernel's home)."""
    from playwright.sync_api import expect
    base = f"http://{LAN}:{server}/"
    context, seen = _guarded(browser, base)
    errors = []
    page = None
    try:
        page, ready = _open(context, base, errors)
        assert page.evaluate("() => !window.isSecureContext && !('serviceWorker' in navigator)")
        took = _run_all(page, _code_cells("00_primer"))
        assert not _problems(page), _problems(page)
        assert "cwd: /home/pyodide" in _every_call(page, expect)
    except Exception:
        if page:
            page.screenshot(path=str(artifacts_dir / "lite_primer_lan_failure.png"))
        raise
    finally:
        context.close()
    print(f"lite primer over http://{LAN}: kernel idle {ready:.1f} s; all cells {took:.1f} s")
    assert not seen["refused"], f"the site tried to reach the network: {seen['refused']}"
    assert not errors, errors


@pytest.mark.browser
@pytest.mark.parametrize("name", _notebooks())
def test_case_notebook_in_lite(browser, server, name, artifacts_dir):
    base = f"http://127.0.0.1:{server}/"
    context, seen = _guarded(browser, base)
    errors = []
    page = None
    try:
        page, ready = _open(context, f"{base}lab/index.html?path=notebooks/{name}.ipynb", errors)
        took = _run_all(page, _code_cells(name))
        assert not _problems(page), _problems(page)
    except Exception:
        if page:
            page.screenshot(path=str(artifacts_dir / f"lite_{name}_failure.png"))
        raise
    finally:
        context.close()
    print(f"lite {name}: all cells {took:.1f} s")
    assert not seen["refused"], f"the site tried to reach the network: {seen['refused']}"
    assert not errors, errors
