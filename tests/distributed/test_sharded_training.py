"""N replicas train a SparseEmbedding model exactly as one replica does on the same global batches.

Reference: the same model (same initial weights, same seed of the table) trained without any
strategy. After 2 epochs with sparse Adam the predictions agree within 1e-4 and the merged table
(keys, slot ids, rows, optimizer state, step counters) equals the one-replica table; each key
lives on exactly one replica, the one the split rule names.
"""

import contextlib
import functools
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from distributed_models import (
    STEPS,
    assert_same_table,
    build,
    dense_keys,
    labels,
    mirrored,
    padded_batches,
    ragged_keys,
    table_state,
    train_custom_loop,
    train_fit,
)

TYPES = ("DistributedSlotSparseEmbeddingHash", "LocalizedSlotSparseEmbeddingHash")


def _keys(ragged):
    return ragged_keys() if ragged else dense_keys()


def _train(ragged, combiner, embedding_type, strategy):
    """Trains the test model (custom loop for ragged keys, Keras fit for dense keys)."""
    if strategy is None:
        model = build(ragged, combiner, embedding_type)
    else:
        with strategy.scope():
            model = build(ragged, combiner, embedding_type)
    keys, y = _keys(ragged), labels()
    if ragged:
        train_custom_loop(model, keys, y)
    else:
        train_fit(model, keys, y)
    return model


@functools.cache
def _reference(ragged, combiner, embedding_type):
    model = _train(ragged, combiner, embedding_type, None)
    return model(_keys(ragged), training=False).numpy(), table_state(model)


@pytest.mark.parametrize("ragged", [True, False], ids=["ragged", "dense"])
@pytest.mark.parametrize("combiner", ["sum", "mean"])
@pytest.mark.parametrize("embedding_type", TYPES)
@pytest.mark.parametrize("num_replicas", [2, 4])
def test_replicas_reproduce_one_replica(num_replicas, embedding_type, combiner, ragged):
    want_pred, want_table = _reference(ragged, combiner, embedding_type)
    model = _train(ragged, combiner, embedding_type, mirrored(num_replicas))
    table = model.get_layer("emb").table
    assert table.num_shards == num_replicas

    np.testing.assert_allclose(model(_keys(ragged), training=False), want_pred, atol=1e-4)
    # Keras' predict runs the replicas' inference exchange (ragged keys too: predict, unlike
    # fit/evaluate, does not reduce its first batch)
    predicted = model.predict(_keys(ragged), batch_size=16, verbose=0)
    np.testing.assert_allclose(predicted, want_pred, atol=1e-4)
    state = table_state(model)
    assert_same_table(state, want_table)
    assert int(state["step"]) == STEPS  # one sparse step per global step, not one per replica

    by_slot = embedding_type.startswith("Localized")
    seen = []
    for shard, part in table.shard_states().items():
        assert int(part["step"]) == STEPS
        owner_of = part["slot_ids"] if by_slot else part["keys"]
        np.testing.assert_array_equal(np.mod(owner_of.numpy(), num_replicas), shard)
        seen.append(part["keys"].numpy())
    all_keys = np.concatenate(seen)
    assert len(all_keys) == len(set(all_keys.tolist())) == len(want_table["keys"])


@functools.cache
def _ragged_fit_reference(combiner, embedding_type):
    """One replica, Keras fit/evaluate on the ragged keys themselves."""
    model = build(True, combiner, embedding_type)
    keys, y = ragged_keys(), labels()
    train_fit(model, keys, y)
    loss = model.evaluate(keys, y, batch_size=16, verbose=0)
    return model(keys, training=False).numpy(), loss, table_state(model)


@pytest.mark.parametrize(
    "num_replicas, embedding_type, combiner",
    [(2, t, c) for t in TYPES for c in ("sum", "mean")] + [(4, TYPES[0], "mean")],
)
def test_fit_on_padded_keys_reproduces_one_replica_on_ragged_keys(
    num_replicas, embedding_type, combiner
):
    """Keras' fit/evaluate cannot split ragged batches across replicas (see
    test_ragged_keys_under_a_strategy_warn_that_fit_needs_the_padded_pair); the same keys as the
    padded pair [keys, nnz] train N replicas exactly as ragged keys train one."""
    want_pred, want_loss, want_table = _ragged_fit_reference(combiner, embedding_type)
    with mirrored(num_replicas).scope():
        model = build(False, combiner, embedding_type, padded=True)
    batches = padded_batches(ragged_keys(), labels())
    train_fit(model, batches)

    assert model.get_layer("emb").table.num_shards == num_replicas
    features = batches.map(lambda x, y: (x,))
    np.testing.assert_allclose(model.predict(features, verbose=0), want_pred, atol=1e-4)
    np.testing.assert_allclose(model.evaluate(batches, verbose=0), want_loss, atol=1e-5)
    state = table_state(model)
    assert_same_table(state, want_table)
    assert int(state["step"]) == STEPS


