"""The stepper in the lecture hall (issue 9), in a real browser.

Each point of the issue, on the standalone page offline and in JupyterLab,
at a laptop's 1366×768 and a projector's 1280×720, light and dark, with
screenshots in test-artifacts/ (lecture_*.png):

* the compact layout puts the Step buttons and the timeline on one screen,
  and Present fills the screen with larger text;
* text is sized in em: it follows JupyterLab's font size (Presentation Mode);
* Step buttons keep their places when a reason appears under one;
* a focused button that becomes disabled leaves the focus in the stepper,
  which shows a focus ring of its own;
* readable on a dark theme, followed with no call;
* no word breaks in the middle; "zdev->s390_domain" breaks only after "->";
* the timeline draws what carries each bug: refcount get/put with the count,
  the last put and its release, object lifetimes and the use after free,
  writes of the variables the code tests;
* a no-op line says so, before and after the click;
* the variant toggle replays only where the threads are the same, offers the
  other variant's own bug, and marks the lines the fix changed;
* a variant too large to ship is built when opened, with a sign of life.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from browserkit import LOCAL, guard, page_with_errors  # noqa: E402
from test_browser import _contrast, _guard, lab  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

SCREENS = [(1366, 768), (1280, 720)]
DEADLOCK = "CPU0 CPU0 CPU0 CPU0 CPU1 CPU1 CPU1 CPU0 CPU1 CPU1 CPU1 CPU1"
SEEDS = [("mm_iommu", "before"), ("iommufd_access", "destroy_race"), ("kvm_vfio", "before"),
         ("s390_release", "before"), ("hmm_release", "before")]


def _page(browser, path, width, height, scheme="light"):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    context.set_offline(True)
    refused = _guard(context, lambda u: u.startswith("file://"))
    page, errors = page_with_errors(context)
    page.goto(path.resolve().as_uri())
    page.wait_for_selector(".lk-stepper")
    return context, page, errors, refused


def _view(page, js):
    return page.evaluate("(js) => { const v = document.querySelector('.lk-stepper')._labkit; return (new Function('v', js))(v); }", js)


def _box(page, sel):
    return page.evaluate("(s) => { const r = document.querySelector(s).getBoundingClientRect(); "
                         "return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}; }", sel)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width,height", SCREENS)
@pytest.mark.parametrize("case_id,vid", SEEDS)
def test_compact_layout_fits_one_screen(browser, tmp_path, artifacts_dir, case_id, vid, width, height, scheme):  # noqa: F811
    """Compact: the Step buttons and the whole timeline (at the bug) on one screen."""
    from labkit.stepper.standalone import export_html
    path = export_html(case_id, vid, tmp_path / f"{case_id}.html")
    context, page, errors, refused = _page(browser, path, width, height, scheme)
    try:
        _view(page, "v.setCompact(true, false); v.showBug();")
        page.locator(".lk-stepper").evaluate("(el) => el.scrollIntoView()")
        page.wait_for_timeout(100)
        steps, tl = _box(page, ".lk-steps"), _box(page, ".lk-timeline")
        assert steps["top"] >= 0 and tl["bottom"] <= height, (steps, tl)
        assert page.locator(".lk-banner").is_visible()
        page.screenshot(path=str(artifacts_dir / f"lecture_compact_{case_id}_{width}x{height}_{scheme}.png"))
        if scheme == "dark":
            st = page.locator(".lk-stepper")
            for sel in [".lk-last", ".lk-why", ".lk-banner strong", ".lk-variant-title", ".lk-pos"]:
                assert _contrast(page, st.locator(sel).first) >= 4.5, sel
            # SVG text: the finding's word and the lane names, against the page.
            for sel in [".lk-tl .t-finding", ".lk-tl .t-fg"]:
                if page.locator(sel).count():
                    ratio = page.evaluate("""(s) => {
                        const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
                        const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                                                     return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
                        const a = lum(rgb(getComputedStyle(document.querySelector(s)).fill));
                        const b = lum(rgb(getComputedStyle(document.querySelector('.lk-stepper')).backgroundColor));
                        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }""", sel)
                    assert ratio >= 4.5, (sel, ratio)
    finally:
        context.close()
    assert not errors, errors
    assert not refused, refused


def test_heights_full_and_compact(browser, tmp_path, artifacts_dir):  # noqa: F811
    """The figures for the note: the stepper's height, full and compact (mm_iommu at its deadlock)."""
    from labkit.stepper.standalone import export_html
    path = export_html("mm_iommu", "before", tmp_path / "mm.html", schedule=DEADLOCK)
    out = {}
    for width, height in SCREENS:
        context, page, errors, _ = _page(browser, path, width, height)
        for layout in ("full", "compact"):
            _view(page, f"v.setCompact({'true' if layout == 'compact' else 'false'}, false);")
            page.wait_for_timeout(100)
            out[f"{width}x{height} {layout}"] = {k: round(v) for k, v in {
                "stepper": _box(page, ".lk-stepper")["height"],
                "steps_top": _box(page, ".lk-steps")["top"],
                "timeline_bottom": _box(page, ".lk-timeline")["bottom"]}.items()}
        context.close()
        assert not errors
    (artifacts_dir / "lecture_heights.json").write_text(json.dumps(out, indent=1))
    for width, height in SCREENS:
        c = out[f"{width}x{height} compact"]
        assert c["timeline_bottom"] <= height and c["stepper"] < out[f"{width}x{height} full"]["stepper"]


