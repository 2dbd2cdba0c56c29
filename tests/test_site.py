"""The offline site, the lecture slides, Binder and the case template (issue 10).

The whole site is built once per session (every notebook executed, ~40 s),
with the network unplugged (``unshare -n``) where the machine allows it, and
the browser tests open it from file:// and over http with every request that
leaves the site refused and counted. Screenshots at 1280x720 go to
test-artifacts/ (site_index.png, site_page.png, slide_stepper.png), and the
build time and size to test-artifacts/site_build.json.
"""

from __future__ import annotations

import ast
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labkit.site import external_loads, notebook_paths, objectives_markdown

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "web" / "node_modules"
from browserkit import guard  # noqa: E402 - tests/ is on sys.path
VIEW = {"width": 1280, "height": 720}


def _missing(msg: str) -> None:
    """Skip locally; fail under CI, where nothing may be silently skipped (as conftest.py does)."""
    if os.environ.get("CI"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def _need_web() -> None:
    if not (WEB / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js").exists():
        _missing("web/node_modules missing: scripts/setup.sh runs `npm ci` in web/")


def _run(args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True, cwd=REPO, **kw)


def _unshare_ok() -> bool:
    return bool(shutil.which("unshare")) and subprocess.run(["unshare", "-n", "true"],
                                                            capture_output=True).returncode == 0


# --- the site, built once ------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory, artifacts_dir):
    _need_web()
    out = tmp_path_factory.mktemp("site") / "site"
    cmd = [sys.executable, "-m", "labkit", "site", str(out)]
    offline = _unshare_ok()
    if offline:           # no network at all while every notebook runs and the pages are written
        cmd = ["unshare", "-n", *cmd]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    seconds = time.monotonic() - t0
    assert r.returncode == 0, f"site build failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    (artifacts_dir / "site_build.json").write_text(json.dumps(
        {"seconds": round(seconds, 1), "bytes": size, "megabytes": round(size / 1e6, 2),
         "files": sum(1 for p in out.rglob("*") if p.is_file()), "network": "none" if offline else "on",
         "notebooks": [p.name for p in notebook_paths()]}, indent=2) + "\n")
    return {"out": out, "stdout": r.stdout, "stderr": r.stderr, "offline": offline}


@pytest.mark.notebooks
def test_site_builds_with_no_network(site):
    if not site["offline"]:
        _missing("`unshare -n` is not permitted here: the site was built with the network on")
    assert (site["out"] / "index.html").exists()


@pytest.mark.notebooks
def test_progress_line_per_notebook(site):
    for p in notebook_paths():
        assert re.search(rf"^site: \[\d+/\d+\] {re.escape(p.name)} executed in [\d.]+ s$", site["stdout"], re.M), \
            f"no progress line for {p.name}:\n{site['stdout']}"
    assert "Traceback" not in site["stderr"]


def _stepper_calls(nb: Path) -> int:
    """How many steppers a notebook's code cells make (``lab.stepper(...)``)."""
    cells = json.loads(nb.read_text())["cells"]
    return sum(("".join(c["source"]) if isinstance(c["source"], list) else c["source"]).count("lab.stepper(")
               for c in cells if c["cell_type"] == "code")


def _pages(site):
    return [site["out"] / f"{p.stem}.html" for p in notebook_paths()]


@pytest.mark.notebooks
def test_index_has_every_notebook_and_its_objectives(site):
    index = (site["out"] / "index.html").read_text()
    for p in notebook_paths():
        assert f'href="{p.stem}.html"' in index, p.name
        assert f'href="{p.stem}.slides.html"' in index, p.name
        assert (site["out"] / f"{p.stem}.html").exists() and (site["out"] / f"{p.stem}.slides.html").exists()
    # Each lesson's objectives, from its own "Learning objectives" cell: a list of 3-5.
    blocks = re.findall(r'<section class="lk-objectives".*?</section>', index, re.S)
    assert len(blocks) == len(notebook_paths()), "a notebook has no 'Learning objectives' cell"
    for b in blocks:
        assert 3 <= b.count("<li>") <= 6, b[:300]
    assert "_template" not in index


