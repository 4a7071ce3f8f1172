"""The sharded GPU table (cc/cuda/sharded_embedding.cuh, NCCL) against the single GPU table on
the same global batch, without TensorFlow. GPU g gets the g-th block of samples; the rule of
docs/EMBEDDING_SEMANTICS.md ("Sharding") says where each key lives. Checked, per step: the
forward (per-sample outputs), the per-key gradients the owners end up with (judged as sums, see
compare.py: each GPU adds its own occurrences first), and, with every table stepping on the
single table's gradients, the whole state (keys, rows, optimizer slots, slot ids, last steps,
step counters). The routing steps (shard_routing.cuh) are checked against numpy on one GPU.
Skipped where the module was built without NCCL or fewer GPUs are visible.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import _hctr_cuda_harness as h
except ImportError as exc:  # not built: CI, CPU-only machines
    pytest.skip(f"GPU harness not built ({exc}); run tests/gpu/build.sh", allow_module_level=True)
try:
    GPUS = h.device_count()
except RuntimeError as exc:
    pytest.skip(f"no usable CUDA GPU: {exc}", allow_module_level=True)

from compare import (  # noqa: E402
    HYPER,
    LRS,
    OPTIMIZERS,
    UPDATES,
    close,
    close_sum,
    key_pool,
    make_batch,
    per_slot_batch,
)

DIST, LOCAL = "DistributedSlotSparseEmbeddingHash", "LocalizedSlotSparseEmbeddingHash"
SLOTS = 4
needs_nccl = pytest.mark.skipif(not h.HAS_NCCL, reason="harness built without NCCL")
needs_two = pytest.mark.skipif(GPUS < 2, reason=f"needs 2 GPUs, {GPUS} visible")


def owner_numpy(values, splits, slot_num, by_slot, shards):
    if by_slot:
        bags = np.repeat(np.arange(len(splits) - 1), np.diff(splits))
        return (bags % slot_num) % shards
    return np.mod(values, shards)  # numpy's mod is the non-negative remainder


@pytest.mark.parametrize("shards", [1, 2, 3, 5])
@pytest.mark.parametrize("by_slot", [False, True])
def test_route_matches_numpy(by_slot, shards):
    rng = np.random.default_rng([shards, by_slot])
    values, splits = make_batch(rng, 300, 3, 3, key_pool(rng, 400))
    owner, keys, index, first_slots, counts, reserved, positions, starts = h.route(
        values, splits, 3, by_slot, shards
    )
    want_owner = owner_numpy(values, splits, 3, by_slot, shards)
    np.testing.assert_array_equal(owner, want_owner)
    # each owner's block holds its distinct keys once (hash order within the block)
    want_keys = [np.unique(values[want_owner == s]) for s in range(shards)]
    np.testing.assert_array_equal(counts, [len(k) for k in want_keys])
    base = np.concatenate([[0], np.cumsum(counts)])
    for s in range(shards):
        np.testing.assert_array_equal(np.sort(keys[base[s] : base[s + 1]]), want_keys[s])
    # every position points at its key's entry, in its owner's block
    np.testing.assert_array_equal(keys[index], values)
    np.testing.assert_array_equal(np.searchsorted(base, index, side="right") - 1, want_owner)
    bags = np.repeat(np.arange(len(splits) - 1), np.diff(splits))
    for j in range(len(keys)):
        s = np.searchsorted(base, j, side="right") - 1
        first = np.flatnonzero((values == keys[j]) & (want_owner == s))[0]
        assert first_slots[j] == bags[first] % 3
    # the backward's segments: entry j's positions, ascending
    assert starts[0] == 0 and starts[-1] == len(values)
    for j in range(len(keys)):
        np.testing.assert_array_equal(
            positions[starts[j] : starts[j + 1]], np.flatnonzero(index == j)
        )
    assert reserved == -1
    assert [h.shard_of_key(k, 2) for k in (-7, -2, 0, 5)] == [1, 0, 0, 1]


def split(values, splits, slot_num, parts):
    """The global batch as `parts` consecutive blocks of samples: [(values, row_splits)]."""
    samples = (len(splits) - 1) // slot_num
    cuts = [samples * g // parts * slot_num for g in range(parts + 1)]
    return [
        (values[splits[a] : splits[b]], splits[a : b + 1] - splits[a])
        for a, b in zip(cuts[:-1], cuts[1:])
    ]


def split_rows(rows, splits, slot_num, parts):
    samples = (len(splits) - 1) // slot_num
    cuts = [samples * g // parts * slot_num for g in range(parts + 1)]
    return [rows[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


def pair(table_type, gpus, optimizer, update, vec=16, workspace_mb=16.0):
    kw = dict(vec=vec, workspace_mb=workspace_mb, type=table_type, seed=3, optimizer=optimizer)
    kw.update(update=update, **HYPER)
    return h.GpuTable(**kw), h.ShardedTable(gpus=gpus, **kw)


def global_batch(rng, table_type, pool):
    if table_type == LOCAL:  # slots own disjoint key ranges, as HugeCTR data
        return per_slot_batch(rng, 64, SLOTS, 3, 300)
    return make_batch(rng, 64, SLOTS, 3, pool)


def merged_export(sharded):
    parts = [sharded.shard_export(g) for g in range(sharded.num_shards)]
    order = np.argsort(np.concatenate([p["keys"] for p in parts]), kind="stable")
    merged = {
        k: np.concatenate([p[k] for p in parts])[order]
        for k in ("keys", "weights", "slot_ids", "opt_slots", "last_step")
    }
    return merged, parts


def same_state(single, sharded, table_type, exact=False):
    want = single.export()
    got, parts = merged_export(sharded)
    for name in ("keys", "slot_ids", "last_step"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    for g, part in enumerate(parts):
        assert part["step"] == want["step"]
        np.testing.assert_array_equal(part["lr_history"], want["lr_history"])
        # the layout: every key on the shard the rule names
        if table_type == DIST:
            np.testing.assert_array_equal(np.mod(part["keys"], len(parts)), g)
        else:
            np.testing.assert_array_equal(part["slot_ids"] % len(parts), g)
    if exact:
        np.testing.assert_array_equal(got["weights"], want["weights"])
        np.testing.assert_array_equal(got["opt_slots"], want["opt_slots"])
    else:
        close("sharded_weights", got["weights"], want["weights"])
        close("sharded_opt_slots", got["opt_slots"], want["opt_slots"])


def step_both(single, sharded, values, splits, combiner, lr, rng, own_gradients=False):
    """One training step of both tables on the same global batch; returns nothing, asserts."""
    gpus = sharded.num_shards
    out, uk, inv = single.lookup_train(values, splits, SLOTS, combiner)
    outs = sharded.lookup_train(split(values, splits, SLOTS, gpus), SLOTS, combiner)
    close("sharded_forward", np.concatenate(outs), out)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = single.backward(splits, inv, len(uk), combiner, dout)
    sharded.backward(split_rows(dout, splits, SLOTS, gpus))
    owned = sharded.owner_gradients()
    keys = np.concatenate([k for k, _ in owned])
    order = np.argsort(keys, kind="stable")
    np.testing.assert_array_equal(keys[order], uk)
    abs_sum = single.backward(splits, inv, len(uk), combiner, np.abs(dout))
    close_sum("sharded_backward", np.concatenate([g for _, g in owned])[order], grads, abs_sum)
    single.apply(uk, grads, lr)
    if own_gradients:
        sharded.apply(lr)  # each owner steps on the gradients the exchange brought it
    else:
        for g, (k, _) in enumerate(owned):  # the single table's gradients, on the owners
            k = np.sort(k)  # GpuTable.apply takes ascending keys
            sharded.apply_shard(g, k, grads[np.searchsorted(uk, k)], lr)


@needs_nccl
@needs_two
@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("table_type", [DIST, LOCAL])
def test_two_gpus_match_one(table_type, optimizer, update):
    # both combiners, alternating over the optimizer x update grid
    combiner = ["sum", "mean"][(OPTIMIZERS.index(optimizer) + UPDATES.index(update)) % 2]
    rng = np.random.default_rng([len(table_type), len(combiner), len(update), 17])
    rng = np.random.default_rng(rng.integers(1 << 30) + OPTIMIZERS.index(optimizer))
    single, sharded = pair(table_type, 2, optimizer, update)
    pool = key_pool(rng, 1500)
    for lr in LRS:
        values, splits = global_batch(rng, table_type, pool)
        step_both(single, sharded, values, splits, combiner, lr, rng)
    same_state(single, sharded, table_type)
    assert sum(sharded.shard_size(g) for g in range(2)) == single.size


@needs_nccl
@needs_two
@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
@pytest.mark.parametrize("table_type", [DIST, LOCAL])
def test_two_gpus_train_on_their_own_gradients(table_type, optimizer, update):
    """The whole exchange, gradients included: each owner steps on what it received. For
    optimizers linear in the gradient the one-addition-per-GPU difference stays at rounding;
    Adagrad and Adam divide by the gradient's magnitude, so a gradient that cancels to ~0 can
    differ in more than rounding, and the test above feeds them identical gradients."""
    rng = np.random.default_rng([len(table_type), len(optimizer), len(update)])
    single, sharded = pair(table_type, 2, optimizer, update)
    pool = key_pool(rng, 1500)
    for lr in LRS:
        values, splits = global_batch(rng, table_type, pool)
        step_both(single, sharded, values, splits, "mean", lr, rng, own_gradients=True)
    same_state(single, sharded, table_type)


@needs_nccl
@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_gpu_sharded_is_the_single_table_bit_for_bit(optimizer, update):
    rng = np.random.default_rng([len(optimizer), len(update), 5])
    single, sharded = pair(DIST, 1, optimizer, update)
    pool = key_pool(rng, 1500)
    for lr in LRS:
        values, splits = make_batch(rng, 64, SLOTS, 3, pool)
        out, uk, inv = single.lookup_train(values, splits, SLOTS, "sum")
        (out1,) = sharded.lookup_train([(values, splits)], SLOTS, "sum")
        np.testing.assert_array_equal(out1, out)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        grads = single.backward(splits, inv, len(uk), "sum", dout)
        sharded.backward([dout])
        ((keys, owner_grads),) = sharded.owner_gradients()
        order = np.argsort(keys)  # the owner's keys come in hash order
        np.testing.assert_array_equal(keys[order], uk)
        np.testing.assert_array_equal(owner_grads[order], grads)
        single.apply(uk, grads, lr)
        sharded.apply(lr)
    same_state(single, sharded, DIST, exact=True)


@needs_nccl
@needs_two
@pytest.mark.parametrize("table_type", [DIST, LOCAL])
def test_inference_misses(table_type):
    rng = np.random.default_rng(9)
    single, sharded = pair(table_type, 2, "adagrad", "local")
    pool = key_pool(rng, 600)
    values, splits = global_batch(rng, table_type, pool[:300])
    step_both(single, sharded, values, splits, "sum", 0.1, rng)
    values, splits = global_batch(rng, table_type, pool)
    if table_type == LOCAL:
        values = values + (rng.random(len(values)) < 0.3)  # some keys never trained
    out, misses = single.lookup_inference(values, splits, SLOTS, "mean")
    outs, misses2 = sharded.lookup_inference(split(values, splits, SLOTS, 2), SLOTS, "mean")
    assert misses2 == misses > 0 and sharded.misses == misses
    close("sharded_inference", np.concatenate(outs), out)
    assert sum(sharded.shard_size(g) for g in range(2)) == single.size


@needs_nccl
@needs_two
def test_a_full_shard_fails_the_lookup_and_changes_no_shard():
    rng = np.random.default_rng(12)
    single, sharded = pair(DIST, 2, "sgd", "local", vec=4, workspace_mb=0.01)
    cap = single.capacity
    pool = key_pool(rng, 4 * cap)
    even, odd = pool[pool % 2 == 0], pool[pool % 2 == 1]
    fill = np.concatenate([even[: cap - 4], odd[:10]])  # shard 0 nearly full, shard 1 not
    fill_splits = np.arange(len(fill) + 1, dtype=np.int64)
    sharded.lookup_train([(fill, fill_splits), (fill[:0], np.zeros(1, np.int64))], 1, "sum")
    sizes = [sharded.shard_size(g) for g in range(2)]
    assert sizes == [cap - 4, 10]
    more = np.concatenate([odd[10:20], even[cap - 4 : cap + 1]])  # 5 new keys for shard 0
    more_splits = np.arange(len(more) + 1, dtype=np.int64)
    with pytest.raises(MemoryError, match="embedding table shard 0 of 2 is full: it holds"):
        sharded.lookup_train([(fill[:0], np.zeros(1, np.int64)), (more, more_splits)], 1, "sum")
    assert [sharded.shard_size(g) for g in range(2)] == sizes


@needs_nccl
@needs_two
def test_bad_inputs_name_the_gpu():
    _, sharded = pair(DIST, 2, "sgd", "local")
    ok = (np.array([1, 2], np.int64), np.array([0, 1, 2], np.int64))
    with pytest.raises(ValueError, match=r"per GPU \(2\); received 1"):
        sharded.lookup_train([ok], 2, "sum")
    reserved = (np.array([1, np.iinfo(np.int64).max], np.int64), ok[1])
    with pytest.raises(ValueError, match="the batch of GPU 1: key 9223372036854775807"):
        sharded.lookup_train([ok, reserved], 2, "sum")
    bad = (ok[0], np.array([0, 2, 1], np.int64))
    with pytest.raises(ValueError, match="the batch of GPU 1: row_splits must not decrease"):
        sharded.lookup_train([ok, bad], 2, "sum")
    with pytest.raises(ValueError, match="not a multiple of slot_num=3"):
        sharded.lookup_train([ok, ok], 3, "sum")
    with pytest.raises(ValueError, match="training lookup of the same batches first"):
        sharded.backward([np.zeros((2, 16), np.float32)] * 2)
    with pytest.raises(ValueError, match="OneHot is not sharded"):
        h.ShardedTable(
            gpus=2,
            vec=4,
            workspace_mb=1.0,
            type="LocalizedSlotSparseEmbeddingOneHot",
            slot_sizes=[3],
        )
    for chunks in (0, 65):
        with pytest.raises(ValueError, match=f"exchange chunks must be 1 to 64; received {chunks}"):
            sharded.set_exchange_chunks(chunks)
    assert [sharded.shard_size(g) for g in range(2)] == [0, 0]


@needs_nccl
@needs_two
@pytest.mark.parametrize("table_type", [DIST, LOCAL])
def test_overlap_changes_nothing(table_type):
    """The exchanges on their own streams (overlapping computation) or on the compute streams
    give the same bits: the sums' order does not depend on the schedule."""
    rng = np.random.default_rng([len(table_type), 21])
    _, on = pair(table_type, 2, "adam", "lazy_global")
    _, off = pair(table_type, 2, "adam", "lazy_global")
    off.set_overlap(False)
    pool = key_pool(rng, 1500)
    for lr in LRS:
        values, splits = global_batch(rng, table_type, pool)
        batches = split(values, splits, SLOTS, 2)
        for a, b in zip(
            on.lookup_train(batches, SLOTS, "mean"), off.lookup_train(batches, SLOTS, "mean")
        ):
            np.testing.assert_array_equal(a, b)
        dout = rng.standard_normal((len(splits) - 1, 16)).astype(np.float32)
        on.backward(split_rows(dout, splits, SLOTS, 2))
        off.backward(split_rows(dout, splits, SLOTS, 2))
        for (ka, ga), (kb, gb) in zip(on.owner_gradients(), off.owner_gradients()):
            oa, ob = np.argsort(ka), np.argsort(kb)
            np.testing.assert_array_equal(ka[oa], kb[ob])
            np.testing.assert_array_equal(ga[oa], gb[ob])
        on.apply(lr)
        off.apply(lr)
    a, _ = merged_export(on)
    b, _ = merged_export(off)
    for name in ("keys", "weights", "slot_ids", "opt_slots", "last_step"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@needs_nccl
@needs_two
@pytest.mark.parametrize("chunks", [4, 3, 64])
@pytest.mark.parametrize("table_type", [DIST, LOCAL])
def test_exchange_chunks_change_nothing(table_type, chunks):
    """The exchanges in 4, 3 or 64 pieces per GPU pair (64: many empty) against the default 1:
    the same bits in the forward, the owner gradients, the trained state and inference."""
    rng = np.random.default_rng([len(table_type), chunks, 29])
    _, default = pair(table_type, 2, "adam", "lazy_global")
    _, other = pair(table_type, 2, "adam", "lazy_global")
    other.set_exchange_chunks(chunks)
    pool = key_pool(rng, 1500)
    for lr in LRS:
        values, splits = global_batch(rng, table_type, pool)
        batches = split(values, splits, SLOTS, 2)
        for a, b in zip(
            default.lookup_train(batches, SLOTS, "sum"), other.lookup_train(batches, SLOTS, "sum")
        ):
            np.testing.assert_array_equal(a, b)
        dout = rng.standard_normal((len(splits) - 1, 16)).astype(np.float32)
        default.backward(split_rows(dout, splits, SLOTS, 2))
        other.backward(split_rows(dout, splits, SLOTS, 2))
        for (ka, ga), (kb, gb) in zip(default.owner_gradients(), other.owner_gradients()):
            oa, ob = np.argsort(ka), np.argsort(kb)
            np.testing.assert_array_equal(ka[oa], kb[ob])
            np.testing.assert_array_equal(ga[oa], gb[ob])
        default.apply(lr)
        other.apply(lr)
    a, _ = merged_export(default)
    b, _ = merged_export(other)
    for name in ("keys", "weights", "slot_ids", "opt_slots", "last_step"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    values, splits = global_batch(rng, table_type, pool)
    values = values + (rng.random(len(values)) < 0.3)  # some keys never trained
    batches = split(values, splits, SLOTS, 2)
    (outs_a, misses_a) = default.lookup_inference(batches, SLOTS, "mean")
    (outs_b, misses_b) = other.lookup_inference(batches, SLOTS, "mean")
    assert misses_a == misses_b > 0
    for a, b in zip(outs_a, outs_b):
        np.testing.assert_array_equal(a, b)


@needs_nccl
@needs_two
@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_apply_on_device_counts_changes_nothing(optimizer, update):
    """Applying straight after the backward, the optimizer kernels read each owner's count of
    distinct rows on the device (no host wait; the benchmark's path); reading the owner
    gradients first puts the count on the host: the same bits, every optimizer x update type."""
    rng = np.random.default_rng([len(optimizer), len(update), 23])
    _, on_host = pair(DIST, 2, optimizer, update)
    _, on_device = pair(DIST, 2, optimizer, update)
    pool = key_pool(rng, 1500)
    for lr in LRS:
        values, splits = global_batch(rng, DIST, pool)
        batches = split(values, splits, SLOTS, 2)
        for a, b in zip(
            on_host.lookup_train(batches, SLOTS, "sum"),
            on_device.lookup_train(batches, SLOTS, "sum"),
        ):
            np.testing.assert_array_equal(a, b)
        dout = rng.standard_normal((len(splits) - 1, 16)).astype(np.float32)
        on_host.backward(split_rows(dout, splits, SLOTS, 2))
        on_device.backward(split_rows(dout, splits, SLOTS, 2))
        assert sum(len(k) for k, _ in on_host.owner_gradients()) > 0  # counts read back
        on_host.apply(lr)
        on_device.apply(lr)
    a, parts_a = merged_export(on_host)
    b, parts_b = merged_export(on_device)
    for name in ("keys", "weights", "slot_ids", "opt_slots", "last_step"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    for pa, pb in zip(parts_a, parts_b):
        assert pa["step"] == pb["step"] == len(LRS)
