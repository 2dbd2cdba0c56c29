"""The offline site and the lecture slides: ``python -m labkit site OUT_DIR``.

Every notebook in ``notebooks/`` is executed on a fresh kernel with its widget
state stored, then turned into one HTML page (and one reveal.js deck) whose
steppers step in the browser with no kernel. The pages load require.js, the
widget manager (``@jupyter-widgets/html-manager``'s ``embed-amd.js``) and
reveal.js from ``_static/`` beside them, and anywidget's front-end module
from ``./anywidget.js``: all installed from npm by ``scripts/setup.sh`` (``npm
ci`` in ``web/``, with its lock file) or shipped by the ``anywidget`` Python
package. Nothing is fetched from the network when a page is opened, from
``file://`` or from any static host.

Layout of ``OUT_DIR``::

    index.html                  the lessons and their learning objectives
    00_primer.html ...          one page per notebook, steppers live
    00_primer.slides.html ...   one reveal.js deck per notebook (1280x720)
    anywidget.js                the widget's front end (beside the pages)
    _static/                    require.js, embed-amd.js (+ its fonts), reveal.js, site.css

``python -m labkit slides CASE -o OUT`` writes one deck (and the same assets)
for the notebook of one case.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError

__all__ = ["build_site", "build_slides", "notebook_paths", "notebook_for", "objectives_markdown",
           "external_loads", "REPO", "WEB"]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
WEB = REPO / "web"
_HERE = Path(__file__).parent
MARKER = ".labkit-site"
SETUP_HINT = "run `bash scripts/setup.sh` (it runs `npm ci` in web/)"


# --- what is there --------------------------------------------------------------

def notebook_paths(folder: Path = NOTEBOOKS) -> list[Path]:
    """The lesson notebooks, in order; names starting with ``_`` (templates) are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LabError(f"no notebooks folder at {folder}")
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(("_", ".")))


def _case_of(path: Path) -> str | None:
    """``01_mm_iommu.ipynb`` -> ``"mm_iommu"`` when that is a case id."""
    from ..cases import all_cases
    ids = {c.id for c in all_cases()}
    stem = re.sub(r"^\d+_", "", path.stem)
    return stem if stem in ids else None


def notebook_for(case: str, folder: Path = NOTEBOOKS) -> Path:
    """The notebook of a case (``mm_iommu`` -> ``notebooks/01_mm_iommu.ipynb``); a
    notebook's own name (``00_primer``, ``primer``) works too."""
    paths = notebook_paths(folder)
    for p in paths:
        if case in (p.stem, p.name, re.sub(r"^\d+_", "", p.stem)):
            return p
    have = ", ".join(re.sub(r"^\d+_", "", p.stem) for p in paths) or "none"
    raise LabError(f"no notebook for {case!r} in {folder} (have: {have})")


_OBJ = re.compile(r"^\s*(?:#{1,6}\s*|\*\*)?learning objectives\b[^\n]*$", re.I | re.M)


def objectives_markdown(source: str) -> str | None:
    """The learning objectives in a markdown cell's text: what follows a
    "### Learning objectives" heading or a "**Learning objectives.**" lead,
    up to the next heading. ``None`` when the cell has none.

    >>> print(objectives_markdown("# T\\n\\n### Learning objectives\\nYou can\\n\\n1. a\\n2. b\\n\\n## 1 Story"))
    You can
    <BLANKLINE>
    1. a
    2. b
    >>> print(objectives_markdown("**Learning objectives.** After this you can\\n\\n1. x"))
    After this you can
    <BLANKLINE>
    1. x
    """
    m = _OBJ.search(source)
    if not m:
        return None
    line = m.group(0).strip()
    rest = source[m.end():]
    lead = ""
    if line.startswith("**"):   # "**Learning objectives.** After this notebook you can"
        lead = re.sub(r"^\*\*learning objectives[^*]*\*\*\s*", "", line, flags=re.I)
    nxt = re.search(r"^#{1,6}\s", rest, re.M)
    if nxt:
        rest = rest[:nxt.start()]
    text = (lead + "\n" + rest).strip()
    return text or None


@dataclass
class _Notebook:
    path: Path
    title: str = ""
    short: str = ""
    case: str | None = None
    objectives: str | None = None      # markdown
    page: str = ""
    slides: str = ""
    seconds: float = 0.0
    nb: object = field(default=None, repr=False)


def _describe(path: Path, nb) -> _Notebook:
    info = _Notebook(path=path, case=_case_of(path), page=f"{path.stem}.html", slides=f"{path.stem}.slides.html")
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if not info.title:
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                info.title = m.group(1).strip()
        if info.objectives is None:
            info.objectives = objectives_markdown(cell.source)
        if info.title and info.objectives is not None:
            break
    info.title = info.title or path.stem
    info.short = re.split(r"[:·]", info.title, maxsplit=1)[0].strip() or path.stem
    if len(info.short) < 6:   # "01 · mm_iommu: ..." -> "01 · mm_iommu"
        info.short = info.title.split(":", 1)[0].strip()
    return info