def test_ragged_keys_under_a_strategy_warn_that_fit_needs_the_padded_pair():
    """Keras 3's fit reduces the first batch with `strategy.reduce` before any layer runs, which
    TensorFlow cannot do for a RaggedTensor: the model says so when it is built, naming the
    padded pair. (If a Keras release lifts the limit, the `raises` below fails: drop the
    warning and this test.)"""
    with mirrored(2).scope():
        with pytest.warns(UserWarning, match=r"padded pair \[keys, nnz\]"):
            model = build(True)
    with pytest.raises(AttributeError, match="'RaggedTensor' object has no attribute 'device'"):
        train_fit(model, ragged_keys(), labels())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither the padded pair nor one replica warns
        with mirrored(2).scope():
            build(False, padded=True)
        build(True)


def test_onehot_table_split_by_slot():
    sizes = [60, 60, 60]
    keys = tf.ragged.map_flat_values(lambda v: tf.math.floormod(v, 60), ragged_keys())
    y = labels()

    def run(strategy):
        kw = dict(slot_size_array=sizes)
        if strategy is None:
            model = build(True, "sum", "LocalizedSlotSparseEmbeddingOneHot", **kw)
        else:
            with strategy.scope():
                model = build(True, "sum", "LocalizedSlotSparseEmbeddingOneHot", **kw)
        train_custom_loop(model, keys, y)
        return model

    want = run(None)
    got = run(mirrored(2))
    np.testing.assert_allclose(got(keys, training=False), want(keys, training=False), atol=1e-4)
    assert_same_table(table_state(got), table_state(want))


def test_table_following_keras_under_replicas():
    """The table follows the compiled optimizer's rate, draws new rows from a Keras
    initializer and is regularized, on 2 replicas as on one (the shards' regularization counts
    once per step, not once per replica)."""
    options = dict(
        learning_rate=None,
        embeddings_initializer="glorot_uniform",
        embeddings_regularizer=keras.regularizers.L2(0.01),
    )

    def run(strategy):
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = build(False, "mean", TYPES[1], **options)
        train_fit(model, dense_keys(), labels())
        return model

    want, got = run(None), run(mirrored(2))
    keys = dense_keys()
    np.testing.assert_allclose(got(keys, training=False), want(keys, training=False), atol=1e-4)
    assert_same_table(table_state(got), table_state(want))


def test_default_collective_cross_device_ops():
    """The strategy a user writes: `MirroredStrategy(devices)` with TensorFlow's collectives (in
    a process of its own: TensorFlow allows one such strategy per process). Ragged keys train;
    `model.fit` for 8 steps leaves the step counter at 8 (the issue's report: 16)."""
    script = Path(__file__).with_name("collective_run.py")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "ragged custom loop: largest difference" in out.stdout
    assert "dense fit: step counter 8 after 8 steps" in out.stdout


def test_replicas_with_unequal_and_empty_shares():
    """A short global batch: replicas get 3, 0, 2 and 0 samples; still one global step."""
    keys, y = ragged_keys(samples=5), labels(samples=5)
    shares = [(0, 3), (3, 3), (3, 5), (5, 5)]

    reference = build(True)
    strategy = mirrored(4)
    with strategy.scope():
        model = build(True)

    def loss_of(m, x, yy):
        return tf.reduce_sum(tf.square(m(x, training=True) - yy)) / 5.0

    with tf.GradientTape() as tape:
        loss = loss_of(reference, keys, y)
    ref_grads = tape.gradient(loss, reference.trainable_variables)

    def replica_step(x, yy):
        with tf.GradientTape() as tape:
            loss = loss_of(model, x, yy)
        grads = tape.gradient(loss, model.trainable_variables)
        return tf.distribute.get_replica_context().all_reduce("sum", grads)

    x = strategy.experimental_distribute_values_from_function(
        lambda ctx: keys[slice(*shares[ctx.replica_id_in_sync_group])]
    )
    yy = strategy.experimental_distribute_values_from_function(
        lambda ctx: y[slice(*shares[ctx.replica_id_in_sync_group])]
    )
    grads = tf.function(lambda x, yy: strategy.run(replica_step, args=(x, yy)))(x, yy)
    for got, want in zip(strategy.experimental_local_results(grads)[0], ref_grads):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert_same_table(table_state(model), table_state(reference), atol=1e-6)
    assert int(table_state(model)["step"]) == 1
