"""docs/distributed.md's Keras examples run as written: a ragged-key model trained on 2 replicas
takes one sparse step per global batch, each key on the replica `key mod 2` names."""

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "distributed.md"


def test_keras_example(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    example = next(b for b in blocks if "logical_cpu_devices(2)" in b)
    namespace = {"__name__": "__doc__"}
    exec(compile(example, "distributed.md", "exec"), namespace)  # noqa: S102 (our own doc)
    assert capsys.readouterr().out.strip() == "2 4"
    table = namespace["table"]
    for shard, state in table.shard_states().items():
        assert int(state["step"]) == 4
        np.testing.assert_array_equal(np.mod(state["keys"].numpy(), 2), shard)
    assert int(table.size()) == len(np.unique(namespace["values"]))


def test_padded_pair_example(capsys):
    """The "Ragged keys in model.fit" block (after the example it builds on): Keras fit and
    evaluate on 2 replicas take the padded pair, one sparse step per global batch."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    first = next(b for b in blocks if "logical_cpu_devices(2)" in b)
    padded = next(b for b in blocks if "padded_keys" in b)
    namespace = {"__name__": "__doc__"}
    for block in (first, padded):
        exec(compile(block, "distributed.md", "exec"), namespace)  # noqa: S102 (our own doc)
    assert capsys.readouterr().out.strip().splitlines()[-1] == "8"
    assert np.isfinite(namespace["loss"])
    table = namespace["embedding"].table
    assert table.num_shards == 2 and int(table.size()) == len(np.unique(namespace["values"]))
