"""``python -m labkit``: the command line lecturers and the tests use.

Its command names and JSON keys are a contract (see README). Bad input — an
unknown case, variant or cpu, an impossible schedule, a file with no lockdep
report — prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from .errors import LabError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints the whole usage)
        self.exit(2, f"{self.prog}: error: {message} (try --help)\n")


def _count(text: str) -> int:
    """A budget counted in whole things: 1 or more."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def _amount(text: str) -> float:
    """A budget in seconds or megabytes: a finite number above 0 (nan, inf, 0 and -1 are not)."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, not {text!r}")
    return x


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_cases(args) -> int:
    from .cases import all_cases
    cases = all_cases()
    if args.json:
        _out(json.dumps([c.to_json() for c in cases], indent=2))
        return 0
    for c in cases:
        _out(f"{c.id:16} {c.title}")
        for v in c.variants:
            _out(f"    --variant {v.id:26} {v.title}")
    return 0


def cmd_explore(args) -> int:
    from .cases import program
    from .explore import explore
    prog = program(args.case, args.variant)
    r = explore(prog, max_states=args.max_states, max_seconds=args.max_seconds,
                max_memory_mb=args.max_memory, reduction=not args.no_reduction)
    if args.json:
        _out(json.dumps(r.to_json(), indent=2))
        return 0
    status = "complete" if r.complete else f"INCOMPLETE — {r.stopped}"
    _out(f"{args.case}/{args.variant}: {r.states} states, {r.transitions} transitions, "
         f"{r.seconds:.2f} s ({r.reduction}); search {status}")
    if not r.findings:
        _out("no findings: no deadlock, use after free, double free, refcount bug or WARN in any interleaving"
             if r.complete else "no findings so far")
    for i, f in enumerate(r.findings, 1):
        _out(f"\n[{i}] {f.kind}: {f.message}")
        _out(f"    shortest schedule ({f.step} steps): {f.schedule}")
        _out(f"    replay: python -m labkit replay {args.case} --variant {args.variant} --schedule \"{f.schedule}\"")
    return 0


def cmd_replay(args) -> int:
    from .cases import program
    from .render.text import trace_text
    from .trace import replay
    _out(trace_text(replay(program(args.case, args.variant), args.schedule)))
    return 0


def cmd_lockdep(args) -> int:
    from .lockdep import lockdep_run
    ld = lockdep_run(args.case, args.variant, [args.schedule] if args.schedule else None,
                     keep_going=args.keep_going)
    if args.json:
        _out(json.dumps([r.to_json() for r in ld.reports], indent=2))
    else:
        _out(ld.text())
    return 0


def cmd_splat(args) -> int:
    from .splat import parse_file
    s = parse_file(args.file)
    if args.json:
        _out(json.dumps(s.to_json(), indent=2))
        return 0
    d = s.to_json()
    for k, v in d.items():
        _out(f"{k:18} {v}")
    return 0


def cmd_compare(args) -> int:
    from .compare import compare
    result = compare(args.case, args.variant, args.file)
    _out(result.text())
    return 0 if result.agree else 1


def cmd_from_splat(args) -> int:
    from .fromsplat import from_splat
    sc = from_splat(args.file)
    wrote = []
    if args.output:
        cmd = f"python -m labkit from-splat {args.file} -o {args.output}"
        wrote.append(sc.write(args.output, command=cmd))
    if args.export:
        wrote.append(sc.export(args.export))
    if args.json:
        _out(json.dumps(sc.to_json(), indent=2))
        return 0
    if args.lockdep:
        _out(sc.lockdep().text())
        return 0
    if wrote:
        for path in wrote:
            _out(f"wrote {path} ({path.stat().st_size} bytes)")
        return 0
    _out(sc.text())
    return 0 if sc.compare().agree else 1


def cmd_export(args) -> int:
    from .stepper.standalone import export_html
    path = export_html(args.case, args.variant, args.output, schedule=args.schedule or "")
    _out(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main
    return bench_main(quick=args.quick)


def cmd_site(args) -> int:
    from .site import main_site
    return main_site(args)


def cmd_slides(args) -> int:
    from .site import main_slides
    return main_slides(args)


def cmd_lite(args) -> int:
    from .lite import main as lite_main
    return lite_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m labkit", description="Kernel locking-bug lab: models, explorer, lockdep.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("cases", help="list the cases and their variants")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_cases)

    def case_args(s, variant_required=True):
        s.add_argument("case")
        s.add_argument("--variant", required=variant_required, help="before, after, final ...")

    s = sub.add_parser("explore", help="explore every interleaving of a case")
    case_args(s)
    s.add_argument("--json", action="store_true")
    from .explore import DEFAULT_MAX_MEMORY_MB, DEFAULT_MAX_SECONDS, DEFAULT_MAX_STATES
    s.add_argument("--max-states", type=_count, default=DEFAULT_MAX_STATES,
                   help=f"state budget (default {DEFAULT_MAX_STATES})")
    s.add_argument("--max-seconds", type=_amount, default=DEFAULT_MAX_SECONDS,
                   help=f"time budget (default {DEFAULT_MAX_SECONDS:g})")
    s.add_argument("--max-memory", type=_amount, default=DEFAULT_MAX_MEMORY_MB, metavar="MB",
                   help=f"memory budget: megabytes the search may add (default {DEFAULT_MAX_MEMORY_MB:g})")
    s.add_argument("--no-reduction", action="store_true", help="plain exhaustive search (no sleep sets)")
    s.set_defaults(func=cmd_explore)

    s = sub.add_parser("replay", help="replay a schedule and print the trace")
    case_args(s)
    s.add_argument("--schedule", required=True, help='e.g. "CPU0 CPU1 CPU1 CPU0" ("CPU0*": as far as it runs)')
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("lockdep", help="the lockdep emulator's report(s) for a serial run")
    case_args(s)
    s.add_argument("--schedule", help="one run to watch instead of the case's own lockdep runs")
    s.add_argument("--keep-going", action="store_true", help="report every cycle (lockdep stops at one)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_lockdep)

    s = sub.add_parser("splat", help="parse a real lockdep report")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_splat)

    s = sub.add_parser("compare", help="the emulator's report next to a real one")
    case_args(s)
    s.add_argument("file")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("from-splat", help="a real circular or recursive lockdep report as a model you can step")
    s.add_argument("file", help="the report (dmesg, syslog, mail text); - for standard input")
    out = s.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="explore --json's keys plus cpus")
    out.add_argument("--lockdep", action="store_true", help="the lockdep emulator's report for the model's serial runs")
    s.add_argument("-o", "--output", metavar="CASE.py", help="write the model as a case module")
    s.add_argument("--export", metavar="F.html", help="write a self-contained HTML stepper")
    s.set_defaults(func=cmd_from_splat)

    s = sub.add_parser("export", help="a self-contained HTML stepper for one case")
    case_args(s)
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--schedule", help='where the page opens, e.g. "CPU0 CPU1 CPU0*"')
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("bench", help="explorer benchmark: states, transitions, time")
    s.add_argument("--quick", action="store_true", help="skip the largest models")
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("site", help="execute every notebook and write the offline site (pages, live steppers, slides)")
    s.add_argument("out_dir", metavar="OUT_DIR")
    s.add_argument("--notebooks", help="the notebooks folder (default: notebooks/)")
    s.add_argument("--no-slides", action="store_true", help="pages only, no reveal.js decks")
    s.set_defaults(func=cmd_site)

    s = sub.add_parser("slides", help="a reveal.js deck of a case's notebook, live stepper, offline")
    s.add_argument("case", help="a case id (mm_iommu) or a notebook name (00_primer)")
    s.add_argument("-o", "--output", required=True, metavar="FILE_OR_DIR")
    s.add_argument("--notebooks", help="the notebooks folder (default: notebooks/)")
    s.set_defaults(func=cmd_slides)

    s = sub.add_parser("lite", help="the whole lab as a JupyterLite site: Python in the browser, no server, no network")
    s.add_argument("out_dir", metavar="OUT_DIR")
    s.add_argument("--serve", action="store_true", help="then serve it (like python -m http.server)")
    s.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000)")
    s.add_argument("--bind", default="127.0.0.1", help="address for --serve (default 127.0.0.1)")
    s.set_defaults(func=cmd_lite)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except BrokenPipeError:
        # The reader (``| head``) went away: not an error of ours.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        # Name the file and what failed; an error without a file names the command.
        what = e.filename if e.filename is not None else args.command
        sys.stderr.write(f"error: {what}: {e.strerror or e}\n")
        return 2
    except ValueError as e:
        # The splat parser's own error (SplatError) is a ValueError.
        from .splat import SplatError
        if isinstance(e, SplatError):
            sys.stderr.write(f"error: {e}\n")
            return 2
        raise