# --- front-end files ---------------------------------------------------------------

def _assets() -> dict[str, Path]:
    nm = WEB / "node_modules"
    files = {
        "require.js": nm / "requirejs" / "require.js",
        "embed-amd.js": nm / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js",
        "reveal": nm / "reveal.js" / "dist",
    }
    missing = [str(p.relative_to(REPO)) for p in files.values() if not p.exists()]
    if missing:
        raise LabError(f"front-end files missing ({', '.join(missing)}): {SETUP_HINT}")
    try:
        import anywidget
    except ImportError:
        raise LabError("the anywidget package is not installed: run `bash scripts/setup.sh`") from None
    aw = Path(anywidget.__file__).parent / "nbextension" / "index.js"
    if not aw.exists():
        raise LabError(f"anywidget ships no front-end module at {aw}: reinstall anywidget")
    files["anywidget.js"] = aw
    return files


def _copy_assets(out: Path, slides: bool = True) -> None:
    a = _assets()
    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(a["require.js"], static / "require.js")
    shutil.copyfile(a["embed-amd.js"], static / "embed-amd.js")
    # The widget manager's CSS names its fonts relative to embed-amd.js.
    for font in a["embed-amd.js"].parent.glob("*.woff*"):
        shutil.copyfile(font, static / font.name)
    shutil.copyfile(a["anywidget.js"], out / "anywidget.js")
    shutil.copyfile(_HERE / "site.css", static / "site.css")
    if slides:
        dist = a["reveal"]
        dst = static / "reveal" / "dist"
        (dst / "theme").mkdir(parents=True, exist_ok=True)
        for name in ("reveal.js", "reveal.css"):
            shutil.copyfile(dist / name, dst / name)
        shutil.copyfile(_HERE / "slides.css", dst / "theme" / "labkit.css")
        lic = a["reveal"].parent / "LICENSE"
        if lic.exists():
            shutil.copyfile(lic, static / "reveal" / "LICENSE")


# --- executing -----------------------------------------------------------------------

_KERNEL_DIR: dict[str, Path] = {}


