"""`hugectr_tf.keras.serving.export`: SavedModels with a ragged endpoint, live or frozen tables,
loaded in fresh interpreters (the frozen one never imports hugectr_tf)."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.keras.layers import SparseEmbedding
from hugectr_tf.keras.serving import export

SLOTS, VEC = 3, 4


def ragged(rows):
    return tf.ragged.constant(rows, dtype=tf.int64, ragged_rank=2)


def trained_model(dict_inputs):
    keys = keras.Input(shape=(SLOTS, None), dtype="int64", ragged=True, name="keys")
    dense = keras.Input(shape=(2,), name="dense")
    emb = SparseEmbedding(VEC, SLOTS, combiner="mean", workspace_size_per_gpu_in_mb=1)(keys)
    x = keras.layers.Concatenate()([keras.layers.Reshape((SLOTS * VEC,))(emb), dense])
    inputs = {"keys": keys, "dense": dense} if dict_inputs else [keys, dense]
    model = keras.Model(inputs, keras.layers.Dense(1, name="logit")(x))
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    rows = [
        [list(rng.integers(0, 12, rng.integers(1, 3))) for _ in range(SLOTS)] for _ in range(32)
    ]
    train = {"keys": ragged(rows), "dense": tf.constant(rng.normal(size=(32, 2)), tf.float32)}
    x = train if dict_inputs else [train["keys"], train["dense"]]
    model.fit(x, rng.normal(size=(32, 1)), batch_size=8, epochs=2, verbose=0)
    return model


# Known keys, a repeated key, an unknown key (99), an empty slot.
PROBE_KEYS = [[[1, 2], [2], [99]], [[4], [], [5, 11]]]
PROBE_DENSE = [[0.5, -1.0], [2.0, 0.25]]

LOADER = """
import json, sys
import numpy as np
import tensorflow as tf
{imports}
served = {load}(sys.argv[1])
keys = tf.ragged.constant({keys!r}, dtype=tf.int64, ragged_rank=2)
dense = tf.constant({dense!r}, tf.float32)
inputs = {{"keys": keys, "dense": dense}} if {dict_inputs} else [keys, dense]
ragged_out = served.serve(inputs)["outputs"].numpy()
plain_out = served.signatures["serving_default"](
    dense=dense, keys_values=keys.flat_values, keys_row_splits=keys.values.row_splits
)["outputs"].numpy()
print(json.dumps({{"ragged": ragged_out.tolist(), "plain": plain_out.tolist(),
                  "plugin": any(m.startswith("hugectr_tf") for m in sys.modules)}}))
"""


def load_in_fresh_process(path, frozen, dict_inputs):
    imports = "" if frozen else "import hugectr_tf.keras.serving"
    load = "tf.saved_model.load" if frozen else "hugectr_tf.keras.serving.load"
    script = LOADER.format(
        imports=imports, load=load, keys=PROBE_KEYS, dense=PROBE_DENSE, dict_inputs=dict_inputs
    )
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "live"])
@pytest.mark.parametrize("dict_inputs", [True, False], ids=["dict", "list"])
def test_export_serves_ragged_inputs_in_a_fresh_process(tmp_path, frozen, dict_inputs):
    model = trained_model(dict_inputs)
    keys, dense = ragged(PROBE_KEYS), tf.constant(PROBE_DENSE, tf.float32)
    want = model({"keys": keys, "dense": dense} if dict_inputs else [keys, dense]).numpy()
    names = export(model, str(tmp_path / "saved"), freeze_tables=frozen)
    assert names == ["dense", "keys_row_splits", "keys_values"]
    got = load_in_fresh_process(tmp_path / "saved", frozen, dict_inputs)
    assert got["plugin"] is (not frozen)  # the frozen model loads with TensorFlow alone
    np.testing.assert_allclose(np.array(got["ragged"]), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.array(got["plain"]), want, rtol=1e-6, atol=1e-6)


def test_single_input_model_with_an_empty_table(tmp_path):
    keys = keras.Input(shape=(SLOTS,), dtype="int64", name="x")
    model = keras.Model(keys, SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=1)(keys))
    assert export(model, str(tmp_path / "one"), freeze_tables=True) == ["x"]
    loaded = tf.saved_model.load(str(tmp_path / "one"))
    out = loaded.serve(tf.constant([[1, 0, 3]], tf.int64))["outputs"]  # nothing was trained
    np.testing.assert_array_equal(out.numpy(), np.zeros((1, SLOTS, VEC)))
