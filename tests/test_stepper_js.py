"""The stepper's front-end core under Node's own test runner.

``labkit/stepper/core.js`` holds the stepper's state ({variant, schedule,
position} and the functions that change it) and its pure readings of the
exported JSON (walk, schedule parsing, lock intervals, data lanes, release
spans, the variant toggle's carry, event words, colours).
``tests/js/stepper_core.test.mjs`` checks them with ``node --test`` against
the Python engine on the exported JSON of every case (the reference comes
from ``tests/js/fixtures.py``). This test writes that reference and runs
Node, so ``bash scripts/test.sh`` runs the Node tests too. No build step, no
packages: Node's built-in runner only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        msg = "node not installed (scripts/setup.sh installs npm, which brings it)"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return node


def test_front_end_core_under_node(tmp_path):
    node = _node()
    out = subprocess.run([sys.executable, str(REPO / "tests" / "js" / "fixtures.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(list(tmp_path.glob("*.json"))) >= 5
    env = dict(os.environ, LABKIT_FIXTURES=str(tmp_path))
    run = subprocess.run([node, "--test", str(REPO / "tests" / "js")], capture_output=True, text=True,
                         timeout=600, env=env, cwd=REPO)
    tail = (run.stdout + run.stderr)[-6000:]
    assert run.returncode == 0, tail
    assert "# fail 0" in run.stdout, tail
