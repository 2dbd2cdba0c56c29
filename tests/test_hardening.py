"""The attack run's hostile inputs (issue 15), each with the answer it must get.

Models that never stop (a ``goto`` loop, unbounded recursion) get an error
naming the cpu and the model line, promptly, from replay, the lockdep
emulator's serial run and the explorer; the explorer has a memory budget.
Exported pages carry model text that tries to close the script element,
open an HTML comment or run a handler: the JSON inside the page must parse
back identical, and in a real browser nothing injected may run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest

from labkit.cases import Case, Fix, Variant
from labkit.cli import main
from labkit.errors import ModelError
from labkit.model import (Model, call, goto, if_, label, mutex_lock, mutex_unlock, step, var, warn_on,
                          assign)
from labkit.trace import MAX_CALL_DEPTH, MAX_RUN_STEPS, replay

HERE = "tests/test_hardening.py"


def line_of(text):
    for i, l in enumerate(open(__file__), 1):
        if text in l and "line_of" not in l:
            return i
    raise AssertionError(text)


@pytest.fixture
def register():
    """Put cases in the registry for one test (the CLI and the export look cases up by id)."""
    from labkit.cases import _load
    reg = _load()
    added = []

    def add(case):
        reg[case.id] = case
        added.append(case.id)
        return case
    yield add
    for cid in added:
        reg.pop(cid, None)


# --- models that never stop ------------------------------------------------------

def looping():
    m = Model("looping", "v", title="a cpu that never stops")
    m.mutex("A")
    m.shared("done", 0)
    m.func("spin", [label("again"), step("cpu_relax();"), goto("again")])  # the loop line
    m.func("other", [mutex_lock("A"), mutex_unlock("A")])
    m.cpu("CPU0", "spin")
    m.cpu("CPU1", "other")
    return m.build()


def recursing():
    m = Model("recursing", "v")
    m.func("walk", [step("depth++;"), call("walk")])  # the recursive call
    m.func("other", [step("x;")])
    m.cpu("CPU0", "walk")
    m.cpu("CPU1", "other")
    return m.build()


def test_replay_of_a_goto_loop_names_the_cpu_and_the_loop_line():
    t = time.perf_counter()
    with pytest.raises(ModelError) as e:
        replay(looping(), "CPU1 CPU0*")
    assert time.perf_counter() - t < 30      # promptly, not a hang (generous: no speed test)
    assert str(e.value) == (
        f"{HERE}:{line_of('# the loop line')}: CPU0 in spin(), step 'goto again;': CPU0* (schedule entry 2) "
        f"took {MAX_RUN_STEPS} steps without finishing or blocking: CPU0 loops here. A loop must end by "
        f"itself; to wait for another cpu, use wait_event()")


def test_a_spin_loop_another_cpu_ends_still_replays():
    m = Model("spin", "v")
    m.shared("flag", 0)
    m.func("waiter", [label("again"), if_(var("flag") == 0, "again", text="while (!flag) cpu_relax();"),
                      step("go();")])
    m.func("setter", [assign("flag", 1)])
    m.cpu("CPU0", "waiter")
    m.cpu("CPU1", "setter")
    p = m.build()
    assert replay(p, "CPU0 CPU0 CPU1 CPU0*").schedule == "CPU0 CPU0 CPU1 CPU0 CPU0"
    with pytest.raises(ModelError, match=r"while \(!flag\) cpu_relax\(\);'?: CPU0\* \(schedule entry 1\) took"):
        replay(p, "CPU0*")


def test_recursion_is_an_error_naming_the_call_line_in_replay_and_explore():
    from labkit.explore import explore
    where = f"{HERE}:{line_of('# the recursive call')}: CPU0 in walk(), step 'walk();': the call depth passed " \
            f"{MAX_CALL_DEPTH} frames (walk() -> walk() again and again): unbounded recursion in the model"
    with pytest.raises(ModelError) as e:
        replay(recursing(), "CPU0*")
    assert str(e.value).startswith(where + " (step 200 of schedule 'CPU0 CPU0")
    assert str(e.value).endswith(", 200 steps)") and len(str(e.value)) < 400   # one readable line
    t = time.perf_counter()
    with pytest.raises(ModelError) as e:
        explore(recursing())                  # before: 127 s and 2.2 GB, then a time-budget stop
    assert time.perf_counter() - t < 30
    assert str(e.value).startswith(where + " (reached by schedule")


def test_lockdep_serial_run_of_a_looping_model_is_an_error(register, capsys):
    from labkit.lockdep import lockdep_run
    register(Case("looping", "loops", "a goto loop", (Variant("v", "v", looping),)))
    msg = (f"{HERE}:{line_of('# the loop line')}: CPU0 in spin(), step 'goto again;': CPU0* (schedule entry 1) "
           f"took {MAX_RUN_STEPS} steps")
    with pytest.raises(ModelError) as e:
        lockdep_run("looping", "v")
    assert str(e.value).startswith(msg)
    assert str(e.value).endswith("(in lockdep's run 'CPU0* CPU1*' of looping/v)")
    assert main(["lockdep", "looping", "--variant", "v"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: " + msg) and err.count("\n") == 1


def big_model(cpus=4, steps=30):
    m = Model("big", "v")
    for i in range(cpus):
        m.shared(f"x{i}", 0)
        m.func(f"f{i}", [assign(f"x{i}", k) for k in range(steps)])
        m.cpu(f"CPU{i}", f"f{i}")
    return m.build()


def test_explorer_memory_budget_stops_and_says_the_limit(monkeypatch):
    import importlib
    ex = importlib.import_module("labkit.explore")   # labkit.explore is also the function
    # Where the resident size cannot be read, states are counted at an estimate each.
    monkeypatch.setattr(ex, "_rss_bytes", lambda: None)
    r = ex.explore(big_model(), max_memory_mb=2)
    assert not r.complete and r.states * ex._STATE_BYTES > 2 * 2**20
    assert r.stopped == f"stopped after {r.states} states: the memory budget (2 MB, --max-memory) ran out"
    assert r.to_json()["stopped"] == r.stopped
    with pytest.raises(ValueError, match="max_memory_mb must be a finite number above 0, not nan"):
        ex.explore(big_model(), max_memory_mb=float("nan"))
    with pytest.raises(ValueError, match="max_seconds must be a finite number above 0, not -1"):
        ex.explore(big_model(), max_seconds=-1)


def test_explorer_memory_budget_reads_the_resident_size():
    # A fresh process: what the search adds is what /proc says it added.
    p = subprocess.run([sys.executable, "-m", "labkit", "explore", "philosophers", "--variant", "n6",
                        "--max-memory", "1", "--json"], capture_output=True, text=True, timeout=300)
    d = json.loads(p.stdout)
    assert p.returncode == 0 and d["complete"] is False
    assert re.fullmatch(r"stopped after \d+ states: the memory budget \(1 MB, --max-memory\) ran out", d["stopped"])


# --- the model builder: errors name the model line ------------------------------

def test_builder_arguments_are_model_errors_naming_the_line():
    m = Model("bad", "v")
    cases = [
        (lambda: m.func("f0", None), "function 'f0': its steps must be a list of steps"),  # L:func
        (lambda: m.ref("r", "x"), "refcount 'r': the initial count must be a whole number 0 or more, not 'x'"),  # L:ref
    ]
    for fn, message in cases:
        with pytest.raises(ModelError) as e:
            fn()
        assert str(e.value).startswith(f"{HERE}:"), str(e.value)
        assert message in str(e.value)
    with pytest.raises(ModelError, match=rf"^{HERE}:{line_of('# L:func')}: "):
        cases[0][0]()
    with pytest.raises(ModelError, match=rf"^{HERE}:{line_of('# L:ref')}: "):
        cases[1][0]()


# --- exported pages: hostile model text -----------------------------------------

HOSTILE = [
    '</script><img src=x onerror="window.__pwned=(window.__pwned||0)+1">',
    "<!--",
    "<!-- <script>",
    '--><svg onload="window.__pwned=1">',
    "</style><script>window.__pwned=1</script>",
    "'\"`${window.__pwned=1}\\",
    "&amp; &lt; &#x3c;",
    "\u2028\u2029",
    "]]> <![CDATA[",
    "<\\!--",
]
H = " ".join(HOSTILE)
VID = 'v</script><img src=x onerror="window.__pwned=1"><!--'
CID = "hostile<!--</script>"
CPU_H = 'C<img/src=x/onerror=window.__pwned=1>'   # no spaces: a cpu name is one schedule word


def hostile_program():
    m = Model(CID, VID, title="title " + H)
    a, b = "A</script><!--" + HOSTILE[0], "B<!-- " + HOSTILE[3]
    m.mutex(a, cls="&" + H)
    m.mutex(b)
    m.shared("x" + HOSTILE[4], 0)
    m.func("one<!--", [mutex_lock(a, text="lock A " + H), mutex_lock(b), step("step " + H),
                       warn_on(var("x" + HOSTILE[4]) == 0, message="WARN " + H),
                       mutex_unlock(b), mutex_unlock(a)], via=["via " + H])
    m.func("two</script>", [mutex_lock(b), mutex_lock(a), mutex_unlock(a), mutex_unlock(b)])
    m.cpu(CPU_H, "one<!--", comm="comm " + H, pid=7, stack=["stack " + H, "sys_ioctl"], context="context " + H)
    m.cpu("CPU1", "two</script>", comm="c2<!--", stack=["frame</script>"])
    return m.build()


def hostile_case():
    return Case(CID, "case title " + H, "summary " + H,
                (Variant(VID, "variant title " + H, hostile_program, expect="expect " + H),
                 Variant("plain", "plain " + H, hostile_program)),
                fix=Fix("fix " + H, commit="0123456789ab", link="https://example.org/" + H),
                date="date " + H, simplifications="leaves out " + H)


class _Scripts(HTMLParser):
    """What an HTML parser sees: each script element's text, and every element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts, self.tags, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in = [dict(attrs), ""]

    def handle_data(self, data):
        if self._in is not None:
            self._in[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._in is not None:
            self.scripts.append(tuple(self._in))
            self._in = None


def test_hostile_model_text_parses_back_identical_from_the_page(register, tmp_path):
    from labkit.stepper.export import case_json
    from labkit.stepper.standalone import export_html
    register(hostile_case())
    path = export_html(CID, VID, tmp_path / "hostile.html")
    page = path.read_text(encoding="utf-8")
    p = _Scripts()
    p.feed(page)
    p.close()
    # Exactly the page's own elements: two scripts, no injected img/svg/script.
    assert [t for t, _ in p.tags if t in ("script", "img", "svg", "style")] == ["style", "script", "script"]
    (data_attrs, data_text), (boot_attrs, boot_text) = p.scripts
    assert data_attrs == {"type": "application/json", "id": "labkit-data"} and boot_attrs == {"type": "module"}
    got = json.loads(data_text)
    want = json.loads(json.dumps(case_json(CID)))
    assert got == want
    # Every field a model author controls came back as written.
    v = got["variants"][0]
    assert v["id"] == VID and v["title"] == "variant title " + H and v["expect"] == "expect " + H
    assert got["case"]["title"] == "case title " + H and got["case"]["fix"]["subject"] == "fix " + H
    assert got["case"]["simplifications"] == "leaves out " + H
    assert v["cpus"][0]["name"] == CPU_H and v["cpus"][0]["comm"] == "comm " + H
    assert v["cpus"][0]["stack"] == ["stack " + H, "sys_ioctl"] and v["cpus"][0]["context"] == "context " + H
    assert v["locks"][0]["name"].endswith(HOSTILE[0]) and v["locks"][0]["cls"] == "&" + H
    assert v["functions"][0]["via"] == ["via " + H]
    assert {"lock A " + H, "step " + H} <= set(got["texts"])
    assert any(f["message"].endswith("WARN " + H) for f in v["explorer"])
    # The boot script opens on the hostile variant id, as a JavaScript string.
    boot = boot_text.split("// Standalone bootstrap", 1)[1]     # after the bundled stepper code
    assert json.loads(re.search(r"variant: (.*?), schedule: ", boot).group(1)) == VID
    # Nothing in the page can end an element early or open a comment.
    assert page.lower().count("</script") == 2 and "<!--" not in page
    assert "<\\!--" not in page      # the old escaping, which was not JSON


def test_hostile_variant_id_on_the_command_line(register, tmp_path, capsys):
    register(hostile_case())
    out = tmp_path / "p.html"
    assert main(["export", CID, "--variant", VID, "-o", str(out)]) == 0
    assert "<!--" not in out.read_text(encoding="utf-8")
    capsys.readouterr()


@pytest.mark.browser
def test_hardening_hostile_page_in_a_browser(register, tmp_path, browser, artifacts_dir):
    """The hostile page from file://: the stepper renders, the text shows as text, nothing injected runs."""
    from playwright.sync_api import expect

    from labkit.stepper.standalone import export_html
    register(hostile_case())
    path = export_html(CID, VID, tmp_path / "hostile.html")
    from browserkit import page_with_errors
    context = browser.new_context(viewport={"width": 1150, "height": 900})
    context.set_offline(True)
    try:
        page, errors = page_with_errors(context, 60_000)
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.resolve().as_uri())
        st = page.locator(".lk-stepper")
        expect(st).to_be_visible()
        expect(st.locator(".lk-variant")).to_have_count(2)
        assert st.locator(".lk-variant").first.get_attribute("data-variant") == VID
        expect(st.locator(".lk-variant").first).to_have_attribute("aria-pressed", "true")
        # Step the hostile cpu into the deadlock: CPU_H takes A, CPU1 takes B, both wait.
        buttons = st.locator("button.lk-step")
        expect(buttons).to_have_count(2)
        assert buttons.first.get_attribute("data-cpu") == CPU_H
        for i in (0, 1, 0, 1):
            buttons.nth(i).click()
        expect(st.locator(".lk-pos")).to_have_text("step 4 of 4")
        banner = st.locator('.lk-banner[role="alert"]')
        expect(banner).to_be_visible()
        expect(banner).to_contain_text(HOSTILE[0])        # shown as text, not markup
        expect(st).to_contain_text("lock A </script>")
        page.screenshot(path=str(artifacts_dir / "stepper_hostile.png"), full_page=True)
        injected = page.evaluate("""() => ({
            pwned: window.__pwned === undefined ? null : window.__pwned,
            imgs: document.querySelectorAll('img').length,
            scripts: document.querySelectorAll('script').length,
            onload: document.querySelectorAll('[onload], [onerror]').length })""")
        assert injected == {"pwned": None, "imgs": 0, "scripts": 2, "onload": 0}
        assert page.title().startswith("case title </script><img")     # the title is text too
    finally:
        context.close()
    assert not errors, errors
    assert not dialogs, dialogs
