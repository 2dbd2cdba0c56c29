"""Explorer benchmark: figures, not assertions (``python -m labkit bench``).

For each model: states, transitions, states per second and wall time, with
and without the sleep-set reduction. Targets (for this script, never for
tests): every classic model under 50 ms; six philosophers under 2 s.
"""

from __future__ import annotations

import time

from .cases import all_cases
from .explore import explore

__all__ = ["main", "measure"]


def measure(prog, reduction: bool, repeat: int = 1) -> dict:
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        r = explore(prog, reduction=reduction)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return {"states": r.states, "transitions": r.transitions, "seconds": best,
            "findings": sorted({f.kind for f in r.findings}), "complete": r.complete}


def main(quick: bool = False) -> int:
    rows = []
    for case in all_cases():
        for v in case.variants:
            if quick and v.id in ("n6", "lefty6"):
                continue
            prog = case.program(v.id)
            small = not v.id.endswith("6")
            on = measure(prog, True, repeat=3 if small else 1)
            off = measure(prog, False, repeat=3 if small else 1)
            rows.append((f"{case.id}/{v.id}", on, off))
    w = max(len(name) for name, *_ in rows) + 1
    head = (f"{'model':{w}} {'states':>8} {'trans(sleep)':>12} {'trans(none)':>11} {'saved':>6} "
            f"{'ms(sleep)':>9} {'ms(none)':>9} {'states/s':>9}  findings")
    print(head)
    print("-" * len(head))
    for name, on, off in rows:
        saved = 1 - on["transitions"] / off["transitions"] if off["transitions"] else 0.0
        rate = on["states"] / on["seconds"] if on["seconds"] else float("inf")
        print(f"{name:{w}} {on['states']:>8} {on['transitions']:>12} {off['transitions']:>11} {saved:>6.0%} "
              f"{on['seconds'] * 1000:>9.1f} {off['seconds'] * 1000:>9.1f} {rate:>9.0f}  "
              f"{','.join(on['findings']) or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
