"""From a real lockdep report to a scenario you can step (labkit.fromsplat, ``from-splat``).

For every circular and recursive report in data/splats/ (listed from the files,
so a new one is tested when it lands): the model deadlocks, the lockdep
emulator's serial runs on it report the same classes in the same chain as the
real report (compare: AGREE), and the stepper export steps to the deadlock.
Shapes of one report (mail quoting, wraps, syslog and dmesg prefixes) give one
model; bad input gives one line and exit 2; ``-o`` writes a module that builds.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.fromsplat import FromSplatError, Unsupported, from_splat
from labkit.splat import SplatError, parse, parse_file

REPO = Path(__file__).resolve().parent.parent
SPLATS = REPO / "data" / "splats"
REPORTS = sorted(SPLATS.glob("*.txt"))
KINDS = {p.name: parse_file(p).kind for p in REPORTS}
BUILDABLE = [p for p in REPORTS if KINDS[p.name] in ("circular", "recursive")]
IRQ = [p for p in REPORTS if KINDS[p.name] not in ("circular", "recursive")]
EXPLORE_KEYS = {"case", "variant", "complete", "states", "transitions", "findings"}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def signature(prog):
    """A program as plain data, without the model lines that wrote it or its case id."""
    return (prog.title,
            tuple((l.name, l.kind, l.cls, l.reader_pref) for l in prog.locks),
            tuple((f.name, f.via, tuple((op.kind, op.args, op.text) for op in f.ops)) for f in prog.functions),
            tuple((c.name, c.entry, c.comm, c.pid, c.stack, c.context) for c in prog.cpus))


def test_the_reports_are_there():
    # Every kind of the lab's real reports is covered one way or the other.
    assert len(BUILDABLE) >= 8 and IRQ
    assert {KINDS[p.name] for p in BUILDABLE} == {"circular", "recursive"}


@pytest.mark.parametrize("path", BUILDABLE, ids=lambda p: p.name)
def test_every_report_becomes_a_deadlock_whose_lockdep_report_agrees(path):
    real = parse_file(path)
    sc = from_splat(path)
    # One cpu per dependency of the chain (a recursive report: the one task).
    entries = [c for c in sc.cpus if c["entry"] is not None]
    assert len(entries) == (len(real.chain) if real.kind == "circular" else 1)
    assert [c["name"] for c in sc.cpus] == list(sc.program.cpu_names)
    assert sc.cpus[0]["task"] == real.task_comm and all(c["task"] is None for c in sc.cpus[1:])
    # Each cpu of a cycle holds the class the next one takes.
    if real.kind == "circular":
        held = {c["holds"] for c in entries}
        assert held == set(real.chain) == {c["takes"] for c in entries}
    # The explorer: a deadlock, every interleaving explored, its shortest schedule replays into it.
    r = sc.explore()
    assert r.complete
    dl = [f for f in r.findings if f.kind == "deadlock"]
    assert dl and dl[0].schedule == sc.bug()
    from labkit.trace import replay
    assert any(f.kind == "deadlock" for f in replay(sc.program, sc.bug()).findings)
    # The emulator, on the model's serial runs, names what the kernel named.
    cmp = sc.compare()
    assert cmp.agree, cmp.text()
    rep = sc.lockdep().reports[0]
    assert (rep.kind, rep.acquiring, rep.held) == (real.kind, real.acquiring_lock or real.held_lock,
                                                   real.held_lock or real.acquiring_lock)
    assert tuple(rep.chain) == tuple(real.chain)
    # ...and its text reads back as the same report.
    again = parse(sc.lockdep().text())
    assert (again.kind, again.acquiring_lock, again.held_lock, again.chain) == \
           (real.kind, rep.acquiring, rep.held, real.chain)


@pytest.mark.parametrize("path", BUILDABLE, ids=lambda p: p.name)
def test_every_report_exports_a_stepper_that_reaches_the_deadlock(path):
    from labkit.stepper.export import walk
    sc = from_splat(path)
    data = sc.stepper_json()
    json.dumps(data)
    (v,) = data["variants"]
    assert v["id"] == "report" and v["mode"] == "graph"
    assert [c["name"] for c in v["cpus"]] == [c["name"] for c in sc.cpus]
    steps = walk(data, "report", sc.bug())
    assert [f["kind"] for f in steps[-1]["findings"]] == ["deadlock"]
    assert all(not s["findings"] for s in steps[:-1])


def test_cpu_counts_and_kinds_of_the_lab_reports():
    # What the closing note of issue 13 lists, checked (reports added later are covered above).
    want = {"mm_iommu.txt": 2, "iommufd.txt": 2, "kvm_vfio.txt": 4, "kvm_vfio_quoted.txt": 4,
            "nilfs_syzbot.txt": 3, "ksmbd_recursive.txt": 2, "rapl_recursive_ci.txt": 1,
            "fuse_recursive_syslog.txt": 1, "zfs_recursive_old_format.txt": 1}
    for name, n in want.items():
        if (SPLATS / name).exists():
            assert len(from_splat(SPLATS / name).cpus) == n, name


PRIMS = [("_raw_spin_lock", "spinlock", "{....}-{2:2}"), ("down_write", "rwsem", "{++++}-{3:3}"),
         ("mutex_lock_nested", "mutex", "{+.+.}-{3:3}"), ("down_read", "rwsem", "{.+.+}-{3:3}"),
         ("__mutex_lock", "mutex", "{+.+.}-{3:3}")]


def constructed_cycle(n):
    """A constructed (not real) circular report of n classes; class k is taken with PRIMS[k]."""
    cls = [f"&obj{k}->lock" for k in range(n)]
    use = {k: PRIMS[k % len(PRIMS)] for k in range(n)}
    lines = ["WARNING: possible circular locking dependency detected", "6.1.0 #1 Not tainted", "-" * 20,
             "worker/7 is trying to acquire lock:", f"ffff000000000001 ({cls[0]}){use[0][2]}, at: take0+0x1/0x2", "",
             "but task is already holding lock:",
             f"ffff000000000002 ({cls[n - 1]}){use[n - 1][2]}, at: outer0+0x1/0x2", "",
             "which lock already depends on the new lock.", "",
             "the existing dependency chain (in reverse order) is:", ""]
    for k in range(n - 1, -1, -1):
        lines += [f"-> #{k} ({cls[k]}){use[k][2]}:", "       lock_acquire+0x1/0x2", f"       {use[k][0]}+0x1/0x2",
                  f"       take{k}+0x1/0x2", f"       outer{k}+0x1/0x2", ""]
    return "\n".join(lines) + "\n", cls, use


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_an_n_class_cycle_gives_n_cpus_with_the_kinds_its_frames_say(n):
    text, cls, use = constructed_cycle(n)
    sc = from_splat(text)
    entries = [c for c in sc.cpus if c["entry"] is not None]
    assert len(entries) == n and [c["takes"] for c in entries] == cls
    assert {l.cls: l.kind for l in sc.program.locks} == {cls[k]: use[k][1] for k in range(n)}
    # Each cpu of entry #k runs outer_k > take_k; CPU0 took its held lock in outer0 (the held line's at:).
    assert sc.program.cpus[0].entry == "outer0" and all(sc.program.cpus[k].entry == f"take{k}" for k in range(1, n))
    assert sc.explore().complete and sc.compare().agree
    if n <= 4:      # (n = 5 reads class 3 twice: a writer joins, and the graph is too big to ship)
        assert sc.stepper_json()["variants"][0]["mode"] == "graph"
    else:
        assert sum(c["entry"] is None for c in sc.cpus) == 1


def test_mm_iommu_reads_like_the_kernel():
    sc = from_splat(SPLATS / "mm_iommu.txt")
    p = sc.program
    kinds = {l.cls: l.kind for l in p.locks}
    assert kinds == {"mem_list_mutex": "mutex", "&mm->mmap_sem": "rwsem"}      # __mutex_lock, down_write
    cpu0, cpu1 = p.cpus
    # CPU0 took mmap_sem in vm_mmap_pgoff (the held lock's at:), which calls down to mm_iommu_do_alloc.
    assert cpu0.entry == "vm_mmap_pgoff" and cpu0.stack == ("system_call", "sys_mmap", "ksys_mmap_pgoff")
    call = p.function("vm_mmap_pgoff").ops[1]
    assert call.kind == "call" and call.args[0] == "mm_iommu_do_alloc"
    assert call.args[1] == ("do_mmap", "mmap_region", "vfio_device_fops_mmap", "vfio_pci_mmap", "vfio_pci_nvgpu_mmap")
    # Lockdep's frames and compiler clone suffixes are gone.
    assert cpu1.entry == "mm_iommu_adjust_locked_vm"
    assert cpu1.stack[-2:] == ("tce_iommu_ioctl", "mm_iommu_do_alloc")
    assert [op.text.split("(")[0] for op in p.function("mm_iommu_adjust_locked_vm").ops] == \
           ["mutex_lock", "down_write", "up_write", "mutex_unlock"]
    assert cpu0.comm == "qemu-system-ppc" and cpu0.pid == 8038
    # {++++}: whether the mmap path held mmap_sem for read or write is not in the report; it says so.
    assert any("read or for write" in n and "&mm->mmap_sem" in n for n in sc.notes)


def test_read_held_cycles_get_the_writer_lockdep_assumes():
    # nilfs: &dat_lock_key was only ever taken for read ({.+.+}): two readers share it, so the
    # cycle closes only behind a queued writer, which the report never shows. The model adds one,
    # says so, and leaves it out of lockdep's runs (the emulated usage stays read-only).
    sc = from_splat(SPLATS / "nilfs_syzbot.txt")
    writer = sc.cpus[-1]
    assert writer["entry"] is None and writer["takes"] == "&dat_lock_key" and writer["task"] is None
    assert any("not in the report" in n for n in sc.notes)
    dl = sc.explore().findings[0]
    assert writer["name"] in dl.cpus and "a waiting writer" in dl.message
    assert "(&dat_lock_key){.+.+}" in sc.lockdep().text()


def test_read_recursion_deadlocks_only_with_a_writer():
    sc = from_splat(SPLATS / "ksmbd_recursive.txt")
    assert [c["name"] for c in sc.cpus] == ["CPU0", "CPU1"]
    ops = sc.program.function("ksmbd_vfs_mkdir").ops
    assert [op.kind for op in ops] == ["down_read", "down_read", "up_read", "up_read"]
    assert "filename_create" in ops[0].text          # where the report says the held lock was taken
    assert sc.bug() == "CPU0 CPU1 CPU0"
    assert any("same address" in n for n in sc.notes)


def test_what_the_report_does_not_say_is_said():
    zfs = from_splat(SPLATS / "zfs_recursive_old_format.txt")
    assert zfs.program.locks[0].kind == "mutex"
    assert any("does not say what kind of lock" in n for n in zfs.notes)
    assert "does not say what kind of lock" in zfs.source() and "does not say what kind" in zfs.text()
    fuse = from_splat(SPLATS / "fuse_recursive_syslog.txt")
    assert any("different addresses" in n for n in fuse.notes)
    kvm = from_splat(SPLATS / "kvm_vfio.txt")
    assert any("does not name" in n for n in kvm.notes)
    assert "unnamed" in kvm.text()
    # The stepper shows the notes too: each cpu's context says where it comes from.
    assert all(c.context for c in kvm.program.cpus)


# --- shapes -------------------------------------------------------------------------------

def _quoted(t, depth=1):
    return "".join("> " * depth + l if l.strip() else ">" * depth + "\n" for l in t.splitlines(True))


def _syslog(t):
    return "".join(f"Jan  5 10:00:{i % 60:02d} host kernel: {l}" for i, l in enumerate(t.splitlines(True)))


def _dmesg(t):
    return "".join(f"[  {100 + i / 1000:.6f}] {l}" for i, l in enumerate(t.splitlines(True)))


def _wrapped(t, width=72):
    # A mail client's wrap: long lines broken at a blank, the rest on the next line.
    out = []
    for line in t.splitlines():
        while len(line) > width and " " in line[:width].strip():
            cut = line.rfind(" ", 0, width)
            if cut <= len(line) - len(line.lstrip()):
                break
            out.append(line[:cut])
            line = line[cut + 1:]
        out.append(line)
    return "\n".join(out) + "\n"


SHAPES = {"quoted": _quoted, "quoted twice": lambda t: _quoted(t, 2), "syslog": _syslog, "dmesg": _dmesg,
          "crlf": lambda t: t.replace("\n", "\r\n"), "wrapped": _wrapped,
          "in a mail": lambda t: "Hi,\n\nI hit this today:\n\n" + _quoted(t) + "\nAny idea?\n"}


def test_the_quoted_real_report_gives_the_same_model():
    a = from_splat(SPLATS / "kvm_vfio.txt")
    b = from_splat(SPLATS / "kvm_vfio_quoted.txt")
    assert signature(a.program) == signature(b.program)
    assert a.cpus == b.cpus and a.notes == b.notes


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["mm_iommu.txt", "nilfs_syzbot.txt", "ksmbd_recursive.txt", "kvm_vfio.txt"])
def test_shapes_give_the_same_model(name, shape):
    text = (SPLATS / name).read_text()
    clean = from_splat(text)
    shaped = from_splat(SHAPES[shape](text))
    assert signature(shaped.program) == signature(clean.program)
    assert shaped.cpus == clean.cpus and shaped.notes == clean.notes


# --- bad input ------------------------------------------------------------------------------

def _cut_chain(tmp_path):
    # mm_iommu's report cut inside its chain: one entry, no #0.
    text = (SPLATS / "mm_iommu.txt").read_text()
    p = tmp_path / "cut.txt"
    p.write_text(text.split("-> #0")[0])
    return p


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "notes.txt", "no lockdep report found"),
    (lambda d: d / "empty.txt", "no lockdep report found"),
    (_cut_chain, "dependency chain is missing or cut short"),
    (lambda d: d / "missing.txt", "no such file"),
    (lambda d: d, "not a regular file"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, make, message):
    (tmp_path / "notes.txt").write_text("hello\nthis is not a lockdep report\nWARNING: nothing\n")
    (tmp_path / "empty.txt").write_text("")
    path = make(tmp_path)
    for extra in ([], ["--json"], ["-o", tmp_path / "x.py"], ["--export", tmp_path / "x.html"]):
        code, out, err = run(capsys, "from-splat", path, *extra)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
        assert str(path) in err or path.name in err
    assert not (tmp_path / "x.py").exists() and not (tmp_path / "x.html").exists()


# The interrupt reports (IRQ) become models too: tests/test_fromsplat_irq.py.


def test_errors_are_lab_errors():
    from labkit.errors import LabError
    with pytest.raises(SplatError):
        from_splat("just\ntext\n")
    with pytest.raises(FromSplatError, match="no such file"):
        from_splat("no/such/report.txt")
    assert issubclass(FromSplatError, LabError) and issubclass(Unsupported, FromSplatError)


# --- the command line --------------------------------------------------------------------------

def test_json_is_explore_json_plus_cpus(capsys):
    code, out, _ = run(capsys, "from-splat", SPLATS / "kvm_vfio.txt", "--json")
    d = json.loads(out)
    assert code == 0 and set(d) == EXPLORE_KEYS | {"cpus"}
    assert d["variant"] == "report" and d["complete"] is True
    assert [f["kind"] for f in d["findings"]] == ["deadlock"]
    assert [c["name"] for c in d["cpus"]] == ["CPU0", "CPU1", "CPU2", "CPU3"]
    assert d["cpus"][0]["task"] == "CPU 0/KVM/1173"
    assert set(d["cpus"][0]) == {"name", "task", "role", "holds", "takes", "entry"}


def test_text_lockdep_and_stdin(capsys, monkeypatch):
    code, out, _ = run(capsys, "from-splat", SPLATS / "mm_iommu.txt")
    assert code == 0 and "AGREE" in out and "shortest schedule" in out and "CPU1" in out
    code, out, _ = run(capsys, "from-splat", SPLATS / "mm_iommu.txt", "--lockdep")
    assert code == 0 and parse(out).chain == ("&mm->mmap_sem", "mem_list_mutex")
    import io
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((SPLATS / "nilfs_syzbot.txt").read_bytes())))
    code, out, _ = run(capsys, "from-splat", "-", "--json")
    assert code == 0 and len(json.loads(out)["cpus"]) == 3


def test_json_and_lockdep_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as e:
        main(["from-splat", str(SPLATS / "mm_iommu.txt"), "--json", "--lockdep"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "not allowed with" in err


def _import(path):
    spec = importlib.util.spec_from_file_location(f"gen_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path", BUILDABLE, ids=lambda p: p.name)
def test_case_module_imports_builds_and_is_the_same_model(capsys, tmp_path, path):
    out_py = tmp_path / "case_from_report.py"
    code, out, err = run(capsys, "from-splat", path, "-o", out_py)
    assert code == 0 and out.startswith(f"wrote {out_py}") and not err
    src = out_py.read_text()
    assert src.startswith('"""From a lockdep report')
    assert f"from-splat {path}" in src and path.name in src      # the header names the report
    compile(src, str(out_py), "exec")
    mod = _import(out_py)
    prog = mod.CASE.program("report")
    sc = from_splat(path)
    assert signature(prog) == signature(sc.program)
    assert mod.CASE.variant("report").lockdep and mod.CASE.simplifications
    from labkit.explore import explore
    assert explore(prog).findings[0].schedule == sc.bug()


