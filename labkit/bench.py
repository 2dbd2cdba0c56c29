"""Explorer benchmark: figures, not assertions (``python -m labkit bench``).

For each model: states and transitions, CPU and wall time, states per
second and bytes per state, with and without each reduction (sleep sets;
folding the blocking steps of mutexes and spinlocks), and beside them SPIN's
figures for the same model when ``spin`` (Debian package ``spin``) and a C
compiler are installed and the model uses only steps :func:`promela` can
translate. Then start-up: ``import labkit`` over bare Python, a whole
``python -m labkit explore`` process per kernel case, and the standalone
export of one large variant.

Targets (for this script, never for tests): six philosophers within 0.5 s,
seven within 3 s, eight within the default budget; 100,000 states per second
or more; 300 bytes per state or fewer; a kernel case's whole ``explore``
process within 0.1 s of CPU; ``import labkit`` within 50 ms of bare Python;
``export philosophers --variant n6`` within 2 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from .cases import KERNEL_CASES, all_cases
from .explore import explore

__all__ = ["main", "measure", "promela", "spin"]

# Models left out by --quick, and those whose byte count is measured in a fresh process.
BIG = ("n6", "n7", "n8", "lefty6")
_MEMORY_FROM = 20_000          # states: below this the resident size says little
_LARGE = dict(max_states=50_000_000, max_seconds=3600.0, max_memory_mb=16_000.0)


def measure(prog, reduction: bool = True, fold: bool = True, repeat: int = 1) -> dict:
    """The best of ``repeat`` explorations: CPU and wall seconds, states, transitions."""
    best = None
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        r = explore(prog, reduction=reduction, fold=fold, **(_LARGE if not fold else {}))
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        if best is None or cpu < best["cpu"]:
            best = {"cpu": cpu, "wall": wall}
    return dict(best, states=r.states, transitions=r.transitions, complete=r.complete,
                findings=sorted({f.kind for f in r.findings}))


def _bytes_per_state(case_id: str, vid: str) -> float | None:
    """What the default search adds to a fresh process's resident memory, per state."""
    code = ("import sys; from labkit.cases import program; from labkit.explore import explore; "
            f"r = explore(program({case_id!r}, {vid!r})); print(r.memory, r.states)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        memory, states = p.stdout.split()
        return int(memory) / int(states)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# SPIN, side by side

_PROMELA_KINDS = {"mutex_lock", "spin_lock", "mutex_unlock", "spin_unlock", "nop", "call", "return"}


def promela(prog) -> str | None:
    """``prog`` in Promela, one ``active proctype`` per cpu, or None when it
    uses a step this small translation does not cover (it covers mutexes,
    spinlocks, calls and lines that change nothing: enough for the classic
    lock-order models). A lock is a byte: its owner, or ``FREE``; taking it
    waits until it is free, as the folded explorer sees it; a deadlock is an
    invalid end state."""
    out = ["#define FREE 255"] + [f"byte l{i} = FREE;   /* {l.name} */" for i, l in enumerate(prog.locks)]
    labels = iter(range(1 << 30))

    def body(fname: str, cpu: int, depth: int) -> list[str] | None:
        if depth > 20:
            return None
        end = f"r{next(labels)}"
        lines = []
        for op in prog.function(fname).ops:
            if op.kind not in _PROMELA_KINDS:
                return None
            if op.kind in ("mutex_lock", "spin_lock"):
                i = prog.lock_index[op.args[0]]
                lines.append(f"atomic {{ l{i} == FREE -> l{i} = {cpu} }};")
            elif op.kind in ("mutex_unlock", "spin_unlock"):
                lines.append(f"l{prog.lock_index[op.args[0]]} = FREE;")
            elif op.kind == "call":
                inner = body(op.args[0], cpu, depth + 1)
                if inner is None:
                    return None
                lines += inner
            elif op.kind == "return":
                lines.append(f"goto {end};")
            else:
                lines.append("skip;")
        has_return = any(op.kind == "return" for op in prog.function(fname).ops)
        return lines + ([f"{end}: skip;"] if has_return else [])

    for c, cpu in enumerate(prog.cpus):
        lines = body(cpu.entry, c, 0)
        if lines is None:
            return None
        out += [f"active proctype cpu{c}() {{"] + [f"    {x}" for x in lines] + ["}"]
    return "\n".join(out) + "\n"


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (getrusage: finer than os.times' clock ticks)."""
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def spin(prog) -> dict | None:
    """SPIN's figures for ``prog``: unique states, whether it found an invalid
    end state (a deadlock), CPU seconds of ``pan`` and of the whole pipeline
    (``spin -a``, the C compiler, ``pan``; no partial-order reduction, every
    error counted). None when SPIN or a compiler is missing or the model
    cannot be translated."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if shutil.which("spin") is None or cc is None:
        return None
    text = promela(prog)
    if text is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "model.pml"), "w") as f:
            f.write(text)
        t0 = _children_cpu()
        try:
            subprocess.run(["spin", "-a", "model.pml"], cwd=d, check=True, capture_output=True)
            subprocess.run([cc, "-O2", "-DNOREDUCE", "-DSAFETY", "-o", "pan", "pan.c"], cwd=d, check=True,
                           capture_output=True)
            t1 = _children_cpu()
            p = subprocess.run(["./pan", "-c0", "-n"], cwd=d, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        t2 = _children_cpu()
    states = re.search(r"(\d+) states, stored", p.stdout)
    errors = re.search(r"errors: (\d+)", p.stdout)
    if states is None or errors is None:
        return None
    return {"states": int(states.group(1)), "deadlock": int(errors.group(1)) > 0,
            "pan": t2 - t1, "all": t2 - t0}


# ---------------------------------------------------------------------------
# Start-up and whole processes

def _process_cpu(args: list[str], repeat: int = 5) -> float:
    """The least CPU seconds of ``repeat`` runs of a Python process."""
    best = None
    for _ in range(repeat):
        t = _children_cpu()
        subprocess.run([sys.executable] + args, check=True, capture_output=True)
        dt = _children_cpu() - t
        best = dt if best is None else min(best, dt)
    return best


def _startup() -> list[str]:
    bare = _process_cpu(["-c", "pass"])
    lines = [f"import labkit:            {(_process_cpu(['-c', 'import labkit']) - bare) * 1000:6.1f} ms CPU "
             f"over bare Python ({bare * 1000:.1f} ms)"]
    for cid in KERNEL_CASES:
        case = next(c for c in all_cases() if c.id == cid)
        vid = case.variant_ids[0]
        cpu = _process_cpu(["-m", "labkit", "explore", cid, "--variant", vid], repeat=3)
        lines.append(f"explore {cid + '/' + vid:30} {cpu * 1000:6.1f} ms CPU, whole process")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "n6.html")
        t, w = _children_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "labkit", "export", "philosophers", "--variant", "n6", "-o", out],
                       check=True, capture_output=True)
        cpu, wall = _children_cpu() - t, time.perf_counter() - w
        lines.append(f"export philosophers --variant n6: {cpu:.2f} s CPU ({wall:.2f} s wall), "
                     f"{os.path.getsize(out) / 1024:.0f} KB")
    return lines


# ---------------------------------------------------------------------------

def main(quick: bool = False) -> int:
    have_spin = not quick and shutil.which("spin") is not None
    rows = []
    for case in all_cases():
        for v in case.variants:
            if quick and v.id in BIG:
                continue
            prog = case.program(v.id)
            small = v.id not in BIG
            rep = 3 if small else 1
            row = {"name": f"{case.id}/{v.id}",
                   "on": measure(prog, True, True, rep), "nosleep": measure(prog, False, True, rep),
                   "nofold": measure(prog, True, False, rep), "neither": measure(prog, False, False, rep)}
            row["bytes"] = (_bytes_per_state(case.id, v.id) if not quick and row["on"]["states"] >= _MEMORY_FROM
                            else None)
            row["spin"] = spin(prog) if have_spin else None
            rows.append(row)
    w = max(len(r["name"]) for r in rows) + 1
    head = (f"{'model':{w}} {'states':>8} {'trans(sleep)':>12} {'trans(none)':>11} {'saved':>6} "
            f"{'unfolded':>9} {'folded':>6} {'cpu ms':>8} {'wall ms':>8} {'states/s':>9} {'B/state':>7} "
            f"{'ms(no sleep)':>12} {'ms(no fold)':>11} {'ms(neither)':>11} "
            f"{'spin states':>11} {'spin pan ms':>11} {'spin all ms':>11}  findings")
    print(head)
    print("-" * len(head))
    for r in rows:
        on, nosleep, nofold, neither = r["on"], r["nosleep"], r["nofold"], r["neither"]
        saved = 1 - on["transitions"] / nosleep["transitions"] if nosleep["transitions"] else 0.0
        folded = 1 - on["states"] / nofold["states"] if nofold["states"] else 0.0
        rate = on["states"] / on["cpu"] if on["cpu"] else float("inf")
        sp = r["spin"]
        spin_cols = (f"{sp['states']:>11} {sp['pan'] * 1000:>11.1f} {sp['all'] * 1000:>11.0f}" if sp
                     else f"{'-':>11} {'-':>11} {'-':>11}")
        agree = "" if not sp else ("" if sp["deadlock"] == ("deadlock" in on["findings"]) else "  SPIN DISAGREES")
        print(f"{r['name']:{w}} {on['states']:>8} {on['transitions']:>12} {nosleep['transitions']:>11} "
              f"{saved:>6.0%} {nofold['states']:>9} {folded:>6.0%} {on['cpu'] * 1000:>8.1f} "
              f"{on['wall'] * 1000:>8.1f} {rate:>9.0f} {r['bytes'] or 0:>7.0f} "
              f"{nosleep['cpu'] * 1000:>12.1f} {nofold['cpu'] * 1000:>11.1f} {neither['cpu'] * 1000:>11.1f} "
              f"{spin_cols}  {','.join(on['findings']) or '-'}{agree}"
              + ("" if on["complete"] else "  (INCOMPLETE)"))
    print()
    print("states, cpu/wall ms, states/s, B/state: the default search (sleep sets, blocking steps folded); "
          "B/state: resident memory the search adds in a fresh process (0: not measured, under "
          f"{_MEMORY_FROM:,} states); trans(none), ms(no sleep): without sleep sets; unfolded, ms(no fold): "
          "without folding; ms(neither): without both. SPIN: spin -a, cc -O2 -DNOREDUCE -DSAFETY, pan -c0 "
          "(no reduction, every error); '-' where SPIN is missing or the model is beyond labkit.bench.promela.")
    if not quick:
        print()
        for line in _startup():
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
