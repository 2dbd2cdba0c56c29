"""``python -m labkit``: the command names, JSON keys and exit codes are a contract."""

import json
import subprocess
import sys

import pytest

from labkit.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cases_json_lists_ids_variants_titles(capsys):
    code, out, _ = run(capsys, "cases", "--json")
    assert code == 0
    cases = {c["id"]: c for c in json.loads(out)}
    assert {"abba", "philosophers", "rwsem_fairness", "last_put", "mm_iommu"} <= set(cases)
    assert [v["id"] for v in cases["abba"]["variants"]] == ["before", "after"]
    assert all(c["title"] for c in cases.values())


def test_explore_json_contract(capsys):
    code, out, _ = run(capsys, "explore", "abba", "--variant", "before", "--json")
    d = json.loads(out)
    assert code == 0
    assert set(d) == {"case", "variant", "complete", "states", "transitions", "findings"}
    (f,) = d["findings"]
    assert set(f) == {"kind", "message", "schedule", "cpus", "locks"}
    assert f["kind"] == "deadlock" and f["schedule"] == "CPU0 CPU1 CPU0 CPU1"


def test_explore_budget_says_it_stopped(capsys):
    code, out, _ = run(capsys, "explore", "philosophers", "--variant", "n4", "--json", "--max-states", "50")
    d = json.loads(out)
    assert code == 0 and d["complete"] is False and d["states"] == 50 and "state budget" in d["stopped"]
    code, out, _ = run(capsys, "explore", "philosophers", "--variant", "n4", "--max-states", "50")
    assert "INCOMPLETE" in out


def test_lockdep_prints_the_report(capsys):
    code, out, _ = run(capsys, "lockdep", "abba", "--variant", "before")
    assert code == 0 and "WARNING: possible circular locking dependency detected" in out
    code, out, _ = run(capsys, "lockdep", "abba", "--variant", "before", "--json")
    assert json.loads(out)[0]["chain"] == ["B", "A"]


@pytest.mark.parametrize("argv, message", [
    (["explore", "nope", "--variant", "before"], "error: no case 'nope'"),
    (["explore", "abba", "--variant", "sideways"], "error: case 'abba' has no variant 'sideways'"),
    (["lockdep", "abba", "--variant", "before", "--schedule", "CPU9"], "error: schedule entry 1 ('CPU9'): no cpu"),
    (["lockdep", "abba", "--variant", "before", "--schedule", "CPU0 CPU0 CPU0 CPU0 CPU0 CPU0"],
     "error: step 6 of the schedule: CPU0 cannot run: CPU0 has finished"),
    # The attack run (issue 15): each hostile input and the error it must give.
    (["export", "abba", "--variant", "", "-o", "/dev/null"], "error: case 'abba' has no variant '' "),
    (["replay", "abba", "--variant", "before", "--schedule", "CPU0**"],
     "error: schedule entry 1 ('CPU0**'): malformed: write a cpu name, or a cpu name and one '*'"),
    (["replay", "abba", "--variant", "before", "--schedule", "CPU0 *"], "error: schedule entry 2 ('*'): malformed"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_usage_errors_are_one_line_exit_2():
    p = subprocess.run([sys.executable, "-m", "labkit", "explore"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "required" in p.stderr


def test_real_process_round_trip():
    p = subprocess.run([sys.executable, "-m", "labkit", "explore", "abba", "--variant", "after", "--json"],
                       capture_output=True, text=True, check=True)
    assert json.loads(p.stdout)["findings"] == []


def test_bench_prints_figures(capsys):
    """The figures, not only the header: states and findings are the explorer's own."""
    from labkit.cases import program
    from labkit.explore import explore
    code, out, _ = run(capsys, "bench", "--quick")
    assert code == 0
    header, rule, *rows = out.splitlines()
    cols = header.split()
    assert cols[:4] == ["model", "states", "trans(sleep)", "trans(none)"] and cols[-1] == "findings"
    table = {r.split()[0]: r.split() for r in rows if r.split() and "/" in r.split()[0]}
    for name in ("philosophers/n5", "mm_iommu/before", "hmm_release/before", "kvm_vfio/final"):
        row = table[name]
        r = explore(program(*name.split("/")))
        assert int(row[1]) == r.states, name
        assert int(row[2]) <= int(row[3]), name          # sleep sets never add transitions
        assert row[-1] == (",".join(sorted(r.kinds())) if r.findings else "-") or row[-1] in r.kinds(), name


@pytest.mark.parametrize("option, value, message", [
    ("--max-states", "0", "argument --max-states: must be at least 1, not 0"),
    ("--max-states", "-5", "argument --max-states: must be at least 1, not -5"),
    ("--max-states", "1e3", "argument --max-states: not a whole number: '1e3'"),
    ("--max-seconds", "nan", "argument --max-seconds: must be a finite number above 0, not 'nan'"),
    ("--max-seconds", "-1", "argument --max-seconds: must be a finite number above 0, not '-1'"),
    ("--max-seconds", "inf", "argument --max-seconds: must be a finite number above 0, not 'inf'"),
    ("--max-seconds", "0", "argument --max-seconds: must be a finite number above 0, not '0'"),
    ("--max-seconds", "soon", "argument --max-seconds: not a number: 'soon'"),
    ("--max-memory", "nan", "argument --max-memory: must be a finite number above 0, not 'nan'"),
])
def test_numeric_options_are_checked_by_the_parser(capsys, option, value, message):
    # Before: 0 and -5 ended in a traceback (exit 1), nan turned the time budget off, -1 printed
    # "stopped after -1 s". Now: one line, exit 2, before any work.
    with pytest.raises(SystemExit) as e:
        main(["explore", "abba", "--variant", "before", option, value])
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    assert err == f"python -m labkit explore: error: {message} (try --help)\n"


def test_export_to_a_full_disk_names_the_file(capsys, tmp_path):
    import os
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    code, out, err = run(capsys, "export", "abba", "--variant", "before", "-o", "/dev/full")
    assert code == 2 and out == ""
    assert err == "error: cannot write the page to '/dev/full': No space left on device\n"
    code, out, err = run(capsys, "export", "abba", "--variant", "before", "-o", str(tmp_path / "no" / "x.html"))
    assert code == 2 and err == f"error: cannot write the page to '{tmp_path / 'no' / 'x.html'}': No such file or directory\n"


def test_explore_memory_budget_option(capsys):
    code, out, _ = run(capsys, "explore", "abba", "--variant", "before", "--max-memory", "64", "--json")
    assert code == 0 and json.loads(out)["complete"] is True
