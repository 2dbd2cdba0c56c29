"""The static views: text renderings, timelines, lock-order and wait-for graphs.

Every picture is one scene (labkit.render.scene) with two painters: SVG
(notebooks) and matplotlib (PNG export). The tests read the scene — what is
drawn where, with which gid — and check that both painters paint it. The
pictures written to test-artifacts/ (abba and mm_iommu timelines, light and
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
from labkit.model import (Model, const, free, mutex_lock, mutex_trylock, mutex_unlock, step, use,  # noqa: E402
                          warn_on)
from labkit.render import graphs  # noqa: E402
from labkit.render import (FINDING_COLOR, GraphvizMissingWarning, before_after_scene, draw_before_after,  # noqa: E402
                           draw_graph, graph_scene, graph_svg, graph_text, lock_intervals, lock_order_dot,
                           lock_order_graph, lock_style, lock_table_text, render_svg, replay_prefix,
                           timeline_scene, timeline_text, to_svg, trace_text, wait_for_dot, wait_for_graph)
from labkit.render import draw_timeline  # noqa: E402
from labkit.render.graphs import parse_dot  # noqa: E402
from labkit.render.scene import Curve, Line, Text  # noqa: E402
from labkit.render.style import THEMES  # noqa: E402
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
# Timelines: one layout (the scene), two painters (SVG, matplotlib)

def _expected_bars(trace) -> int:
    """Lock holds plus waits, counted from the events (not through lock_intervals)."""
    holds = sum(s.event == "acquire" or (s.event == "trylock" and s.detail.get("ok")) for s in trace.steps)
    waits = sum(s.event in ("block", "sleep") for s in trace.steps)
    return holds + waits


def _bars(scene_or_ax):
    prefix = ("hold:", "wait:", "sleep:")
    if isinstance(scene_or_ax, Axes):
        return [p for p in scene_or_ax.patches if (p.get_gid() or "").startswith(prefix)]
    return [i for i in scene_or_ax.items if i.gid.startswith(prefix)]


def _x(scene, k):
    """The x of step ``k`` in a timeline scene."""
    return scene.meta["x0"] + (k - 0.5) * scene.meta["step_w"]


def _words(scene) -> str:
    return " | ".join(scene.texts())


@pytest.mark.parametrize("case,variant,schedule", [
    ("abba", "before", ABBA),
    ("rwsem_fairness", "writer_pref", "CPU0 CPU1 CPU2 CPU0 CPU2"),
    ("last_put", "before", "CPU0* CPU1*"),
    ("mm_iommu", "after", "CPU0* CPU1*"),
])
def test_timeline_lanes_bars_cursor(case, variant, schedule):
    t = replay(program(case, variant), schedule)
    sc = timeline_scene(t)
    lanes = [sc.find(f"lane:{c}")[0] for c in t.program.cpu_names]
    assert [x.text for x in lanes] == list(t.program.cpu_names)
    assert [x.y for x in lanes] == sorted(x.y for x in lanes)           # CPU0 on top
    assert len(_bars(sc)) == _expected_bars(t) == len(lock_intervals(t))
    assert not sc.find("cursor")
    sc2 = timeline_scene(t, upto=2)
    (cursor,) = [i for i in sc2.find("cursor") if isinstance(i, Line)]
    assert cursor.x1 == cursor.x2 == pytest.approx(_x(sc2, 2))
    # Every bar lies within the picture, between the first step and the end.
    for r in _bars(sc):
        assert _x(sc, 1) - 1 <= r.x and r.x + r.w <= sc.width
    # The matplotlib painter: the same bars, with their gids, and the cursor.
    ax = draw_timeline(t, upto=2)
    assert isinstance(ax, Axes)
    assert sorted(p.get_gid() for p in _bars(ax)) == sorted(r.gid for r in _bars(sc))
    (mcur,) = [ln for ln in ax.lines if ln.get_gid() == "cursor"]
    assert mcur.get_xdata()[0] == pytest.approx(_x(sc2, 2))


def test_timeline_bars_styled_per_lock_and_mode():
    p = program("rwsem_fairness", "writer_pref")
    t = replay(p, "CPU0 CPU1 CPU2 CPU0 CPU2")
    sc = timeline_scene(t)
    by_gid = {r.gid: r for r in _bars(sc)}
    read, write, wait = by_gid["hold:CPU0:sem:1"], by_gid["hold:CPU2:D:3"], by_gid["wait:CPU1:sem:2"]
    assert write.fill == lock_style(1)["color"] and write.hatch == lock_style(1)["pattern"] and write.hatch_dense
    # A read hold: its colour half-way to the page, half the hatch density.
    assert read.fill == "pale:" + lock_style(0)["color"] and not read.hatch_dense
    assert wait.fill is None and wait.dash == "dash"                      # hollow, dashed
    words = sc.texts()
    assert "sem (read)" in words and "waits for sem" in words
    # matplotlib: the same styles (pale = mixed with the page's colour).
    ax = draw_timeline(t)
    mb = {r.get_gid(): r for r in _bars(ax)}
    assert mb["hold:CPU2:D:3"].get_facecolor()[:3] == pytest.approx(to_rgb(lock_style(1)["color"]))
    assert mb["hold:CPU2:D:3"].get_hatch() == lock_style(1)["hatch"]
    assert _luminance(mb["hold:CPU0:sem:1"].get_facecolor()) > _luminance(lock_style(0)["color"])
    assert mb["hold:CPU0:sem:1"].get_hatch() == lock_style(0)["hatch"][0]
    assert mb["wait:CPU1:sem:2"].get_facecolor()[3] == 0
    # SVG: a pattern per (lock, density) and the read bar translucent in the auto theme.
    svg = to_svg(sc)
    assert svg.count("<pattern") == 2 and 'data-gid="hold:CPU0:sem:1"' in svg


def test_timeline_marks_events_and_deadlock_arrows(abba):
    sc = timeline_scene(abba)
    assert "deadlock" in sc.texts()
    arrows = sc.find("cycle:")
    assert sorted(a.gid for a in arrows) == ["cycle:CPU0->CPU1:B", "cycle:CPU1->CPU0:A"]
    assert all(isinstance(a, Curve) and a.stroke == FINDING_COLOR and a.dash for a in arrows)
    # Each arrow stands at the step its wait began (CPU0 at 3, CPU1 at 4), pointing at the other lane.
    xs = {a.gid: a.p0[0] for a in arrows}
    assert _x(sc, 3) < xs["cycle:CPU0->CPU1:B"] < _x(sc, 4) < xs["cycle:CPU1->CPU0:A"] < _x(sc, 5)
    uaf = timeline_scene(replay(_uaf_program(), "CPU0 CPU1"))
    words = uaf.texts()
    assert "kfree(obj)" in words and "use after free" in words
    assert not _bars(uaf)
    # The object's life: alive until the kfree at step 1, freed after; the use at step 2 marked.
    segs = {i.gid: i for i in uaf.find("segment:object:obj:")}
    assert set(segs) == {"segment:object:obj:0", "segment:object:obj:1"}
    assert segs["segment:object:obj:1"].stroke == FINDING_COLOR and segs["segment:object:obj:1"].dash
    assert uaf.find("state:use:obj:2") and uaf.find("finding:use_after_free:CPU1:2")
    ax = draw_timeline(abba)
    heads = [p for p in ax.patches if (p.get_gid() or "").startswith("cycle:")]
    assert len(heads) == 4                                                 # two shafts and two heads
    assert all(h.get_edgecolor()[:3] == pytest.approx(to_rgb(FINDING_COLOR)) for h in heads
               if not h.get_gid().endswith(":head"))


def test_an_object_lives_from_its_alloc_to_its_kfree():
    from labkit.model import alloc
    m = Model("alloc", "before", "alloc, use, kfree; a use on the other cpu")
    m.object("buf", allocated=False)
    m.func("f", [alloc("buf"), use("buf"), free("buf")])
    m.func("g", [use("buf")])
    m.cpu("CPU0", "f")
    m.cpu("CPU1", "g")
    t = replay(m.build(), "CPU0 CPU0 CPU0 CPU1")
    text = timeline_text(t)
    for words in ("[alloc] buf", "[use] buf", "[kfree] buf: freed from here on", "[use] buf after it was freed"):
        assert words in text
    sc = timeline_scene(t)
    segs = {i.gid: i for i in sc.find("segment:object:buf:")}
    assert set(segs) == {"segment:object:buf:0", "segment:object:buf:1", "segment:object:buf:3"}
    alive = segs["segment:object:buf:1"]
    assert alive.x == pytest.approx(_x(sc, 1) + 1.5) and alive.x + alive.w == pytest.approx(_x(sc, 3) - 1.5)
    assert [i.text for i in sc.find("value:segment:object:buf:")][1:] == ["alive", "freed"]
    assert sc.find("event:alloc:CPU0:1") and sc.find("event:use:CPU0:2") and sc.find("event:free:CPU0:3")
    assert sc.find("state:use:buf:4")[0].fill == FINDING_COLOR


def test_three_thread_cycle_arrows_stand_apart():
    """hmm_release three_threads: each arrow at the step its cpu began to wait, none at the right edge."""
    from labkit.lab import bug
    t = replay(program("hmm_release", "three_threads"), bug("hmm_release", "three_threads"))
    sc = timeline_scene(t)
    arrows = sc.find("cycle:")
    assert len(arrows) == 3
    starts = {iv.cpu: iv.start for iv in lock_intervals(t) if iv.kind == "wait" and iv.end is None}
    for a in arrows:
        waiter = a.gid.split(":")[1].split("->")[0]
        assert _x(sc, starts[waiter]) < a.p0[0] < _x(sc, starts[waiter] + 1), a.gid
    xs = sorted(a.p0[0] for a in arrows)
    assert min(b - a for a, b in zip(xs, xs[1:])) >= sc.meta["step_w"]
    assert max(xs) < _x(sc, len(t.steps) + 1)


def test_title_names_each_finding_once():
    m = Model("twice", "before", "a WARN and a lock held at exit, in one step")
    m.mutex("A")
    m.func("f", [mutex_lock("A"), warn_on(const(True), message="always")])
    m.cpu("CPU0", "f")
    t = replay(m.build(), "CPU0 CPU0")
    assert [f.kind for f in t.findings] == ["warn", "warn"]
    sub = [i.text for i in timeline_scene(t).find("subtitle")]
    assert sub == ["warn at step 2"]


def test_a_comment_only_step_is_a_no_op():
    m = Model("notes", "before", "a comment between two locks")
    m.mutex("A")
    m.func("f", [mutex_lock("A"), step("/* nothing happens here */"), mutex_unlock("A")])
    m.cpu("CPU0", "f")
    t = replay(m.build(), "CPU0*")
    text = timeline_text(t)
    assert "[no-op] the line is only a comment: it changes nothing" in text
    sc = timeline_scene(t)
    assert sc.find("noop:CPU0:2") and "no-op" in sc.texts()
    assert not sc.find("tick:CPU0:2") and sc.find("tick:CPU0:1")


def test_timeline_themes(abba):
    sc = timeline_scene(abba, upto=2)
    auto, light, dark = (to_svg(sc, theme=t) for t in ("auto", "light", "dark"))
    # auto: the page's text colour, no fixed one; light/dark: fixed, dark on its own background.
    assert 'fill="currentColor"' in auto and THEMES["light"]["fg"] not in auto and THEMES["dark"]["bg"] not in auto
    assert 'fill="currentColor"' not in light and THEMES["light"]["fg"] in light
    assert 'fill="currentColor"' not in dark and f'fill="{THEMES["dark"]["bg"]}"' in dark
    assert f'fill="{THEMES["dark"]["fg"]}"' in dark
    ax = draw_timeline(abba, theme="dark", upto=2)
    assert _luminance(ax.figure.get_facecolor()) < 0.2
    assert all(_luminance(t.get_color()) > 0.7 for t in ax.texts if t.get_gid() in ("title", "lane:CPU0"))
    light_ax = draw_timeline(abba)
    assert all(_luminance(t.get_color()) < 0.3 for t in light_ax.texts if t.get_gid() in ("title", "lane:CPU0"))
    with pytest.raises(ValueError, match="theme"):
        draw_timeline(abba, theme="solarized")
    with pytest.raises(ValueError, match="theme"):
        to_svg(sc, theme="solarized")


def test_svg_is_well_formed_and_carries_its_text(mm):
    import xml.etree.ElementTree as ET
    sc = timeline_scene(mm)
    svg = to_svg(sc)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("viewBox").startswith("0 0 ")
    title, desc = root.find(ns + "title"), root.find(ns + "desc")
    assert title.text.startswith("mm_iommu/before") and "deadlock at step 12" in title.text
    assert desc.text == timeline_text(mm)
    assert set(root.get("aria-labelledby").split()) == {title.get("id"), desc.get("id")}


def test_replay_prefix_says_where_and_why():
    t, stop = replay_prefix(program("abba", "after"), "CPU0 CPU1 CPU1 CPU0")
    assert len(t.steps) == 2
    assert stop == "stops at step 3 of 4 (CPU1): CPU1 waits for A held by CPU0"
    t, stop = replay_prefix(program("abba", "after"), "CPU0*")
    assert stop is None and len(t.steps) == 5


def test_draw_before_after_mm_iommu(mm_schedule, artifacts_dir):
    from labkit.render import before_after_runs
    sc = before_after_scene(before_after_runs("mm_iommu", mm_schedule))
    (m1, t1), (m2, t2) = sc.meta["panels"]
    assert t1.startswith("mm_iommu/before") and "stops" not in t1 and "deadlock at step 12" in t1
    assert t2.startswith("mm_iommu/after")
    words = " ".join(_words(sc).split())
    assert "stops at step 12 of 12 (CPU1): CPU1 waits for mmap_sem held by CPU0" in words
    assert m1["step_w"] == m2["step_w"] and m1["x0"] == m2["x0"]      # one x scale: step k at one place
    assert [i.gid for i in sc.find("stop")] == ["stop", "stop-label"]
    assert len([i for i in sc.find("title") if i.gid == "title"]) == 2
    fig = draw_before_after("mm_iommu", mm_schedule)
    fig.savefig(artifacts_dir / "render_before_after_mm_iommu.png", dpi=100)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_save_timeline_pictures(abba, mm, theme, artifacts_dir):
    from labkit.render.style import THEMES as TH
    for name, t in (("abba", abba), ("mm_iommu", mm)):
        upto = len(t.steps) // 2
        sc = timeline_scene(t, upto=upto)
        (artifacts_dir / f"render_timeline_{name}_{theme}.svg").write_text(to_svg(sc, theme=theme))
        ax = draw_timeline(t, upto=upto, theme=theme)
        ax.figure.savefig(artifacts_dir / f"render_timeline_{name}_{theme}.png", dpi=100)
        assert {x.text for x in sc.find("lane:")} == set(t.program.cpu_names)
        assert matplotlib.colors.to_hex(ax.figure.get_facecolor()) == matplotlib.colors.to_hex(TH[theme]["bg"])


# --- what carries each bug, in the picture and in its text -------------------

def _case(case_id):
    from labkit.lab import bug
    t = replay(program(case_id, "before"), bug(case_id, "before"))
    return t, timeline_scene(t), timeline_text(t)


def _under(text, cpu_col, words):
    """``words`` on an event line of the text table, in the column of cpu number ``cpu_col``."""
    lines = text.splitlines()
    head = lines[0]
    col = head.index(f"CPU{cpu_col}")
    return any(ln[col:].startswith(words) and not ln[:col].strip() for ln in lines)


def test_mm_iommu_carried_by_the_abba_waits():
    t, sc, text = _case("mm_iommu")
    assert sorted(r.gid for r in sc.find("wait:")) == ["wait:CPU0:mem_list_mutex:8", "wait:CPU1:mmap_sem:12"]
    assert len(sc.find("cycle:")) == 2 and "*** DEADLOCK ***" in text


def test_iommufd_access_shows_the_reference_and_the_cycle():
    t, sc, text = _case("iommufd_access")
    assert _under(text, 0, "[get] obj->users 2 -> 3")
    assert sc.find("event:get:CPU0:6") and sc.find("state:get:obj->users:6")
    assert [i.text for i in sc.find("value:segment:ref:obj->users:")] == ["2", "3"]
    assert len(sc.find("cycle:")) == 2


def test_kvm_vfio_shows_the_put_that_makes_the_other_the_last():
    t, sc, text = _case("kvm_vfio")
    assert _under(text, 1, "[put] kvm->users_count 2 -> 1")
    assert _under(text, 0, "[last put] kvm->users_count 1 -> 0: runs kvm_destroy_vm()")
    assert sc.find("event:put:CPU1:11") and sc.find("event:last_put:CPU0:12")
    assert "last put: runs kvm_destroy_vm()" in sc.texts()
    assert [i.text for i in sc.find("value:segment:ref:kvm->users_count:")] == ["2", "1", "0"]
    (rel,) = [i for i in sc.find("release:CPU0:kvm_destroy_vm:12") if isinstance(i, Line)]
    assert rel.x1 == pytest.approx(_x(sc, 12))
    # The AA deadlock: one arrow, from the wait back to CPU0's own group_lock.
    assert [a.gid for a in sc.find("cycle:")] == ["cycle:CPU0->CPU0:group->group_lock"]


def test_s390_release_shows_the_shared_variables():
    t, sc, text = _case("s390_release")
    assert _under(text, 1, "[write] zdev->s390_domain = NULL (was vfio_domain)")
    assert _under(text, 1, "[write] dev released = true (was false) (model only: the line is a comment)")
    assert _under(text, 0, "[read] dev released is true")
    assert [i.text for i in sc.find("value:segment:var:zdev->s390_domain:")] == ["vfio_domain", "NULL"]
    assert sc.find("state:write:zdev->s390_domain:15") and sc.find("state:read:dev released:18")
    assert sc.find("event:read:CPU0:18") and sc.find("finding:warn:CPU0:22")
    assert "CPU0 reads true" in sc.texts()


def test_hmm_release_shows_the_free_and_the_use_after_it():
    t, sc, text = _case("hmm_release")
    assert _under(text, 0, "[kfree] mirror: freed from here on")
    assert _under(text, 1, "[use] mirror after it was freed")
    assert [i.text for i in sc.find("value:segment:object:mirror:")] == ["alive", "freed"]
    (freed,) = sc.find("segment:object:mirror:9")
    assert freed.x == pytest.approx(_x(sc, 9) + 1.5)                     # the life ends at the kfree
    (star,) = sc.find("state:use:mirror:10")
    assert star.fill == FINDING_COLOR
    assert sc.find("event:free:CPU0:9") and sc.find("finding:use_after_free:CPU1:10")


@pytest.mark.parametrize("case_id", ["mm_iommu", "iommufd_access", "kvm_vfio", "s390_release", "hmm_release"])
def test_every_event_in_the_text_is_in_the_picture(case_id):
    from labkit.render import trace_events
    t, sc, text = _case(case_id)
    for e in trace_events(t):
        assert e.text in text
        if e.kind == "read" and not sc.find(f"segment:var:{e.subject}:"):
            continue            # a read of a value that never changes: listed, not drawn
        if e.kind == "use" and e.bad:        # the finding's marker stands for it in the cpu's lane
            assert sc.find(f"finding:use_after_free:{e.cpu}:{e.step}"), e
            continue
        assert sc.find(f"event:{e.kind}:{e.cpu}:{e.step}") or sc.find(f"noop:{e.cpu}:{e.step}"), e


# --- words are never broken in the middle ------------------------------------

def test_wrap_breaks_between_words_and_at_sensible_points():
    from labkit.render.fonts import wrap
    assert wrap("zdev->s390_domain", 90, 12) == ["zdev->", "s390_domain"]
    assert wrap("CPU0 CPU1", 1, 12) == ["CPU0", "CPU1"]
    texts = ["waits for matrix_dev->guests_lock", "CPU0 waits for mirrors_sem held by CPU1",
             "pci_stop_and_remove_bus_device_locked()", "iommufd_access/destroy_race: WARN at step 22",
             "&mm->mmap_sem (mmap_sem)", "zdev->s390_domain = NULL"]
    for text in texts:
        squeezed = text.replace(" ", "")
        for width in (20, 40, 60, 90, 130, 200):
            lines = wrap(text, width, 12)
            assert "".join(lines).replace(" ", "") == squeezed
            pos = 0
            for ln in lines[:-1]:
                pos += len(ln.replace(" ", ""))
                # between words, or just after '->', '.', '_', '/', ',', '(' or ':' (so never 'CP' / 'U0')
                assert _at_space(text, pos) or squeezed[:pos].endswith(("->", ".", "_", "/", ",", "(", ":")), \
                    (text, width, lines)


def _at_space(text, pos):
    """Is the ``pos``-th non-space character of ``text`` followed by a space?"""
    n = 0
    for i, ch in enumerate(text):
        if ch != " ":
            n += 1
            if n == pos:
                return i + 1 < len(text) and text[i + 1] == " "
    return True


@pytest.mark.parametrize("case_id", ["mm_iommu", "iommufd_access", "kvm_vfio", "s390_release", "hmm_release"])
def test_no_text_in_a_picture_is_cut_mid_word(case_id):
    """Every piece of text drawn is whole words, or a name cut at a sensible point."""
    from labkit.cases import get_case
    from labkit.lab import before_after_plan, bug
    prog = program(case_id, "before")
    sc = timeline_scene(replay(prog, bug(case_id, "before")))
    names = {c.name for c in prog.cpus}
    for item in sc.items:
        if not isinstance(item, Text):
            continue
        s = item.text
        assert not s.endswith("-") and not s.startswith(">"), s       # never 'zdev-' / '>s390_domain'
        for n in names:
            assert not (n[:-1] in s and n not in s and s.endswith(n[:-1])), s   # never 'CP' / 'U0'
    # The label column is narrow: long names break at '->' or '_' only.
    lanes = [i.text for i in sc.items if isinstance(i, Text) and i.x == 14]
    for a, b in zip(lanes, lanes[1:]):
        assert not (a.endswith("-") and b.startswith(">"))
    assert len(get_case(case_id).variant_ids) == len(before_after_plan(case_id))


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
    assert "mem_list_mutex" in words and "(cycle)" in words
    shafts = [p for p in ax2.patches if (p.get_gid() or "").startswith("edge:") and not p.get_gid().endswith(":head")]
    assert len(shafts) == 2 and all(p.get_linestyle() != "-" for p in shafts)
    assert render_svg("digraph { A -> B }") is None
    ax2.figure.savefig(artifacts_dir / "render_wait_for_mm_iommu_fallback.png", dpi=100)


@pytest.mark.parametrize("case_id,variant", [("mm_iommu", "before"), ("iommufd_access", "before"),
                                             ("kvm_vfio", "after"), ("kvm_vfio", "final"),
                                             ("hmm_release", "three_threads"), ("philosophers", "n6")])
def test_pure_python_graph_layout_keeps_words_apart(case_id, variant, artifacts_dir):
    """Without dot: nodes and edge labels never overlap; the cycle's edges are marked."""
    from labkit.lockdep import lockdep_schedules
    from labkit.render.fonts import text_width
    from labkit.render.scene import Rect, text_extent
    prog = program(case_id, variant)
    g = lock_order_graph([replay(prog, s) for s in lockdep_schedules(case_id, variant)])
    sc = graph_scene(g, prog=prog, title=f"{case_id}/{variant}")
    nodes = [(r.x, r.y, r.x + r.w, r.y + r.h) for r in sc.find("node:") if isinstance(r, Rect)]
    assert len(nodes) == g.number_of_nodes()
    labels = {}
    for t in sc.find("edgelabel:"):
        labels.setdefault(t.gid, []).append(text_extent(t))
    boxes = [(min(b[0] for b in v), min(b[1] for b in v), max(b[2] for b in v), max(b[3] for b in v))
             for v in labels.values()]

    def meet(a, b):
        return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
    allb = nodes + boxes
    for i, a in enumerate(allb):
        for b in allb[i + 1:]:
            assert not meet(a, b), (a, b)
    for x0, y0, x1, y1 in allb:                                        # inside the picture
        assert x0 >= 0 and y0 >= 0 and x1 <= sc.width and y1 <= sc.height
    cyc = [c for c in sc.find("edge:") if isinstance(c, Curve) and c.stroke == FINDING_COLOR]
    assert len(cyc) == sum(1 for *_, d in g.edges(data=True) if d["cycle"])
    svg = graph_svg(g, prog=prog, use_dot=False, title=f"{case_id}/{variant}")
    assert svg.startswith("<svg") and ("(cycle)" in svg) == bool(cyc) and text_width("x", 12) > 0
    (artifacts_dir / f"render_lock_order_{case_id}_{variant}_purepython.svg").write_text(svg)