def test_present_fills_the_screen_and_esc_leaves(browser, tmp_path, artifacts_dir):  # noqa: F811
    from labkit.stepper.standalone import export_html
    path = export_html("kvm_vfio", "before", tmp_path / "kvm.html")
    for width, height in SCREENS:
        context, page, errors, _ = _page(browser, path, width, height)
        st = page.locator(".lk-stepper")
        _view(page, "v.setCompact(false, false); v.showBug();")
        small = float(st.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)"))
        page.get_by_role("button", name="Present").click()
        expect_present = st.evaluate("(el) => el.classList.contains('lk-present') && el.classList.contains('lk-compact')")
        assert expect_present
        page.wait_for_timeout(300)
        big = float(st.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)"))
        assert big > small, (small, big)
        box = _box(page, ".lk-stepper")
        assert box["top"] <= 1 and box["height"] >= height - 2
        assert _box(page, ".lk-steps")["top"] >= 0 and _box(page, ".lk-timeline")["bottom"] <= height
        page.screenshot(path=str(artifacts_dir / f"lecture_present_kvm_vfio_{width}x{height}.png"))
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('.lk-stepper').classList.contains('lk-present')")
        assert not st.evaluate("(el) => el.classList.contains('lk-compact')")    # back to the layout it had
        context.close()
        assert not errors, errors


def test_text_follows_the_notebook_font_size(browser, tmp_path):  # noqa: F811
    """Presentation Mode sets --jp-content-font-size1 (17 px): everything grows, the timeline too."""
    from labkit.stepper.standalone import export_html
    path = export_html("mm_iommu", "before", tmp_path / "mm.html", schedule=DEADLOCK)
    context, page, errors, _ = _page(browser, path, 1366, 768)
    measure = """() => { const r = document.querySelector('.lk-stepper'); const px = (s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize);
        return {root: px('.lk-stepper'), step: px('.lk-step'), code: px('.lk-line code'), why: px('.lk-why'),
                svg: document.querySelector('.lk-tl').getBoundingClientRect().height}; }"""
    before = page.evaluate(measure)
    page.evaluate("() => document.body.style.setProperty('--jp-content-font-size1', '17px')")
    page.wait_for_function(f"() => document.querySelector('.lk-tl').getBoundingClientRect().height > {before['svg'] + 5}")
    after = page.evaluate(measure)
    context.close()
    assert abs(before["root"] - 13) < 0.1
    for k in ("root", "step", "code", "why"):
        assert after[k] / before[k] == pytest.approx(17 / 14, rel=0.03), (k, before, after)
    assert after["svg"] / before["svg"] == pytest.approx(17 / 14, rel=0.05)
    assert not errors, errors


