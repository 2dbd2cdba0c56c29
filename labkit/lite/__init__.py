"""The whole lab as a JupyterLite site: a Python kernel in each student's browser.

    python -m labkit lite OUT_DIR

writes a folder of static files that any web server can serve (``python -m
http.server`` in it, a laptop on the lecture hall's Wi-Fi, a USB stick copied to
any static host). Opening it starts Pyodide (CPython compiled to WebAssembly)
in the browser and lands on ``notebooks/00_primer.ipynb``; every notebook and
``data/`` are inside, and nothing is fetched from anywhere but the site itself:
no CDN, and the kernel's fallback to PyPI is off.

Everything comes from the package registries at build time, at pinned versions:

* JupyterLite and its Pyodide kernel: ``build-requirements.txt`` (hashes), into
  an isolated venv under the cache, so their JupyterLab extension never leaks
  into the lab's own JupyterLab;
* Pyodide's core (``pyodide.asm.wasm``, the standard library): the npm package
  ``pyodide`` from ``package.json`` and the committed ``package-lock.json``
  (``npm ci``), at the version the kernel pins;
* the pure-Python wheels the browser's Python loads (IPython, networkx,
  anywidget, ...): ``wheels.json`` (sha256), downloaded with pip; labkit's own
  wheel is written from the source tree. They go into a ``pyodide-lock.json``
  of our own that lists only what the site holds, and the kernel loads them all
  at start (no ``micropip.install`` round trips).

Downloads are cached (``$LABKIT_CACHE``, else ``~/.cache/labkit``) and checked
against their hashes, so a second build works offline. The pins are
regenerated with ``python -m labkit.lite.pins``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import LabError

__all__ = ["build", "main", "make_server", "content_hash", "cache_dir", "site_size", "labkit_wheel",
           "write_contents_index", "LiteBuildError", "PRIMER"]

HERE = Path(__file__).resolve().parent
PKG = HERE.parent                       # labkit/
REPO = PKG.parent                       # the checkout (notebooks/, data/)
PRIMER = "notebooks/00_primer.ipynb"
#: What labkit needs in the browser (matplotlib only draws PNG exports on the desktop).
LABKIT_DEPENDS = ("networkx", "anywidget", "ipywidgets", "graphviz", "traitlets")
#: The kernel loads these at start instead of installing them with micropip one by one.
KERNEL_PACKAGES = ("micropip", "piplite", "pyodide-kernel", "ipykernel", "comm", "jedi", "ipython",
                   "widgetsnbextension")
#: Kept from the npm package pyodide: the runtime; the rest (console pages, types, maps) is not served.
PYODIDE_CORE = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "package.json")
#: SOURCE_DATE_EPOCH for `jupyter lite build` (its own files come out the same every time).
EPOCH = _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc)


class LiteBuildError(LabError):
    """The Lite build could not run a step (a missing tool, a registry that did not answer)."""


def _say(log, msg):
    if log:
        log(f"lite: {msg}")


def cache_dir() -> Path:
    env = os.environ.get("LABKIT_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "labkit"
    base.mkdir(parents=True, exist_ok=True)
    return base


def _digest(*parts: bytes, n: int = 12) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()[:n]


def _run(cmd, *, what: str, cwd=None, env=None) -> str:
    try:
        r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise LiteBuildError(f"{what}: '{cmd[0]}' not found") from None
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr + "\n" + r.stdout).splitlines()
                 if ln.strip() and "is ignored: it is neither a file nor a directory" not in ln]
        last = " | ".join(lines[-3:]) if lines else f"exit status {r.returncode}"
        raise LiteBuildError(f"{what} failed: {last}")
    return r.stdout


# --- inputs -------------------------------------------------------------------------------------

def _wheel_pins() -> list[dict]:
    return json.loads((HERE / "wheels.json").read_text())["packages"]


def _labkit_files() -> list[Path]:
    """labkit's source as the browser needs it: no build tooling (lite/), no caches."""
    out = []
    for p in sorted(PKG.rglob("*")):
        rel = p.relative_to(PKG)
        if p.is_dir() or "__pycache__" in rel.parts or p.suffix in (".pyc", ".pyo") or rel.parts[0] == "lite":
            continue
        out.append(p)
    return out


