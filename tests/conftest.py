"""Shared fixtures for the labkit test suite."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _missing(msg: str) -> None:
    """Skip locally; fail under CI, where nothing may be silently skipped."""
    if os.environ.get("CI"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = "/usr/bin/chromium"
    if not os.path.exists(path):
        _missing("chromium not installed (scripts/setup.sh installs it)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Debian's chromium under Playwright, one per test module (flags: browserkit.ARGS)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from browserkit import ARGS
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def dot_path() -> str:
    path = shutil.which("dot")
    if not path:
        _missing("graphviz 'dot' not installed (scripts/setup.sh installs it)")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    d = REPO_ROOT / "test-artifacts"
    d.mkdir(exist_ok=True)
    return d