def test_case_module_keeps_odd_names_safe(tmp_path):
    # Names from a report are data: quotes, backslashes and triple quotes stay inside strings.
    text = (SPLATS / "mm_iommu.txt").read_text().replace("mem_list_mutex", 'odd"""\\lock\'s')
    sc = from_splat(text)
    assert sc.compare().agree
    mod = _import(sc.write(tmp_path / "odd.py"))
    assert signature(mod.CASE.program("report")) == signature(sc.program)


def test_export_writes_a_standalone_page(capsys, tmp_path):
    html = tmp_path / "kvm.html"
    code, out, _ = run(capsys, "from-splat", SPLATS / "kvm_vfio.txt", "--export", html)
    assert code == 0 and out.startswith(f"wrote {html}")
    page = html.read_text()
    assert 'id="labkit-data"' in page and "kvm_vfio_report" in page
    data = json.loads(re.search(r'<script type="application/json" id="labkit-data">(.*?)</script>', page, re.S)
                      .group(1))
    assert data["variants"][0]["id"] == "report"


def test_the_notebook_stepper_reads_the_scenario():
    pytest.importorskip("anywidget")
    sc = from_splat(SPLATS / "nilfs_syzbot.txt")
    w = sc.stepper(sc.bug())
    assert w.variant == "report" and w.shown == sc.bug()
    assert any(f.kind == "deadlock" for f in w.trace().findings)
    w.goto("CPU1*")
    assert w.shown == "CPU1 CPU1 CPU1 CPU1" and not w.trace().findings


