"""SparseEmbedding as a Keras layer: plain model.fit, AUC, seen/unseen keys, config, freezing."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import embedding_reference as ref
from helpers.layer_test import check_layer
from sklearn.metrics import roc_auc_score

import hugectr_tf
from hugectr_tf.keras.layers import SparseEmbedding

SLOTS = 4


def synthetic(rng, n, vocab, scores):
    """Batches shaped like the data reader's: label, dense (noise) and ragged keys.

    The label is the sign of the sum of hidden per-key scores: only the keys carry signal.
    """
    keys, labels = [], []
    for _ in range(n):
        sample = [list(rng.integers(0, vocab, rng.integers(1, 4))) for _ in range(SLOTS)]
        logit = sum(scores[k] for slot in sample for k in slot)
        keys.append(sample)
        labels.append([float(logit > 0)])
    return {
        "label": np.float32(labels),
        "dense": rng.normal(size=(n, 5)).astype(np.float32),
        "keys": tf.ragged.constant(keys, dtype=tf.int64, ragged_rank=2),
    }


def dataset(batch, size):
    ds = tf.data.Dataset.from_tensor_slices(batch).batch(size)
    return ds.map(lambda b: ({"dense": b["dense"], "keys": b["keys"]}, b["label"]))


def build_model(with_embedding, optimizer=None, learning_rate=0.01, **layer_kw):
    dense_in = keras.Input(shape=(5,), name="dense")
    keys_in = keras.Input(shape=(SLOTS, None), dtype="int64", ragged=True, name="keys")
    features = [dense_in]
    layer = None
    if with_embedding:
        layer = SparseEmbedding(
            8,
            SLOTS,
            workspace_size_per_gpu_in_mb=4,
            optimizer=optimizer,
            learning_rate=learning_rate,
            **layer_kw,
        )
        features.append(keras.layers.Reshape((SLOTS * 8,))(layer(keys_in)))
    x = keras.layers.Concatenate()(features) if len(features) > 1 else features[0]
    x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    inputs = {"dense": dense_in, "keys": keys_in}
    model = keras.Model(inputs, out)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model, layer


def test_check_layer_dense_keys():
    keys = np.random.default_rng(0).integers(0, 50, size=(6, 3)).astype(np.int64)
    out = check_layer(
        SparseEmbedding,
        {"embedding_vec_size": 4, "slot_num": 3, "workspace_size_per_gpu_in_mb": 1},
        keys,
        expected_output_shape=(6, 3, 4),
        expect_trainable_change=False,  # the table is not a Keras weight; checked below
    )
    # Eager call without training: nothing was inserted, every key is a miss -> zeros.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), np.zeros((6, 3, 4)))


def test_fit_learns_keys_auc_and_seen_unseen_rows():
    rng = np.random.default_rng(0)
    vocab = 600
    scores = rng.normal(size=vocab + 100)
    train = synthetic(rng, 6000, vocab, scores)
    test = synthetic(rng, 1500, vocab, scores)

    model, layer = build_model(True, learning_rate=0.05)
    model.fit(dataset(train, 200), epochs=4, verbose=0)
    p = model.predict(dataset(test, 500), verbose=0)
    auc = roc_auc_score(test["label"][:, 0], p[:, 0])
    assert auc >= 0.9, auc

    baseline, _ = build_model(False)
    baseline.fit(dataset(train, 200), epochs=4, verbose=0)
    auc_base = roc_auc_score(test["label"][:, 0], baseline.predict(dataset(test, 500), verbose=0))
    assert auc_base < 0.6, auc_base

    # Seen keys have rows that moved away from their initial value.
    seen = np.unique(train["keys"].flat_values.numpy())
    state = layer.table.export()
    np.testing.assert_array_equal(state["keys"].numpy(), seen)
    init = np.stack([ref.init_row(int(k), 0, 8) for k in seen])
    assert np.all(np.any(state["rows"].numpy() != init, axis=1))
    # Predict on keys never trained on: they are not inserted.
    unseen = {
        "dense": np.zeros((2, 5), np.float32),
        "keys": tf.ragged.constant([[[vocab + 1]] * SLOTS, [[vocab + 2], [], [], [3]]]),
    }
    size = layer.size()
    model.predict(unseen, verbose=0)
    assert layer.size() == size
    assert not np.isin([vocab + 1, vocab + 2], layer.table.export()["keys"].numpy()).any()
    # Each trained step applied one sparse update: 6000 / 200 * 4 epochs.
    assert int(layer.table.stats()["step"]) == 120


def test_freeze_and_learning_rate_stop_table_changes():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=300)
    data = synthetic(rng, 400, 200, scores)
    model, layer = build_model(True)
    model.fit(dataset(data, 100), epochs=1, verbose=0)
    before = {k: v.numpy() for k, v in layer.table.export().items()}

    layer.set_learning_rate(0.0)  # Adam with rate 0: moments move, rows stay
    model.fit(dataset(data, 100), epochs=1, verbose=0)
    after = layer.table.export()
    np.testing.assert_array_equal(after["rows"].numpy(), before["rows"])
    assert int(after["step"]) == int(before["step"]) + 4

    layer.set_learning_rate(0.01)
    layer.trainable = False
    model.compile(optimizer="adam", loss="binary_crossentropy")  # recompile after freezing
    other = synthetic(rng, 100, 250, scores)  # holds keys 200..249, never seen
    model.fit(dataset(other, 50), epochs=1, verbose=0)
    frozen = layer.table.export()
    np.testing.assert_array_equal(frozen["rows"].numpy(), after["rows"].numpy())
    np.testing.assert_array_equal(frozen["keys"].numpy(), after["keys"].numpy())
    assert int(frozen["step"]) == int(after["step"])


def test_config_round_trip_and_optimizer_forms():
    opt = hugectr_tf.CreateOptimizer(
        optimizer_type=hugectr_tf.Optimizer_t.MomentumSGD,
        update_type=hugectr_tf.Update_t.LazyGlobal,
        momentum_factor=0.5,
    )
    layer = SparseEmbedding(
        4,
        2,
        combiner="mean",
        workspace_size_per_gpu_in_mb=2,
        optimizer=opt,
        embedding_type=hugectr_tf.Embedding_t.LocalizedSlotSparseEmbeddingHash,
        learning_rate=0.1,
        seed=5,
    )
    config = layer.get_config()
    assert config["optimizer"]["optimizer_type"] == "MomentumSGD"
    assert config["embedding_type"] == "LocalizedSlotSparseEmbeddingHash"
    clone = SparseEmbedding.from_config(config)
    assert clone.get_config() == config
    assert clone.optimizer == opt
    assert SparseEmbedding(4, 2, optimizer="SGD").optimizer.optimizer_type.name == "SGD"
    assert SparseEmbedding(4, 2, optimizer={"optimizer_type": "AdaGrad"}).optimizer == (
        hugectr_tf.CreateOptimizer(optimizer_type="AdaGrad")
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="embedding_vec_size=0"):
        SparseEmbedding(0, 2)
    with pytest.raises(ValueError, match="combiner='max'"):
        SparseEmbedding(4, 2, combiner="max")
    with pytest.raises(ValueError, match="optimizer=42"):
        SparseEmbedding(4, 2, optimizer=42)
    with pytest.raises(ValueError, match="slot_size_array=None"):
        SparseEmbedding(4, 2, embedding_type="LocalizedSlotSparseEmbeddingOneHot")
    with pytest.raises(ValueError, match="workspace_size_per_gpu_in_mb=-1"):
        SparseEmbedding(4, 2, workspace_size_per_gpu_in_mb=-1)
    layer = SparseEmbedding(4, 2, workspace_size_per_gpu_in_mb=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="slot_num=2 slots"):
        layer(tf.ragged.constant([[[1], [2], [3]]], dtype=tf.int64), training=True)


def test_overflow_through_the_layer_says_mb_needed():
    layer = SparseEmbedding(64, 1, workspace_size_per_gpu_in_mb=1)
    keys = tf.constant(np.arange(2000).reshape(2000, 1))
    with pytest.raises(tf.errors.ResourceExhaustedError, match="needs at least 2 MB"):
        layer(keys, training=True)


def test_fit_with_steps_per_execution_applies_every_step():
    rng = np.random.default_rng(2)
    data = synthetic(rng, 300, 100, rng.normal(size=200))
    model, layer = build_model(True)
    model.compile(optimizer="adam", loss="binary_crossentropy", steps_per_execution=3)
    model.fit(dataset(data, 50), epochs=2, verbose=0)  # 6 batches per epoch in a tf.while_loop
    assert int(layer.table.stats()["step"]) == 12


def test_padded_pair_holds_the_ragged_keys():
    """[keys, nnz] (the form Keras' fit can split across replicas, docs/distributed.md) looks up
    and trains exactly as the ragged keys it pads; the padding's values are ignored."""
    ragged = tf.ragged.constant([[[5, -3], []], [[7], [0, 0, 9]]], dtype=tf.int64)
    keys, nnz = hugectr_tf.keras.padded_keys(ragged, 2)
    # Written out by hand: slot (b, s) holds keys[b, s, :nnz[b, s]], zeros after.
    np.testing.assert_array_equal(keys, [[[5, -3, 0], [0, 0, 0]], [[7, 0, 0], [0, 0, 9]]])
    np.testing.assert_array_equal(nnz, [[2, 0], [1, 3]])
    garbage = tf.where(tf.sequence_mask(nnz, 3), keys, 123456)

    def trained(inputs):
        layer = SparseEmbedding(4, 2, combiner="mean", learning_rate=0.1, name="emb")
        out = [layer(inputs, training=True) for _ in range(2)]  # inserts, then the new rows
        return out[-1].numpy(), {k: v.numpy() for k, v in layer.table.export().items()}

    want_out, want_table = trained(ragged)
    for inputs in ([keys, nnz], (garbage, tf.cast(nnz, tf.int32))):
        out, table = trained(inputs)
        np.testing.assert_array_equal(out, want_out)
        np.testing.assert_array_equal(np.sort(table["keys"]), [-3, 0, 5, 7, 9])
        for name in ("keys", "rows", "slot_ids"):
            np.testing.assert_array_equal(table[name], want_table[name])