def _site_sources() -> list[tuple[str, Path]]:
    """(path in the site's file browser, file): the notebooks and data/."""
    out = []
    for top in ("notebooks", "data"):
        root = REPO / top
        if not root.is_dir():
            raise LiteBuildError(f"{root}: missing (the Lite site is built from a checkout with {top}/)")
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(REPO)
            # not hidden files, nor the lesson template (_template.ipynb: for authors, not students)
            if p.is_file() and not any(part.startswith((".", "_")) for part in rel.parts):
                out.append((rel.as_posix(), p))
    return out


def content_hash() -> str:
    """One hash of everything a site is built from: a site built from the same hash is the same site."""
    parts = [b"labkit-lite-1"]
    for name in ("build-requirements.txt", "wheels.json", "package.json", "package-lock.json", "__init__.py"):
        parts.append((HERE / name).read_bytes())
    for p in _labkit_files():
        parts += [p.relative_to(PKG).as_posix().encode(), p.read_bytes()]
    for rel, p in _site_sources():
        parts += [rel.encode(), p.read_bytes()]
    return _digest(*parts, n=16)


# --- tools from the registries ------------------------------------------------------------------

def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _build_venv(cache: Path, log) -> Path:
    req = HERE / "build-requirements.txt"
    venv = cache / f"lite-venv-{_digest(req.read_bytes(), sys.version.encode())}"
    py = _venv_python(venv)
    if (venv / ".complete").exists() and py.exists():
        return py
    _say(log, f"build venv {venv} (JupyterLite, pinned with hashes)")
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", venv], what="creating the build venv")
    _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--require-hashes",
          "--only-binary=:all:", "-r", req], what="pip install -r labkit/lite/build-requirements.txt")
    (venv / ".complete").write_text("ok\n")
    return py


def _npm_pyodide(cache: Path, log) -> Path:
    """node_modules/pyodide from the committed package-lock.json (npm ci, no install scripts)."""
    pj, lock = HERE / "package.json", HERE / "package-lock.json"
    work = cache / f"lite-npm-{_digest(pj.read_bytes(), lock.read_bytes())}"
    pkg = work / "node_modules" / "pyodide"
    if (work / ".complete").exists() and (pkg / "pyodide.asm.wasm").exists():
        return pkg
    npm = shutil.which("npm")
    if not npm:
        raise LiteBuildError("npm not found: the Lite build takes Pyodide's core from the npm registry "
                             "(install Node.js and npm, e.g. apt-get install npm)")
    _say(log, f"npm ci pyodide@{json.loads(pj.read_text())['dependencies']['pyodide']} in {work}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy2(pj, work / "package.json")
    shutil.copy2(lock, work / "package-lock.json")
    _run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work,
         what="npm ci (labkit/lite/package-lock.json)")
    want = json.loads(pj.read_text())["dependencies"]["pyodide"]
    got = json.loads((pkg / "package.json").read_text())["version"]
    if got != want:
        raise LiteBuildError(f"npm gave pyodide {got}, labkit/lite/package.json pins {want}")
    (work / ".complete").write_text("ok\n")
    return pkg


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _runtime_wheels(cache: Path, py: Path, log) -> Path:
    """The wheels of wheels.json in the cache, each checked against its sha256."""
    dest = cache / "lite-wheels"
    dest.mkdir(exist_ok=True)
    pins = _wheel_pins()
    missing = [w for w in pins
               if not (dest / w["file_name"]).exists() or _sha256_file(dest / w["file_name"]) != w["sha256"]]
    if missing:
        _say(log, f"pip download {len(missing)} pure-Python wheels for Python 3.14 (Pyodide)")
        with tempfile.TemporaryDirectory() as tmp:
            req = Path(tmp) / "wheels.txt"
            req.write_text("".join(f"{w['name']}=={w['version']} --hash=sha256:{w['sha256']}\n" for w in missing))
            _run([py, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", "--require-hashes",
                  "--only-binary=:all:", "--python-version", "3.14", "--platform", "any", "--implementation", "py",
                  "--abi", "none", "-d", tmp, "-r", req], what="pip download (labkit/lite/wheels.json)")
            for w in missing:
                got = Path(tmp) / w["file_name"]
                if not got.exists():
                    raise LiteBuildError(f"pip download gave no {w['file_name']} (labkit/lite/wheels.json)")
                shutil.move(str(got), dest / w["file_name"])
    for w in pins:
        if _sha256_file(dest / w["file_name"]) != w["sha256"]:
            raise LiteBuildError(f"{dest / w['file_name']}: sha256 differs from labkit/lite/wheels.json")
    return dest


# --- labkit's own wheel -------------------------------------------------------------------------

def _labkit_version() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M) \
        if (REPO / "pyproject.toml").exists() else None
    if m:
        return m.group(1)
    from importlib.metadata import version
    return version("labkit")


