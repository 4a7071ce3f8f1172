"""Embedding ops against the numpy reference of docs/EMBEDDING_SEMANTICS.md (tests/helpers)."""

import numpy as np
import pytest
import tensorflow as tf
from helpers import embedding_reference as ref

from hugectr_tf import CreateOptimizer
from hugectr_tf.ops import embedding_ops as E

VEC = 8
SLOTS = 3


def _table(optimizer=None, vec=VEC, mb=4, seed=7, **kw):
    return E.create_table(vec, mb, seed=seed, optimizer=optimizer, **kw)


def test_row_init_matches_reference_formula():
    t = _table(seed=123)
    keys = np.array([0, 1, -5, 2**40 + 3, 9223372036854775807], np.int64)
    E.lookup_train(t, keys, [0, 5], 1, VEC)
    state = E.export_table(t)
    assert list(state["keys"].numpy()) == sorted(keys.tolist())
    for k, row in zip(state["keys"].numpy(), state["rows"].numpy()):
        np.testing.assert_array_equal(row, ref.init_row(int(k), 123, VEC))
    assert np.all(np.abs(state["rows"].numpy()) <= 0.05)  # HugeCTR 3.1: U(-0.05, 0.05)


def test_one_hot_rows_start_in_hugectrs_per_slot_range():
    # HugeCTR 3.1 fills OneHot slot s from U(+-sqrt(1 / slot_size[s])); a slot of size 0 (DIN)
    # owns no rows, its keys use the next slot's range.
    sizes = [4, 0, 100, 1]
    t = _table(seed=5, embedding_type="LocalizedSlotSparseEmbeddingOneHot", slot_size_array=sizes)
    values = np.array([3, 0, 99, 0, 7], np.int64)  # slots 0, 1, 2, 3, then 2 (second sample)
    splits = np.array([0, 1, 2, 3, 4, 4, 4, 5, 5], np.int64)  # 2 samples x 4 slots
    E.lookup_train(t, values, splits, 4, VEC)
    state = E.export_table(t)
    table_keys = state["keys"].numpy()
    np.testing.assert_array_equal(table_keys, [3, 4, 11, 103, 104])
    for k, row in zip(table_keys, state["rows"].numpy()):
        bound = ref.one_hot_init_bound(int(k), sizes)
        np.testing.assert_array_equal(row, ref.init_row(int(k), 5, VEC, bound))
    bounds = [ref.one_hot_init_bound(int(k), sizes) for k in table_keys]
    np.testing.assert_allclose(bounds, [0.5, 0.1, 0.1, 0.1, 1.0], rtol=1e-6)


@pytest.mark.parametrize("combiner", ["sum", "mean"])
def test_forward_matches_numpy_with_empty_slots_and_repeats(combiner):
    rng = np.random.default_rng(1)
    batch = 17
    values, splits = ref.random_csr(rng, batch, SLOTS, max_nnz=4, key_range=12)
    assert np.any(np.diff(splits) == 0), "the batch must contain empty slots"
    t = _table(seed=3)
    emb, unique_keys, inverse = E.lookup_train(t, values, splits, SLOTS, VEC, combiner)
    assert emb.shape == (batch, SLOTS, VEC)
    np.testing.assert_array_equal(unique_keys.numpy(), np.unique(values))
    np.testing.assert_array_equal(unique_keys.numpy()[inverse.numpy()], values)
    expected = ref.forward(
        lambda k: ref.init_row(k, 3, VEC), values, splits, batch, SLOTS, VEC, combiner
    )
    np.testing.assert_allclose(emb.numpy(), expected, rtol=1e-6, atol=1e-7)
    # Inference on the same keys gives the same result; unseen keys add zero and count as misses.
    inf, misses = E.lookup_inference(t, values, splits, SLOTS, VEC, combiner)
    np.testing.assert_array_equal(inf.numpy(), emb.numpy())
    assert int(misses) == 0
    shifted = values + 100
    inf, misses = E.lookup_inference(t, shifted, splits, SLOTS, VEC, combiner)
    assert int(misses) == len(values)
    np.testing.assert_array_equal(inf.numpy(), np.zeros_like(inf.numpy()))
    assert int(E.table_size(t)) == len(np.unique(values))


