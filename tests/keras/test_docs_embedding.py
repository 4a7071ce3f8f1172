"""The Keras example of docs/embedding.md runs as written."""

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"


def test_how_the_table_follows_keras_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    block = next(b for b in blocks if "EarlyStopping(" in b)
    namespace = {}
    exec(block, namespace)  # noqa: S102 (our own docs)
    table = namespace["table"]
    assert table.size() > 0
    assert f"{table.size() * 8:,}" in capsys.readouterr().out  # summary() counts the rows
    assert np.isfinite(namespace["model"].predict(namespace["x"][:4], verbose=0)).all()
