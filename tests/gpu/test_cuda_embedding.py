"""The CUDA core (cc/cuda) against the CPU core (cc/core/embedding) on identical random inputs.

Both are compiled into tests/gpu/_hctr_cuda_harness (bash tests/gpu/build.sh, needs nvcc and
pybind11); no TensorFlow involved. Skipped at once where the module is not built or no CUDA GPU
is visible (CI). Each phase gets identical inputs (the CPU core's gradients drive both tables'
updates, so optimizer differences do not hide behind gradient rounding). Floats must agree within
1e-5 relative: |gpu - cpu| <= 1e-5 * (|cpu| + m), m the mean |cpu| of the compared array, so
that elements that cancel to ~0 are judged at the array's scale; per-key gradient sums, which the
GPU adds in a different order for keys with more than 128 occurrences, are judged against the
sum of the absolute values of their terms (the scale of a sum's rounding error). Key sets,
unique keys, misses and step counters must be identical.
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
    DEVICE = h.device_info()
except RuntimeError as exc:
    pytest.skip(f"no usable CUDA GPU: {exc}", allow_module_level=True)

import numpy_reference as ref  # noqa: E402
from compare import (  # noqa: E402
    HYPER,
    LRS,
    MAX_ERR,
    OPTIMIZERS,
    UPDATES,
    close,
    close_sum,
    key_pool,
    make_batch,
)

INT64_MAX = np.iinfo(np.int64).max


def test_device_info():
    print("[gpu-harness] device:", DEVICE)
    assert DEVICE["sm_count"] > 0


def hash_pair(vec, optimizer, update, workspace_mb=64.0, seed=11):
    cpu = h.CpuTable(
        vec=vec, workspace_mb=workspace_mb, seed=seed, optimizer=optimizer, update=update, **HYPER
    )
    gpu = h.HashTable(
        max_rows=cpu.capacity, vec=vec, seed=seed, optimizer=optimizer, update=update, **HYPER
    )
    return cpu, gpu


def train_step(cpu, gpu, values, splits, slot_num, combiner, lr, rng, one_hot=False):
    out_c, uk_c, inv_c = cpu.lookup_train(values, splits, slot_num, combiner)
    if one_hot:
        out_g, misses = gpu.forward(values, splits, combiner, True)
        ids = gpu.rows(values, splits)
    else:
        out_g, misses = gpu.forward(values, splits, combiner, True)
        ids = values
    assert misses == 0
    close("forward", out_g, out_c)
    dout = rng.standard_normal(out_c.shape).astype(np.float32)
    g_c = cpu.backward(splits, inv_c, len(uk_c), combiner, dout)
    uk_g, g_g = gpu.backward(ids, splits, combiner, dout)
    np.testing.assert_array_equal(uk_g, uk_c)
    abs_sum = cpu.backward(splits, inv_c, len(uk_c), combiner, np.abs(dout))
    close_sum("backward", g_g, g_c, abs_sum)
    # keys with <= 128 occurrences are summed in the CPU core's order: record how close
    short = np.bincount(inv_c, minlength=len(uk_c)) <= 128
    diff = float(np.abs(g_g[short] - g_c[short]).max(initial=0.0))
    MAX_ERR["backward_short_keys_max_abs_diff"] = max(
        MAX_ERR.get("backward_short_keys_max_abs_diff", 0.0), diff
    )
    cpu.apply(uk_c, g_c, lr)
    gpu.apply(uk_c, g_c, lr)


def compare_state(cpu, gpu, optimizer, one_hot=False):
    c, g = cpu.export(), gpu.export()
    if one_hot:
        rows = np.flatnonzero(g["seen"])  # the one-hot row is the CPU core's table key
        keys = rows
    else:
        rows = np.argsort(g["keys"])
        keys = g["keys"][rows]
    np.testing.assert_array_equal(keys, c["keys"])
    close("weights", g["weights"][rows], c["weights"])
    for s in range(c["opt_slots"].shape[1]):
        close(f"{optimizer}_slot{s}", g[f"slot{s}"][rows], c["opt_slots"][:, s])
    np.testing.assert_array_equal(g["last_step"][rows], c["last_step"])
    assert g["step"] == c["step"]


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("combiner", ["sum", "mean"])
@pytest.mark.parametrize("vec", [1, 16, 128])
def test_hash_training_matches_cpu(vec, combiner, optimizer, update):
    rng = np.random.default_rng([vec, len(combiner), OPTIMIZERS.index(optimizer), len(update)])
    cpu, gpu = hash_pair(vec, optimizer, update)
    pool = key_pool(rng, 3000)
    for lr in LRS:
        values, splits = make_batch(rng, 64, 4, 4, pool)
        train_step(cpu, gpu, values, splits, 4, combiner, lr, rng)
    assert gpu.size == cpu.size
    compare_state(cpu, gpu, optimizer)


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("combiner", ["sum", "mean"])
@pytest.mark.parametrize("vec", [1, 16])
def test_one_hot_training_matches_cpu(vec, combiner, optimizer, update):
    rng = np.random.default_rng([vec, len(combiner), OPTIMIZERS.index(optimizer), len(update), 7])
    sizes = [7, 50, 300]
    cpu = h.CpuTable(
        vec=vec,
        workspace_mb=16,
        type="LocalizedSlotSparseEmbeddingOneHot",
        slot_sizes=sizes,
        seed=5,
        optimizer=optimizer,
        update=update,
        **HYPER,
    )
    gpu = h.OneHotTable(
        slot_sizes=sizes, vec=vec, seed=5, optimizer=optimizer, update=update, **HYPER
    )
    for lr in LRS:
        nnz = rng.integers(0, 3, 32 * 3)
        splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
        slot = np.repeat(np.arange(32 * 3) % 3, nnz)
        values = ((rng.zipf(1.3, int(splits[-1])) - 1) % np.array(sizes)[slot]).astype(np.int64)
        train_step(cpu, gpu, values, splits, 3, combiner, lr, rng, one_hot=True)
    compare_state(cpu, gpu, optimizer, one_hot=True)
    # inference: rows never trained are misses on both
    values = np.array([0, 49, 299, 6], np.int64)
    splits = np.array([0, 1, 2, 3, 4, 4, 4], np.int64)
    out_c, miss_c = cpu.lookup_inference(values, splits, 3, combiner)
    out_g, miss_g = gpu.forward(values, splits, combiner, False)
    assert miss_g == miss_c
    close("inference", out_g, out_c)


@pytest.mark.parametrize("combiner", ["sum", "mean"])
@pytest.mark.parametrize("vec", [1, 16, 128])
def test_hot_keys_long_segments(vec, combiner):
    """Keys with thousands of occurrences take the block-per-key path; results stay exact-ish
    and bitwise deterministic across runs."""
    rng = np.random.default_rng([vec, len(combiner), 99])
    cpu, gpu = hash_pair(vec, "adam", "lazy_global")
    pool = key_pool(rng, 40)
    for lr in LRS[:2]:
        values, splits = make_batch(rng, 4096, 2, 3, pool, alpha=1.5, p_empty=0.1)
        assert np.unique(values, return_counts=True)[1].max() > 256
        train_step(cpu, gpu, values, splits, 2, combiner, lr, rng)
    compare_state(cpu, gpu, "adam")
    dout = rng.standard_normal((len(splits) - 1, vec)).astype(np.float32)
    first = gpu.backward(values, splits, combiner, dout)[1]
    again = gpu.backward(values, splits, combiner, dout)[1]
    assert first.tobytes() == again.tobytes()


def test_single_distinct_key():
    rng = np.random.default_rng(3)
    cpu, gpu = hash_pair(16, "momentum", "global")
    values = np.full(5000, -42, np.int64)
    nnz = rng.multinomial(5000, np.ones(3000) / 3000)
    splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    for lr in LRS:
        train_step(cpu, gpu, values, splits, 3, "mean", lr, rng)
    assert gpu.size == 1
    compare_state(cpu, gpu, "momentum")


@pytest.mark.parametrize(("distinct", "vec"), [(10_000_000, 1), (1_000_000, 16)])
def test_many_distinct_keys(distinct, vec):
    rng = np.random.default_rng(distinct)
    per_row = 24 + 32 + 4 * vec * 3  # CPU core's BytesPerRow for Adam
    cpu, gpu = hash_pair(vec, "adam", "lazy_global", workspace_mb=distinct * per_row / 2**20 + 1)
    pool = key_pool(rng, distinct)
    splits = np.arange(distinct + 1, dtype=np.int64)  # every key once, 4 slots
    train_step(cpu, gpu, pool.copy(), splits, 4, "sum", 0.05, rng)
    assert gpu.size == cpu.size == distinct
    values, splits = make_batch(rng, distinct // 40, 4, 3, pool)
    train_step(cpu, gpu, values, splits, 4, "mean", 0.1, rng)
    compare_state(cpu, gpu, "adam")


def test_inference_misses_and_no_insert():
    rng = np.random.default_rng(5)
    cpu, gpu = hash_pair(16, "adagrad", "local")
    pool = key_pool(rng, 500)
    values, splits = make_batch(rng, 64, 2, 3, pool[:200])
    train_step(cpu, gpu, values, splits, 2, "sum", 0.1, rng)
    values, splits = make_batch(rng, 64, 2, 3, pool)  # some keys never trained
    out_c, miss_c = cpu.lookup_inference(values, splits, 2, "mean")
    out_g, miss_g = gpu.forward(values, splits, "mean", False)
    assert miss_g == miss_c > 0
    close("inference", out_g, out_c)
    assert gpu.size == cpu.size


def test_capacity_is_a_hard_limit_like_the_cpu_core():
    rng = np.random.default_rng(8)
    cpu, gpu = hash_pair(4, "sgd", "local", workspace_mb=0.01)
    cap = cpu.capacity
    pool = key_pool(rng, cap + 40)
    fill = pool[: cap - 10]
    splits = np.arange(len(fill) + 1, dtype=np.int64)
    train_step(cpu, gpu, fill, splits, 1, "sum", 0.1, rng)
    over = pool[cap - 10 : cap + 10]
    over_splits = np.arange(len(over) + 1, dtype=np.int64)
    with pytest.raises(MemoryError, match=f"needs {cap + 10} rows"):
        gpu.forward(over, over_splits, "sum", True)
    with pytest.raises(MemoryError):
        cpu.lookup_train(over, over_splits, 1, "sum")
    assert gpu.size == cpu.size == cap - 10
    # 10 new keys repeated 3 times: 30 misses but only 10 rows, which fit exactly
    fit = np.repeat(pool[cap - 10 : cap], 3)
    train_step(cpu, gpu, fit, np.arange(len(fit) + 1, dtype=np.int64), 1, "sum", 0.1, rng)
    assert gpu.size == cpu.size == cap
    compare_state(cpu, gpu, "sgd")


def test_bad_inputs_raise_clear_errors():
    gpu = h.HashTable(max_rows=100, vec=4, seed=1)
    with pytest.raises(ValueError, match="reserved"):
        gpu.forward(np.array([1, INT64_MAX], np.int64), np.array([0, 1, 2]), "sum", True)
    with pytest.raises(ValueError, match=r"must not decrease. Received: row_splits\[2\]=1 < "):
        gpu.forward(np.array([1, 2], np.int64), np.array([0, 2, 1, 2]), "sum", True)
    with pytest.raises(ValueError, match="end at the number of keys 2"):
        gpu.backward(np.array([1, 2], np.int64), np.array([0, 1]), "sum", np.zeros((1, 4)))
    with pytest.raises(ValueError, match="not in the table"):
        gpu.apply(np.array([12345], np.int64), np.zeros((1, 4), np.float32), 0.1)
    one_hot = h.OneHotTable(slot_sizes=[3, 5], vec=4, seed=1)
    # InvalidArgument (ValueError here), never OutOfRange: Keras reads that as the end of data.
    with pytest.raises(ValueError, match=r"key 5 in slot 1 \(sample 0\) is outside the slot's"):
        one_hot.forward(np.array([2, 5], np.int64), np.array([0, 1, 2]), "sum", True)


def test_one_hot_slots_of_size_zero_share_the_next_slots_rows():
    """HugeCTR's DIN: a slot of size 0 takes the key range and rows of the next positive slot;
    a trailing 0 takes no key. Same rows and the same refusal as the CPU core."""
    sizes = [0, 5, 0]
    cpu = h.CpuTable(
        vec=4, workspace_mb=1, type="LocalizedSlotSparseEmbeddingOneHot", slot_sizes=sizes, seed=3
    )
    gpu = h.OneHotTable(slot_sizes=sizes, vec=4, seed=3)
    values, splits = np.array([4, 4], np.int64), np.array([0, 1, 2, 2], np.int64)
    out_g, _ = gpu.forward(values, splits, "sum", True)
    out_c = cpu.lookup_train(values, splits, 3, "sum")[0]
    np.testing.assert_array_equal(out_g[0], out_g[1])
    close("zero-size slot", out_g, out_c)
    bad = np.array([0, 0, 0, 1], np.int64)
    for lookup in (
        lambda: gpu.forward(np.array([0], np.int64), bad, "sum", True),
        lambda: cpu.lookup_train(np.array([0], np.int64), bad, 3, "sum"),
    ):
        with pytest.raises(
            ValueError,
            match=r"key 0 in slot 2 \(sample 0\) is outside the "
            r"slot's range \[0, 0\)",
        ):
            lookup()


def test_against_numpy_reference():
    """An independent check of both cores' shared reading of docs/EMBEDDING_SEMANTICS.md."""
    rng = np.random.default_rng(21)
    gpu = h.HashTable(
        max_rows=5000, vec=16, seed=77, optimizer="adam", update="lazy_global", **HYPER
    )
    table = ref.Table(16, 77, ref.Optimizer("adam", "lazy_global", accu=0.1, mu=0.9))
    pool = key_pool(rng, 800)
    for lr in LRS:
        values, splits = make_batch(rng, 32, 3, 4, pool)
        out_g, _ = gpu.forward(values, splits, "mean", True)
        out_r, _ = table.forward(values, splits, "mean")
        close("numpy_forward", out_g, out_r)
        dout = rng.standard_normal(out_r.shape).astype(np.float32)
        uk_g, g_g = gpu.backward(values, splits, "mean", dout)
        uk_r, g_r = ref.backward(values, splits, "mean", dout)
        np.testing.assert_array_equal(uk_g, uk_r)
        close("numpy_backward", g_g, g_r)
        gpu.apply(uk_g, g_g, lr)
        table.apply(uk_r, g_r, lr)
    g = gpu.export()
    order = np.argsort(g["keys"])
    np.testing.assert_array_equal(g["keys"][order], table.ids)
    close("numpy_weights", g["weights"][order], table.w)


@pytest.mark.parametrize("combiner", ["sum", "mean"])
def test_backward_over_lookup_inverse(combiner):
    """The TensorFlow ops hand the lookup's `inverse` to the backward: the GPU backward over
    those ids gives the gradients in unique-key order."""
    rng = np.random.default_rng(len(combiner))
    cpu, gpu = hash_pair(16, "sgd", "local")
    values, splits = make_batch(rng, 512, 4, 3, key_pool(rng, 300), alpha=1.3)
    _, uk_c, inv_c = cpu.lookup_train(values, splits, 4, combiner)
    dout = rng.standard_normal((len(splits) - 1, 16)).astype(np.float32)
    g_c = cpu.backward(splits, inv_c, len(uk_c), combiner, dout)
    ids, g_g = gpu.backward(inv_c, splits, combiner, dout)
    np.testing.assert_array_equal(ids, np.arange(len(uk_c)))
    abs_sum = cpu.backward(splits, inv_c, len(uk_c), combiner, np.abs(dout))
    close_sum("backward_by_inverse", g_g, g_c, abs_sum)
