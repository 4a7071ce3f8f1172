"""HugeCTR>PsCatchUp: a row that sat out steps, replayed, equals the row of a table that kept it
(update type Global updates every row every step), bit for bit, for every optimizer."""

import numpy as np
import pytest
import tensorflow as tf

import hugectr_tf as hugectr
from hugectr_tf.ops import embedding_ops, ps_ops

VEC = 4
OPTIMIZERS = ["Adam", "Adagrad", "MomentumSGD", "Nesterov", "SGD"]


def _export(table):
    return {k: v.numpy() for k, v in embedding_ops.export_table(table).items()}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_replayed_rows_equal_the_whole_table(name):
    opt = hugectr.CreateOptimizer(optimizer_type=name, update_type="Global", momentum_factor=0.9)
    table = embedding_ops.create_table(VEC, 1, optimizer=opt, seed=5)
    keys = np.arange(12, dtype=np.int64)
    embedding_ops.lookup_train(table, keys, np.arange(13, dtype=np.int64), 1, VEC)
    rng = np.random.default_rng(0)
    snapshots = {}
    for step in range(1, 9):
        hit = keys if step <= 2 else keys[:4]  # rows 4.. sit out steps 3..8
        grads = rng.normal(size=(len(hit), VEC)).astype(np.float32)
        embedding_ops.apply_gradients(table, hit, grads, 0.01 * step)
        snapshots[step] = _export(table)
    final = _export(table)
    # Rows 4..11 as they were after step 2 (Global wrote them every step), and after step 5.
    for since in (2, 5):
        old = snapshots[since]
        rows, slots, last = ps_ops.catch_up(
            old["rows"][4:], old["optimizer_slots"][4:], old["last_step"][4:],
            final["step"], final["lr_history"], opt,
        )  # fmt: skip
        np.testing.assert_array_equal(rows, final["rows"][4:])
        np.testing.assert_array_equal(slots, final["optimizer_slots"][4:])
        np.testing.assert_array_equal(last, np.full(8, 8))
    if name in ("Adam", "MomentumSGD", "Nesterov"):  # a zero step moves these rows
        assert not np.array_equal(snapshots[2]["rows"][4:], final["rows"][4:])


def test_rows_of_different_ages_in_one_call():
    opt = hugectr.CreateOptimizer(optimizer_type="Adam", update_type="Global")
    rows = np.ones((3, VEC), np.float32)
    slots = np.full((3, 2, VEC), 0.5, np.float32)
    lr = np.array([0.1, 0.2, 0.3], np.float32)
    out, _, last = ps_ops.catch_up(rows, slots, np.array([0, 2, 3]), 3, lr, opt)
    np.testing.assert_array_equal(last, [3, 3, 3])
    np.testing.assert_array_equal(out[2], rows[2])  # already at step 3
    assert not np.array_equal(out[0], out[1])  # three steps replayed vs one


def test_bad_input_is_named():
    opt = hugectr.CreateOptimizer(optimizer_type="Adam")
    rows, slots = np.zeros((2, VEC), np.float32), np.zeros((2, 2, VEC), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="last_step=5 outside"):
        ps_ops.catch_up(rows, slots, np.array([0, 5]), 3, np.zeros(3, np.float32), opt)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one learning rate per step"):
        ps_ops.catch_up(rows, slots, np.array([0, 1]), 3, np.zeros(2, np.float32), opt)
    with pytest.raises(tf.errors.InvalidArgumentError, match="2 slot vectors per row"):
        ps_ops.catch_up(rows, slots[:, :1], np.array([0, 1]), 3, np.zeros(3, np.float32), opt)
    with pytest.raises(TypeError, match="OptParamsPy"):
        ps_ops.catch_up(rows, slots, np.array([0, 1]), 3, np.zeros(3, np.float32), "Adam")
