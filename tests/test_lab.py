"""The notebook API: one call, a picture and its text rendering."""

import pytest

from labkit import lab
from labkit.errors import LabError


def views():
    return (lab.timeline("mm_iommu"), lab.before_after("mm_iommu"), lab.lock_order("mm_iommu"),
            lab.wait_for("mm_iommu"))


def test_every_picture_has_a_text_rendering(dot_path):
    import xml.etree.ElementTree as ET
    for view in views():
        bundle = view._repr_mimebundle_()
        assert bundle["text/plain"].strip()
        # One picture per view: inline SVG (it takes the page's colours; an image/svg+xml
        # would sit in an <img>, out of the theme's reach).
        assert sum(k in bundle for k in ("image/png", "image/svg+xml", "text/html")) == 1
        assert "<svg" in bundle["text/html"]
        root = ET.fromstring(view.svg)
        ns = "{http://www.w3.org/2000/svg}"
        desc = root.find(ns + "desc")
        assert root.get("role") == "img" and root.find(ns + "title").text.strip()
        assert desc is not None and desc.text.strip() == view.text.strip()


def test_pictures_follow_the_page_theme_by_default():
    view = lab.timeline("abba")
    assert 'fill="currentColor"' in view.html and "#222222" not in view.html
    assert 'currentColor' in lab.lock_order("abba").html


def test_graphs_still_draw_without_graphviz(monkeypatch):
    """No dot (JupyterLite): the same SVG view, laid out in pure Python, without a warning."""
    import warnings

    import labkit.render.graphs as graphs
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    monkeypatch.setattr(graphs, "_noticed", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for view in views():
            assert "<svg" in view._repr_mimebundle_()["text/html"]
        graph = lab.lock_order("mm_iommu")
        assert 'data-gid="edge:mem_list_mutex-&gt;&amp;mm-&gt;mmap_sem"' in graph.svg and "(cycle)" in graph.svg
        assert 'data-gid="edge:CPU0-&gt;CPU1"' in lab.wait_for("mm_iommu").svg
    assert not [w for w in caught if issubclass(w.category, graphs.GraphvizMissingWarning)]


def test_every_view_works_without_matplotlib_numpy_or_dot(repo_root, tmp_path):
    """As in JupyterLite: importing matplotlib or numpy fails and there is no dot."""
    import subprocess
    import sys
    code = f"""
import sys
sys.modules["matplotlib"] = None
sys.modules["numpy"] = None
from labkit import lab
for case in ("mm_iommu", "iommufd_access", "kvm_vfio", "s390_release", "hmm_release", "abba"):
    for view in (lab.timeline(case), lab.before_after(case), lab.lock_order(case), lab.wait_for(case)):
        b = view._repr_mimebundle_()
        assert "<svg" in b["text/html"] and b["text/plain"], case
    lab.cases(); lab.story(case); lab.code(case); lab.explore(case); lab.bug(case); lab.replay(case)
    lab.lockdep(case); lab.rarity(case); lab.solution(case, 1) if case != "abba" else None
lab.compare("mm_iommu", "before", {str(repo_root / "data/splats/mm_iommu.txt")!r})
lab.check("mm_iommu", 1, "")
lab.stepper("abba", "before")
lab.set_theme("dark")
assert "#1A1A1A" in lab.timeline("abba").html
assert "matplotlib" not in {{m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}}
assert "numpy" not in {{m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}}
print("ok")
"""
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "PYTHONPATH": str(repo_root)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo_root,
                       timeout=600)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]


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
    before = lab._THEME["name"]
    lab.set_theme("dark")
    try:
        view = lab.timeline("abba")
        assert view.png.startswith(b"\x89PNG")
        assert 'fill="#1A1A1A"' in view.svg and "currentColor" not in view.svg
        assert "#1A1A1A" in lab.lock_order("abba").svg
        lab.set_theme("light")
        assert "currentColor" not in lab.timeline("abba").svg
    finally:
        lab.set_theme(before)


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
