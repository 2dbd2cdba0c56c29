"""How big the JupyterLite site is, and how long a student waits before the first cell runs.

Not a test: a measurement to read (it never asserts). It builds the site with
``python -m labkit lite`` (or takes ``--site DIR``), prints its size by part,
serves it on 127.0.0.1 and opens it in headless Chromium with every other
request refused, and for each run measures from ``page.goto``:

* notebook shown: the primer's cells are on the page;
* kernel idle: Pyodide loaded, the wheels unpacked, IPython and the kernel up;
* first cell: ``from labkit import lab`` run with Shift+Enter, its prompt numbered.

A cold run is a new browser context (empty HTTP cache and storage: a student's
first visit); a warm run reloads the same context (the browser's cache).
Targets: site <= 60 MB, kernel idle <= 30 s.

    python benchmarks/lite_startup.py [--site DIR] [--runs 3] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labkit import lite  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
TARGET_MB, TARGET_READY = 60.0, 30.0

IDLE = """() => {
    const k = document.querySelector('.jp-NotebookPanel .jp-KernelName');
    const e = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
    return k && k.textContent.includes('Pyodide') && e && e.getAttribute('data-status') === 'idle';
}"""


def sizes(site: Path) -> list[tuple[str, int]]:
    def total(paths):
        return sum(p.stat().st_size for p in paths if p.is_file())
    pyo = site / "static" / "pyodide"
    wheels = list(pyo.glob("*.whl"))
    core = [p for p in pyo.iterdir() if p.suffix != ".whl"]
    files = list((site / "files").rglob("*"))
    everything = total(site.rglob("*"))
    rest = everything - total(wheels) - total(core) - total(files)
    return [("Pyodide core (wasm, stdlib)", total(core)), (f"wheels ({len(wheels)})", total(wheels)),
            ("JupyterLite app and extensions", rest), ("notebooks and data", total(files)), ("total", everything)]


def one_run(page, base: str, fresh: bool) -> dict:
    t0 = time.monotonic()
    if fresh:
        page.goto(base)
    else:
        page.reload()
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=120_000)
    shown = time.monotonic() - t0
    page.wait_for_function(IDLE, timeout=600_000, polling=100)
    idle = time.monotonic() - t0
    first = page.locator(".jp-NotebookPanel .jp-CodeCell").first
    first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    first.locator(".jp-InputArea-prompt").filter(has_text="[1]").wait_for(timeout=600_000)
    return {"shown": shown, "idle": idle, "first": time.monotonic() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, help="a built site (default: build one under build/lite-bench/)")
    ap.add_argument("--runs", type=int, default=3, help="cold runs (each followed by one warm run)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args(argv)

    site = args.site
    if site is None:
        site = Path(__file__).resolve().parent.parent / "build" / "lite-bench"
        t0 = time.monotonic()
        lite.build(site, log=None)
        print(f"build: {time.monotonic() - t0:.1f} s (downloads cached after the first build)")
    print(f"site {site}")
    for name, n in sizes(site):
        print(f"  {name:34} {n / 1e6:6.1f} MB")
    mb = sizes(site)[-1][1] / 1e6
    print(f"  target <= {TARGET_MB:.0f} MB: {'met' if mb <= TARGET_MB else 'MISSED'}")

    from playwright.sync_api import sync_playwright
    srv = lite.make_server(site)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    results = {"cold": [], "warm": []}
    refused = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            for _ in range(args.runs):
                ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                          else (refused.append(r.request.url), r.abort()))
                page = ctx.new_page()
                results["cold"].append(one_run(page, base, fresh=True))
                results["warm"].append(one_run(page, base, fresh=False))
                ctx.close()
            browser.close()
    finally:
        srv.shutdown()
        srv.server_close()

    print(f"\nfrom page load (seconds; median / max of {args.runs}; 2 cores shared with whatever else runs):")
    print(f"  {'':6} {'notebook shown':>16} {'kernel idle':>16} {'first cell run':>16}")
    for kind, rs in results.items():
        cols = []
        for key in ("shown", "idle", "first"):
            xs = [r[key] for r in rs]
            cols.append(f"{statistics.median(xs):6.1f} / {max(xs):5.1f}")
        print(f"  {kind:6} {cols[0]:>16} {cols[1]:>16} {cols[2]:>16}")
    ready = statistics.median(r["idle"] for r in results["cold"])
    print(f"  target: kernel idle <= {TARGET_READY:.0f} s (cold): {'met' if ready <= TARGET_READY else 'MISSED'}")
    print(f"requests refused (outside the site): {len(refused)}" + (f" {refused[:5]}" if refused else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