def test_graphviz_svg_follows_the_theme(mm, dot_path):
    g = lock_order_graph(mm)
    auto = graph_svg(g, theme="auto", prog=mm.program, title="t", desc="d")
    assert auto.startswith("<svg") and "currentColor" in auto and graphs._AUTO_FG.lower() not in auto.lower()
    assert "<title>t</title><desc>d</desc>" in auto and "max-width:100%" in auto
    dark = graph_svg(g, theme="dark", prog=mm.program)
    assert THEMES["dark"]["bg"] in dark and THEMES["dark"]["fg"].lower() in dark.lower()
    assert "currentColor" not in dark


def test_a_long_graphviz_chain_is_laid_out_top_to_bottom(dot_path):
    """kvm_vfio's lock chain left to right is ~2,200 px: a notebook would shrink its words to half."""
    from labkit.lockdep import lockdep_schedules
    prog = program("kvm_vfio", "after")
    g = lock_order_graph([replay(prog, s) for s in lockdep_schedules("kvm_vfio", "after")])
    wide = render_svg(lock_order_dot(g, prog=prog))
    assert graphs._svg_px(wide)[0] > graphs._WIDE
    svg = graph_svg(g, prog=prog)
    assert graphs._svg_px(svg)[0] <= graphs._WIDE and "(cycle)" in svg
    mm = graph_svg(lock_order_graph(replay(program("mm_iommu", "before"), "CPU0* CPU1*")))
    assert graphs._svg_px(mm)[0] > graphs._svg_px(mm)[1]               # a short one stays left to right


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
