"""Regenerate the Lite site's pins (a maintainer's tool, not run by the build).

    .venv/bin/python -m labkit.lite.pins          # rewrite build-requirements.txt and wheels.json

Two committed files come out, and ``python -m labkit lite`` reads only them:

* ``build-requirements.txt`` — what the isolated build venv installs (``--no-deps
  --require-hashes``): JupyterLite, its Pyodide kernel, their dependencies, and
  the two front-end extensions the lab needs (anywidget, the ipywidgets manager),
  all pure-Python wheels so the same file installs on any OS;
* ``wheels.json`` — the pure-Python wheels the browser's Python loads: the
  kernel's own needs (IPython, jedi, micropip, ...) and labkit's (networkx,
  anywidget, ipywidgets, ...), each with version, file name, sha256, and the
  ``depends``/``imports`` lists that ``pyodide-lock.json`` wants. Dependencies
  are read from each wheel's METADATA with Pyodide's markers (Python 3.14 on
  ``sys_platform == "emscripten"``), so IPython does not drag in pexpect.

A version already in Pyodide's own lock file is preferred (Pyodide tested it);
otherwise the newest that fits. Needs ``pip`` and ``packaging`` (both in .venv)
and the npm package pyodide unpacked (the build's cache has one: pass
``--pyodide DIR``, or let the tool run ``npm ci`` itself).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

HERE = Path(__file__).parent

#: The JupyterLite pair; the Pyodide kernel pins the Pyodide release (package.json must match).
BUILD_ROOTS = {"jupyterlite-core": "0.8.6", "jupyterlite-pyodide-kernel": "0.8.6"}
#: What the browser's Python loads at start: the kernel's needs, then the lab's.
RUNTIME_ROOTS = {
    "micropip": None, "comm": None, "ipython": None, "jedi": None,           # the kernel
    "networkx": None, "anywidget": "0.11.0", "ipywidgets": "8.1.9",          # the lab
    "graphviz": None, "typing-extensions": None,
}
#: Not from PyPI: the Pyodide kernel ships these wheels itself (shims), or they are front-end only.
NOT_FROM_PYPI = {"widgetsnbextension", "jupyterlab-widgets", "pyodide-kernel", "piplite", "ipykernel"}

PYODIDE_ENV = {
    "python_version": "3.14", "python_full_version": "3.14.2", "sys_platform": "emscripten",
    "platform_system": "Emscripten", "os_name": "posix", "platform_machine": "wasm32",
    "implementation_name": "cpython", "platform_python_implementation": "CPython",
    "platform_release": "", "platform_version": "", "implementation_version": "3.14.2", "extra": "",
}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download(spec: str, dest: Path, *, browser: bool) -> Path:
    before = set(dest.iterdir())
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    if browser:
        cmd += ["--python-version", "3.14", "--platform", "any", "--implementation", "py", "--abi", "none"]
    subprocess.run(cmd + [spec], check=True)
    new = [p for p in set(dest.iterdir()) - before if p.suffix == ".whl"]
    if not new:   # already there from an earlier spec
        name = norm(re.split(r"[<>=~! ]", spec, maxsplit=1)[0])
        new = [p for p in dest.glob("*.whl") if norm(p.name.split("-")[0]) == name]
    return sorted(new)[-1]


def wheel_metadata(path: Path):
    with zipfile.ZipFile(path) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        msg = Parser().parsestr(z.read(meta).decode())
        names = z.namelist()
    imports = sorted({n.split("/")[0].removesuffix(".py") for n in names
                      if not n.split("/")[0].endswith((".dist-info", ".data"))
                      and (n.endswith(".py") or "/" in n)})
    return msg, imports


def requirements(msg, env: dict):
    from packaging.requirements import Requirement
    for line in msg.get_all("Requires-Dist") or []:
        r = Requirement(line)
        if r.marker is None or r.marker.evaluate(env):
            yield r


def resolve(roots: dict, dest: Path, *, browser: bool, prefer: dict, skip: set) -> dict:
    """name -> (path, metadata, imports): the closure of ``roots`` under the target's markers."""
    import platform
    env = PYODIDE_ENV if browser else {
        "python_version": "%d.%d" % sys.version_info[:2], "python_full_version": platform.python_version(),
        "sys_platform": sys.platform, "platform_system": platform.system(), "os_name": "posix",
        "platform_machine": platform.machine(), "implementation_name": "cpython",
        "platform_python_implementation": "CPython", "platform_release": "", "platform_version": "",
        "implementation_version": platform.python_version(), "extra": ""}
    from packaging.specifiers import SpecifierSet
    todo = [(norm(k), f"=={v}" if v else "") for k, v in roots.items()]
    got: dict = {}
    while todo:
        name, spec = todo.pop()
        if name in got or name in skip:
            continue
        pv = prefer.get(name)
        if pv and SpecifierSet(spec).contains(pv, prereleases=True):
            spec = f"=={pv}"
        path = _download(f"{name}{spec}", dest, browser=browser)
        msg, imports = wheel_metadata(path)
        got[name] = (path, msg, imports)
        for r in requirements(msg, env):
            todo.append((norm(r.name), str(r.specifier)))
    return got


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.lite.pins", description=__doc__.splitlines()[0])
    ap.add_argument("--pyodide", type=Path, help="the npm package pyodide, unpacked (for its lock file)")
    args = ap.parse_args(argv)
    if args.pyodide is None:
        from . import _npm_pyodide, cache_dir
        args.pyodide = _npm_pyodide(cache_dir(), log=print)
    plock = json.loads((args.pyodide / "pyodide-lock.json").read_text())["packages"]
    prefer = {norm(k): v["version"] for k, v in plock.items()}

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "b").mkdir()
        (tmp / "r").mkdir()
        runtime = resolve(RUNTIME_ROOTS, tmp / "r", browser=True, prefer=prefer, skip=NOT_FROM_PYPI)
        front = {"anywidget": runtime["anywidget"][1]["Version"]}
        ipyw = runtime["ipywidgets"][1]
        jlw = next(r for r in requirements(ipyw, PYODIDE_ENV) if norm(r.name) == "jupyterlab-widgets")
        build = resolve(BUILD_ROOTS, tmp / "b", browser=False, prefer={}, skip=set())
        for name, spec in [("anywidget", f"=={front['anywidget']}"), ("jupyterlab-widgets", str(jlw.specifier))]:
            p = _download(f"{name}{spec}", tmp / "b", browser=False)
            build[name] = (p, wheel_metadata(p)[0], [])

        lines = ["# The isolated build venv of `python -m labkit lite` (pip install --no-deps --require-hashes).",
                 "# Generated by `python -m labkit.lite.pins`; edit that, not this."]
        for name in sorted(build):
            path, msg, _ = build[name]
            lines.append(f"{msg['Name']}=={msg['Version']} --hash=sha256:{_sha256(path)}")
        (HERE / "build-requirements.txt").write_text("\n".join(lines) + "\n")

        entries = []
        for name in sorted(runtime):
            path, msg, imports = runtime[name]
            deps = sorted({norm(r.name) for r in requirements(msg, PYODIDE_ENV)} - (NOT_FROM_PYPI - {"pyodide-kernel"}))
            entries.append({"name": name, "version": msg["Version"], "file_name": path.name,
                            "sha256": _sha256(path), "depends": deps, "imports": imports})
        doc = {"comment": "Wheels the browser's Python loads from the site (pyodide-lock.json entries). "
                          "Generated by `python -m labkit.lite.pins`.",
               "packages": entries}
        (HERE / "wheels.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {HERE / 'build-requirements.txt'} ({len(build)} wheels) and "
          f"{HERE / 'wheels.json'} ({len(entries)} wheels)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
