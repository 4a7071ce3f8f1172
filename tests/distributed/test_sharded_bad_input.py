"""Misuse of sharded tables fails with an error naming what was received; nothing silently trains
once per replica."""

import numpy as np
import pytest
import tensorflow as tf
from distributed_models import SLOTS, build, dense_keys, mirrored, ragged_keys

from hugectr_tf import distributed
from hugectr_tf.embedding.table import STATE_NAMES
from hugectr_tf.keras.layers import SparseEmbedding
from hugectr_tf.ops import embedding_ops


def _sharded_table(num_replicas=2, embedding_type="DistributedSlotSparseEmbeddingHash"):
    with mirrored(num_replicas).scope():
        return distributed.create_table(
            "test table",
            embedding_vec_size=4,
            workspace_size_per_gpu_in_mb=1,
            embedding_type=embedding_type,
        )


def test_replicas_on_mixed_device_types():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/gpu:0"])
    with pytest.raises(ValueError, match=r"all be GPUs or all CPUs.*CPU, GPU.*device:GPU:0"):
        with strategy.scope():
            SparseEmbedding(4, SLOTS, name="mixed")(ragged_keys(samples=2))


def test_a_strategy_that_cannot_hold_shards():
    strategy = tf.distribute.experimental.CentralStorageStrategy(["/cpu:0", "/cpu:1"])
    with pytest.raises(ValueError, match="Received: CentralStorageStrategy with 2 replicas"):
        with strategy.scope():
            SparseEmbedding(4, SLOTS, name="central")(ragged_keys(samples=2))


def test_key_dtype_that_differs_between_replicas():
    strategy = mirrored(2)
    with strategy.scope():
        layer = SparseEmbedding(4, SLOTS, name="dtypes")
        layer(dense_keys(samples=2))
    keys = dense_keys(samples=4)
    per_replica = strategy.experimental_distribute_values_from_function(
        lambda ctx: (
            tf.constant(keys[:2], tf.int32)
            if ctx.replica_id_in_sync_group == 0
            else tf.constant(keys[2:], tf.int64)
        )
    )
    run = tf.function(lambda x: strategy.run(lambda k: layer(k, training=False), args=(x,)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"dtype differs(.|\n)*int32 int64"):
        run(per_replica)


def test_checkpoint_whose_parts_do_not_add_up(tmp_path):
    class Broken(tf.__internal__.tracking.Trackable):
        """Writes a table state whose rows are one short of its keys."""

        def _serialize_to_tensors(self):
            state = {
                "keys": tf.constant([1, 2, 3], tf.int64),
                "rows": tf.zeros([2, 4]),
                "slot_ids": tf.zeros([3], tf.int64),
                "optimizer_slots": tf.zeros([3, 2, 4]),
                "last_step": tf.zeros([3], tf.int64),
                "step": tf.constant(1, tf.int64),
                "lr_history": tf.constant([0.1]),
            }
            return {name: state[name] for name in STATE_NAMES}

    path = tf.train.Checkpoint(table=Broken()).write(str(tmp_path / "ckpt"))
    table = _sharded_table()
    with pytest.raises(ValueError, match=r"does not add up: 3 keys but rows \[2, 4\]"):
        tf.train.Checkpoint(table=table).read(path)


def test_shards_that_disagree_on_the_step():
    table = _sharded_table()
    embedding_ops.apply_gradients(
        table.shards[1].resource_handle, tf.zeros([0], tf.int64), tf.zeros([0, 4]), 0.1
    )
    with pytest.raises(ValueError, match=r"different numbers of optimizer steps: \[0, 1\]"):
        table.export()


def test_localized_state_without_slot_ids():
    table = _sharded_table(embedding_type="LocalizedSlotSparseEmbeddingHash")
    state = {k: v for k, v in _sharded_table().export().items()}
    state["keys"] = tf.constant([5, 6], tf.int64)
    state["rows"] = tf.zeros([2, 4])
    state["optimizer_slots"] = tf.zeros([2, 2, 4])
    state["last_step"] = tf.zeros([2], tf.int64)
    state["slot_ids"] = tf.zeros([0], tf.int64)
    with pytest.raises(ValueError, match="Received: 2 keys, 0 slot ids"):
        table.restore(state)


def test_unsharded_table_in_a_multi_replica_step():
    model = build(False)  # outside any strategy scope: one table
    strategy = mirrored(2)
    keys = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(dense_keys(samples=2))
    )
    run = tf.function(lambda x: strategy.run(lambda k: model(k, training=True), args=(x,)))
    with pytest.raises(ValueError, match=r"built outside the scope(.|\n)*one optimizer step per"):
        run(keys)
    assert int(model.get_layer("emb").table.stats()["step"]) == 0