@contextmanager
def _kernel_env():
    """Figures inline, IPython's own files and the kernel's sockets in a throwaway folder."""
    import tempfile
    saved = {k: os.environ.get(k) for k in ("MPLBACKEND", "IPYTHONDIR")}
    with tempfile.TemporaryDirectory(prefix="labkit-site-") as tmp:
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        os.environ["IPYTHONDIR"] = str(Path(tmp) / "ipython")
        _KERNEL_DIR["dir"] = Path(tmp)
        try:
            yield
        finally:
            _KERNEL_DIR.pop("dir", None)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _first_line(source: str) -> str:
    line = next((ln for ln in source.splitlines() if ln.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def _stderr_error(cell) -> str | None:
    """An error a cell reported on stderr (labkit shows its own errors as one line there)."""
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            text = o.get("text", "")
            m = re.search(r"^(\w+(?:Error|Exception)): (.*)$", text, re.M)
            if m:
                return f"{m.group(1)}: {m.group(2)}"
            if "Traceback" in text:
                return "a traceback on stderr"
    return None


def execute(path: Path, timeout: int = 600):
    """Run a notebook on a fresh kernel with its widget state stored; a failing
    cell raises a :class:`LabError` naming the notebook, the cell and the error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    rel = _rel(path)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:     # not JSON, not a notebook
        raise LabError(f"{rel}: cannot read the notebook: {e}") from None
    current = {"index": None}

    def on_start(cell, cell_index):
        current["index"] = cell_index

    # Unix sockets in a private folder: nothing listens on TCP (and the kernel
    # does not warn about unencrypted TCP on every start).
    from jupyter_client.manager import KernelManager
    sock = _KERNEL_DIR.get("dir") or Path(tempfile.gettempdir())
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(sock / f"kernel-{os.getpid()}"))
    client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}}, on_cell_start=on_start)

    def where() -> str:
        i = current["index"]
        if i is None:
            return ""
        return f" cell {i} ({_first_line(nb.cells[i].source)!r})"

    try:
        client.execute()
    except CellExecutionError as e:
        ename = getattr(e, "ename", "") or "error"
        evalue = getattr(e, "evalue", "") or ""
        raise LabError(f"{rel}:{where()} failed: {ename}: {evalue}".rstrip(": ")) from None
    except CellTimeoutError:
        raise LabError(f"{rel}:{where()} did not finish within {timeout} s") from None
    except DeadKernelError as e:
        raise LabError(f"{rel}:{where()}: the kernel died ({e})") from None
    except Exception as e:   # the kernel would not start, etc.
        raise LabError(f"{rel}:{where()}: {type(e).__name__}: {e}") from None
    finally:
        if km.has_kernel:    # a kernel manager we made is ours to stop (nbclient stops only its own)
            km.shutdown_kernel(now=True)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            err = _stderr_error(cell)
            if err:
                raise LabError(f"{rel}: cell {i} ({_first_line(cell.source)!r}) failed: {err}")
    return nb


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


# --- converting ----------------------------------------------------------------------

def _markdown(text: str) -> str:
    from nbconvert.filters.markdown import markdown2html
    return markdown2html(text)


def _nav(prev: _Notebook | None, nxt: _Notebook | None, slides: str | None) -> str:
    from jinja2 import Environment
    from .templates import NAV
    return Environment(autoescape=True).from_string(NAV).render(prev=prev, next=nxt, slides=slides)


def _exporter(kind: str):
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter, SlidesExporter
    from . import templates
    if kind == "page":
        ex = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"labkit_page.html.j2": templates.PAGE})],
                          template_file="labkit_page.html.j2")
    else:
        ex = SlidesExporter(template_name="reveal",
                            extra_loaders=[DictLoader({"labkit_slides.html.j2": templates.SLIDES})],
                            template_file="labkit_slides.html.j2")
        ex.reveal_url_prefix = "_static/reveal"
        ex.reveal_theme = "labkit"      # _static/reveal/dist/theme/labkit.css (slides.css)
    ex.require_js_url = "_static/require.js"
    ex.widget_renderer_url = "_static/embed-amd.js"
    ex.mathjax_url = ""
    ex.exclude_input_prompt = False
    return ex


def _resources(info: _Notebook, nav: str) -> dict:
    return {"metadata": {"name": info.title}, "labkit": {"static": "_static/", "nav": nav}}


def _slide_types(nb) -> None:
    """Cut a notebook into slides: each ``#``/``##`` heading starts a slide; a
    markdown cell after a code cell that showed something starts a vertical
    subslide, so each sentence-call-picture of a lesson is one screen; a
    stepper (a widget) gets a screen of its own, its call at the top."""
    after_output = False
    for i, cell in enumerate(nb.cells):
        kind = "-"
        if cell.cell_type == "code" and any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                                            for o in cell.get("outputs", [])):
            kind, after_output = "subslide", True
        elif cell.cell_type == "markdown":
            first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
            if i == 0 or re.match(r"#{1,2}\s", first):
                kind = "slide"
            elif first.startswith("#") or after_output:
                kind = "subslide"
            after_output = False
        elif cell.cell_type == "code":
            after_output = after_output or bool(cell.get("outputs"))
        cell.metadata.setdefault("slideshow", {})["slide_type"] = kind


def _page_html(info: _Notebook, nav: str) -> str:
    body, _ = _exporter("page").from_notebook_node(info.nb, resources=_resources(info, nav))
    return body


def _slides_html(info: _Notebook) -> str:
    import copy
    nb = copy.deepcopy(info.nb)
    _slide_types(nb)
    body, _ = _exporter("slides").from_notebook_node(nb, resources=_resources(info, ""))
    return body


_LOADS = re.compile(
    r"""<(?:script|img|iframe|audio|video|source|embed)\b[^>]*?\bsrc\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|<link\b[^>]*?\bhref\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|@import\s+(?:url\()?\s*["']?((?:https?:)?//[^"')\s]+)"""
    r"""|url\(\s*["']?((?:https?:)?//[^"')\s]+)"""
    r"""|(?:\bimport|\bfrom)\s*\(?\s*["']((?:https?:)?//[^"']+)["']""",
    re.I)


def external_loads(text: str) -> list[str]:
    """Addresses a page would load from the network (links a reader clicks do not count).

    >>> external_loads('<a href="https://lore.kernel.org/x">x</a><script src="_static/require.js"></script>')
    []
    >>> external_loads('<script src="https://cdn.example/require.js"></script><link href="//f.example/c.css">')
    ['https://cdn.example/require.js', '//f.example/c.css']
    """
    return [next(g for g in m.groups() if g) for m in _LOADS.finditer(text)]


def _write(path: Path, text: str) -> None:
    bad = external_loads(text)
    if bad:
        raise LabError(f"{path.name} would load {bad[0]} from the network; the site must be offline")
    path.write_text(text, encoding="utf-8")


def _prepare_out(out: Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LabError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise LabError(f"{out} is not empty and was not made by `labkit site`: choose a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by python -m labkit site; safe to delete\n")
    return out


def _say(progress, text: str) -> None:
    if progress:
        progress(text)


def build_site(out_dir, notebooks: Path | list[Path] = NOTEBOOKS, progress=print, slides: bool = True,
               timeout: int = 600) -> dict:
    """Execute every notebook and write the offline site into ``out_dir``.

    ``notebooks`` is a folder or a list of notebook paths. ``progress`` gets
    one line per notebook. Returns a summary: pages written, seconds, bytes.
    A failing notebook raises :class:`LabError` naming the notebook and cell.
    """
    t0 = time.monotonic()
    paths = notebook_paths(notebooks) if isinstance(notebooks, (str, Path)) else [Path(p) for p in notebooks]
    if not paths:
        raise LabError(f"no notebooks to build in {notebooks}")
    _assets()                          # before minutes of executing: are the front-end files there?
    out = _prepare_out(Path(out_dir))
    import nbformat  # noqa: F401  (fail here, not in the middle, when nbconvert's stack is missing)
    infos = []
    with _kernel_env():
        for k, path in enumerate(paths, 1):
            t = time.monotonic()
            _say(progress, f"site: [{k}/{len(paths)}] {path.name} ...")
            nb = execute(path, timeout=timeout)
            info = _describe(path, nb)
            info.nb, info.seconds = nb, time.monotonic() - t
            infos.append(info)
            _say(progress, f"site: [{k}/{len(paths)}] {path.name} executed in {info.seconds:.1f} s")
    for stale in out.glob("*.html"):    # every notebook ran: a page of one that is gone must not linger
        stale.unlink()
    _copy_assets(out, slides=slides)
    for k, info in enumerate(infos):
        prev = infos[k - 1] if k > 0 else None
        nxt = infos[k + 1] if k + 1 < len(infos) else None
        _write(out / info.page, _page_html(info, _nav(prev, nxt, info.slides if slides else None)))
        if slides:
            _write(out / info.slides, _slides_html(info))
    _write(out / "index.html", _index_html(infos, slides))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    seconds = time.monotonic() - t0
    _say(progress, f"site: wrote {out} ({len(infos)} pages{' and decks' if slides else ''}, "
                   f"{size / 1e6:.1f} MB) in {seconds:.0f} s; open {out / 'index.html'}")
    return {"out": out, "pages": [i.page for i in infos], "seconds": seconds, "bytes": size,
            "notebook_seconds": {i.path.name: i.seconds for i in infos}}


def _index_html(infos: list[_Notebook], slides: bool) -> str:
    from jinja2 import Environment
    from .templates import INDEX
    rows = [{"stem": i.path.stem, "title": i.title, "case": i.case, "page": i.page,
             "slides": i.slides if slides else "",
             "objectives": _markdown(i.objectives) if i.objectives else ""} for i in infos]
    env = Environment(autoescape=True)
    for r in rows:      # our own markdown rendering of the notebook's text: trusted like the page itself
        from markupsafe import Markup
        r["objectives"] = Markup(r["objectives"])
    return env.from_string(INDEX).render(title="Kernel locking-bug lab", notebooks=rows, count=len(rows))


def build_slides(case: str, out, notebooks: Path = NOTEBOOKS, progress=print, timeout: int = 600) -> Path:
    """Execute the notebook of ``case`` and write its reveal.js deck.

    ``out`` is a folder (the deck is ``<notebook>.slides.html`` in it) or a
    file name ending in ``.html``; the assets go beside the deck either way.
    """
    path = notebook_for(case, notebooks)
    _assets()
    out = Path(out)
    if out.suffix.lower() in (".html", ".htm"):
        folder, name = out.parent, out.name
    else:
        folder, name = out, f"{path.stem}.slides.html"
    if folder.exists() and not folder.is_dir():
        raise LabError(f"{folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    _say(progress, f"slides: {path.name} ...")
    with _kernel_env():
        nb = execute(path, timeout=timeout)
    info = _describe(path, nb)
    info.nb = nb
    _copy_assets(folder, slides=True)
    target = folder / name
    _write(target, _slides_html(info))
    _say(progress, f"slides: {path.name} executed and converted in {time.monotonic() - t:.1f} s")
    return target


def main_site(args) -> int:
    """``python -m labkit site OUT_DIR``."""
    build_site(args.out_dir, notebooks=args.notebooks or NOTEBOOKS, slides=not args.no_slides,
               progress=lambda s: print(s, flush=True))
    return 0


def main_slides(args) -> int:
    """``python -m labkit slides CASE -o OUT``."""
    path = build_slides(args.case, args.output, notebooks=args.notebooks or NOTEBOOKS,
                        progress=lambda s: print(s, flush=True))
    print(f"wrote {path}; present it: open it in a browser, F11 for full screen, arrows move, "
          f"click a stepper to give it the keys", flush=True)
    return 0

