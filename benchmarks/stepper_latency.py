"""How fast the browser stepper answers a click, and how big its data is.

Not a test: a measurement to read. For a few cases it opens the standalone
stepper page (labkit.stepper.standalone) in headless chromium, offline, and
for 20 clicks (Step buttons, then Back and Forward) measures in the page:

* click → DOM updated: the click event's timestamp to the first
  MutationObserver callback on the stepper;
* click → second frame: to the second requestAnimationFrame after the click
  (the frame that shows the update has been produced).

It prints the median and the max of each, against the targets (≤ 16 ms to
the DOM update, ≤ 35 ms to the second frame), then the JSON size (bytes and
gzipped) and the export time of every case, and what the notebook widget
costs to build: every variant at once (the standalone page, and the widget
before it built large variants lazily) against the shown one plus the
variants small enough to ship whole (``case_json(..., lazy=variant)``).

    python benchmarks/stepper_latency.py [--chromium /usr/bin/chromium] [--cases mm_iommu s390_release]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labkit.cases import case_ids, get_case  # noqa: E402
from labkit.stepper.export import case_json, case_json_text  # noqa: E402
from labkit.stepper.standalone import export_html  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
CLICKS = 20
TARGET_DOM, TARGET_FRAME = 16.0, 35.0

_PROBE = """() => {
  window.__lat = [];
  const root = document.querySelector('.lk-stepper');
  document.addEventListener('click', (e) => {
    const t0 = e.timeStamp;
    let dom = null;
    const mo = new MutationObserver(() => { if (dom === null) { dom = performance.now() - t0; mo.disconnect(); } });
    mo.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
    requestAnimationFrame(() => requestAnimationFrame(() => {
      mo.disconnect();
      window.__lat.push({ dom, frame2: performance.now() - t0 });
    }));
  }, true);
}"""


def clicks_for(case_id: str) -> tuple[str, list[str]]:
    """The variant and 20 button selectors: a bug's schedule step by step, then Back, Forward ..."""
    case = get_case(case_id)
    data = case_json(case_id, [case.variant_ids[0]])
    v = data["variants"][0]
    sched = (v["explorer"][0]["schedule"] if v["explorer"] else v["serial"][0]).split()
    steps = [f'button[data-cpu="{c}"]' for c in sched][:CLICKS]
    back, fwd = ".lk-nav button >> nth=0", ".lk-nav button >> nth=1"
    rest = [back if i % 2 == 0 else fwd for i in range(CLICKS - len(steps))]
    return case.variant_ids[0], steps + rest


def measure(page_path: Path, selectors: list[str], chromium: str) -> list[dict]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        ctx = b.new_context(viewport={"width": 1280, "height": 1000})
        ctx.set_offline(True)
        page = ctx.new_page()
        page.goto(page_path.resolve().as_uri())
        page.wait_for_selector(".lk-stepper")
        page.evaluate(_PROBE)
        for i, sel in enumerate(selectors):
            page.locator(".lk-stepper").locator(sel).click()
            page.wait_for_function("(n) => window.__lat.length >= n", arg=i + 1)
        out = page.evaluate("window.__lat")
        b.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--cases", nargs="*", default=["mm_iommu", "s390_release", "philosophers"])
    args = ap.parse_args(argv)

    print(f"Click latency, {CLICKS} clicks per case (targets: DOM <= {TARGET_DOM:g} ms, second frame <= {TARGET_FRAME:g} ms)")
    print(f"{'case':<16}{'variant':<14}{'DOM median':>11}{'DOM max':>9}{'frame2 median':>15}{'frame2 max':>12}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for cid in args.cases:
            vid, sels = clicks_for(cid)
            page = export_html(cid, vid, Path(tmp) / f"{cid}.html")
            lat = measure(page, sels, args.chromium)
            dom = [x["dom"] for x in lat if x["dom"] is not None]
            fr = [x["frame2"] for x in lat]
            if len(dom) < len(lat):
                print(f"  ({len(lat) - len(dom)} clicks changed nothing in the DOM)")
            dm, dx, fm, fx = statistics.median(dom), max(dom), statistics.median(fr), max(fr)
            ok &= dx <= TARGET_DOM and fx <= TARGET_FRAME
            print(f"{cid:<16}{vid:<14}{dm:>9.1f}ms{dx:>7.1f}ms{fm:>13.1f}ms{fx:>10.1f}ms")

    print()
    print(f"{'case':<16}{'variants':>9}{'states':>8}{'JSON bytes':>12}{'gzip':>9}{'export s':>10}  modes")
    for cid in case_ids():
        t0 = time.perf_counter()
        text = case_json_text(cid)
        dt = time.perf_counter() - t0
        import json
        d = json.loads(text)
        states = sum(len(v["states"]) for v in d["variants"])
        modes = ",".join(sorted({v["mode"] for v in d["variants"]}))
        print(f"{cid:<16}{len(d['variants']):>9}{states:>8}{len(text.encode()):>12}"
              f"{len(gzip.compress(text.encode())):>9}{dt:>10.2f}  {modes}")
    print()
    print("Building the notebook widget's data (stepper(case, variant)): all variants vs lazy")
    print(f"{'case':<16}{'variant':<10}{'all s':>8}{'lazy s':>8}{'pending':>9}")
    for cid, vid in [("philosophers", "n6"), ("philosophers", "n2"), ("s390_release", "before"), ("mm_iommu", "before")]:
        t0 = time.perf_counter()
        case_json(cid)
        t_all = time.perf_counter() - t0
        t0 = time.perf_counter()
        d = case_json(cid, lazy=vid)
        t_lazy = time.perf_counter() - t0
        pending = sum(1 for v in d["variants"] if v.get("pending"))
        print(f"{cid:<16}{vid:<10}{t_all:>8.2f}{t_lazy:>8.2f}{pending:>9}")
    print()
    print("all clicks within the targets" if ok else "SOME CLICKS MISSED THE TARGETS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