def test_step_buttons_keep_their_places(browser, tmp_path, artifacts_dir):  # noqa: F811
    """A reason appearing under one Step button moves no button (repeated clicks land)."""
    from labkit.stepper.standalone import export_html
    path = export_html("mm_iommu", "before", tmp_path / "mm.html")
    for width, height in SCREENS:
        for layout in ("full", "compact"):
            context, page, errors, _ = _page(browser, path, width, height)
            _view(page, f"v.setCompact({'true' if layout == 'compact' else 'false'}, false);")
            def boxes():
                return page.evaluate("""() => [...document.querySelectorAll('.lk-step, .lk-navbtn, .lk-slider')].map((b) => {
                    const r = b.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.top), Math.round(r.width)]; })""")
            first = boxes()
            reasons = 0
            for cpu in DEADLOCK.split():
                page.locator(f'button[data-cpu="{cpu}"]').click()
                assert boxes() == first, (layout, width, cpu)
                reasons += page.locator(".lk-why.lk-blocked").count()
            assert reasons > 0                     # a reason did appear on the way
            if layout == "compact":
                page.screenshot(path=str(artifacts_dir / f"lecture_buttons_{width}x{height}.png"))
            context.close()
            assert not errors, errors


def test_focus_stays_in_the_stepper(browser, tmp_path, artifacts_dir):  # noqa: F811
    from labkit.stepper.standalone import export_html
    path = export_html("mm_iommu", "before", tmp_path / "mm.html", schedule=" ".join(DEADLOCK.split()[:11]))
    context, page, errors, _ = _page(browser, path, 1280, 720)
    st = page.locator(".lk-stepper")
    # By keyboard: Tab to CPU1's button, Enter. CPU1 blocks; its button is disabled.
    b = page.locator('button[data-cpu="CPU1"]')
    b.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('button[data-cpu=\"CPU1\"]').disabled")
    assert page.evaluate("() => document.activeElement === document.querySelector('.lk-stepper')")
    # The stepper's own ring is there, and the keys still work.
    ring = st.evaluate("(el) => [el.matches(':focus-visible'), getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineWidth]")
    assert ring[0] and ring[1] == "solid" and float(ring[2].rstrip("px")) >= 2, ring
    st.screenshot(path=str(artifacts_dir / "lecture_focus_ring.png"))
    page.keyboard.press("ArrowLeft")
    assert page.locator(".lk-pos").text_content() == "step 11 of 12"
    # A button's own ring: visible, two colours (one of them the page's).
    page.keyboard.press("Tab")
    focused = page.evaluate("() => { const e = document.activeElement; const s = getComputedStyle(e); return [e.className, s.outlineStyle, s.boxShadow]; }")
    assert focused[1] == "solid" and focused[2] != "none", focused
    context.close()
    assert not errors, errors


# Words that must stay whole wherever they wrap: identifiers, and a name with its "->".
_BREAKS = r"""() => {
  const bad = [];
  const words = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const re = /[A-Za-z_][A-Za-z0-9_]*(->)?/g;
      let m;
      while ((m = re.exec(n.data))) {
        const r = document.createRange();
        r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
        if (tops.size > 1) bad.push(m[0] + ' in ' + n.parentElement.className);
      }
    }
  };
  document.querySelectorAll('.lk-stepper .lk-line code, .lk-step, .lk-why, .lk-status, .lk-chip, .lk-locks, .lk-data, .lk-cpuhead, .lk-last, .lk-banner').forEach(words);
  return bad;
}"""