def test_table_used_under_a_strategy_of_another_size():
    with mirrored(2).scope():
        layer = SparseEmbedding(4, SLOTS, name="two")
        layer(dense_keys(samples=2))
    strategy = mirrored(4)
    keys = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(dense_keys(samples=1))
    )
    run = tf.function(lambda x: strategy.run(lambda k: layer(k, training=False), args=(x,)))
    with pytest.raises(ValueError, match="split into 2 shards but runs in 4 replicas"):
        run(keys)


def test_built_inside_strategy_run():
    strategy = mirrored(2)
    with strategy.scope():
        layer = SparseEmbedding(4, SLOTS, name="late")
    keys = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(dense_keys(samples=1))
    )
    with pytest.raises(RuntimeError, match="being built inside `strategy.run`"):
        strategy.run(lambda k: layer(k), args=(keys,))


def test_optimizer_states_of_keys_the_table_lacks(tmp_path):
    with mirrored(2).scope():
        layer = SparseEmbedding(4, SLOTS, name="opt")
        layer(dense_keys(samples=2), training=True)
    layer.save_optimizer_states(tmp_path / "opt")
    with mirrored(2).scope():
        empty = SparseEmbedding(4, SLOTS, name="empty")
        empty(dense_keys(samples=1), training=False)
    with pytest.raises(ValueError, match=r"holds the optimizer state of \d+ keys the table"):
        empty.load_optimizer_states(tmp_path / "opt")
    assert np.all(np.isfinite(layer.table.export()["rows"].numpy()))


def test_localized_key_in_slots_of_two_shards_restores_only_where_they_stay_apart(tmp_path):
    """Key 5 in slot 0 (shard 0) and slot 1 (shard 1) has a row on each shard, as in the CUDA
    core; the whole table holds it twice. 2 shards take it back (each its own row and optimizer
    state, also from HugeCTR files); one table refuses, naming it."""
    keys = np.array([[[5], [5], [7]]], np.int64)
    local = "LocalizedSlotSparseEmbeddingHash"
    with mirrored(2).scope():
        layer = SparseEmbedding(4, SLOTS, embedding_type=local, learning_rate=0.1, name="apart")
        layer(keys)
    with tf.GradientTape() as tape:  # slots get different gradients: the two rows part ways
        loss = tf.reduce_sum(layer(keys, training=True) * tf.constant([[[1.0], [-2.0], [3.0]]]))
    tape.gradient(loss, layer.trainable_variables)
    state = layer.table.export()
    np.testing.assert_array_equal(state["keys"], [5, 5, 7])
    np.testing.assert_array_equal(state["slot_ids"], [0, 1, 2])
    assert not np.allclose(state["optimizer_slots"][0], state["optimizer_slots"][1])

    again = _sharded_table(embedding_type=local)
    again.restore(state)
    for name in ("keys", "slot_ids", "rows"):
        np.testing.assert_array_equal(again.export()[name], state[name])
    layer.export_sparse_model(tmp_path / "sparse")
    layer.save_optimizer_states(tmp_path / "opt")
    with mirrored(2).scope():
        files = SparseEmbedding(4, SLOTS, embedding_type=local, name="files")
        files(keys, training=False)
    files.import_sparse_model(tmp_path / "sparse")
    files.load_optimizer_states(tmp_path / "opt")
    for name in STATE_NAMES:
        np.testing.assert_array_equal(files.table.export()[name], state[name], err_msg=name)

    single = SparseEmbedding(4, SLOTS, embedding_type=local, name="together")
    single(keys, training=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="distinct. Received: key 5 twice"):
        single.table.restore(state)
