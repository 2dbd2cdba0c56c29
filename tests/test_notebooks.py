"""Every notebook runs top to bottom on a fresh kernel and is stored without outputs."""

import json

import nbformat
import pytest
from nbclient import NotebookClient

# Names starting with "_" are templates (notebooks/_template.ipynb: tests/test_site.py runs it on a tiny case).
NOTEBOOKS = sorted(p for p in __import__("pathlib").Path(__file__).resolve().parents[1].joinpath("notebooks")
                   .glob("*.ipynb") if not p.name.startswith("_"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    for i, c in enumerate(cells):
        if c["cell_type"] == "code":
            assert not c["outputs"] and c["execution_count"] is None, f"{path.name}: cell {i} has outputs"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_restart_and_run_all(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        errors = [o for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: cell {i}: {errors[0].ename}: {errors[0].evalue}"
        streams = "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream" and o.name == "stderr")
        assert "Traceback" not in streams, f"{path.name}: cell {i} wrote a traceback"
        if not c.source.startswith(("import ", "from ")):
            assert c.outputs, f"{path.name}: cell {i} shows nothing"