def test_lab_from_splat_takes_a_path_or_text():
    from labkit import lab
    a = lab.from_splat(SPLATS / "mm_iommu.txt")
    b = lab.from_splat((SPLATS / "mm_iommu.txt").read_text())
    assert signature(a.program) == signature(b.program)
    bundle = a._repr_mimebundle_()
    assert "AGREE" in bundle["text/plain"] and "<pre>" in bundle["text/html"]


def test_the_module_docstring_describes_what_is_built():
    import labkit.fromsplat as fs
    doc = textwrap.dedent(fs.__doc__)
    for words in ("one cpu per dependency", "recursive", "does not invent", "AGREE"):
        assert words in doc


# --- the browser ----------------------------------------------------------------------------------

@pytest.mark.browser
def test_generated_standalone_page_clicks_to_the_deadlock(browser, tmp_path, artifacts_dir):
    from playwright.sync_api import expect
    from browserkit import page_with_errors
    sc = from_splat(SPLATS / "kvm_vfio_quoted.txt")
    steps = sc.bug().split()
    path = sc.export(tmp_path / "kvm_vfio_report.html")
    context = browser.new_context(viewport={"width": 1150, "height": 900})
    context.set_offline(True)
    try:
        page, errors = page_with_errors(context)
        page.goto(path.resolve().as_uri())
        st = page.locator(".lk-stepper")
        expect(st).to_be_visible()
        banner = st.locator('.lk-banner[role="alert"]')
        for i, cpu in enumerate(steps):
            button = st.locator(f'button[data-cpu="{cpu}"]')
            expect(button).to_be_enabled()
            button.click()
            if i < len(steps) - 1:
                expect(banner).to_be_hidden()
        expect(st.locator(".lk-pos")).to_have_text(f"step {len(steps)} of {len(steps)}")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text(f"Deadlock at step {len(steps)}")
        page.screenshot(path=str(artifacts_dir / "stepper_from_splat_kvm_vfio.png"), full_page=True)
    finally:
        context.close()
    assert not errors, errors
