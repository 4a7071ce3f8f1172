"""The working table's export / import path of model oversubscription (table_import.cc) against a
numpy reference: rows placed in key order skip the sort and the second lookup, rows in any other
order take the general path, and both give the same table; the bulk load (`load_rows`, one import
of rows and optimizer state) gives the table the two imports give."""

import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf import CreateOptimizer
from hugectr_tf.embedding.table import EmbeddingTable
from hugectr_tf.ops import embedding_ops as E
from hugectr_tf.ps import RowBlock
from hugectr_tf.ps.working_table import load_rows

VEC = 8


def _state(rng, keys, step=3):
    n = len(keys)
    return {
        "keys": np.asarray(keys, np.int64),
        "rows": rng.standard_normal((n, VEC)).astype(np.float32),
        "slot_ids": rng.integers(0, 5, n).astype(np.int64),
        "optimizer_slots": rng.standard_normal((n, 2, VEC)).astype(np.float32),
        "last_step": rng.integers(0, step + 1, n).astype(np.int64),
        "step": np.int64(step),
        "lr_history": rng.random(step).astype(np.float32),
    }


def _restore(table, st):
    E.import_rows(table, st["keys"], st["rows"], st["slot_ids"])
    E.import_optimizer_state(table, st["keys"], st["optimizer_slots"], st["last_step"],
                             st["step"], st["lr_history"])  # fmt: skip


def _exported(table):
    return {k: v.numpy() for k, v in E.export_table(table).items()}


def _sorted_reference(st):
    order = np.argsort(st["keys"])
    return {k: (v[order] if np.ndim(v) and k != "lr_history" else v) for k, v in st.items()}


def _assert_state(got, want):
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


@pytest.mark.parametrize("order", ["ascending", "shuffled", "state_shuffled"])
def test_import_then_export_gives_the_rows_by_ascending_key(order):
    rng = np.random.default_rng(1)
    st = _state(rng, np.sort(rng.choice(10**9, 3000, replace=False)))
    if order == "shuffled":
        st = {k: (v[p] if np.ndim(v) and k != "lr_history" else v)
              for p in [rng.permutation(3000)] for k, v in st.items()}  # fmt: skip
    table = E.create_table(VEC, 4, optimizer=CreateOptimizer(optimizer_type="Adam"))
    if order == "state_shuffled":  # rows in key order, optimizer state in another order
        E.import_rows(table, st["keys"], st["rows"], st["slot_ids"])
        p = rng.permutation(3000)
        E.import_optimizer_state(table, st["keys"][p], st["optimizer_slots"][p],
                                 st["last_step"][p], st["step"], st["lr_history"])  # fmt: skip
    else:
        _restore(table, st)
    _assert_state(_exported(table), _sorted_reference(st))


def test_import_rows_alone_starts_fresh_slots_at_the_current_step():
    rng = np.random.default_rng(2)
    table = E.create_table(VEC, 4, optimizer=CreateOptimizer(optimizer_type="AdaGrad"))
    st = _state(rng, np.arange(100, 400))
    st["optimizer_slots"] = st["optimizer_slots"][:, :1]
    _restore(table, st)
    keys = rng.permutation(np.arange(50, 250))
    rows = rng.standard_normal((200, VEC)).astype(np.float32)
    E.import_rows(table, keys, rows)
    got = _exported(table)
    order = np.argsort(keys)
    np.testing.assert_array_equal(got["keys"], keys[order])
    np.testing.assert_array_equal(got["rows"], rows[order])
    np.testing.assert_array_equal(got["slot_ids"], np.zeros(200, np.int64))
    initial = CreateOptimizer(optimizer_type="AdaGrad").initial_accu_value
    np.testing.assert_array_equal(
        got["optimizer_slots"], np.full((200, 1, VEC), initial, np.float32)
    )
    np.testing.assert_array_equal(got["last_step"], np.full(200, st["step"]))
    assert int(got["step"]) == st["step"]


