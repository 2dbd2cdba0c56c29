"""The static views: text renderings, timelines, lock-order and wait-for graphs.

The PNGs written to test-artifacts/ (abba and mm_iommu timelines, light and
dark, the before/after figure and the graphs) are for looking at: CI keeps
them, so a change in the pictures can be seen, not only a change in numbers.
"""
from __future__ import annotations

import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from labkit.cases import program  # noqa: E402
from labkit.explore import explore  # noqa: E402
from labkit.model import Model, free, mutex_lock, mutex_trylock, mutex_unlock, use  # noqa: E402
from labkit.render import graphs  # noqa: E402
from labkit.render import (FINDING_COLOR, GraphvizMissingWarning, draw_before_after, draw_graph,  # noqa: E402
                           draw_timeline, graph_text, lock_intervals, lock_order_dot, lock_order_graph,
                           lock_style, lock_table_text, render_svg, replay_prefix, timeline_text,
                           trace_text, wait_for_dot, wait_for_graph)
from labkit.render.graphs import parse_dot  # noqa: E402
from labkit.trace import replay  # noqa: E402

ABBA = "CPU0 CPU1 CPU0 CPU1"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def abba():
    return replay(program("abba", "before"), ABBA)


@pytest.fixture(scope="module")
def mm_schedule():
    return explore(program("mm_iommu", "before")).findings[0].schedule


@pytest.fixture(scope="module")
def mm(mm_schedule):
    return replay(program("mm_iommu", "before"), mm_schedule)


def _uaf_program():
    """kfree on one cpu, a use on the other: the smallest use after free."""
    m = Model("uaf", "before", "use after free")
    m.object("obj")
    m.func("freer", [free("obj")])
    m.func("user", [use("obj")])
    m.cpu("CPU0", "freer", comm="freer", pid=1)
    m.cpu("CPU1", "user", comm="user", pid=2)
    return m.build()


def _title(ax):
    """The Text of the axes' left-hand title (where the timelines put theirs)."""
    want = ax.get_title(loc="left")
    return next(t for t in ax.get_children() if hasattr(t, "get_text") and t.get_text() == want)