def _zip_write(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    z.writestr(info, data)


def labkit_wheel(dest: Path, tag: str) -> Path:
    """Write labkit-<version>+<tag>-py3-none-any.whl from the source tree (reproducibly).

    The local version carries the content hash, so a browser never serves last
    week's labkit from its cache under this week's file name.
    """
    version = f"{_labkit_version()}+{tag}"
    dist = f"labkit-{version}.dist-info"
    files = [(f"labkit/{p.relative_to(PKG).as_posix()}", p.read_bytes()) for p in _labkit_files()]
    data = [(rel, p.read_bytes()) for rel, p in _site_sources() if rel.startswith("data/")]
    # labkit finds an exercise's report as <checkout>/data/splats/..., the folder above labkit/
    # (exercises.ROOT); in the browser that folder is site-packages, so the reports go there too.
    files += data
    # A notebook reads "../data/splats/...". With the browser's service worker, the kernel runs in
    # /drive/notebooks and that is the site's own data/. Without one (a site served over plain
    # http from another machine: browsers allow service workers only on https and localhost),
    # the kernel stays in /home/pyodide: the wheel's data scheme (installed under sys.prefix, "/")
    # puts the same files at /home/data, so the same relative path works there too.
    files += [(f"labkit-{version}.data/data/home/{rel}", b) for rel, b in data]
    files.append((f"{dist}/METADATA", (
        "Metadata-Version: 2.1\nName: labkit\n"
        f"Version: {version}\nSummary: Kernel locking-bug lab (browser build)\n"
        + "".join(f"Requires-Dist: {d}\n" for d in LABKIT_DEPENDS)).encode()))
    files.append((f"{dist}/WHEEL", b"Wheel-Version: 1.0\nGenerator: labkit.lite\nRoot-Is-Purelib: true\n"
                                   b"Tag: py3-none-any\n"))
    files.append((f"{dist}/top_level.txt", b"labkit\n"))
    record = []
    for name, data in files:
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={h},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    path = dest / f"labkit-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files:
            _zip_write(z, name, data)
        _zip_write(z, f"{dist}/RECORD", ("\n".join(record) + "\n").encode())
    return path


# --- the site -----------------------------------------------------------------------------------

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_entry(path: Path, name: str, version: str, depends, imports) -> dict:
    return {"name": name, "version": version, "file_name": path.name, "install_dir": "site",
            "sha256": _sha256_file(path), "package_type": "package", "imports": list(imports),
            "depends": sorted(depends), "unvendored_tests": False, "shared_library": False}


def _kernel_wheels(py: Path) -> list[Path]:
    """The wheels jupyterlite-pyodide-kernel ships (its kernel, piplite, the ipykernel/widgets shims)."""
    out = _run([py, "-c", "import sys; print(sys.prefix)"], what="the build venv").strip()
    pypi = Path(out) / "share/jupyter/labextensions/@jupyterlite/pyodide-kernel-extension/static/pypi"
    wheels = sorted(pypi.glob("*.whl"))
    if not wheels:
        raise LiteBuildError(f"{pypi}: no wheels (jupyterlite-pyodide-kernel changed its layout?)")
    # two widgetsnbextension shims (3.x, 4.x): ipywidgets 8 wants 4.x
    return [w for w in wheels if not w.name.startswith("widgetsnbextension-3.")]


def _wheel_meta(path: Path) -> tuple[str, str, list[str], list[str]]:
    from email.parser import Parser
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        meta = Parser().parsestr(z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    deps = [_norm(re.split(r"[\s;<>=!~\[(]", d, maxsplit=1)[0]) for d in meta.get_all("Requires-Dist") or []
            if "extra ==" not in d]
    imports = sorted({n.split("/")[0].removesuffix(".py") for n in names
                      if not n.split("/")[0].endswith((".dist-info", ".data")) and (n.endswith(".py") or "/" in n)})
    return _norm(meta["Name"]), meta["Version"], deps, imports


def _write_pyodide(static: Path, npm_pkg: Path, wheels: list[tuple[Path, dict]]) -> list[str]:
    """static/pyodide: the core, our wheels, and a pyodide-lock.json that lists only them."""
    static.mkdir(parents=True)
    for name in PYODIDE_CORE:
        shutil.copy2(npm_pkg / name, static / name)
    lock = json.loads((npm_pkg / "pyodide-lock.json").read_text())
    packages = {}
    for path, entry in wheels:
        shutil.copy2(path, static / path.name)
        packages[entry["name"]] = entry
    names = set(packages)
    for e in packages.values():
        missing = set(e["depends"]) - names
        if missing:
            raise LiteBuildError(f"pyodide-lock.json: {e['name']} depends on {sorted(missing)}, which the site "
                                 "does not hold (add them to labkit/lite/pins.py and rerun it)")
    lock["packages"] = dict(sorted(packages.items()))
    (static / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    return sorted(names)


def _lite_config(packages: list[str], tag: str) -> dict:
    kernel = {
        "pyodideUrl": "./static/pyodide/pyodide.mjs",
        "disablePyPIFallback": True,
        # ?v=: a browser that kept last week's lock file in its cache would ask for last week's labkit wheel
        "loadPyodideOptions": {"packages": packages, "lockFileURL": f"./static/pyodide/pyodide-lock.json?v={tag}"},
    }
    return {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "Kernel locking-bug lab",
            "defaultKernelName": "python",
            "litePluginSettings": {"@jupyterlite/pyodide-kernel-extension:kernel": kernel},
            "contentsAllJsonFile": "all.json",
        },
    }


OVERRIDES = {
    # nothing in the page may call home: no news, no update check
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}

INDEX_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Kernel locking-bug lab</title>
<meta http-equiv="refresh" content="0; url=./lab/index.html?path={primer}">
<!-- read by lab/ (JupyterLite merges the configuration of every folder up to this one) -->
<script id="jupyter-config-data" type="application/json" data-jupyter-lite-root=".">{}</script>
</head><body>
<p>Opening <a href="./lab/index.html?path={primer}">the primer</a> in JupyterLite&hellip;
The first start loads Python into this browser tab (about 30 MB); it then runs with no network.</p>
</body></html>
"""


def _contents_model(rel: str, path: Path, children=None) -> dict:
    is_dir = path.is_dir()
    kind = "directory" if is_dir else ("notebook" if path.suffix == ".ipynb" else "file")
    ts = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return {"name": path.name if rel else "", "path": rel, "last_modified": ts, "created": ts,
            "content": children, "format": "json" if children is not None else None,
            "mimetype": mimetypes.guess_type(path.name)[0] if kind == "file" else None,
            "size": None if is_dir else path.stat().st_size, "writable": True, "hash": None,
            "hash_algorithm": None, "type": kind}


def write_contents_index(out: Path) -> int:
    """api/contents/<dir>/all.json for every folder under files/, as jupyter_server's contents API lists it.

    (JupyterLite borrows jupyter_server for this; the listing is small enough to
    write here, which keeps the build venv free of jupyter_server's compiled
    dependencies. tests/test_lite.py checks it against jupyter_server.)
    """
    files = out / "files"
    n = 0
    for d in [files, *sorted(p for p in files.rglob("*") if p.is_dir())]:
        rel = d.relative_to(files).as_posix()
        rel = "" if rel == "." else rel
        kids = [_contents_model(f"{rel}/{c.name}".lstrip("/"), c) for c in sorted(d.iterdir())]
        api = out / "api" / "contents" / rel / "all.json"
        api.parent.mkdir(parents=True, exist_ok=True)
        api.write_text(json.dumps(_contents_model(rel, d, kids), indent=2, sort_keys=True) + "\n")
        n += 1
    return n


def _stage_contents(dest: Path) -> int:
    """files/: the notebooks (on the Pyodide kernel) and data/."""
    n = 0
    for rel, src in _site_sources():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".ipynb":
            nb = json.loads(src.read_text(encoding="utf-8"))
            nb.setdefault("metadata", {})["kernelspec"] = {
                "name": "python", "display_name": "Python (Pyodide)", "language": "python"}
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            shutil.copystat(src, target)     # the file browser shows when the lesson last changed
        else:
            shutil.copy2(src, target)
        n += 1
    return n


def site_size(out: Path) -> int:
    return sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())


def build(out_dir, *, log=print, cache: Path | None = None) -> dict:
    """Build the Lite site into ``out_dir`` (replaced if it is an earlier Lite build). Returns a summary."""
    out = Path(out_dir).resolve()
    if out.exists() and any(out.iterdir()) and not (out / "labkit-lite.json").exists():
        raise LiteBuildError(f"{out}: exists and is not an earlier Lite build; give an empty or new folder")
    cache = cache or cache_dir()
    tag = content_hash()
    py = _build_venv(cache, log)
    npm_pkg = _npm_pyodide(cache, log)
    kernel_wants = _run([py, "-c", "from jupyterlite_pyodide_kernel.constants import PYODIDE_VERSION as v; print(v)"],
                        what="the build venv").strip()
    have = json.loads((npm_pkg / "package.json").read_text())["version"]
    if have != kernel_wants:
        raise LiteBuildError(f"labkit/lite/package.json pins pyodide {have}, but the Pyodide kernel in "
                             f"build-requirements.txt is made for {kernel_wants}: pin the same release in both")
    wheel_dir = _runtime_wheels(cache, py, log)

    with tempfile.TemporaryDirectory(prefix="labkit-lite-") as tmp:
        tmp = Path(tmp)
        lite_dir, staged = tmp / "lite", tmp / "out"
        lite_dir.mkdir()
        wheels: list[tuple[Path, dict]] = []
        for w in _wheel_pins():
            wheels.append((wheel_dir / w["file_name"], _lock_entry(
                wheel_dir / w["file_name"], w["name"], w["version"], w["depends"], w["imports"])))
        for path in _kernel_wheels(py):
            name, version, deps, imports = _wheel_meta(path)
            wheels.append((path, _lock_entry(path, name, version, deps, imports)))
        lk = labkit_wheel(tmp, tag[:10])
        wheels.append((lk, _lock_entry(lk, "labkit", lk.name.split("-")[1], LABKIT_DEPENDS, ["labkit"])))
        packages = _write_pyodide(lite_dir / "static" / "pyodide", npm_pkg, wheels)
        preload = [p for p in packages if p in KERNEL_PACKAGES or p == "labkit"]
        (lite_dir / "jupyter-lite.json").write_text(json.dumps(_lite_config(preload, tag), indent=2) + "\n")
        (lite_dir / "overrides.json").write_text(json.dumps(OVERRIDES, indent=2) + "\n")

        _say(log, "jupyter lite build")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON"))}
        env["SOURCE_DATE_EPOCH"] = str(int(EPOCH.timestamp()))
        _run([py.parent / "jupyter-lite", "build", "--lite-dir", lite_dir, "--output-dir", staged,
              "--apps", "lab", "--no-sourcemaps", "--no-unused-shared-packages", "--no-libarchive"],
             cwd=lite_dir, env=env, what="jupyter lite build")
        n_files = _stage_contents(staged / "files")
        write_contents_index(staged)
        (staged / "index.html").write_text(INDEX_HTML.replace("{primer}", PRIMER))
        for junk in ("rspack.config.js", "rspack.config.analyze.js",
                     "rspack.config.watch.js", "package.json", ".jupyterlite.doit.db"):
            (staged / junk).unlink(missing_ok=True)
        summary = {"content_hash": tag, "labkit_wheel": lk.name, "packages": packages,
                   "pyodide": json.loads((npm_pkg / "package.json").read_text())["version"],
                   "files": n_files, "primer": PRIMER}
        (staged / "labkit-lite.json").write_text(json.dumps(summary, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staged, out)
    summary["bytes"] = site_size(out)
    _say(log, f"wrote {out} ({summary['bytes'] / 1e6:.1f} MB, {len(packages)} wheels, {n_files} files); "
              f"serve it with: python -m http.server -d {out}")
    return summary


# --- serving ------------------------------------------------------------------------------------

def make_server(site, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True):
    """An http.server for the site, with the MIME types a browser insists on for modules and wasm
    (an OS's own table may lack .mjs, and Windows' registry is known to map .js to text/plain)."""
    import functools
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                          ".json": "application/json", ".whl": "application/zip", ".zip": "application/zip",
                          ".ipynb": "application/json", ".svg": "image/svg+xml", ".css": "text/css",
                          ".html": "text/html", ".woff2": "font/woff2", ".woff": "font/woff"}

        def log_message(self, fmt, *args):
            if not quiet:
                super().log_message(fmt, *args)

    site = Path(site)
    if not (site / "labkit-lite.json").exists():
        raise LiteBuildError(f"{site}: not a Lite site (build one with: python -m labkit lite {site})")
    return http.server.ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(site)))


def main(args) -> int:
    """``python -m labkit lite OUT_DIR [--serve [--port N] [--bind ADDR]]``."""
    build(args.out_dir)
    if args.serve:
        srv = make_server(args.out_dir, args.bind, args.port, quiet=False)
        host, port = srv.server_address[:2]
        print(f"lite: serving {Path(args.out_dir).resolve()} at http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/ "
              "(Ctrl-C stops)", flush=True)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            srv.server_close()
    return 0
