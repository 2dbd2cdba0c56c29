"""The five kernel cases against the contract: ids, verdicts, lockdep, real reports."""

import subprocess
import sys

import pytest

from labkit.cases import KERNEL_CASES, get_case, program
from labkit.explore import explore
from labkit.lockdep import lockdep_run
from labkit.trace import replay

# (case, variant) -> the set of finding kinds the explorer must report.
CONTRACT = {
    ("mm_iommu", "before"): {"deadlock"},
    ("mm_iommu", "after"): set(),
    ("mm_iommu", "after_no_early_return"): {"deadlock"},
    ("iommufd_access", "before"): {"deadlock"},
    ("iommufd_access", "after"): set(),
    ("iommufd_access", "destroy_race"): {"warn"},
    ("iommufd_access", "destroy_race_fixed"): set(),
    ("kvm_vfio", "before"): {"deadlock"},
    ("kvm_vfio", "after"): {"deadlock"},
    ("kvm_vfio", "half_fix"): {"deadlock"},   # hypothetical: vfio's own reference alone
    ("kvm_vfio", "final"): set(),
    ("s390_release", "before"): {"warn"},
    ("s390_release", "proposed"): set(),
    ("s390_release", "strict_lifetime"): set(),
    ("s390_release", "disassociate"): set(),
    ("hmm_release", "before"): {"use_after_free"},
    ("hmm_release", "after"): set(),
    ("hmm_release", "release_unregisters"): {"deadlock"},   # the rule the fix imposes, broken
    ("hmm_release", "three_threads"): {"deadlock"},
    ("hmm_release", "three_threads_reader_pref"): set(),
}
# The real reports in data/splats and the variant each must agree with.
SEED_REPORTS = [("mm_iommu", "before", "mm_iommu.txt"), ("iommufd_access", "before", "iommufd.txt"),
                ("kvm_vfio", "after", "kvm_vfio.txt"), ("kvm_vfio", "after", "kvm_vfio_quoted.txt")]


def test_the_ids_are_exactly_the_contract():
    got = {(c, v) for c in KERNEL_CASES for v in get_case(c).variant_ids}
    assert got == set(CONTRACT)


@pytest.mark.parametrize("cv", sorted(CONTRACT))
def test_verdict_and_every_finding_replays(cv):
    r = explore(program(*cv))
    assert r.complete
    assert {f.kind for f in r.findings} == CONTRACT[cv]
    for f in r.findings:
        t = replay(program(*cv), f.schedule)
        assert f.key in {g.key for g in t.findings}
        assert len(t.steps) == f.step
    # The variant's own words for learners say the same.
    expect = get_case(cv[0]).variant(cv[1]).expect
    assert (expect == "nothing") == (not CONTRACT[cv])


@pytest.mark.parametrize("cv", sorted(k for k, v in CONTRACT.items() if "deadlock" in v))
def test_serial_runs_of_deadlocking_variants_make_lockdep_report_the_cycle(cv):
    prog = program(*cv)
    ld = lockdep_run(*cv)
    (r,) = ld.reports
    # The runs lockdep watches are bug-free: no run deadlocks by itself.
    from labkit.lockdep import lockdep_schedules
    for sched in lockdep_schedules(*cv):
        assert not [f for f in replay(prog, sched).findings if f.kind == "deadlock" and len(f.cpus) > 1]
    deadlock = next(f for f in explore(prog).findings if f.kind == "deadlock")
    classes = {prog.locks[prog.lock_index[n]].cls for n in deadlock.locks}
    assert classes <= set(r.chain) | {r.acquiring, r.held}


@pytest.mark.parametrize("cv", sorted(k for k, v in CONTRACT.items() if not v))
def test_fixed_variants_keep_lockdep_quiet(cv):
    assert lockdep_run(*cv).reports == []


@pytest.mark.parametrize("case, variant, name", SEED_REPORTS)
def test_compare_agrees_with_the_real_reports(repo_root, case, variant, name):
    p = subprocess.run([sys.executable, "-m", "labkit", "compare", case, "--variant", variant,
                        str(repo_root / "data" / "splats" / name)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "AGREE" in p.stdout


def test_compare_disagrees_with_the_wrong_case_and_rejects_bad_input(repo_root, tmp_path):
    splat = str(repo_root / "data" / "splats" / "mm_iommu.txt")
    p = subprocess.run([sys.executable, "-m", "labkit", "compare", "kvm_vfio", "--variant", "after", splat],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "DISAGREE" in p.stdout
    empty = tmp_path / "notes.txt"
    empty.write_text("no report here\n")
    p = subprocess.run([sys.executable, "-m", "labkit", "compare", "mm_iommu", "--variant", "before", str(empty)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "no lockdep report" in p.stderr


@pytest.mark.parametrize("cid", KERNEL_CASES)
def test_metadata(cid):
    c = get_case(cid)
    assert c.title and len(c.summary) > 100 and c.date and c.links
    assert c.simplifications, "the docstring must say what the model leaves out"
    for fx in (c.fix, c.fixes, *c.later):
        if fx is not None and fx.commit is not None:
            assert len(fx.commit) >= 12 and all(ch in "0123456789abcdef" for ch in fx.commit)
    assert all(link.startswith("https://") for link in c.links)