@pytest.mark.parametrize("width", [1280, 620])
def test_no_word_breaks_in_the_middle(browser, tmp_path, artifacts_dir, width):  # noqa: F811
    from labkit.stepper.standalone import export_html
    path = export_html("s390_release", "before", tmp_path / "s390.html")
    context, page, errors, _ = _page(browser, path, width, 720)
    for layout in ("full", "compact"):
        _view(page, f"v.setCompact({'true' if layout == 'compact' else 'false'}, false); v.showBug();")
        page.wait_for_timeout(100)
        assert page.evaluate(_BREAKS) == [], layout
    # "zdev->s390_domain" is one name to the browser: "->" never splits, a break may follow it.
    assert page.locator(".lk-line code .lk-nb").first.text_content() == "->"
    page.screenshot(path=str(artifacts_dir / f"lecture_words_s390_{width}.png"), full_page=True)
    context.close()
    assert not errors, errors


def test_timeline_draws_what_carries_each_bug(browser, tmp_path, artifacts_dir):  # noqa: F811
    from labkit.stepper.standalone import export_html
    want = {
        # kvm_vfio: CPU1's put makes CPU0's the last; CPU0 runs the release, kvm_destroy_vm().
        ("kvm_vfio", "before"): {"lanes": ["kvm->users_count"], "marks": {"CPU1": ["put"], "CPU0": ["release_call"]},
                                 "release": "kvm_destroy_vm", "lane_words": ["2", "1", "0"]},
        # s390: the write of zdev->s390_domain (to NULL) the attach tests.
        ("s390_release", "before"): {"lanes": ["zdev->s390_domain"], "marks": {"CPU1": ["assign"]}, "lane_words": ["NULL"]},
        # hmm: kfree(mirror), then the use: a lifetime bar that ends at the free, the use starred.
        ("hmm_release", "before"): {"lanes": ["mirror"], "marks": {"CPU0": ["free"], "CPU1": ["use"]}, "freed": True},
        ("iommufd_access", "destroy_race"): {"lanes": ["obj->users"], "marks": {"CPU0": ["get"], "CPU1": ["put"]}},
        ("mm_iommu", "before"): {"lanes": [], "marks": {}},
    }
    for (case_id, vid), w in want.items():
        path = export_html(case_id, vid, tmp_path / f"{case_id}.html")
        context, page, errors, _ = _page(browser, path, 1366, 768)
        _view(page, "v.setCompact(true, false); v.showBug();")
        got = page.evaluate("""() => {
            const v = document.querySelector('.lk-stepper')._labkit;
            const names = [...document.querySelectorAll('.lk-tl .lk-lanelabel')].map((t) => t.querySelector('title').textContent.split(' ').slice(1).join(' '));
            const marks = {};
            const tops = [...document.querySelectorAll('.lk-tl line.lk-tick')];
            for (const p of document.querySelectorAll('.lk-tl .lk-dataevent')) {
              const t = p.querySelector('title').textContent; const cpu = t.split(' ')[2];
              (marks[cpu] = marks[cpu] || []).push(p.dataset.kind);
            }
            const words = [...document.querySelectorAll('.lk-tl text')].map((t) => t.childNodes[0] && t.childNodes[0].textContent);
            return {names, marks, words, release: [...document.querySelectorAll('.lk-tl .lk-release')].map((r) => r.dataset.rel),
                    freed: document.querySelectorAll('.lk-tl .lk-freed').length,
                    uaf: [...document.querySelectorAll('.lk-tl .lk-datamark[data-kind="use"]')].filter((m) => m.getAttribute('fill') !== 'none' && m.getAttribute('fill') !== 'currentColor').length,
                    legend: document.querySelector('.lk-tl-legend').textContent};
        }""")
        page.screenshot(path=str(artifacts_dir / f"lecture_timeline_{case_id}_{vid}.png"))
        context.close()
        assert not errors, errors
        assert [n for n in got["names"] if n in w["lanes"]] == w["lanes"], (case_id, got["names"])
        for cpu, kinds in w["marks"].items():
            for k in kinds:
                assert k in got["marks"].get(cpu, []), (case_id, cpu, k, got["marks"])
        if "release" in w:
            assert got["release"] == [w["release"]] and "last put" in got["legend"]
            assert "release: kvm_destroy_vm()" in got["words"]
        for word in w.get("lane_words", []):
            assert word in got["words"], (case_id, word)
        if w.get("freed"):
            assert got["freed"] == 1 and got["uaf"] == 1 and "freed" in got["legend"]
        if not w["lanes"]:
            assert got["names"] == []


