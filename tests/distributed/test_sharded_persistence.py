"""A sharded table saves the WHOLE table and restores into any number of replicas.

A table trained on 2 replicas is written with tf.train.Checkpoint, Keras weights files, `.keras`
files, HugeCTR sparse model folders + optimizer-state files and export_for_serving, then read into
4 replicas and into an unsharded model (a table split by key, trained on 4 replicas, into 2 and
1): the merged state is the saved one, each new shard holds exactly the keys the split rule gives
it, and predictions do not change.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from distributed_models import (
    assert_same_table,
    build,
    labels,
    mirrored,
    ragged_keys,
    table_state,
    train_custom_loop,
)

from hugectr_tf.keras.serving import export_for_serving

KEYS = ragged_keys()


def _model(strategy=None, embedding_type="LocalizedSlotSparseEmbeddingHash"):
    if strategy is None:
        return build(True, "mean", embedding_type)
    with strategy.scope():
        return build(True, "mean", embedding_type)


@pytest.fixture(scope="module")
def trained():
    """A model trained on 2 replicas (Localized: the split by slot needs the saved slot ids)."""
    model = _model(mirrored(2))
    train_custom_loop(model, KEYS, labels())
    return model


def _check_restored(model, saved, num_shards, by_slot=True):
    state = table_state(model)
    for name, value in saved.items():
        np.testing.assert_array_equal(state[name], value, err_msg=name)
    if num_shards > 1:
        for shard, part in model.get_layer("emb").table.shard_states().items():
            owner_of = part["slot_ids" if by_slot else "keys"].numpy()
            np.testing.assert_array_equal(np.mod(owner_of, num_shards), shard)


@pytest.mark.parametrize("num_replicas", [1, 4])
def test_checkpoint_from_two_replicas_restores_into_any_number(trained, tmp_path, num_replicas):
    path = tf.train.Checkpoint(model=trained).write(str(tmp_path / "ckpt"))
    model = _model(mirrored(num_replicas) if num_replicas > 1 else None)
    tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched()
    _check_restored(model, table_state(trained), num_replicas)
    np.testing.assert_array_equal(model(KEYS, training=False), trained(KEYS, training=False))


def test_table_split_by_key_reshards_from_four_replicas(tmp_path):
    """DistributedSlotSparseEmbeddingHash (split by key) trained on 4 replicas: its checkpoint
    and `.keras` file restore into 2 replicas and into one, each shard holding `key mod N`."""
    dist = "DistributedSlotSparseEmbeddingHash"
    four = _model(mirrored(4), dist)
    train_custom_loop(four, KEYS, labels())
    saved, want = table_state(four), four(KEYS, training=False)
    path = tf.train.Checkpoint(model=four).write(str(tmp_path / "ckpt"))
    four.save(tmp_path / "m.keras")
    for strategy, shards in ((mirrored(2), 2), (None, 1)):
        model = _model(strategy, dist)
        tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched()
        _check_restored(model, saved, shards, by_slot=False)
        # A slot's keys now sum over other shards' partials: the order of additions changes.
        np.testing.assert_allclose(model(KEYS, training=False), want, atol=1e-6)
    with mirrored(2).scope():
        loaded = keras.models.load_model(tmp_path / "m.keras")
    _check_restored(loaded, saved, 2, by_slot=False)


def test_unsharded_checkpoint_restores_into_replicas_and_training_continues_alike(tmp_path):
    one = _model()
    train_custom_loop(one, KEYS, labels())
    path = tf.train.Checkpoint(model=one).write(str(tmp_path / "ckpt"))
    strategy = mirrored(2)
    two = _model(strategy)
    tf.train.Checkpoint(model=two).read(path).assert_existing_objects_matched()
    _check_restored(two, table_state(one), 2)
    # The optimizer state came along: one more round of training stays in step.
    train_custom_loop(one, KEYS, labels(seed=3))
    train_custom_loop(two, KEYS, labels(seed=3))
    np.testing.assert_allclose(two(KEYS, training=False), one(KEYS, training=False), atol=1e-4)
    assert_same_table(table_state(two), table_state(one))


def test_keras_weights_and_keras_file_across_replica_counts(trained, tmp_path):
    trained.save_weights(tmp_path / "w.weights.h5")
    four = _model(mirrored(4))
    four.load_weights(tmp_path / "w.weights.h5")
    _check_restored(four, table_state(trained), 4)

    trained.save(tmp_path / "m.keras")
    with mirrored(4).scope():
        loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("emb").table.num_shards == 4
    _check_restored(loaded, table_state(trained), 4)
    single = keras.models.load_model(tmp_path / "m.keras")
    _check_restored(single, table_state(trained), 1)
    np.testing.assert_array_equal(single(KEYS, training=False), trained(KEYS, training=False))


def test_hugectr_sparse_model_folder_and_optimizer_states(trained, tmp_path):
    layer = trained.get_layer("emb")
    layer.export_sparse_model(tmp_path / "sparse.model")
    layer.save_optimizer_states(tmp_path / "opt_sparse.model")
    saved = table_state(trained)
    # The folder is HugeCTR's whole-table layout: keys ascending, one row and slot id per key.
    keys = np.fromfile(tmp_path / "sparse.model" / "key", "<i8")
    np.testing.assert_array_equal(keys, saved["keys"])
    rows = np.fromfile(tmp_path / "sparse.model" / "emb_vector", "<f4").reshape(saved["rows"].shape)
    np.testing.assert_array_equal(rows, saved["rows"])
    slots = np.fromfile(tmp_path / "sparse.model" / "slot_id", "<u8")
    np.testing.assert_array_equal(slots, saved["slot_ids"])

    for strategy, shards in ((mirrored(4), 4), (None, 1)):
        model = _model(strategy)
        target = model.get_layer("emb")
        target.import_sparse_model(tmp_path / "sparse.model")
        target.load_optimizer_states(tmp_path / "opt_sparse.model")
        _check_restored(model, saved, shards)


def test_export_for_serving_holds_the_whole_table(trained, tmp_path):
    keys = KEYS
    want = trained(keys, training=False).numpy()
    export_for_serving(trained, str(tmp_path / "served"))
    served = tf.saved_model.load(str(tmp_path / "served"))
    inner = keys.values
    out = served.signatures["serving_default"](
        keys_values=inner.values, keys_row_splits=inner.row_splits
    )["outputs"]
    np.testing.assert_allclose(out.numpy(), want, atol=1e-6)


def test_saved_model_with_the_live_ops_serves_every_shard(trained, tmp_path):
    want = trained(KEYS, training=False).numpy()

    class Serve(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.RaggedTensorSpec([None, 3, None], tf.int64, 2)])
        def __call__(self, keys):
            return self.model(keys, training=False)

    tf.saved_model.save(Serve(trained), str(tmp_path / "live"))
    loaded = tf.saved_model.load(str(tmp_path / "live"))
    np.testing.assert_allclose(loaded(KEYS).numpy(), want, atol=1e-6)