@pytest.mark.notebooks
def test_nothing_is_loaded_from_the_network(site):
    for path in sorted(site["out"].rglob("*")):
        if path.suffix in (".html", ".css"):
            text = path.read_text(encoding="utf-8")
            assert external_loads(text) == [], f"{path.name}: {external_loads(text)[:3]}"
            assert "data-jupyter-widgets-cdn-only" not in text, path.name
            assert "mathjax" not in text.lower() or path.suffix == ".css", f"{path.name} pulls MathJax"
    for name in ("_static/require.js", "_static/embed-amd.js", "anywidget.js",
                 "_static/reveal/dist/reveal.js", "_static/reveal/dist/theme/labkit.css"):
        assert (site["out"] / name).stat().st_size > 0, name


@pytest.mark.notebooks
def test_every_stepper_has_its_state(site):
    for page, nb in zip(_pages(site), notebook_paths()):
        steppers = _stepper_calls(nb)
        text = page.read_text()
        views = text.count('type="application/vnd.jupyter.widget-view+json"')
        assert views >= steppers, f"{page.name}: {views} widget views for {steppers} steppers"
        if steppers:
            state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', text, re.S)
            assert state, f"{page.name}: no widget state"
            models = json.loads(state.group(1))["state"]
            assert sum(m["model_module"] == "anywidget" for m in models.values()) >= steppers


@pytest.mark.notebooks
def test_figures_have_their_text_as_alt(site):
    """A figure is a PNG/SVG output (``<img>``, its text rendering as ``alt``) or
    labkit's inline SVG (``role="img"``, its text rendering as ``<desc>``)."""
    import html

    from labkit import lab
    n = 0
    for page in _pages(site):
        text = page.read_text()
        for tag in re.findall(r"<img\b[^>]*>", text):
            alt = re.search(r'\balt="([^"]*)"', tag)
            assert alt and alt.group(1).strip(), f"{page.name}: a figure without alt text: {tag[:120]}"
            assert not alt.group(1).startswith("&lt;Figure"), f"{page.name}: alt is a matplotlib repr"
            n += 1
        for fig in re.finditer(r'<svg\b[^>]*class="labkit-figure"[^>]*>', text):
            tag = fig.group(0)
            assert 'role="img"' in tag, f"{page.name}: {tag[:120]}"
            ids = re.search(r'aria-labelledby="([^"]+)"', tag)
            if ids:
                for i in ids.group(1).split():
                    m = re.search(rf'<(title|desc) id="{re.escape(i)}">(.*?)</\1>', text, re.S)
                    assert m and m.group(2).strip(), f"{page.name}: empty or missing #{i}"
            else:      # SVG's own way: a first-child <title> (the name) and <desc> (the text rendering)
                m = re.match(r"\s*<title>(.+?)</title>\s*<desc>(.+?)</desc>", text[fig.end():], re.S)
                assert m, f"{page.name}: a figure with no accessible name and text: {tag[:120]}"
            n += 1
    assert n > 0, "no figures at all in the site"
    # The alt text is the figure's own text rendering (what print() shows).
    nb = REPO / "notebooks" / "01_mm_iommu.ipynb"
    if nb.exists() and 'lab.timeline(\\"mm_iommu\\", \\"before\\")' in nb.read_text():
        page = (site["out"] / "01_mm_iommu.html").read_text()
        assert html.escape(lab.timeline("mm_iommu", "before").text, quote=False) in page


# --- the command line's errors --------------------------------------------------------

def _tiny_notebook(path: Path, source: str) -> None:
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny\n\n### Learning objectives\n1. one\n2. two\n3. three"),
                nbformat.v4.new_code_cell("from labkit import lab"), nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, str(path))


@pytest.mark.notebooks
def test_a_failing_notebook_names_notebook_and_cell(tmp_path):
    _need_web()
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _tiny_notebook(nbs / "01_tiny.ipynb", 'lab.code("no_such_case", "before")')
    r = _run(["site", str(tmp_path / "out"), "--notebooks", str(nbs)])
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "01_tiny.ipynb" in err[0] and "cell 2" in err[0] and "no_such_case" in err[0], err[0]
    assert "site: [1/1] 01_tiny.ipynb ..." in r.stdout


