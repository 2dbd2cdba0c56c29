"""Mutation testing of the engine: would the fast tests notice a plausible bug?

    .venv/bin/python benchmarks/mutation.py                  # a seeded sample of 150 mutants
    .venv/bin/python benchmarks/mutation.py --sample 0       # every mutant (slow: hours)
    .venv/bin/python benchmarks/mutation.py --files labkit/lockdep.py --sample 40 --seed 2

Each mutant changes one thing in ``labkit/semantics.py``, ``labkit/explore.py``
or ``labkit/lockdep.py`` — a comparison flipped (``==``/``!=``, ``<``/``<=``,
``in``/``not in``), ``and``/``or`` swapped, a ``not`` dropped, ``+``/``-``
swapped, ``True``/``False`` swapped, a small integer off by one — and the fast
tests run against a copy of the package holding it (a subprocess, with the copy
first on ``PYTHONPATH``). A mutant is *killed* when a test fails (or the run
times out), and *survives* otherwise; survivors are printed with their line so
a maintainer can look: either a test is missing or the mutant is equivalent.

A maintainer runs this before a release; it is not part of CI (it takes
minutes to hours). It prints figures and never fails on them.
Why not mutmut: its 3.x trampolines need the tests to run from its own copy of
the tree and a per-function mutant naming that fights our doctest and case
registry imports; a hundred lines of ``ast`` do what we need, repeatably.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("labkit/semantics.py", "labkit/explore.py", "labkit/lockdep.py", "labkit/primitives.py")
TESTS = ("tests/test_primitives.py", "tests/test_explore.py", "tests/test_sharp.py", "tests/test_properties.py",
         "tests/test_lockdep.py", "tests/test_cases_contract.py", "tests/test_errors.py",
         "tests/test_explore_fast.py", "tests/test_primitive_table.py", "tests/test_lockdep_selftest.py")
CMP_SWAP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
            ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def mutations(tree: ast.AST):
    """(node id, line, description) for every mutation point, in source order."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in CMP_SWAP:
                    out.append((id(node), node.lineno, f"cmp{i}", f"{type(op).__name__} -> "
                                f"{CMP_SWAP[type(op)].__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append((id(node), node.lineno, "boolop", f"{type(node.op).__name__} -> "
                        f"{'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((id(node), node.lineno, "not", "drop not"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            out.append((id(node), node.lineno, "binop", f"{type(node.op).__name__} -> "
                        f"{'Sub' if isinstance(node.op, ast.Add) else 'Add'}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            out.append((id(node), node.lineno, "bool", f"{node.value} -> {not node.value}"))
        elif (isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 4
              and not isinstance(getattr(node, "_parent", None), ast.Subscript)):
            out.append((id(node), node.lineno, "int", f"{node.value} -> {node.value + 1}"))
    return out


def apply_mutation(source: str, index: int) -> tuple[str, int, str]:
    """The source with mutation number ``index`` applied (``ast.walk`` order)."""
    tree = ast.parse(source)
    points = mutations(tree)
    nid, line, what, desc = points[index]
    for node in ast.walk(tree):
        if id(node) != nid:
            continue
        if what.startswith("cmp"):
            i = int(what[3:])
            node.ops[i] = CMP_SWAP[type(node.ops[i])]()
        elif what == "boolop":
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif what == "not":
            node.op = ast.UAdd()      # +x: truthiness of x, the `not` gone
        elif what == "binop":
            node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        elif what == "bool":
            node.value = not node.value
        elif what == "int":
            node.value = node.value + 1
        break
    return ast.unparse(tree), line, desc


def run_tests(copy: Path, timeout: float) -> bool:
    """True when the fast tests pass in ``copy``, a copy of the tree.

    The tests run *inside* the copy: ``python -m`` puts the working directory
    first on ``sys.path``, so running them from the real tree would import the
    real, unmutated package (and every mutant would "survive")."""
    env = dict(os.environ, PYTHONPATH=str(copy), MPLBACKEND="Agg", HYPOTHESIS_PROFILE="default")
    tests = [t for t in TESTS if (copy / t).exists()]
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not browser and not notebooks",
           *tests]
    try:
        r = subprocess.run(cmd, cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", nargs="*", default=list(FILES))
    ap.add_argument("--sample", type=int, default=150, help="mutants to run (0 = all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant run")
    args = ap.parse_args(argv)
    points = []
    for f in args.files:
        src = (ROOT / f).read_text()
        points += [(f, i) for i in range(len(mutations(ast.parse(src))))]
    chosen = points if args.sample <= 0 else random.Random(args.seed).sample(points, min(args.sample, len(points)))
    chosen.sort()
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        for d in ("labkit", "tests", "data"):
            shutil.copytree(ROOT / d, parent / d, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
        for f in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / f, parent / f)
        # The copy must be what the tests import: check it, then trust the counts.
        probe = subprocess.run([sys.executable, "-c", "import labkit; print(labkit.__file__)"], cwd=parent,
                               env=dict(os.environ, PYTHONPATH=str(parent)), capture_output=True, text=True)
        if not probe.stdout.strip().startswith(str(parent)):
            print(f"the tests would import {probe.stdout.strip()!r}, not the copy: stopping", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        if not run_tests(parent, args.timeout * 3):
            print("the fast tests fail on the unmutated copy: fix them first", file=sys.stderr)
            return 2
        base = time.perf_counter() - t0
        print(f"{len(chosen)} of {len(points)} mutants; one test run takes ~{base:.0f} s")
        stats: dict[str, list[int]] = {}
        survivors = []
        for f, i in chosen:
            original = (ROOT / f).read_text()
            mutated, line, desc = apply_mutation(original, i)
            target = parent / f
            target.write_text(mutated)
            killed = not run_tests(parent, args.timeout)
            target.write_text(original)
            s = stats.setdefault(f, [0, 0])
            s[0] += 1
            s[1] += killed
            if not killed:
                survivors.append(f"{f}:{line}: {desc}")
            print(f"  {'killed ' if killed else 'SURVIVED'} {f}:{line}: {desc}", flush=True)
    print()
    print(f"{'file':24} {'mutants':>7} {'killed':>6} {'score':>6}")
    tot = [0, 0]
    for f, (n, k) in sorted(stats.items()):
        print(f"{f:24} {n:7d} {k:6d} {100 * k / n:5.1f}%")
        tot[0] += n
        tot[1] += k
    if tot[0]:
        print(f"{'all':24} {tot[0]:7d} {tot[1]:6d} {100 * tot[1] / tot[0]:5.1f}%")
    if survivors:
        print("\nsurvivors (a missing test, or an equivalent mutant):")
        print("\n".join("  " + s for s in survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
