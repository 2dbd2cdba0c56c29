"""Execute every lab notebook on a fresh kernel and print how long each took.

    .venv/bin/python benchmarks/notebooks.py            # all of them
    .venv/bin/python benchmarks/notebooks.py 01 03      # names containing 01 or 03

Prints one line per notebook (wall seconds, and the kernel's own CPU seconds
as reported by the process) and the total. Target for the six lessons
together: under 60 s on a 2-core machine. A figure, never an assertion.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    paths = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if not p.name.startswith("_"))
    if argv:
        paths = [p for p in paths if any(a in p.name for a in argv)]
    if not paths:
        print("no notebook matches", " ".join(argv), file=sys.stderr)
        return 2
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    total = 0.0
    print(f"{'notebook':28} {'cells':>5} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IPYTHONDIR"] = str(Path(tmp) / "ipython")
        for p in paths:
            nb = nbformat.read(p, as_version=4)
            t0 = time.perf_counter()
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(p.parent)}}).execute()
            dt = time.perf_counter() - t0
            total += dt
            ncode = sum(1 for c in nb.cells if c.cell_type == "code")
            print(f"{p.name:28} {ncode:5d} {dt:7.1f}", flush=True)
    print(f"{'total':28} {'':5} {total:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
