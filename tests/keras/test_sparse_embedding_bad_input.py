"""Bad keys and bad sizes reach SparseEmbedding users as clear errors (issue 13): never a silently
shortened `fit`/`predict`, a truncated float key, or a crashed process."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.isolated import run_python

from hugectr_tf.keras.layers import SparseEmbedding

SIZES = [10, 10]  # OneHot: key of each slot in [0, 10)
BATCHES, BATCH = 24, 8
BAD_BATCH = 15


def _one_hot_model():
    keys_in = keras.Input(shape=(2,), dtype="int64", name="keys")
    emb = SparseEmbedding(
        4,
        2,
        workspace_size_per_gpu_in_mb=1,
        embedding_type="LocalizedSlotSparseEmbeddingOneHot",
        slot_size_array=SIZES,
    )
    out = keras.layers.Dense(1)(keras.layers.Flatten()(emb(keys_in)))
    model = keras.Model(keys_in, out)
    model.compile(optimizer="sgd", loss="mse")
    return model


def _keys(bad):
    keys = np.random.default_rng(0).integers(0, 10, size=(BATCHES * BATCH, 2))
    if bad:
        keys[BAD_BATCH * BATCH + 3, 1] = 12  # slot 1 holds 10 keys
    return keys


class _CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1


def test_one_hot_key_outside_its_slot_stops_fit_with_an_error():
    model = _one_hot_model()
    y = np.zeros((BATCHES * BATCH, 1), np.float32)
    counter = _CountBatches()
    model.fit(_keys(False), y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[counter])
    assert counter.done == BATCHES  # the reference: every step runs on good data

    counter = _CountBatches()
    # Keras reads TensorFlow's OutOfRange as "end of data" and returns quietly after 15 of 24
    # steps; the key must come back as InvalidArgument naming the key, its slot and its size.
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"key 12 in slot 1 .*\[0, 10\)"):
        model.fit(_keys(True), y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[counter])
    assert counter.done < BATCHES  # (callbacks lag the steps, so the exact count varies)


def test_one_hot_key_outside_its_slot_stops_predict_with_an_error():
    model = _one_hot_model()
    assert model.predict(_keys(False), batch_size=BATCH, verbose=0).shape == (BATCHES * BATCH, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"key 12 in slot 1 .*\[0, 10\)"):
        model.predict(_keys(True), batch_size=BATCH, verbose=0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bool"])
def test_non_integer_keys_are_refused(dtype):
    layer = SparseEmbedding(4, 2, workspace_size_per_gpu_in_mb=1)
    flat = np.array([1.5, 2.0]).astype(dtype)
    ragged = tf.RaggedTensor.from_uniform_row_length(
        tf.RaggedTensor.from_row_lengths(flat, [1, 1]), 2
    )
    with pytest.raises(ValueError, match="expects integer keys. Received dtype"):
        layer(ragged, training=True)
    with pytest.raises(ValueError, match="expects integer keys. Received dtype"):
        layer(tf.constant(flat[np.newaxis]))
    # keras.Input(float32) in a functional model: fit and predict refuse it.
    inp = keras.Input(shape=(2,), dtype=dtype)
    model = keras.Model(inp, keras.layers.Flatten()(layer(inp)))
    model.compile(optimizer="sgd", loss="mse")
    x = flat[np.newaxis]
    with pytest.raises(ValueError, match="expects integer keys. Received dtype"):
        model.predict(x, verbose=0)
    with pytest.raises(ValueError, match="expects integer keys. Received dtype"):
        model.fit(x, np.zeros((1, 8), np.float32), verbose=0)


def test_bad_padded_pairs_are_named():
    layer = SparseEmbedding(4, 2, workspace_size_per_gpu_in_mb=1, name="emb")
    keys = tf.constant([[[1, 2], [3, 4]]], tf.int64)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most the padded width"):
        layer([keys, tf.constant([[1, 3]])], training=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`nnz` must be >= 0"):
        layer([keys, tf.constant([[1, -1]])], training=True)
    with pytest.raises(ValueError, match=r"`nnz` \[batch, slot_num=2\].*nnz of shape \(1, 3\)"):
        layer([keys, tf.constant([[1, 1, 1]])])
    with pytest.raises(ValueError, match="integer `nnz`. Received dtype float32"):
        layer([keys, tf.constant([[1.0, 1.0]])])
    with pytest.raises(ValueError, match=r"padded keys \[batch, slot_num=2, max_nnz\]"):
        layer([tf.constant([[1, 2]], tf.int64), tf.constant([[1, 1]])])
    with pytest.raises(ValueError, match="expects integer keys. Received dtype float32"):
        layer([tf.cast(keys, tf.float32), tf.constant([[1, 1]])])


def test_uint64_keys_keep_all_64_bits():
    layer = SparseEmbedding(4, 1, workspace_size_per_gpu_in_mb=1)
    big = np.array([[2**63 + 5], [5], [2**64 - 1]], np.uint64)
    out = layer(tf.constant(big), training=True).numpy()
    # 2^63 + 5 and 5 are distinct keys: distinct rows.
    assert not np.array_equal(out[0], out[1])
    keys = layer.table.export()["keys"].numpy()
    # The table holds the same 64 bits (int64 k - 2^64), so the key file reads back as uint64.
    assert sorted(keys.view(np.uint64).tolist()) == sorted([2**63 + 5, 5, 2**64 - 1])
    same = layer(tf.constant([[-(2**63) + 5], [5], [-1]], tf.int64)).numpy()
    np.testing.assert_array_equal(same, out)


def test_workspace_too_large_to_address_is_an_error_not_a_crash():
    # Run apart: before the fix, the capacity product overflowed and the process segfaulted.
    code = """
    import json
    import numpy as np
    import tensorflow as tf
    import hugectr_tf as hugectr
    from hugectr_tf.keras.layers import SparseEmbedding

    out = {}
    keys = tf.constant(np.arange(5000).reshape(5000, 1), tf.int64)
    for mb in (10**14, 10**12, float("inf")):
        try:
            SparseEmbedding(16, 1, workspace_size_per_gpu_in_mb=mb, optimizer="SGD")(
                keys, training=True
            )
            out[str(mb)] = "no error"
        except Exception as err:
            out[str(mb)] = f"{type(err).__name__}: {err}"
    solver = hugectr.CreateSolver(batchsize=8, batchsize_eval=8, lr=0.1)
    reader = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm, source=["x"], eval_source="x",
        check_type=hugectr.Check_t.Non,
    )
    model = hugectr.Model(solver, reader, hugectr.CreateOptimizer())
    model.add(hugectr.Input(label_dim=1, label_name="label", dense_dim=1, dense_name="dense",
        data_reader_sparse_param_array=[hugectr.DataReaderSparseParam("data1", 1, True, 1)]))
    try:
        model.add(hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
            workspace_size_per_gpu_in_mb=10**14, embedding_vec_size=16, combiner="sum",
            sparse_embedding_name="e", bottom_name="data1", optimizer=hugectr.CreateOptimizer(
                optimizer_type=hugectr.Optimizer_t.SGD)))
        out["model"] = "no error"
    except Exception as err:
        out["model"] = f"{type(err).__name__}: {err}"
    print(json.dumps(out))
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    too_big = r"`workspace_size_per_gpu_in_mb` must be a positive number below 2\^43"
    for case in ("100000000000000", "inf", "model"):
        assert out[case].split(":")[0] in ("InvalidArgumentError", "ValueError"), out[case]
        assert "workspace_size_per_gpu_in_mb" in out[case], out[case]
    assert re.search(too_big, out["100000000000000"]), out
    # Within int64 but beyond the machine's address space: a clear resource error.
    assert out["1000000000000"].startswith("ResourceExhaustedError"), out
    assert "workspace_size_per_gpu_in_mb" in out["1000000000000"], out
