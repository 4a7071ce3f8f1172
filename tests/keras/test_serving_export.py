"""A SavedModel with frozen tables loads and predicts in a process that never loads the plugin."""

import json
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

import hugectr_tf as hugectr
from hugectr_tf.keras.layers import SparseEmbedding
from hugectr_tf.keras.serving import export_for_serving

SLOTS, VEC = 3, 4


def _ragged(values, lengths):
    inner = tf.RaggedTensor.from_row_lengths(tf.constant(values, tf.int64), lengths)
    return tf.RaggedTensor.from_uniform_row_length(inner, SLOTS)


def _model(combiner, embedding_type="DistributedSlotSparseEmbeddingHash", sizes=None):
    keys = keras.Input(shape=(SLOTS, None), dtype="int64", ragged=True, name="keys")
    dense = keras.Input(shape=(2,), name="dense")
    emb = SparseEmbedding(
        VEC, SLOTS, combiner=combiner, workspace_size_per_gpu_in_mb=1,
        embedding_type=embedding_type, slot_size_array=sizes,
        optimizer=hugectr.CreateOptimizer(optimizer_type=hugectr.Optimizer_t.SGD),
        learning_rate=0.1,
    )(keys)  # fmt: skip
    x = keras.layers.Concatenate()([keras.layers.Reshape((SLOTS * VEC,))(emb), dense])
    model = keras.Model({"keys": keys, "dense": dense}, keras.layers.Dense(1, name="logit")(x))
    model.compile(optimizer="sgd", loss="mse")
    return model


def _check(model, tmp_path, values, lengths):
    # Train a little so the table holds keys 0..9 with trained rows.
    train = {"keys": _ragged(list(range(9)), [1] * 9), "dense": np.ones((3, 2), np.float32)}
    model.fit(train, np.ones((3, 1), np.float32), epochs=2, verbose=0)
    path = tmp_path / "served"
    names = export_for_serving(model, str(path))
    assert names == ["dense", "keys_row_splits", "keys_values"]
    batch = {"keys": _ragged(values, lengths), "dense": tf.fill((2, 2), 0.5)}
    want = model(batch, training=False).numpy()
    splits = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    script = f"""
import json, numpy as np, tensorflow as tf
served = tf.saved_model.load({str(path)!r})
out = served.signatures["serving_default"](
    dense=tf.constant(np.full((2, 2), 0.5, np.float32)),
    keys_values=tf.constant({list(values)!r}, tf.int64),
    keys_row_splits=tf.constant({splits!r}, tf.int64))["outputs"]
import sys
print(json.dumps({{"out": out.numpy().tolist(), "plugin": "hugectr_tf" in sys.modules}}))
"""
    # A fresh interpreter that imports only TensorFlow: no custom op library is loaded.
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["plugin"] is False
    np.testing.assert_allclose(np.array(got["out"]), want, rtol=1e-6, atol=1e-6)


def test_hash_table_serves_without_the_plugin_sum(tmp_path):
    # Known keys, a repeated key, an unknown key (99) and an empty slot.
    _check(_model("sum"), tmp_path, [1, 2, 2, 99, 4, 5], [1, 2, 0, 1, 1, 1])


def test_hash_table_serves_without_the_plugin_mean(tmp_path):
    _check(_model("mean"), tmp_path, [1, 2, 99, 3, 4, 5], [3, 0, 1, 1, 0, 1])


def test_onehot_table_serves_without_the_plugin(tmp_path):
    model = _model("sum", "LocalizedSlotSparseEmbeddingOneHot", [3, 3, 3])
    inputs = {"keys": _ragged([0, 1, 2, 0, 1, 2, 0, 1, 2], [1] * 9), "dense": tf.ones((3, 2))}
    model.fit(inputs, np.ones((3, 1), np.float32), epochs=1, verbose=0)
    path = tmp_path / "onehot"
    export_for_serving(model, str(path))
    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["serving_default"](
        dense=tf.ones((3, 2)),
        keys_values=tf.constant([0, 1, 2, 0, 1, 2, 0, 1, 2], tf.int64),
        keys_row_splits=tf.constant(list(range(10)), tf.int64),
    )["outputs"]
    np.testing.assert_allclose(
        out.numpy(), model(inputs, training=False).numpy(), rtol=1e-6, atol=1e-6
    )