def test_no_op_lines_say_so(browser, tmp_path):  # noqa: F811
    """mm_iommu before: CPU1's second line (the overlap check) changes nothing the model tracks."""
    from labkit.stepper.standalone import export_html
    path = export_html("mm_iommu", "before", tmp_path / "mm.html", schedule="CPU1 CPU1 CPU1")
    context, page, errors, _ = _page(browser, path, 1280, 720)
    why = page.locator('button[data-cpu="CPU1"] + .lk-why')
    assert "changes nothing" in why.text_content()
    page.locator('button[data-cpu="CPU1"]').click()
    last = page.locator(".lk-last")
    assert "no lock, refcount, object or shared variable changed" in last.text_content()
    assert page.locator(".lk-line.lk-noop").count() > 0
    # A comment-only line that does something says it is the model's bookkeeping.
    page.evaluate("() => { const v = document.querySelector('.lk-stepper')._labkit; v.input.value = 'CPU1'; v.jump(); }")
    assert "only a comment" in last.text_content()
    context.close()
    assert not errors, errors


def test_variant_toggle_tells_the_truth(browser, tmp_path, artifacts_dir):  # noqa: F811
    from labkit.stepper.export import variant_relations
    from labkit.stepper.standalone import export_html
    # Same threads: the schedule replays; the lines the fix changed are marked.
    path = export_html("mm_iommu", "before", tmp_path / "mm.html", schedule=" ".join(DEADLOCK.split()[:11]))
    context, page, errors, _ = _page(browser, path, 1366, 768)
    page.locator('button[data-variant="after"]').click()
    assert re.search(r"runs (all 11|\d+ of 11) steps on 'after'", page.locator(".lk-note").text_content())
    rel = variant_relations("mm_iommu", ["before", "after"])["after"]["before"]
    n_changed = sum(len(v) for v in rel["changed"].values())
    assert f"{n_changed} lines new or changed from 'before'" in page.locator(".lk-diffnote").text_content()
    fn, pcs = next(iter(rel["changed"].items()))
    row = page.locator(f'.lk-line[data-fn="{fn}"][data-line="{pcs[0]}"]').first
    assert "lk-changed" in row.get_attribute("class")
    assert page.locator(".lk-line.lk-removed").count() > 0
    page.screenshot(path=str(artifacts_dir / "lecture_toggle_mm_iommu_after.png"))
    context.close()
    assert not errors, errors
    # Other threads: no replay; it says so and offers that variant's own bug.
    path = export_html("kvm_vfio", "before", tmp_path / "kvm.html")
    context, page, errors, _ = _page(browser, path, 1366, 768)
    _view(page, "v.showBug();")
    page.locator('button[data-variant="after"]').click()
    note = page.locator(".lk-note")
    assert "Other threads run in 'after'" in note.text_content()
    assert page.locator(".lk-pos").text_content() == "step 0 of 0"
    note.get_by_role("button", name="Show 'after''s own bug").click()
    assert "Deadlock at step" in page.locator(".lk-banner").text_content()
    page.screenshot(path=str(artifacts_dir / "lecture_toggle_kvm_vfio_after.png"))
    context.close()
    assert not errors, errors