def test_bad_input_is_one_line(tmp_path):
    for args, words in [(["slides", "no_such_case", "-o", str(tmp_path / "d")], "no notebook for 'no_such_case'"),
                        (["site", str(tmp_path), "--notebooks", str(tmp_path / "none")], "no notebooks folder")]:
        r = _run(args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "precious.txt").write_text("mine")
    r = _run(["site", str(full)])
    assert r.returncode == 2 and "not empty" in r.stderr and (full / "precious.txt").read_text() == "mine"


def test_objectives_and_external_loads():
    assert objectives_markdown("# T\n\nno objectives here") is None
    assert objectives_markdown("### Learning objectives\n1. a\n\n### Next\nx") == "1. a"
    assert external_loads('<link rel="stylesheet" href="https://fonts.example/css">') == ["https://fonts.example/css"]
    assert external_loads("<style>@import url('//x.example/a.css');</style>") == ["//x.example/a.css"]
    assert external_loads('<img src="data:image/png;base64,AAAA" alt="x">') == []
    assert external_loads('<script type="module">import m from "https://cdn.example/m.mjs";</script>') == \
        ["https://cdn.example/m.mjs"]


def test_notebook_for_case():
    from labkit.site import notebook_for
    names = {p.name for p in notebook_paths()}
    if "01_mm_iommu.ipynb" in names:
        assert notebook_for("mm_iommu").name == "01_mm_iommu.ipynb"
    assert notebook_for("00_primer").name == "00_primer.ipynb"
    assert all(not p.name.startswith("_") for p in notebook_paths())


# --- slides ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    _need_web()
    out = tmp_path_factory.mktemp("deck") / "lecture.html"
    r = _run(["slides", "mm_iommu", "-o", str(out)])
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stdout
    return out


@pytest.mark.notebooks
def test_slides_command_writes_an_offline_deck(deck):
    text = deck.read_text()
    assert external_loads(text) == []
    assert (deck.parent / "anywidget.js").exists() and (deck.parent / "_static" / "reveal" / "dist" / "reveal.js").exists()
    assert "width: 1280, height: 720" in text
    assert text.count('<section') >= 10


# --- the browser: file://, http, the deck -----------------------------------------------------

def _context(browser, allowed):
    """A 1280x720 page whose requests outside ``allowed`` are refused and counted."""
    ctx = browser.new_context(viewport=VIEW)
    refused = guard(ctx, allowed)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page, refused, errors


def _local(url: str) -> bool:
    return url.startswith(("file://", "data:", "blob:"))


def _step_to_bug_and_back(page, st, expect):
    from labkit import lab
    bug = lab.bug("mm_iommu", "before").split()
    expect(st.locator(".lk-pos")).to_have_text("step 0 of 0", timeout=30_000)
    for cpu in bug:
        st.locator(f'button[data-cpu="{cpu}"]').click()
    expect(st.locator(".lk-pos")).to_have_text(f"step {len(bug)} of {len(bug)}")
    banner = st.locator('.lk-banner[role="alert"]')
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Deadlock")
    for _ in bug:
        st.get_by_role("button", name="Back one step").click()
    expect(st.locator(".lk-pos")).to_have_text(f"step 0 of {len(bug)}")
    expect(banner).to_be_hidden()