@pytest.mark.parametrize("combiner", ["sum", "mean"])
def test_backward_matches_gradient_tape_on_dense_equivalent(combiner):
    rng = np.random.default_rng(2)
    batch = 11
    values, splits = ref.random_csr(rng, batch, SLOTS, max_nnz=5, key_range=9)
    t = _table()
    emb, unique_keys, inverse = E.lookup_train(t, values, splits, SLOTS, VEC, combiner)
    dout = rng.normal(size=(batch, SLOTS, VEC)).astype(np.float32)
    key_grads = E.backward(dout, splits, inverse, unique_keys, combiner).numpy()

    # Dense equivalent: a variable holding the table's rows, combined with ragged ops.
    state = E.export_table(t)
    dense = tf.Variable(state["rows"])
    index = np.searchsorted(state["keys"].numpy(), values)
    with tf.GradientTape() as tape:
        rows = tf.gather(dense, index)
        ragged = tf.RaggedTensor.from_row_splits(rows, splits)
        combined = tf.reduce_sum(ragged, axis=1)
        if combiner == "mean":
            nnz = tf.cast(tf.maximum(ragged.row_lengths(), 1), tf.float32)[:, None]
            combined = combined / nnz
        loss = tf.reduce_sum(tf.reshape(combined, dout.shape) * dout)
    expected = tf.convert_to_tensor(tape.gradient(loss, dense)).numpy()
    np.testing.assert_allclose(key_grads, expected, rtol=1e-5, atol=1e-6)
    # And the document's per-key reference.
    per_key = ref.backward(dout, values, splits, combiner)
    for k, g in zip(unique_keys.numpy(), key_grads):
        np.testing.assert_allclose(g, per_key[int(k)], rtol=1e-6, atol=1e-7)


OPTIMIZERS = [
    ("Adam", {}),
    ("AdaGrad", {"initial_accu_value": 0.1, "epsilon": 1e-6}),
    ("SGD", {}),
    ("MomentumSGD", {"momentum_factor": 0.9}),
    ("Nesterov", {"momentum_factor": 0.8}),
]


