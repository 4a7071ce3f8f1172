"""The whole GPU table (cc/cuda/gpu_table.cuh, what the TensorFlow GPU kernels call) against the
CPU table (cc/core/embedding/table.h, what the CPU kernels call), method by method, without
TensorFlow: lookups, backward, apply, stats, export, import, and the error messages of the
shared checks (cc/core/embedding/table_checks.h). Rules as in compare.py; keys, unique keys,
inverse, slot ids, last steps, step counters and learning-rate histories must be identical.
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
    h.device_info()
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
    one_hot_batch,
    strip_location,
)

TYPES = [
    "DistributedSlotSparseEmbeddingHash",
    "LocalizedSlotSparseEmbeddingHash",
    "LocalizedSlotSparseEmbeddingOneHot",
]
SIZES = [7, 50, 300]


def tables(table_type, vec=16, optimizer="adam", update="global", workspace_mb=16.0, **extra):
    kw = dict(vec=vec, workspace_mb=workspace_mb, type=table_type, seed=7, optimizer=optimizer)
    kw.update(update=update, **HYPER)
    if table_type.endswith("OneHot"):
        kw["slot_sizes"] = SIZES
    kw.update(extra)
    return h.CpuTable(**kw), h.GpuTable(**kw)


def batch(rng, table_type, pool):
    if table_type.endswith("OneHot"):
        return one_hot_batch(rng, 48, SIZES) + (len(SIZES),)
    return make_batch(rng, 48, 4, 3, pool) + (4,)


def same_state(cpu, gpu):
    c, g = cpu.export(), gpu.export()
    for name in ("keys", "slot_ids", "last_step", "lr_history"):
        np.testing.assert_array_equal(g[name], c[name], err_msg=name)
    assert g["step"] == c["step"]
    close("table_weights", g["weights"], c["weights"])
    close("table_opt_slots", g["opt_slots"], c["opt_slots"])


def train_both(cpu, gpu, values, splits, slot_num, combiner, lr, rng):
    out_c, uk_c, inv_c = cpu.lookup_train(values, splits, slot_num, combiner)
    out_g, uk_g, inv_g = gpu.lookup_train(values, splits, slot_num, combiner)
    close("table_forward", out_g, out_c)
    np.testing.assert_array_equal(uk_g, uk_c)
    np.testing.assert_array_equal(inv_g, inv_c)
    dout = rng.standard_normal(out_c.shape).astype(np.float32)
    g_c = cpu.backward(splits, inv_c, len(uk_c), combiner, dout)
    g_g = gpu.backward(splits, inv_g, len(uk_g), combiner, dout)
    abs_sum = cpu.backward(splits, inv_c, len(uk_c), combiner, np.abs(dout))
    close_sum("table_backward", g_g, g_c, abs_sum)
    cpu.apply(uk_c, g_c, lr)
    gpu.apply(uk_c, g_c, lr)  # the same gradients: optimizer differences stay visible


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("combiner", ["sum", "mean"])
@pytest.mark.parametrize("table_type", TYPES)
def test_gpu_table_matches_cpu_table(table_type, combiner, optimizer, update):
    rng = np.random.default_rng([TYPES.index(table_type), len(combiner), len(update), 3])
    rng = np.random.default_rng(rng.integers(1 << 30) + OPTIMIZERS.index(optimizer))
    cpu, gpu = tables(table_type, optimizer=optimizer, update=update)
    assert gpu.capacity == cpu.capacity
    pool = key_pool(rng, 2000)
    for lr in LRS:
        values, splits, slot_num = batch(rng, table_type, pool)
        train_both(cpu, gpu, values, splits, slot_num, combiner, lr, rng)
    assert gpu.size == cpu.size and gpu.step == cpu.step == len(LRS)
    same_state(cpu, gpu)
    # inference: keys never trained are misses on both; the counters agree
    if table_type.endswith("OneHot"):
        # slot 2 (table keys 57..356): a key training never drew, so at least one miss
        seen = set(cpu.export()["keys"].tolist())
        unseen = next(k for k in range(57, 357) if k not in seen) - 57
        values = np.array([0, 49, unseen, 6], np.int64)
        splits, slot_num = np.array([0, 1, 2, 3, 4, 4, 4]), 3
    else:
        values, splits = make_batch(rng, 32, 4, 3, key_pool(rng, 500))
        slot_num = 4
    out_c, miss_c = cpu.lookup_inference(values, splits, slot_num, combiner)
    out_g, miss_g = gpu.lookup_inference(values, splits, slot_num, combiner)
    assert miss_g == miss_c > 0 and gpu.misses == cpu.misses == miss_c
    close("table_inference", out_g, out_c)


@pytest.mark.parametrize("table_type", TYPES)
def test_checkpoint_round_trip(table_type):
    """CPU export -> GPU import (rows, then optimizer state) gives the CPU table back; both then
    train on identically."""
    rng = np.random.default_rng(11)
    cpu, _ = tables(table_type, optimizer="adam", update="lazy_global")
    pool = key_pool(rng, 800)
    for lr in LRS[:3]:
        values, splits, slot_num = batch(rng, table_type, pool)
        out, uk, inv = cpu.lookup_train(values, splits, slot_num, "sum")
        dout = rng.standard_normal(out.shape).astype(np.float32)
        cpu.apply(uk, cpu.backward(splits, inv, len(uk), "sum", dout), lr)
    st = cpu.export()
    _, gpu = tables(table_type, optimizer="adam", update="lazy_global")
    gpu.import_rows(st["keys"], st["weights"], st["slot_ids"])
    gpu.import_optimizer_state(
        st["keys"], st["opt_slots"], st["last_step"], st["step"], st["lr_history"]
    )
    assert gpu.size == cpu.size and gpu.step == cpu.step
    same_state(cpu, gpu)
    values, splits, slot_num = batch(rng, table_type, pool)
    train_both(cpu, gpu, values, splits, slot_num, "mean", 0.03, rng)
    same_state(cpu, gpu)


def test_backward_keys_no_position_refers_to():
    """Unique keys that no position refers to get zero gradients, as on the CPU."""
    rng = np.random.default_rng(2)
    cpu, gpu = tables(TYPES[0])
    splits = np.array([0, 2, 2, 5], np.int64)
    inverse = np.array([4, 1, 1, 4, 6], np.int64)
    dout = rng.standard_normal((3, 16)).astype(np.float32)
    g_c = cpu.backward(splits, inverse, 9, "mean", dout)
    g_g = gpu.backward(splits, inverse, 9, "mean", dout)
    np.testing.assert_array_equal(g_g, g_c)
    assert not g_g[[0, 2, 3, 5, 7, 8]].any()


def same_error(exc, cpu_call, gpu_call):
    with pytest.raises(exc) as cpu_err:
        cpu_call()
    with pytest.raises(exc) as gpu_err:
        gpu_call()
    assert strip_location(gpu_err.value) == strip_location(cpu_err.value)
    return strip_location(cpu_err.value)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(vec=0), ValueError, "embedding_vec_size=0"),
        (dict(workspace_mb=0.0), ValueError, "workspace_size_per_gpu_in_mb=0"),
        (dict(type=TYPES[2], slot_sizes=[]), ValueError, "slot_size_array=\\[\\]"),
        (dict(type=TYPES[2], slot_sizes=[3, 0]), ValueError, "slot_size_array\\[1\\]=0"),
        (dict(type=TYPES[2], slot_sizes=[10**7]), MemoryError, "needs 10000000 rows"),
    ],
)
def test_creation_errors_match_cpu(kwargs, exc, match):
    kw = dict(vec=16, workspace_mb=1.0, **HYPER)
    kw.update(kwargs)
    message = same_error(exc, lambda: h.CpuTable(**kw), lambda: h.GpuTable(**kw))
    assert __import__("re").search(match, message), message


def test_lookup_and_apply_errors_match_cpu():
    rng = np.random.default_rng(4)
    cpu, gpu = tables(TYPES[0], vec=4, optimizer="sgd", update="local", workspace_mb=0.01)
    pool = key_pool(rng, cpu.capacity + 50)
    fill = pool[: cpu.capacity - 5]
    fill_splits = np.arange(len(fill) + 1, dtype=np.int64)
    train_both(cpu, gpu, fill, fill_splits, 1, "sum", 0.1, rng)
    over = np.repeat(pool[cpu.capacity - 5 : cpu.capacity + 5], 2)  # 10 new keys, each twice
    over_splits = np.arange(len(over) + 1, dtype=np.int64)
    msg = same_error(
        MemoryError,
        lambda: cpu.lookup_train(over, over_splits, 1, "sum"),
        lambda: gpu.lookup_train(over, over_splits, 1, "sum"),
    )
    assert "is full" in msg and "adds 10 new keys" in msg
    assert gpu.size == cpu.size == cpu.capacity - 5
    bad_splits = np.array([0, 2, 1, 3], np.int64)
    keys3 = pool[:3]
    msg = same_error(
        ValueError,
        lambda: cpu.lookup_train(keys3, bad_splits, 1, "sum"),
        lambda: gpu.lookup_train(keys3, bad_splits, 1, "sum"),
    )
    assert "must not decrease" in msg
    same_error(
        ValueError,
        lambda: cpu.lookup_train(keys3, np.array([0, 1, 3]), 3, "sum"),
        lambda: gpu.lookup_train(keys3, np.array([0, 1, 3]), 3, "sum"),
    )
    same_error(
        ValueError,
        lambda: cpu.lookup_train(keys3, np.array([0, 1, 2, 2]), 1, "sum"),
        lambda: gpu.lookup_train(keys3, np.array([0, 1, 2, 2]), 1, "sum"),
    )
    keys = np.sort(fill[:3])
    grads = np.ones((3, 4), np.float32)
    msg = same_error(
        ValueError,
        lambda: cpu.apply(keys[::-1].copy(), grads, 0.1),
        lambda: gpu.apply(keys[::-1].copy(), grads, 0.1),
    )
    assert "strictly ascending" in msg
    absent = np.sort(np.concatenate([keys[:2], pool[-1:]]))
    msg = same_error(
        ValueError,
        lambda: cpu.apply(absent, grads, 0.1),
        lambda: gpu.apply(absent, grads, 0.1),
    )
    assert f"gradient for key {pool[-1]}" in msg
    same_error(
        ValueError,
        lambda: cpu.apply(keys, grads, float("nan")),
        lambda: gpu.apply(keys, grads, float("nan")),
    )
    same_error(
        ValueError,
        lambda: cpu.backward(np.array([0, 1, 3]), np.array([0, 5, 1]), 2, "sum", grads[:2]),
        lambda: gpu.backward(np.array([0, 1, 3]), np.array([0, 5, 1]), 2, "sum", grads[:2]),
    )
    assert gpu.step == cpu.step == 1


def test_one_hot_and_import_errors_match_cpu():
    cpu, gpu = tables(TYPES[2], vec=4, optimizer="adagrad", update="local")
    values, splits = np.array([2, 50, 1], np.int64), np.array([0, 1, 2, 3, 3, 3, 3])
    msg = same_error(
        ValueError,
        lambda: cpu.lookup_train(values, splits, 3, "sum"),
        lambda: gpu.lookup_train(values, splits, 3, "sum"),
    )
    assert "key 50 in slot 1 (sample 0)" in msg
    same_error(
        ValueError,
        lambda: cpu.lookup_train(values[:2], np.array([0, 1, 2]), 2, "sum"),
        lambda: gpu.lookup_train(values[:2], np.array([0, 1, 2]), 2, "sum"),
    )
    rows = np.zeros((2, 4), np.float32)
    same_error(
        ValueError,
        lambda: cpu.import_rows(np.array([3, 3]), rows),
        lambda: gpu.import_rows(np.array([3, 3]), rows),
    )
    same_error(
        ValueError,
        lambda: cpu.import_rows(np.array([3, 357]), rows),
        lambda: gpu.import_rows(np.array([3, 357]), rows),
    )
    cpu.import_rows(np.array([3, 8]), rows)
    gpu.import_rows(np.array([3, 8]), rows)
    slots = np.zeros((2, 1, 4), np.float32)
    same_error(
        ValueError,
        lambda: cpu.import_optimizer_state(np.array([3, 8]), slots, np.array([0, 2]), 1, [0.1]),
        lambda: gpu.import_optimizer_state(np.array([3, 8]), slots, np.array([0, 2]), 1, [0.1]),
    )
    same_error(
        ValueError,
        lambda: cpu.import_optimizer_state(np.array([3, 9]), slots, np.array([0, 1]), 1, [0.1]),
        lambda: gpu.import_optimizer_state(np.array([3, 9]), slots, np.array([0, 1]), 1, [0.1]),
    )
    same_state(cpu, gpu)