def test_training_after_an_import_exports_new_keys_in_order():
    # New keys are appended behind the imported ones: the export sorts them in.
    rng = np.random.default_rng(3)
    st = _state(rng, np.arange(0, 2000, 2))
    table = E.create_table(VEC, 4, optimizer=CreateOptimizer(optimizer_type="Adam"))
    _restore(table, st)
    E.lookup_train(table, np.array([7, 1, 5000, 3]), np.array([0, 4]), 1, VEC)
    got = _exported(table)
    want_keys = np.sort(np.concatenate([st["keys"], [1, 3, 7, 5000]]))
    np.testing.assert_array_equal(got["keys"], want_keys)
    held = np.isin(got["keys"], st["keys"])
    np.testing.assert_array_equal(got["rows"][held], st["rows"])
    np.testing.assert_array_equal(got["optimizer_slots"][held], st["optimizer_slots"])
    np.testing.assert_array_equal(got["last_step"][held], st["last_step"])


@pytest.mark.parametrize(
    "keys, match",
    [
        (np.array([1, 2, 2, 3]), "imported keys must be distinct. Received: key 2 twice"),
        (np.array([9, 4, 9]), "imported keys must be distinct. Received: key 9 twice"),
        (np.arange(5000, 7000), r"this batch adds 2000 new keys .* needs at least 2 MB"),
    ],
)
def test_a_failed_import_leaves_the_table_as_it_was(keys, match):
    table = E.create_table(64, 1)  # 1 MB: 1272 rows of vec 64 with Adam
    E.lookup_train(table, np.arange(1000), [0, 1000], 1, 64)
    before = _exported(table)
    with pytest.raises(tf.errors.OpError, match=match):
        E.import_rows(table, keys, np.ones((len(keys), 64), np.float32))
    _assert_state(_exported(table), before)


def test_a_failed_optimizer_state_import_leaves_the_table_as_it_was():
    rng = np.random.default_rng(4)
    st = _state(rng, np.arange(10, 20))
    table = E.create_table(VEC, 4, optimizer=CreateOptimizer(optimizer_type="Adam"))
    _restore(table, st)
    before = _exported(table)
    keys = st["keys"].copy()
    keys[-1] = 999  # same count as the table, one key it does not hold
    with pytest.raises(tf.errors.InvalidArgumentError, match="key 999 which is not in the table"):
        E.import_optimizer_state(table, keys, st["optimizer_slots"], st["last_step"], 3,
                                 st["lr_history"])  # fmt: skip
    late = st["last_step"].copy()
    late[0] = 4
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"last_step=4 outside \[0, step=3\]"):
        E.import_optimizer_state(table, st["keys"], st["optimizer_slots"], late, 3,
                                 st["lr_history"])  # fmt: skip
    with pytest.raises(tf.errors.InvalidArgumentError):  # 1 slot vector per row instead of 2
        E.import_optimizer_state(table, st["keys"], st["optimizer_slots"][:, :1],
                                 st["last_step"], 3, st["lr_history"])  # fmt: skip
    with pytest.raises(tf.errors.InvalidArgumentError):  # rows of the wrong width
        E.import_rows(table, st["keys"], np.zeros((10, VEC + 1), np.float32))
    _assert_state(_exported(table), before)


def test_one_hot_import_checks_the_range_of_a_single_key_and_derives_slots():
    table = E.create_table(
        4, 1, embedding_type="LocalizedSlotSparseEmbeddingOneHot", slot_size_array=[3, 5]
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 8\).*Received: key 8"):
        E.import_rows(table, [8], np.zeros((1, 4), np.float32))
    E.import_rows(table, [7, 0, 3], np.arange(12, dtype=np.float32).reshape(3, 4))
    got = _exported(table)
    np.testing.assert_array_equal(got["keys"], [0, 3, 7])
    np.testing.assert_array_equal(got["slot_ids"], [0, 1, 1])
    np.testing.assert_array_equal(got["rows"][2], [0, 1, 2, 3])
    # A second import replaces every row: key 7 is gone, a lookup of it inserts a new row.
    E.import_rows(table, [1], np.ones((1, 4), np.float32))
    np.testing.assert_array_equal(_exported(table)["keys"], [1])