@pytest.mark.parametrize("update", ["Local", "Global", "LazyGlobal"])
@pytest.mark.parametrize("opt_name,hyper", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_update_types_match_reference_over_steps(opt_name, hyper, update):
    rng = np.random.default_rng(hash((opt_name, update)) % 2**32)
    opt = CreateOptimizer(optimizer_type=opt_name, update_type=update, **hyper)
    t = _table(optimizer=opt, seed=11)
    reference = ref.ReferenceTable(
        VEC,
        11,
        opt_name,
        update,
        eps=opt.epsilon,
        mu=opt.momentum_factor,
        initial_accu=opt.initial_accu_value,
    )
    batch = 6
    for step in range(7):
        # Disjoint-ish key ranges per step: many rows miss steps (Global and LazyGlobal matter).
        lo = 0 if step % 3 == 0 else 10 * step
        values, splits = ref.random_csr(rng, batch, SLOTS, max_nnz=3, key_range=6)
        values = values + lo
        lr = 0.05 * (1 + step)  # a schedule: every step has its own rate
        emb, uk, inv = E.lookup_train(t, values, splits, SLOTS, VEC, "mean")
        reference.lookup_train(values)
        dout = rng.normal(size=(batch, SLOTS, VEC)).astype(np.float32)
        kg = E.backward(dout, splits, inv, uk, "mean")
        E.apply_gradients(t, uk, kg, lr)
        reference.apply(ref.backward(dout, values, splits, "mean"), lr)

    state = E.export_table(t)
    keys = state["keys"].numpy()
    assert sorted(reference.w) == list(keys)
    got_w = state["rows"].numpy()
    got_s = state["optimizer_slots"].numpy()
    want_w = np.stack([reference.w[int(k)] for k in keys])
    want_s = np.stack([reference.slots[int(k)] for k in keys])
    np.testing.assert_allclose(got_w, want_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_s, want_s, rtol=1e-5, atol=1e-6)
    assert int(state["step"]) == 7
    np.testing.assert_array_equal(
        state["last_step"].numpy(), [reference.last[int(k)] for k in keys]
    )
    assert got_s.shape[1] == ref.ReferenceTable.SLOTS[opt_name]


@pytest.mark.parametrize("opt_name", ["Adam", "MomentumSGD", "Nesterov"])
def test_lazy_global_equals_global_for_rows_hit(opt_name):
    rng = np.random.default_rng(5)
    tables = {
        u: _table(
            optimizer=CreateOptimizer(optimizer_type=opt_name, update_type=u, momentum_factor=0.5)
        )
        for u in ("Global", "LazyGlobal")
    }
    batches = [ref.random_csr(rng, 4, SLOTS, 2, 20) for _ in range(6)]
    last_values, last_splits = batches[0]  # the last step hits the keys of the first step
    batches.append((last_values, last_splits))
    for values, splits in batches:
        dout = rng.normal(size=(4, SLOTS, VEC)).astype(np.float32)
        for t in tables.values():
            _, uk, inv = E.lookup_train(t, values, splits, SLOTS, VEC)
            E.apply_gradients(t, uk, E.backward(dout, splits, inv, uk), 0.1)
    glob, lazy = (E.export_table(tables[u]) for u in ("Global", "LazyGlobal"))
    hit = np.isin(glob["keys"].numpy(), last_values)
    np.testing.assert_allclose(
        lazy["rows"].numpy()[hit], glob["rows"].numpy()[hit], rtol=1e-6, atol=1e-7
    )
    assert not np.allclose(lazy["rows"].numpy()[~hit], glob["rows"].numpy()[~hit])


def test_overflow_error_says_how_many_mb_are_needed():
    # Adam, vec 64: 8+8+8+32 + 4*64*3 = 824 bytes per row -> 1 MB holds 1272 rows.
    t = E.create_table(64, 1)
    assert int(E.table_stats(t)["capacity"]) == (1 << 20) // 824
    E.lookup_train(t, np.arange(1000), [0, 1000], 1, 64)
    with pytest.raises(tf.errors.ResourceExhaustedError, match=r"needs at least 2 MB"):
        E.lookup_train(t, np.arange(1000, 2000), [0, 1000], 1, 64)
    assert int(E.table_size(t)) == 1000, "a failed insert must not change the table"


def test_failed_import_leaves_the_table_as_it_was():
    # 1 MB holds 1272 rows of vec 64: importing 2000 keys must fail before the table is cleared.
    t = E.create_table(64, 1)
    E.lookup_train(t, np.arange(1000), [0, 1000], 1, 64)
    before = {k: v.numpy() for k, v in E.export_table(t).items()}
    for keys, match in (
        (np.arange(5000, 7000), r"this batch adds 2000 new keys .* needs at least 2 MB"),
        (np.array([3, 4, 3]), "imported keys must be distinct. Received: key 3 twice"),
    ):
        with pytest.raises(tf.errors.OpError, match=match):
            E.import_rows(t, keys, np.ones((len(keys), 64), np.float32))
        after = E.export_table(t)
        for name, value in before.items():
            np.testing.assert_array_equal(after[name].numpy(), value, err_msg=name)


def test_sizes_that_overflow_64_bits_are_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="below 2\\^43.*1e\\+14"):
        E.create_table(16, 1e14)
    with pytest.raises(tf.errors.InvalidArgumentError, match="floats per row"):
        E.create_table(2**62, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sum of slot_size_array"):
        E.create_table(
            1,
            1,
            embedding_type="LocalizedSlotSparseEmbeddingOneHot",
            slot_size_array=[2**62, 2**62, 2**62],
        )


def test_one_hot_bad_key_names_slot_and_key():
    t = E.create_table(
        4, 1, embedding_type="LocalizedSlotSparseEmbeddingOneHot", slot_size_array=[3, 5]
    )
    emb, uk, _ = E.lookup_train(t, [2, 4, 0], [0, 1, 3], 2, 4)
    # key k of slot s is row k + offset[s]: slot 1 starts at 3.
    np.testing.assert_array_equal(uk.numpy(), [2, 3, 7])
    # InvalidArgument from every op, never OutOfRange: tf.data and Keras take OutOfRange for the
    # end of the data and stop without an error (issue 13).
    for lookup in (E.lookup_train, E.lookup_inference):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"key 5 in slot 1 .*\[0, 5\)"):
            lookup(t, [0, 5], [0, 1, 2], 2, 4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 8\).*Received: key 8"):
        E.import_rows(t, [1, 8], np.zeros((2, 4), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="slot_size_array of 2 slots"):
        E.lookup_train(t, [0], [0, 1], 1, 4)


def test_bad_arguments_are_named():
    t = _table()
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple of slot_num=3"):
        E.lookup_train(t, [1, 2], [0, 1, 2], 3, VEC)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must not decrease"):
        E.lookup_train(t, [1, 2], [0, 2, 1, 2], 3, VEC)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in the table"):
        E.apply_gradients(t, [12345], np.zeros((1, VEC), np.float32), 0.1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="strictly ascending"):
        E.lookup_train(t, [1, 2], [0, 2], 1, VEC)
        E.apply_gradients(t, [2, 1], np.zeros((2, VEC), np.float32), 0.1)
    with pytest.raises(ValueError, match="embedding_type='Nope'"):
        E.create_table(4, 1, embedding_type="Nope")
    with pytest.raises(tf.errors.InvalidArgumentError, match="embedding_vec_size=0"):
        E.create_table(0, 1)


def test_export_import_round_trip_and_optimizer_state():
    rng = np.random.default_rng(9)
    t = _table(optimizer=CreateOptimizer(update_type="LazyGlobal"))
    for _ in range(3):
        values, splits = ref.random_csr(rng, 5, SLOTS, 3, 30)
        _, uk, inv = E.lookup_train(t, values, splits, SLOTS, VEC)
        E.apply_gradients(
            t, uk, E.backward(np.ones((5, SLOTS, VEC), np.float32), splits, inv, uk), 0.01
        )
    state = E.export_table(t)
    u = _table(optimizer=CreateOptimizer(update_type="LazyGlobal"))
    perm = rng.permutation(len(state["keys"]))  # import order does not matter
    E.import_rows(u, tf.gather(state["keys"], perm), tf.gather(state["rows"], perm))
    E.import_optimizer_state(
        u,
        state["keys"],
        state["optimizer_slots"],
        state["last_step"],
        state["step"],
        state["lr_history"],
    )
    again = E.export_table(u)
    for name in ("keys", "rows", "optimizer_slots", "last_step", "step", "lr_history"):
        np.testing.assert_array_equal(again[name].numpy(), state[name].numpy(), err_msg=name)
    with pytest.raises(tf.errors.InvalidArgumentError, match="key 999 which is not in the table"):
        E.import_optimizer_state(
            u, [999], np.zeros((1, 2, VEC), np.float32), [0], 3, [0.1, 0.1, 0.1]
        )


def test_large_batch_unique_and_backward_partitions():
    # Large enough for the partitioned unique (n >= 2^18) and several gradient tasks (> 2^17
    # distinct keys).
    rng = np.random.default_rng(12)
    batch, slots, vec = 7000, 26, 2
    values, splits = ref.random_csr(rng, batch, slots, max_nnz=3, key_range=400_000)
    assert len(values) >= 2**18
    t = E.create_table(vec, 256)
    emb, uk, inv = E.lookup_train(t, values, splits, slots, vec, "mean")
    np.testing.assert_array_equal(uk.numpy(), np.unique(values))
    np.testing.assert_array_equal(uk.numpy()[inv.numpy()], values)
    assert len(uk) > 2**17
    dout = rng.normal(size=(batch, slots, vec)).astype(np.float32)
    got = E.backward(dout, splits, inv, uk, "mean").numpy()
    nnz = np.diff(splits)
    row_of = np.repeat(np.arange(batch * slots), nnz)
    per_pos = dout.reshape(-1, vec)[row_of] / nnz[row_of][:, None]
    want = np.zeros((len(uk), vec))
    np.add.at(want, inv.numpy(), per_pos.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_empty_batch_and_all_empty_slots():
    t = _table()
    for values, splits, slots in (([], [0], 1), ([], [0, 0, 0, 0], 3)):
        values = np.array(values, np.int64)
        emb, uk, inv = E.lookup_train(t, values, splits, slots, VEC)
        assert emb.shape == ((len(splits) - 1) // slots, slots, VEC) and len(uk) == 0
        np.testing.assert_array_equal(emb.numpy(), 0)
        kg = E.backward(tf.zeros(emb.shape), splits, inv, uk)
        assert kg.shape == (0, VEC)
        E.apply_gradients(t, uk, kg, 0.1)
    assert int(E.table_stats(t)["step"]) == 2 and int(E.table_size(t)) == 0


@pytest.mark.parametrize("max_nnz", [1, 4, 40])
def test_slot_of_a_new_key_is_that_of_its_first_position(max_nnz):
    # Uneven rows (many empty, some long) move a key's row far from where a uniform batch would
    # put it: the row search must still find the row holding the key's first position.
    rng = np.random.default_rng(max_nnz)
    batch, slots = 300, 7
    nnz = rng.integers(0, max_nnz + 1, size=batch * slots) * (rng.random(batch * slots) < 0.6)
    splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    values = rng.integers(0, 5000, size=int(splits[-1])).astype(np.int64)
    t = _table(mb=64)
    E.lookup_train(t, values, splits, slots, VEC)
    state = E.export_table(t)
    row_of_position = np.repeat(np.arange(batch * slots), nnz)
    keys, first = np.unique(values, return_index=True)
    np.testing.assert_array_equal(state["keys"].numpy(), keys)
    np.testing.assert_array_equal(state["slot_ids"].numpy(), row_of_position[first] % slots)
