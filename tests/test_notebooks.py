"""Every notebook's code cells run top to bottom (without Jupyter: the cells are plain Python)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    cells = json.loads(path.read_text())["cells"]
    source = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    namespace = {"__name__": "__notebook__"}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 (our own notebook)
    assert 0.5 < namespace["auc"] <= 1.0