@pytest.mark.browser
@pytest.mark.notebooks
def test_site_from_file_offline(site, browser, artifacts_dir):
    from playwright.sync_api import expect
    if "01_mm_iommu.ipynb" not in {p.name for p in notebook_paths()}:
        pytest.skip("no 01_mm_iommu notebook yet")
    ctx, page, refused, errors = _context(browser, _local)
    try:
        page.goto((site["out"] / "index.html").as_uri())
        expect(page.locator("h1")).to_have_text("Kernel locking-bug lab")
        expect(page.locator(".lk-objectives")).to_have_count(len(notebook_paths()))
        page.screenshot(path=str(artifacts_dir / "site_index.png"))
        page.locator('.lk-lesson h2 a[href="01_mm_iommu.html"]').click()
        expect(page).to_have_url(re.compile(r"01_mm_iommu\.html$"))
        st = page.locator(".lk-stepper").first
        expect(st).to_be_visible(timeout=30_000)
        st.scroll_into_view_if_needed()
        _step_to_bug_and_back(page, st, expect)
        # The keyboard: focus the stepper, press a cpu's digit, step back with the arrow.
        st.focus()
        page.keyboard.press("0")
        expect(st.locator(".lk-pos")).to_have_text("step 1 of 1")
        page.keyboard.press("ArrowLeft")
        expect(st.locator(".lk-pos")).to_have_text("step 0 of 1")
        st.evaluate("el => el.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(artifacts_dir / "site_page.png"))
        # Every stepper on every page renders (the widget manager found anywidget.js beside the page).
        for nb in notebook_paths():
            page.goto((site["out"] / f"{nb.stem}.html").as_uri())
            want = _stepper_calls(nb)
            if want:
                page.wait_for_function(f"document.querySelectorAll('.lk-stepper').length >= {want}",
                                       timeout=30_000)
    finally:
        ctx.close()
    assert not errors, errors
    assert refused == [], f"the site tried to reach the network {len(refused)} times: {refused[:5]}"


@pytest.mark.browser
@pytest.mark.notebooks
def test_site_over_http(site, browser):
    from playwright.sync_api import expect
    handler = functools.partial(_QuietHandler, directory=str(site["out"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    ctx, page, refused, errors = _context(browser, lambda u: u.startswith(base) or _local(u))
    try:
        first = next(p for p in notebook_paths() if _stepper_calls(p))
        page.goto(base + f"{first.stem}.html")
        st = page.locator(".lk-stepper").first
        expect(st).to_be_visible(timeout=30_000)
        st.locator("button[data-cpu]").first.click()
        expect(st.locator(".lk-pos")).to_have_text("step 1 of 1")
    finally:
        ctx.close()
        server.shutdown()
        server.server_close()
    assert not errors, errors
    assert refused == [], refused[:5]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.browser
@pytest.mark.notebooks
def test_deck_from_file_offline(deck, browser, artifacts_dir):
    from playwright.sync_api import expect
    ctx, page, refused, errors = _context(browser, _local)
    try:
        page.goto(deck.as_uri())
        page.wait_for_function("window.labkitReveal && window.labkitReveal.isReady()", timeout=30_000)
        st = page.locator(".lk-stepper").first
        expect(st).to_be_attached(timeout=30_000)
        idx = st.evaluate("el => window.labkitReveal.getIndices(el.closest('section'))")
        page.evaluate("i => window.labkitReveal.slide(i.h, i.v)", idx)
        expect(st).to_be_visible()
        # The stepper fits the 1280-wide slide (the slide scrolls if it is taller than 720).
        box = st.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= VIEW["width"] + 1, box
        # (the stepper's cpu panels are <section>s too, so reveal marks its slide a "stack")
        assert st.evaluate("el => getComputedStyle(el.closest('section')).overflowY") == "auto"
        # Large type: the prose on the slides, and the stepper scaled up.
        assert page.locator(".reveal .slides .jp-RenderedMarkdown p").first.evaluate(
            "el => parseFloat(getComputedStyle(el).fontSize)") >= 22
        assert st.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 17
        st.locator('button[data-cpu="CPU0"]').click()
        expect(st.locator(".lk-pos")).to_have_text("step 1 of 1")
        # While the stepper has the focus, its keys stay in it: the arrow steps back, the slide stays.
        st.focus()
        page.keyboard.press("ArrowLeft")
        expect(st.locator(".lk-pos")).to_have_text("step 0 of 1")
        assert page.evaluate("window.labkitReveal.getIndices()") == idx
        page.keyboard.press("1")
        expect(st.locator(".lk-pos")).to_have_text("step 1 of 1")
        page.screenshot(path=str(artifacts_dir / "slide_stepper.png"))
        # Elsewhere the arrows move the deck.
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.keyboard.press("ArrowDown")
        page.wait_for_function(f"JSON.stringify(window.labkitReveal.getIndices()) !== '{json.dumps(idx, separators=(',', ':'))}'")
    finally:
        ctx.close()
    assert not errors, errors
    assert refused == [], f"the deck tried to reach the network: {refused[:5]}"


# --- Binder -----------------------------------------------------------------------------------

BINDER = REPO / "binder"
# conda names that would clash with a pip name: conda's graphviz is the dot program
_CONDA_NAMES = {"graphviz": "graphviz-bin", "python-graphviz": "graphviz"}


def _binder_env() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((BINDER / "environment.yml").read_text())


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _binder_packages(env) -> dict[str, str]:
    """Distribution name -> pinned version spec, from the conda and the pip lists."""
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, _, ver = dep.partition("=")
            out[_norm(_CONDA_NAMES.get(name, name))] = "==" + ver.lstrip("=") if ver else ""
        else:
            for req in dep.get("pip", []):
                if req.startswith("-"):
                    continue
                m = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", req)
                out[_norm(m.group(1))] = m.group(2)
    return out


def test_binder_environment_parses_and_pins_minor_versions():
    env = _binder_env()
    assert env["channels"] == ["conda-forge"]
    pk = _binder_packages(env)
    assert pk["python"] == "==3.11"
    for name, spec in pk.items():
        if name in ("pip", "graphviz-bin"):
            continue
        assert re.fullmatch(r"==\d+\.\d+(\.\*)?", spec), f"{name}: pin a minor version (got {spec!r})"
    post = BINDER / "postBuild"
    assert post.exists() and post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "pip install" in post.read_text() and "-e ." in post.read_text()


def test_binder_pins_agree_with_pyproject_and_this_venv():
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement
    pk = _binder_packages(_binder_env())
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for req in pyproject["dependencies"] + pyproject["optional-dependencies"]["lab"]:
        r = Requirement(req)
        name = _norm(r.name)
        assert name in pk, f"{req}: missing from binder/environment.yml"
        pinned = pk[name].lstrip("=").rstrip(".*")
        assert r.specifier.contains(pinned + ".0", prereleases=True) or r.specifier.contains(pinned), \
            f"{name}: binder pins {pk[name]}, pyproject wants {r.specifier}"
        try:
            have = version(r.name)
        except PackageNotFoundError:
            continue
        assert have == pinned or have.startswith(pinned + "."), \
            f"{name}: this venv has {have}, Binder gets {pk[name]}: the tests here would not test Binder's"


@pytest.mark.notebooks
def test_a_fresh_venv_from_binders_list_runs_every_notebook(tmp_path):
    """Binder's pip list alone (no .venv) runs every notebook: installed from the
    registry, then the notebooks run and the site builds with no network."""
    _need_web()
    reqs = [r for d in _binder_env()["dependencies"] if isinstance(d, dict) for r in d.get("pip", [])]
    (tmp_path / "requirements.txt").write_text("\n".join(reqs) + "\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(tmp_path / "requirements.txt")], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        _missing(f"cannot install Binder's packages from the registry: {r.stderr.strip().splitlines()[-1:]}")
    # labkit from this checkout (binder/postBuild installs it; here the checkout stays untouched)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    cmd = [str(py), "-m", "labkit", "site", str(tmp_path / "site"), "--no-slides"]
    if _unshare_ok():
        cmd = ["unshare", "-n", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=1200)
    assert r.returncode == 0, f"{r.stdout[-1500:]}\n{r.stderr[-1500:]}"
    for p in notebook_paths():
        assert f"{p.name} executed in" in r.stdout, p.name


def _imports_of(source: str) -> set[str]:
    tree = ast.parse(source)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_every_import_is_covered_by_binder():
    from importlib.metadata import packages_distributions
    mods: dict[str, str] = {}
    for path in (REPO / "labkit").rglob("*.py"):
        for m in _imports_of(path.read_text()):
            mods.setdefault(m, str(path.relative_to(REPO)))
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                src = "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!")))
                for m in _imports_of(src):
                    mods.setdefault(m, nb.name)
    third = {m: where for m, where in mods.items()
             if m not in sys.stdlib_module_names and m not in ("labkit", "__future__")}
    dists = packages_distributions()
    pk = _binder_packages(_binder_env())
    for mod, where in sorted(third.items()):
        names = [_norm(d) for d in dists.get(mod, [mod])]
        assert any(n in pk for n in names), f"{where} imports {mod} ({', '.join(names)}): not in binder/environment.yml"


# --- the template: a sixth case -------------------------------------------------------------

def _tiny_case(tmp_path: Path):
    """The template copied and renamed as a lecturer would, loaded from its file."""
    src = (REPO / "labkit" / "cases" / "_template.py").read_text()
    assert 'CASE_ID = "template_abba"' in src
    path = tmp_path / "tiny_case.py"
    path.write_text(src.replace('CASE_ID = "template_abba"', 'CASE_ID = "tiny_case"'))
    spec = importlib.util.spec_from_file_location("tiny_case", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return path, mod


def test_template_case_explorer_stepper_export(tmp_path, monkeypatch):
    import inspect

    from labkit import cases, lab
    from labkit.stepper import export_html
    path, mod = _tiny_case(tmp_path)
    model_lines = [ln for ln in inspect.getsource(mod.build).splitlines() if ln.strip()]
    assert len(model_lines) < 50, f"the template's model is {len(model_lines)} lines"
    assert len(mod.CASE.program("before").cpu_names) == 2
    monkeypatch.setitem(cases._load(), "tiny_case", mod.CASE)     # what adding it to KERNEL_CASES does
    assert "deadlock" in str(lab.explore("tiny_case", "before"))
    assert "no findings" in str(lab.explore("tiny_case", "after"))
    for ex in mod.CASE.exercises:                                  # each exercise both ways
        assert lab.check("tiny_case", ex.number, ex.answer).ok, ex
        for wrong in ex.wrong:
            assert not lab.check("tiny_case", ex.number, wrong).ok, (ex.number, wrong)
    page = export_html("tiny_case", "before", tmp_path / "tiny.html")
    assert "foo driver" in page.read_text() or "foo_ioctl" in page.read_text()
    assert external_loads(page.read_text()) == []


@pytest.mark.notebooks
def test_template_notebook_on_the_tiny_case_builds_a_site(tmp_path):
    import nbformat

    from labkit.site import build_site
    _need_web()
    path, _ = _tiny_case(tmp_path)
    nb = nbformat.read(str(REPO / "notebooks" / "_template.ipynb"), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "stored with outputs"
    assert 'CASE = "template_abba"' in nb.cells[1].source
    nb.cells[1].source = nb.cells[1].source.replace('"template_abba"', '"tiny_case"')
    # The kernel learns the case the way the registry would (labkit/cases/__init__.py lists it).
    nb.cells.insert(1, nbformat.v4.new_code_cell(
        "import importlib.util, labkit.cases\n"
        f"_spec = importlib.util.spec_from_file_location('tiny_case', {str(path)!r})\n"
        "_mod = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(_mod)\n"
        "labkit.cases._load()[_mod.CASE.id] = _mod.CASE"))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    nbformat.write(nb, str(nbs / "06_tiny_case.ipynb"))
    lines: list[str] = []
    r = build_site(tmp_path / "site", notebooks=nbs, progress=lines.append, slides=False)
    assert r["pages"] == ["06_tiny_case.html"]
    page = (tmp_path / "site" / "06_tiny_case.html").read_text()
    assert page.count('type="application/vnd.jupyter.widget-view+json"') >= 1
    assert "dev_lock" in (tmp_path / "site" / "index.html").read_text()


def test_readme_has_a_binder_badge_and_a_link_per_notebook():
    text = (REPO / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/([^/\s)]+/[^/\s)]+)/HEAD\?labpath=notebooks%2F([\w.-]+\.ipynb)", text)
    assert links, "no Binder links in the README"
    assert len({slug for slug, _ in links}) == 1, "Binder links name different repositories"
    badge = re.search(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\(([^)]+)\)", text)
    assert badge and badge.group(1).endswith("labpath=notebooks%2F00_primer.ipynb"), "the badge opens the primer"
    linked = {nb for _, nb in links}
    for p in notebook_paths():
        assert p.name in linked, f"README: no Binder link for {p.name}"
    for nb in linked:
        assert (REPO / "notebooks" / nb).exists(), f"README links a notebook that does not exist: {nb}"