def _luminance(color) -> float:
    r, g, b = to_rgb(color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# ---------------------------------------------------------------------------
# Text

def test_trace_text_abba_exact(abba):
    lines = trace_text(abba).splitlines()
    assert lines[0] == "abba/before: ABBA: two locks taken in opposite orders"
    assert lines[1] == "  CPU0  task_one/100 runs path_one() from sys_ioctl"
    assert "schedule: CPU0 CPU1 CPU0 CPU1" in lines
    i = lines.index("step  cpu   line")
    assert lines[i + 1:i + 6] == [
        "   1  CPU0  mutex_lock(&A);  holds A",
        "   2  CPU1  mutex_lock(&B);  holds B",
        "   3  CPU0  mutex_lock(&B);  holds A; waits for B held by CPU1",
        "   4  CPU1  mutex_lock(&A);  holds B; waits for A held by CPU0",
        "            !! deadlock: CPU0 waits for B held by CPU1; CPU1 waits for A held by CPU0",
    ]
    assert lines[-4:] == [
        "after step 4:",
        "  CPU0 blocked: waits for B held by CPU1",
        "  CPU1 blocked: waits for A held by CPU0",
        "  findings: deadlock",
    ]


def test_timeline_text_abba_exact(abba):
    assert timeline_text(abba, upto=3) == "\n".join([
        "     CPU0                  CPU1",
        "     ----                  ----",
        "  1  mutex_lock(&A);",
        "  2                        mutex_lock(&B);",
        "* 3  mutex_lock(&B); ..",
        "  4                        mutex_lock(&A); ..",
        "                           *** DEADLOCK ***",
    ])
    assert "*" not in timeline_text(abba).replace("*** DEADLOCK ***", "")
    assert timeline_text(abba, upto=0).splitlines()[2] == "* 0  (start)"


def test_lock_table_and_graph_text_abba(abba):
    assert lock_table_text(abba.program, abba.final) == "\n".join([
        "lock  kind   owner  readers  waiters",
        "A     mutex  CPU0   -        CPU1",
        "B     mutex  CPU1   -        CPU0",
    ])
    assert graph_text(wait_for_graph(abba.program, abba.final)) == \
        "CPU0 --waits for B--> CPU1  (cycle)\nCPU1 --waits for A--> CPU0  (cycle)"
    assert graph_text(lock_order_graph(abba)) == \
        "A --> B  [CPU0 in path_one()]  (cycle)\nB --> A  [CPU1 in path_two()]  (cycle)"
    # An explicit cycle overrides the graph's own marks.
    assert graph_text(lock_order_graph(abba), cycle=[("A", "B")]).splitlines()[1].endswith("path_two()]")


def test_rwsem_text_says_read_and_queued_ahead():
    p = program("rwsem_fairness", "writer_pref")
    t = replay(p, "CPU0 CPU1 CPU2 CPU0 CPU2")
    text = trace_text(t)
    assert "   1  CPU0  down_read(&sem);   holds sem (read)" in text
    assert "waits for sem behind CPU1 (queued ahead)" in text
    assert lock_table_text(p, t.final).splitlines()[1].split() == \
        ["sem", "rwsem", "-", "CPU0", "CPU1", "(write),", "CPU2", "(read)"]


def test_every_mm_iommu_step_in_trace_text(mm):
    text = trace_text(mm)
    lines = text.splitlines()
    for s in mm.steps:
        n = s.index + 1
        row = [ln for ln in lines if ln.startswith(f"{n:>4}  {s.cpu}  ")]
        assert len(row) == 1, f"step {n} missing"
        assert s.text.strip() in row[0]
    assert "CPU0 blocked: waits for mem_list_mutex held by CPU1" in text
    assert "!! deadlock: CPU0 waits for mem_list_mutex held by CPU1; CPU1 waits for mmap_sem held by CPU0" in text
    # Indentation follows the call depth: the mutex_lock at step 7 is one call down.
    assert "   7  CPU1    mutex_lock(&mem_list_mutex);" in text


def test_text_views_do_not_import_matplotlib():
    code = ("import sys; from labkit.cases import program; from labkit.trace import replay; "
            "from labkit.render import trace_text, timeline_text; "
            "t = replay(program('abba', 'before'), 'CPU0 CPU1'); trace_text(t); timeline_text(t); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------
# Timelines

def _expected_bars(trace) -> int:
    """Lock holds plus waits, counted from the events (not through lock_intervals)."""
    holds = sum(s.event == "acquire" or (s.event == "trylock" and s.detail.get("ok")) for s in trace.steps)
    waits = sum(s.event in ("block", "sleep") for s in trace.steps)
    return holds + waits


@pytest.mark.parametrize("case,variant,schedule", [
    ("abba", "before", ABBA),
    ("rwsem_fairness", "writer_pref", "CPU0 CPU1 CPU2 CPU0 CPU2"),
    ("last_put", "before", "CPU0* CPU1*"),
    ("mm_iommu", "after", "CPU0* CPU1*"),
])
def test_draw_timeline_lanes_bars_cursor(case, variant, schedule):
    t = replay(program(case, variant), schedule)
    ax = draw_timeline(t)
    assert isinstance(ax, Axes)
    labels = [tl.get_text().split("\n")[0] for tl in ax.get_yticklabels()]
    assert sorted(labels) == sorted(t.program.cpu_names)
    assert ax.get_yticks()[-1] > ax.get_yticks()[0] and labels[-1] == "CPU0"   # CPU0 on top
    assert len(ax.patches) == _expected_bars(t) == len(lock_intervals(t))
    assert not [ln for ln in ax.lines if ln.get_gid() == "cursor"]
    ax2 = draw_timeline(t, upto=2)
    cursor = [ln for ln in ax2.lines if ln.get_gid() == "cursor"]
    assert len(cursor) == 1 and cursor[0].get_xdata()[0] == 2


def test_timeline_bars_styled_per_lock_and_mode():
    p = program("rwsem_fairness", "writer_pref")
    t = replay(p, "CPU0 CPU1 CPU2 CPU0 CPU2")
    ax = draw_timeline(t)
    by_gid = {r.get_gid(): r for r in ax.patches}
    read = by_gid["hold:CPU0:sem:1"]
    write = by_gid["hold:CPU2:D:3"]
    assert write.get_facecolor()[:3] == pytest.approx(to_rgb(lock_style(1)["color"]))
    assert write.get_hatch() == lock_style(1)["hatch"]
    # A read hold: paler than the lock's colour, half the hatch density.
    assert _luminance(read.get_facecolor()) > _luminance(lock_style(0)["color"])
    assert read.get_hatch() == lock_style(0)["hatch"][0]
    wait = by_gid["wait:CPU1:sem:2"]
    assert wait.get_facecolor()[3] == 0 and wait.get_linestyle() == "--"   # hollow, dashed
    words = [x.get_text() for x in ax.texts]
    assert "sem (read)" in words and "waits for sem" in words


def test_timeline_marks_events_and_deadlock_arrows(abba):
    ax = draw_timeline(abba)
    words = [x.get_text() for x in ax.texts]
    assert "deadlock" in words
    arrows = [x for x in ax.texts if getattr(x, "arrow_patch", None) is not None]
    assert len(arrows) == 2                                   # CPU0 -> CPU1 and back
    assert all(a.arrow_patch.get_edgecolor()[:3] == pytest.approx(to_rgb(FINDING_COLOR)) for a in arrows)
    uaf = replay(_uaf_program(), "CPU0 CPU1")
    ax = draw_timeline(uaf)
    words = [x.get_text() for x in ax.texts]
    assert "kfree" in words and "use after free" in words
    assert len(ax.patches) == 0


def test_timeline_dark_theme_is_light_on_dark(abba):
    ax = draw_timeline(abba, theme="dark", upto=2)
    assert _luminance(ax.figure.get_facecolor()) < 0.2
    assert _luminance(ax.get_facecolor()) < 0.2
    for t in ax.get_yticklabels() + ax.get_xticklabels() + [_title(ax), ax.xaxis.label]:
        assert _luminance(t.get_color()) > 0.7, t.get_text()
    for t in ax.get_legend().get_texts():
        assert _luminance(t.get_color()) > 0.7
    light = draw_timeline(abba)
    for t in light.get_yticklabels() + [_title(light)]:
        assert _luminance(t.get_color()) < 0.3
    with pytest.raises(ValueError, match="theme"):
        draw_timeline(abba, theme="solarized")


def test_replay_prefix_says_where_and_why():
    t, stop = replay_prefix(program("abba", "after"), "CPU0 CPU1 CPU1 CPU0")
    assert len(t.steps) == 2
    assert stop == "stops at step 3 of 4 (CPU1): CPU1 waits for A held by CPU0"
    t, stop = replay_prefix(program("abba", "after"), "CPU0*")
    assert stop is None and len(t.steps) == 5


def test_draw_before_after_mm_iommu(mm_schedule, artifacts_dir):
    fig = draw_before_after("mm_iommu", mm_schedule)
    assert len(fig.axes) == 2
    before, after = fig.axes
    assert "mm_iommu/before" in before.get_title(loc="left")
    assert "stops" not in before.get_title(loc="left")
    assert "deadlock at step 12" in before.get_title(loc="left")
    title = " ".join(after.get_title(loc="left").split())
    assert "mm_iommu/after" in title
    assert "stops at step 12 of 12 (CPU1): CPU1 waits for mmap_sem held by CPU0" in title
    assert before.get_xlim() == after.get_xlim()
    fig.savefig(artifacts_dir / "render_before_after_mm_iommu.png", dpi=100)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_save_timeline_pngs(abba, mm, theme, artifacts_dir):
    for name, t in (("abba", abba), ("mm_iommu", mm)):
        upto = len(t.steps) // 2
        ax = draw_timeline(t, upto=upto, theme=theme)
        path = artifacts_dir / f"render_timeline_{name}_{theme}.png"
        ax.figure.savefig(path, dpi=100)
        # What is drawn, not how many bytes: one lane per cpu, the steps shown
        # up to ``upto``, and the theme's background.
        labels = " ".join(tl.get_text() for tl in ax.get_yticklabels())
        assert all(c in labels for c in t.program.cpu_names), labels
        assert ax.get_xlim()[1] >= upto
        from labkit.render.style import THEMES
        assert matplotlib.colors.to_hex(ax.figure.get_facecolor()) == matplotlib.colors.to_hex(THEMES[theme]["bg"])


# ---------------------------------------------------------------------------
# Graphs

def test_lock_order_graph_like_lockdep(mm):
    g = lock_order_graph(mm)
    assert set(g.edges) == {("mem_list_mutex", "&mm->mmap_sem"), ("&mm->mmap_sem", "mem_list_mutex")}
    e = g.edges["&mm->mmap_sem", "mem_list_mutex"]
    assert e["cpu"] == "CPU0" and e["stack"][:2] == ("mm_iommu_do_alloc", "vfio_pci_nvgpu_mmap")
    assert all(d["cycle"] for _, _, d in g.edges(data=True))
    fixed = lock_order_graph(replay(program("mm_iommu", "after"), "CPU0* CPU1*"))
    assert list(fixed.edges) == [("&mm->mmap_sem", "mem_list_mutex")]
    assert not fixed.edges["&mm->mmap_sem", "mem_list_mutex"]["cycle"]


def test_lock_order_graph_trylock_adds_no_dependency():
    m = Model("try", "x")
    m.mutex("A")
    m.mutex("B")
    m.func("f", [mutex_lock("A"), mutex_trylock("B", "ok"), mutex_unlock("B"), mutex_unlock("A")])
    m.func("g", [mutex_lock("B"), mutex_lock("A"), mutex_unlock("A"), mutex_unlock("B")])
    m.cpu("CPU0", "f")
    m.cpu("CPU1", "g")
    g = lock_order_graph(replay(m.build(), "CPU0* CPU1*"))
    assert list(g.edges) == [("B", "A")]


def test_dot_sources_style_the_cycle(mm):
    src = lock_order_dot(lock_order_graph(mm))
    cyc = [ln for ln in src.splitlines() if " -> " in ln]   # (a node is named &mm->mmap_sem)
    assert len(cyc) == 2
    for ln in cyc:
        assert f'color="{FINDING_COLOR}"' in ln and 'style="bold,dashed"' in ln and "(cycle)" in ln
    fixed = lock_order_dot(lock_order_graph(replay(program("mm_iommu", "after"), "CPU0* CPU1*")))
    edge = [ln for ln in fixed.splitlines() if " -> " in ln]
    assert len(edge) == 1 and "dashed" not in edge[0] and FINDING_COLOR not in edge[0]
    wf = wait_for_dot(mm.program, mm.final)
    assert "waits for mem_list_mutex" in wf and wf.count('style="bold,dashed"') == 2
    back = parse_dot(src)
    assert set(back.edges) == set(lock_order_graph(mm).edges)
    assert back.edges["mem_list_mutex", "&mm->mmap_sem"]["style"] == "bold,dashed"


def test_draw_graph_with_dot(mm, dot_path, artifacts_dir):
    ax = draw_graph(lock_order_dot(lock_order_graph(mm)))
    assert isinstance(ax, Axes) and len(ax.images) == 1
    ax.figure.savefig(artifacts_dir / "render_lock_order_mm_iommu.png", dpi=100)
    ax = draw_graph(wait_for_graph(mm.program, mm.final), theme="dark")
    ax.figure.savefig(artifacts_dir / "render_wait_for_mm_iommu_dark.png", dpi=100)
    svg = render_svg(wait_for_dot(mm.program, mm.final))
    assert svg is not None and "<svg" in svg and "waits for mmap_sem" in svg


def test_draw_graph_without_dot_falls_back_and_says_so_once(mm, monkeypatch, artifacts_dir):
    monkeypatch.setattr(graphs.shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(graphs, "_noticed", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = draw_graph(lock_order_dot(lock_order_graph(mm)))
        ax2 = draw_graph(wait_for_graph(mm.program, mm.final))
    notices = [w for w in caught if issubclass(w.category, GraphvizMissingWarning)]
    assert len(notices) == 1 and "dot" in str(notices[0].message)
    assert isinstance(ax, Axes) and isinstance(ax2, Axes) and not ax.images
    words = [t.get_text() for t in ax.texts]
    assert "mem_list_mutex" in words and any("(cycle)" in w for w in words)
    arrows = [t for t in ax2.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == 2 and all(a.arrow_patch.get_linestyle() == "--" for a in arrows)
    assert render_svg("digraph { A -> B }") is None
    ax2.figure.savefig(artifacts_dir / "render_wait_for_mm_iommu_fallback.png", dpi=100)


def test_draw_graph_when_dot_fails(abba, monkeypatch):
    import graphviz

    def broken(src):
        raise graphviz.ExecutableNotFound(("dot",))
    monkeypatch.setattr(graphs, "have_dot", lambda: True)
    monkeypatch.setattr(graphs, "_png", broken)
    monkeypatch.setattr(graphs, "_noticed", False)
    with pytest.warns(GraphvizMissingWarning):
        ax = draw_graph(lock_order_graph(abba))
    assert isinstance(ax, Axes)


def test_self_loop_wait_for_graph():
    p = program("last_put", "before")
    t = replay(p, "CPU0* CPU1*")
    g = wait_for_graph(p, t.final)
    assert list(g.edges) == [("CPU1", "CPU1")] and g.edges["CPU1", "CPU1"]["cycle"]
    assert g.nodes["CPU0"]["status"] == "finished"
    assert graph_text(g) == "CPU1 --waits for list_lock--> CPU1  (cycle)\nnot waiting, not waited for: CPU0"


def test_lockdep_style_graph_with_closing_edge_missing():
    """labkit.lockdep's graph lacks the edge that closes a cycle (lockdep reports it
    instead of adding it) and puts the locking primitives on top of its stacks."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_edge("mem_list_mutex", "&mm->mmap_sem", cpu="CPU1",
               stack=("lock_acquire", "down_write", "mm_iommu_adjust_locked_vm", "mm_iommu_do_alloc"))
    chain = ("&mm->mmap_sem", "mem_list_mutex")
    assert graph_text(g, cycle=chain) == (
        "mem_list_mutex --> &mm->mmap_sem  [CPU1 in mm_iommu_adjust_locked_vm()]  (cycle)\n"
        "&mm->mmap_sem --> mem_list_mutex  (attempted, closes the cycle)")
    src = lock_order_dot(g, cycle=chain, prog=program("mm_iommu", "before"))
    closing = [ln for ln in src.splitlines() if ln.strip().startswith('"&mm->mmap_sem" -> ')]
    assert len(closing) == 1 and "attempted" in closing[0] and 'style="bold,dashed"' in closing[0]
    # Coloured by declaration order, as on the timelines: mmap_sem is the second lock.
    node = [ln for ln in src.splitlines() if ln.strip().startswith('"&mm->mmap_sem" [')]
    assert f'fillcolor="{lock_style(1)["color"]}"' in node[0]
