"""The README is a contract too: its commands exist and say what the code does."""

import re
import shlex

from labkit.cases import KERNEL_CASES, get_case
from labkit.cli import build_parser


def readme(repo_root):
    return (repo_root / "README.md").read_text()


def quick_start_commands(text):
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, re.S)


def test_exactly_two_quick_start_commands_and_ci_runs_the_test_one(repo_root):
    cmds = quick_start_commands(readme(repo_root))
    assert cmds == ["bash scripts/lab.sh", "bash scripts/test.sh"]
    ci = (repo_root / ".ci" / "run").read_text()
    body = [l for l in ci.splitlines() if l.strip() and not l.startswith("#")]
    assert body == ['cd "$(dirname "$0")/.." && exec bash scripts/test.sh']


def test_every_cli_command_is_documented(repo_root):
    text = readme(repo_root)
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"python -m labkit {name}" in text, name


def test_every_case_and_its_fix_commit_is_in_the_table(repo_root):
    table = readme(repo_root).split("## Cases", 1)[1].split("\n## ", 1)[0]
    for cid in KERNEL_CASES:
        row = next(l for l in table.splitlines() if l.startswith(f"| `{cid}`"))
        c = get_case(cid)
        for fx in (c.fix, c.fixes):
            if fx is not None and fx.commit:
                assert fx.commit in row, (cid, fx.commit)
            if fx is not None and fx.status != "merged":
                # A patch that never landed is never presented as the fix.
                assert fx.status in row, (cid, fx.subject, fx.status)


def test_example_commands_run(repo_root):
    import contextlib
    import io

    from labkit.cli import main
    text = readme(repo_root)
    examples = re.findall(r"^\.venv/bin/python -m labkit (.+)$", text, re.M)
    assert len(examples) >= 3
    for line in examples:
        argv = shlex.split(line, comments=True)
        argv = [str(repo_root / a) if a.startswith("data/") else a for a in argv]
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0, line