def _block(st):
    return RowBlock(st["keys"], st["rows"], st["slot_ids"], st["optimizer_slots"],
                    st["last_step"])  # fmt: skip


@pytest.mark.parametrize("shuffle", [False, True])
def test_bulk_load_gives_the_table_the_two_imports_give(shuffle):
    rng = np.random.default_rng(5)
    st = _state(rng, np.sort(rng.choice(10**6, 2000, replace=False)), step=4)
    if shuffle:
        p = rng.permutation(2000)
        st = {k: (v[p] if np.ndim(v) and k != "lr_history" else v) for k, v in st.items()}
    tables = [EmbeddingTable(VEC, 4, optimizer=CreateOptimizer(optimizer_type="Adam"))
              for _ in range(2)]  # fmt: skip
    for t in tables:  # something to replace
        E.lookup_train(t.resource_handle, np.arange(50), [0, 50], 1, VEC)
    load_rows(tables[0], _block(st), st["step"], st["lr_history"])
    tables[1].restore(st)
    bulk, two = _exported(tables[0].resource_handle), _exported(tables[1].resource_handle)
    _assert_state(bulk, two)
    _assert_state(bulk, _sorted_reference(st))


def test_a_failed_bulk_load_leaves_the_table_as_it_was():
    rng = np.random.default_rng(6)
    table = EmbeddingTable(64, 1, optimizer=CreateOptimizer(optimizer_type="Adam"))
    E.lookup_train(table.resource_handle, np.arange(1000), [0, 1000], 1, 64)
    before = _exported(table.resource_handle)

    def block(keys, last_step=0, slots=2, width=64):
        n = len(keys)
        return RowBlock(np.asarray(keys, np.int64), rng.random((n, width), np.float32),
                        np.zeros(n, np.int64), rng.random((n, slots, 64), np.float32),
                        np.full(n, last_step, np.int64))  # fmt: skip

    cases = [
        (block([5, 6, 6, 7]), "imported keys must be distinct. Received: key 6 twice"),
        (block(np.arange(5000, 7000)), r"this batch adds 2000 new keys .* needs at least 2 MB"),
        (block([1, 2], last_step=3), r"key 1 has last_step=3 outside \[0, step=2\]"),
        (block([1, 2], slots=1), r"optimizer state must hold 128 slot values .* \(2 keys\)"),
        (block([1, 2], width=8), r"rows must be \(len\(keys\), embedding_vec_size=64\)"),
    ]
    for bad, match in cases:  # ResourceExhausted for the capacity, else InvalidArgument
        with pytest.raises(tf.errors.OpError, match=match):
            load_rows(table, bad, 2, np.full(2, 0.1, np.float32))
        _assert_state(_exported(table.resource_handle), before)


def test_other_tables_load_through_their_restore():
    class Recorder:
        def restore(self, state):
            self.state = state

    rng = np.random.default_rng(7)
    st = _state(rng, np.arange(10), step=2)
    table = Recorder()
    load_rows(table, _block(st), 2, st["lr_history"])
    for name in ("keys", "rows", "slot_ids", "optimizer_slots", "last_step", "lr_history"):
        np.testing.assert_array_equal(np.asarray(table.state[name]), st[name], err_msg=name)
    assert int(table.state["step"]) == 2


def test_an_empty_table_exports_its_step_and_learning_rates():
    table = E.create_table(VEC, 4, optimizer=CreateOptimizer(optimizer_type="Adam"))
    E.apply_gradients(table, tf.zeros([0], tf.int64), tf.zeros([0, VEC]), 0.25)
    got = _exported(table)
    assert got["keys"].shape == (0,) and got["rows"].shape == (0, VEC)
    assert got["optimizer_slots"].shape == (0, 2, VEC)
    assert int(got["step"]) == 1
    np.testing.assert_array_equal(got["lr_history"], [0.25])