def test_jupyterlab_compact_and_lazy(browser, lab, artifacts_dir):  # noqa: F811
    """In JupyterLab at 1280×720 and 1366×768: the compact stepper's controls and
    timeline on one screen, light and dark; philosophers n6 shows up without
    exploring every variant, and opening n5 says it is being built, then shows it."""
    from playwright.sync_api import expect
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell('from labkit.stepper import stepper\nw = stepper("kvm_vfio", "before")\nw'),
        nbformat.v4.new_code_cell('import time\nt0 = time.perf_counter()\np = stepper("philosophers", "n6")\n'
                                  'print(f"built in {time.perf_counter() - t0:.1f} s")\np'),
    ]
    nbformat.write(nb, str(lab["root"] / "lecture.ipynb"))
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    refused = guard(context, lambda u: u.startswith(LOCAL))
    page, errors = page_with_errors(context, 30_000)
    try:
        page.goto(f"{lab['base']}/lab/tree/lecture.ipynb?token={lab['token']}")
        cells = page.locator(".jp-NotebookPanel .jp-Cell")
        expect(cells).to_have_count(2, timeout=60_000)
        expect(page.get_by_role("button", name=re.compile(r"Python 3.*\| Idle"))).to_be_visible(timeout=90_000)
        # The file browser closed, as a lecturer would have it (View > Show Left Sidebar: Ctrl+B).
        if page.locator("#jp-left-stack").is_visible():
            page.keyboard.press("Control+b")
            expect(page.locator("#jp-left-stack")).to_be_hidden()
        cells.nth(0).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        st = page.locator(".jp-OutputArea .lk-stepper").first
        expect(st).to_be_visible(timeout=90_000)
        # At this height the compact layout is the default.
        expect(st).to_have_class(re.compile("lk-compact"))
        st.locator("button", has_text="Show me a bug").click()
        expect(st.locator(".lk-banner")).to_contain_text("Deadlock at step")
        for width, height in [(1280, 720), (1366, 768)]:
            page.set_viewport_size({"width": width, "height": height})
            for theme in ("light", "dark"):
                if theme == "dark":
                    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
                    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
                    page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
                    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=120_000)
                    page.wait_for_function("""() => { const c = getComputedStyle(document.querySelector('.lk-stepper')).backgroundColor.match(/\\d+/g).map(Number);
                        return c[0] + c[1] + c[2] < 300; }""", timeout=120_000)
                st.evaluate("(el) => el.scrollIntoView({block: 'start'})")
                page.wait_for_timeout(300)
                steps = st.locator(".lk-steps").bounding_box()
                tl = st.locator(".lk-timeline").bounding_box()
                status = page.locator("#jp-main-statusbar").bounding_box()
                limit = status["y"] if status else height
                assert steps["y"] >= 0 and tl["y"] + tl["height"] <= limit, (width, height, theme, steps, tl, limit)
                page.screenshot(path=str(artifacts_dir / f"lecture_lab_{width}x{height}_{theme}.png"))
                if theme == "dark":
                    for sel in [".lk-last", ".lk-why", ".lk-banner strong"]:
                        assert _contrast(page, st.locator(sel).first) >= 4.5, sel
                    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
                    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
                    page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Light", exact=True).click()
                    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true", timeout=120_000)
        # philosophers n6: built without the other large variants, which come on demand.
        page.set_viewport_size({"width": 1280, "height": 720})
        cells.nth(1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        ph = page.locator(".jp-OutputArea .lk-stepper").nth(1)
        expect(ph).to_be_visible(timeout=120_000)
        built = cells.nth(1).locator(".jp-OutputArea-output", has_text="built in").text_content()
        n5 = ph.locator('button[data-variant="n5"]')
        expect(n5).to_have_class(re.compile("lk-pending"))
        t0 = time.perf_counter()
        n5.click()
        expect(ph.locator('button[data-variant="n5"]')).to_have_attribute("aria-pressed", "true", timeout=120_000)
        opened = time.perf_counter() - t0
        expect(ph.locator(".lk-variant-title")).to_contain_text("n5")
        ph.locator("button", has_text="Show me a bug").click()
        expect(ph.locator(".lk-banner")).to_contain_text("Deadlock")
        ph.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "lecture_lab_philosophers_n5.png"))
        (artifacts_dir / "lecture_philosophers.txt").write_text(f"{built.strip()}; n5 opened in {opened:.1f} s\n")
    except Exception:
        page.screenshot(path=str(artifacts_dir / "lecture_lab_failure.png"), full_page=True)
        raise
    finally:
        context.close()
    assert not errors, errors
    assert not refused, refused
