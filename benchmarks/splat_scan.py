"""How long ``python -m labkit splat`` takes on big and hostile inputs, and how much memory.

Not a test: a measurement to read (tests never assert a time). Each input is
written to a temporary directory, then ``python -m labkit splat FILE --json``
runs in a child process; the script prints its wall time, its peak resident
memory (``ru_maxrss`` from ``wait4``), its exit status and the first line it
printed. The child gets an address-space limit (``--limit-mb``, default 4096)
so that a parser that runs away cannot take the machine with it, and a time
limit (``--timeout``, default 120 s) after which it is killed.

Inputs:

* ``import-only``: the interpreter importing ``labkit.splat`` (the floor);
* ``real-report``: one real report (``data/splats/nilfs_syzbot.txt``);
* ``newlines-10MB`` (and ``-50MB`` with ``--big``): nothing but ``\\n``;
* ``dmesg-8MB+report`` (and ``-40MB`` with ``--big``): megabytes of
  dmesg-style lines (timestamps, unrelated ``WARNING: CPU:`` traces) with a
  real report, timestamped, at the end;
* ``nul-before-newline``: that dmesg dump with a NUL before every newline;
* ``/dev/zero``, ``/dev/urandom``, a FIFO with no writer, and stdin from
  ``/dev/zero`` (``splat -``).

    python benchmarks/splat_scan.py [--big] [--only NAME ...] [--timeout S] [--limit-mb MB]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPLATS = ROOT / "data" / "splats"

_DMESG_LINES = (
    "usb 1-{a}: new high-speed USB device number {b} using xhci_hcd",
    "EXT4-fs (nvme0n1p{a}): mounted filesystem with ordered data mode. Quota mode: none.",
    "audit: type=1400 audit({t:.3f}:{b}): apparmor=\"STATUS\" operation=\"profile_load\" name=\"snap.{b}\"",
    "e1000e 0000:00:1f.6 eth{a}: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None",
    "WARNING: CPU: {a} PID: {b} at drivers/gpu/drm/i915/intel_display.c:{b} intel_modeset+0x{b:x}/0x200",
    "Call Trace:",
    " <TASK>",
    " dump_stack_lvl+0x{b:x}/0x70",
    " __warn+0x81/0x{b:x}",
    " </TASK>",
    "kauditd_printk_skb: {b} callbacks suppressed",
)


def dmesg(size: int, seed: int = 1) -> str:
    """About *size* characters of dmesg-looking text (deterministic)."""
    out, n, i, t = [], 0, seed, 1.0
    while n < size:
        i = (i * 1103515245 + 12345) & 0x7FFFFFFF
        line = f"[{t:12.6f}] " + _DMESG_LINES[i % len(_DMESG_LINES)].format(a=i % 8, b=i % 4096, t=t)
        out.append(line)
        n += len(line) + 1
        t += 0.000731
    return "\n".join(out) + "\n"


def timestamped(text: str, start: float) -> str:
    return "\n".join(f"[{start + k * 1e-6:12.6f}] {line}" for k, line in enumerate(text.split("\n")))


def inputs(tmp: Path, big: bool) -> list[tuple[str, list[str], Path | None, str | None]]:
    """``(name, argv after 'splat', stdin path or None, file to describe)``."""
    report = (SPLATS / "nilfs_syzbot.txt").read_text(encoding="utf-8")
    cases = []

    def write(name: str, data: bytes | str) -> Path:
        p = tmp / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return p

    cases.append(("real-report", [str(SPLATS / "nilfs_syzbot.txt")], None, None))
    p = write("newlines10", b"\n" * (10 << 20))
    cases.append(("newlines-10MB", [str(p)], None, None))
    if big:
        p = write("newlines50", b"\n" * (50 << 20))
        cases.append(("newlines-50MB", [str(p)], None, None))
    dump = dmesg(8 << 20) + timestamped(report, 9999.0) + "\n"
    p = write("dmesg8", dump)
    cases.append(("dmesg-8MB+report", [str(p)], None, None))
    if big:
        p = write("dmesg40", dmesg(40 << 20, seed=7) + timestamped(report, 99999.0) + "\n")
        cases.append(("dmesg-40MB+report", [str(p)], None, None))
    p = write("dmesg8nul", dump.replace("\n", "\x00\n"))
    cases.append(("nul-before-newline", [str(p)], None, None))
    cases.append(("/dev/zero", ["/dev/zero"], None, None))
    cases.append(("/dev/urandom", ["/dev/urandom"], None, None))
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    cases.append(("fifo-no-writer", [str(fifo)], None, None))
    cases.append(("stdin</dev/zero", ["-"], Path("/dev/zero"), None))
    return cases


def run(argv: list[str], stdin: Path | None, timeout: float, limit_mb: int) -> tuple[float, float, str, str]:
    """Run one child; return (seconds, peak RSS in MB, status, first output line)."""
    def limits():
        lim = limit_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    out = tempfile.TemporaryFile()
    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], stdin=fin, stdout=out, stderr=subprocess.STDOUT,
                            cwd=ROOT, preexec_fn=limits)
    status = None
    while True:
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > timeout:
            proc.send_signal(signal.SIGKILL)
            pid, st, ru = os.wait4(proc.pid, 0)
            status = f"killed after {timeout:g} s"
            break
        time.sleep(0.01)
    secs = time.perf_counter() - t0
    proc.returncode = 0  # reaped above; keep Popen from waiting again
    if stdin:
        fin.close()
    if status is None:
        status = f"exit {os.waitstatus_to_exitcode(st)}"
    out.seek(0)
    first = out.read(4096).decode("utf-8", "replace").strip().split("\n")[0][:110]
    out.close()
    return secs, ru.ru_maxrss / 1024, status, first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", action="store_true", help="also 50 MB of newlines and a 40 MB dmesg")
    ap.add_argument("--only", nargs="*", help="run only these inputs")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--limit-mb", type=int, default=4096)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = [("import-only", ["-c", "import labkit.splat"], None)]
        rows += [(name, ["-m", "labkit", "splat", *argv, "--json"], stdin) for name, argv, stdin, _ in
                 inputs(tmp, args.big)]
        print(f"{'input':22} {'bytes':>10} {'seconds':>8} {'peak RSS MB':>11}  status   first line of output")
        for name, argv, stdin in rows:
            if args.only and name not in args.only:
                continue
            target = Path(argv[-2]) if argv[0] == "-m" and argv[-2] != "-" else None
            size = target.stat().st_size if target and target.is_file() else None
            secs, rss, status, first = run(argv, stdin, args.timeout, args.limit_mb)
            print(f"{name:22} {size if size is not None else '-':>10} {secs:8.2f} {rss:11.1f}  {status:8} {first}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
