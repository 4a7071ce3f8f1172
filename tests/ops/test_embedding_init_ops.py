"""The ops behind Keras initializers and regularizers: new keys, insert with rows, gather, draws."""

import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.ops import embedding_init_ops as init_ops
from hugectr_tf.ops import embedding_ops

VEC = 3


def csr(rows_of_keys):
    values = np.concatenate([np.asarray(r, np.int64) for r in rows_of_keys])
    splits = np.cumsum([0] + [len(r) for r in rows_of_keys]).astype(np.int64)
    return values, splits


def test_new_keys_insert_then_lookup_uses_the_given_rows():
    table = embedding_ops.create_table(VEC, 1, embedding_type="LocalizedSlotSparseEmbeddingHash")
    values, splits = csr([[5, 2], [9], [2], [5]])  # 2 samples x 2 slots
    keys, slots = init_ops.new_keys(table, values, splits, 2)
    np.testing.assert_array_equal(keys, [2, 5, 9])
    np.testing.assert_array_equal(slots, [0, 0, 1])  # slot of each key's first position
    rows = np.arange(9, dtype=np.float32).reshape(3, VEC)
    assert int(init_ops.insert_rows(table, keys, rows, slots)) == 3
    emb, _, _ = embedding_ops.lookup_train(table, values, splits, 2, VEC)
    np.testing.assert_array_equal(emb.numpy()[0, 0], rows[0] + rows[1])  # keys 5 + 2
    np.testing.assert_array_equal(emb.numpy()[0, 1], rows[2])  # key 9
    np.testing.assert_array_equal(emb.numpy()[1, 0], rows[0])  # key 2
    np.testing.assert_array_equal(init_ops.gather_rows(table, [9, 2], VEC), rows[[2, 0]])
    state = embedding_ops.export_table(table)
    np.testing.assert_array_equal(state["slot_ids"], [0, 0, 1])
    # Nothing is new now; inserting present keys changes nothing.
    keys, _ = init_ops.new_keys(table, values, splits, 2)
    assert keys.shape == (0,)
    assert int(init_ops.insert_rows(table, [2], np.ones((1, VEC), np.float32), [0])) == 0
    np.testing.assert_array_equal(init_ops.gather_rows(table, [2], VEC), rows[:1])


def test_bad_inputs_are_named():
    table = embedding_ops.create_table(VEC, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="strictly ascending"):
        init_ops.insert_rows(table, [3, 1], np.zeros((2, VEC), np.float32), [0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"rows must be \(len\(keys\)=2"):
        init_ops.insert_rows(table, [1, 3], np.zeros((2, VEC + 1), np.float32), [0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="slot_ids must have len"):
        init_ops.insert_rows(table, [1, 3], np.zeros((2, VEC), np.float32), [0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="key 7 is not in the table"):
        init_ops.gather_rows(table, [7], VEC)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple of slot_num=2"):
        init_ops.new_keys(table, [1, 2, 3], [0, 1, 2, 3], 2)
    onehot = embedding_ops.create_table(
        VEC, 1, embedding_type="LocalizedSlotSparseEmbeddingOneHot", slot_size_array=[4, 4]
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="lie in \\[0, 8\\). Received: key 8"):
        init_ops.insert_rows(onehot, [8], np.zeros((1, VEC), np.float32), [1])
    full = embedding_ops.create_table(VEC, 0.0001)
    many = np.arange(1000, dtype=np.int64)
    with pytest.raises(tf.errors.ResourceExhaustedError, match="raise workspace_size"):
        init_ops.insert_rows(full, many, np.zeros((1000, VEC), np.float32), many * 0)


def test_key_uniform_is_a_function_of_key_seed_and_column():
    u = init_ops.key_uniform([4, 8, 15, 4], seed=7, embedding_vec_size=5).numpy()
    assert u.shape == (4, 5) and u.min() > 0 and u.max() < 1
    np.testing.assert_array_equal(u[0], u[3])
    np.testing.assert_array_equal(u[1], init_ops.key_uniform([8], 7, 5).numpy()[0])
    assert not np.array_equal(u[0], init_ops.key_uniform([4], 8, 5).numpy()[0])
    # Uniform on (0, 1): mean 1/2, variance 1/12, over many keys.
    big = init_ops.key_uniform(np.arange(20000), 1, 8).numpy()
    assert abs(big.mean() - 0.5) < 0.005 and abs(big.var() - 1 / 12) < 0.002
