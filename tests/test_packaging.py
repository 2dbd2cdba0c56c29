"""pyproject.toml and environment.yml must list the same dependencies.

environment.yml is parsed with a tiny reader for the simple subset of YAML
it uses (top-level keys, "- item" lists, one nested "pip:" list), so this
test needs nothing beyond the standard library.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

# pip name -> conda-forge name, where they differ.
PIP_TO_CONDA = {"graphviz": "python-graphviz"}
# conda entries that are tooling or system packages, not python runtime deps.
CONDA_NON_RUNTIME = {"python", "pip", "graphviz"}

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(req: str) -> tuple[str, str]:
    """'networkx>=3.2' -> ('networkx', '>=3.2'); conda 'python=3.11' too."""
    req = req.split(";", 1)[0]  # drop environment markers
    m = _REQ.match(req)
    assert m, f"cannot parse requirement {req!r}"
    name = re.sub(r"\[.*\]$", "", m.group(1))
    return _norm(name), m.group(2).replace(" ", "")


def read_env_yml(path: Path) -> dict:
    """Read the subset of YAML used by environment.yml.

    Supports: comments, ``key: value``, ``key:`` followed by ``- item`` lines,
    and a ``- pip:`` item that opens a nested list of pip requirements
    (returned as ``{"pip": [...]}`` inside the list).
    """
    data: dict = {}
    key = None
    nested: list | None = None
    nested_indent = -1
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0:
            nested = None
            k, _, v = text.partition(":")
            key = k.strip()
            data[key] = v.strip() if v.strip() else []
            continue
        assert text.startswith("- "), f"unsupported YAML line: {raw!r}"
        item = text[2:].strip()
        if nested is not None and indent > nested_indent:
            nested.append(item)
            continue
        nested = None
        if item.endswith(":"):
            nested = []
            nested_indent = indent
            data[key].append({item[:-1].strip(): nested})
        else:
            data[key].append(item)
    return data


@pytest.fixture(scope="module")
def pyproject(repo_root: Path) -> dict:
    with open(repo_root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def env(repo_root: Path) -> dict:
    return read_env_yml(repo_root / "environment.yml")


def _conda_deps(env: dict) -> dict[str, str]:
    return dict(_split(d) for d in env["dependencies"] if isinstance(d, str))


def _pip_deps(env: dict) -> list[str]:
    out: list[str] = []
    for d in env["dependencies"]:
        if isinstance(d, dict):
            out.extend(d.get("pip", []))
    return out


def test_env_basics(env: dict) -> None:
    assert env["name"] == "kernel-locking-lab"
    assert env["channels"] == ["conda-forge"]
    conda = _conda_deps(env)
    assert conda.get("python") == "=3.11"
    assert "graphviz" in conda, "conda 'graphviz' brings the dot binary"
    assert "pip" in conda
    assert "-e ." in _pip_deps(env), "Binder must pip install -e . (labkit)"


def test_python_version_agrees(pyproject: dict, env: dict) -> None:
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert _conda_deps(env)["python"] == "=3.11"


def test_runtime_deps_in_env(pyproject: dict, env: dict) -> None:
    conda = _conda_deps(env)
    for req in pyproject["project"]["dependencies"]:
        name, spec = _split(req)
        cname = PIP_TO_CONDA.get(name, name)
        assert cname in conda, f"{req} (conda: {cname}) missing from environment.yml"
        assert conda[cname] == spec, (
            f"version of {name} differs: pyproject {spec!r}, environment.yml {conda[cname]!r}"
        )


def test_env_deps_in_pyproject(pyproject: dict, env: dict) -> None:
    runtime = {}
    for req in pyproject["project"]["dependencies"]:
        name, spec = _split(req)
        runtime[PIP_TO_CONDA.get(name, name)] = spec
    lab = dict(_split(r) for r in pyproject["project"]["optional-dependencies"]["lab"])
    for cname, spec in _conda_deps(env).items():
        if cname in CONDA_NON_RUNTIME:
            continue
        if cname in lab:
            assert spec == lab[cname], f"{cname}: lab extra {lab[cname]!r} vs env {spec!r}"
            continue
        assert cname in runtime, f"environment.yml has {cname}, pyproject runtime deps do not"


def test_lab_extra_in_env(pyproject: dict, env: dict) -> None:
    conda = _conda_deps(env)
    for req in pyproject["project"]["optional-dependencies"]["lab"]:
        name, _ = _split(req)
        assert name in conda, f"lab extra {req} missing from environment.yml"


def test_pytest_config(pyproject: dict) -> None:
    ini = pyproject["tool"]["pytest"]["ini_options"]
    assert ini["testpaths"] == ["tests"]
    markers = {m.split(":", 1)[0] for m in ini["markers"]}
    assert {"browser", "notebooks"} <= markers


def test_reader_handles_subset(tmp_path: Path) -> None:
    p = tmp_path / "e.yml"
    p.write_text(
        "# c\nname: x\nchannels:\n  - conda-forge\ndependencies:\n"
        "  - a>=1  # note\n  - pip\n  - pip:\n      - -e .\n      - b\n  - c\n"
    )
    assert read_env_yml(p) == {
        "name": "x",
        "channels": ["conda-forge"],
        "dependencies": ["a>=1", "pip", {"pip": ["-e .", "b"]}, "c"],
    }
