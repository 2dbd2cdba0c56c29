"""The notebook API: one call, a picture and its text rendering."""

import pytest

from labkit import lab
from labkit.errors import LabError


def views():
    return (lab.timeline("mm_iommu"), lab.before_after("mm_iommu"), lab.lock_order("mm_iommu"),
            lab.wait_for("mm_iommu"))


def test_every_picture_has_a_text_rendering(dot_path):
    for view in views():
        bundle = view._repr_mimebundle_()
        assert bundle["text/plain"].strip()
        assert ("image/png" in bundle) != ("image/svg+xml" in bundle)
    assert "image/svg+xml" in lab.lock_order("mm_iommu")._repr_mimebundle_()


def test_graphs_still_draw_without_graphviz(monkeypatch):
    import warnings

    import labkit.render.graphs as graphs
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    monkeypatch.setattr(graphs, "_noticed", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for view in views():
            assert view._repr_mimebundle_()["image/png"].startswith(b"\x89PNG")
    notices = [w for w in caught if issubclass(w.category, graphs.GraphvizMissingWarning)]
    assert len(notices) == 1


def test_timeline_defaults_to_the_shortest_bug():
    import re
    from labkit.cases import program
    from labkit.explore import explore
    v = lab.timeline("mm_iommu", "before")
    assert v.png.startswith(b"\x89PNG")
    assert "*** DEADLOCK ***" in v.text
    rows = [int(m) for m in re.findall(r"^\s*(\d+)\s", v.text, re.M)]
    shortest = min(f.step for f in explore(program("mm_iommu", "before")).findings if f.kind == "deadlock")
    assert rows == list(range(1, shortest + 1))
    assert len(lab.bug("mm_iommu", "before").split()) == shortest


def test_fixed_variant_replays_the_bug_schedule_as_far_as_it_goes():
    v = lab.before_after("mm_iommu")
    assert "--- mm_iommu/before" in v.text and "--- mm_iommu/after: " in v.text


def test_story_code_explore_lockdep_compare(repo_root):
    s = lab.story("kvm_vfio")._repr_mimebundle_()["text/markdown"]
    assert "2b48f52f2bff" in s and "What the model leaves out" in s
    assert "vfio_file_set_kvm()" in lab.code("kvm_vfio", "before").text
    assert "use_after_free: CPU1 uses mirror" in lab.explore("hmm_release", "before").text
    assert "WARNING: possible circular locking dependency detected" in lab.lockdep("kvm_vfio", "after").text
    assert "AGREE" in lab.compare("kvm_vfio", "after", repo_root / "data/splats/kvm_vfio.txt").text
    assert lab.bug("kvm_vfio", "final") == ""


def test_replay_keeps_its_trace():
    v = lab.replay("abba", "before", "CPU0 CPU1 CPU0 CPU1")
    assert v.trace.schedule == "CPU0 CPU1 CPU0 CPU1" and "deadlock" in v.text


def test_theme_is_checked():
    with pytest.raises(LabError, match="theme must be 'light' or 'dark'"):
        lab.set_theme("sepia")
    lab.set_theme("dark")
    try:
        assert lab.timeline("abba").png.startswith(b"\x89PNG")
    finally:
        lab.set_theme("light")


def test_a_bad_timeline_schedule_is_the_replay_error():
    from labkit.errors import ScheduleError
    with pytest.raises(ScheduleError, match="no cpu named 'CPU2'"):
        lab.timeline("mm_iommu", "before", "CPU0 CPU2")


def test_in_ipython_a_lab_error_is_one_line(capsys):
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    try:
        lab._one_line_errors()
        res = ip.run_cell("from labkit import lab; lab.timeline('mm_iommu', 'before', 'CPU0 CPU2')")
        err = capsys.readouterr().err
        assert not res.success                       # the cell still fails (Run All stops)
        assert err.strip() == ("ScheduleError: schedule entry 2 ('CPU2'): no cpu named 'CPU2' in "
                               "mm_iommu/before (cpus: CPU0, CPU1)")
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize("case_id", ["mm_iommu", "iommufd_access", "kvm_vfio", "s390_release", "hmm_release"])
def test_before_after_is_never_contradicted_by_the_explorer(case_id):
    """Each panel either reaches a bug, or is of a variant the explorer finds clean."""
    from labkit.cases import program
    from labkit.explore import explore
    from labkit.render import replay_prefix
    for v, sched, why in lab.before_after_plan(case_id):
        prog = program(case_id, v)
        trace, _ = replay_prefix(prog, sched)
        if explore(prog).findings:
            assert trace.findings, (case_id, v, why)
        else:
            assert not trace.findings, (case_id, v, why)


def test_kvm_vfio_after_shows_its_own_deadlock():
    text = lab.before_after("kvm_vfio").text
    after = text.split("--- kvm_vfio/after", 1)[1].split("--- kvm_vfio/", 1)[0]
    assert "DEADLOCK" in after
