"""The device pieces the TensorFlow GPU kernels add on top of the verified core
(cc/cuda/op_support and the checkpoint methods of cc/cuda/embedding_table), checked against numpy
and the CPU core. Same harness module and skip rules as test_cuda_embedding.py.
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

HYPER = dict(beta1=0.9, beta2=0.999, epsilon=1e-7, initial_accu_value=0.1, momentum_factor=0.9)


def first_index(mask):
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else -1


@pytest.mark.parametrize("n", [0, 1, 1000, 100_000])
def test_inverse_from_unique(n):
    rng = np.random.default_rng(n)
    ids = rng.integers(-50, 50, n) * rng.integers(1, 1 << 40, n)
    unique, inverse = h.inverse_from_unique(ids)
    want_unique, want_inverse = np.unique(ids, return_inverse=True)
    np.testing.assert_array_equal(unique, want_unique)
    np.testing.assert_array_equal(inverse, want_inverse.reshape(-1))


def test_new_row_slots():
    rng = np.random.default_rng(3)
    slot_num = 3
    nnz = rng.integers(0, 4, 40 * slot_num)
    splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    keys = rng.integers(0, 30, int(splits[-1])).astype(np.int64)
    unique = np.unique(keys)
    rows_of_unique = rng.permutation(len(unique)).astype(np.int64)
    first_new = len(unique) // 2
    got = h.new_row_slots(
        keys, splits, slot_num, rows_of_unique, first_new, np.full(len(unique), -7, np.int64)
    )
    bag_of_position = np.repeat(np.arange(len(nnz)), nnz)
    want = np.full(len(unique), -7, np.int64)
    for u, key in enumerate(unique):
        if rows_of_unique[u] >= first_new:
            want[rows_of_unique[u]] = bag_of_position[np.flatnonzero(keys == key)[0]] % slot_num
    np.testing.assert_array_equal(got, want)


def test_first_bad_position_checks():
    rng = np.random.default_rng(4)
    v = rng.integers(0, 100, 5000).astype(np.int64)
    assert h.first_out_of_range(v, 0, 100) == -1
    v[[4000, 1234]] = [100, -1]
    assert h.first_out_of_range(v, 0, 100) == 1234
    asc = np.cumsum(rng.integers(1, 5, 5000)).astype(np.int64)
    assert h.first_not_ascending(asc) == -1
    asc[3000] = asc[2999]
    asc[4000] = asc[3999] - 1
    assert h.first_not_ascending(asc) == first_index(np.diff(asc) <= 0) + 1 == 3000
    assert h.first_not_ascending(np.array([], np.int64)) == -1
    seen = (rng.random(200) < 0.5).astype(np.uint8)
    rows = rng.integers(-5, 205, 3000).astype(np.int64)
    absent = (rows < 0) | (rows >= 200) | (seen[np.clip(rows, 0, 199)] == 0)
    assert h.first_absent_row(rows, 200, seen) == first_index(absent)


def test_scatter_rows_and_count():
    rng = np.random.default_rng(5)
    dst = rng.standard_normal((300, 16)).astype(np.float32)
    index = rng.permutation(300)[:120].astype(np.int64)
    src = rng.standard_normal((120, 16)).astype(np.float32)
    want = dst.copy()
    want[index] = src
    np.testing.assert_array_equal(h.scatter_rows(src, index, dst), want)
    flags = (rng.random(100_003) < 0.3).astype(np.uint8)
    assert h.count_nonzero(flags) == int(flags.sum())


def test_hash_clear_then_insert_initialises_as_new():
    rng = np.random.default_rng(6)
    old = rng.integers(0, 1 << 40, 500).astype(np.int64)
    new = rng.integers(0, 1 << 40, 300).astype(np.int64)
    new = np.unique(new)
    t = h.HashTable(max_rows=1000, vec=8, seed=9, optimizer="adam", update="local", **HYPER)
    t.forward(old, np.array([0, len(old)], np.int64), "sum", True)
    t.apply(np.unique(old), np.ones((len(np.unique(old)), 8), np.float32), 0.1)
    t.clear()
    assert t.size == 0
    rows = t.lookup_rows(new, True)
    np.testing.assert_array_equal(np.sort(rows), np.arange(len(new)))
    fresh = h.HashTable(max_rows=1000, vec=8, seed=9, optimizer="adam", update="local", **HYPER)
    fresh.forward(new, np.array([0, len(new)], np.int64), "sum", True)
    a, b = t.export(), fresh.export()
    order_a, order_b = np.argsort(a["keys"]), np.argsort(b["keys"])
    np.testing.assert_array_equal(a["keys"][order_a], new)
    np.testing.assert_array_equal(a["weights"][order_a], b["weights"][order_b])
    np.testing.assert_array_equal(a["slot0"][order_a], 0)
    np.testing.assert_array_equal(a["last_step"], 1)  # created at the current step
    np.testing.assert_array_equal(t.lookup_rows(new[:5], False), rows[:5])


def test_restore_steps_matches_uninterrupted_lazy_global_adam():
    # CPU core: key 7 hit at steps 1 and 4, key 9 at steps 2 and 3 (LazyGlobal replays 2, 3 for
    # key 7). GPU: key 7 at step 1, then the step counter and rates restored to step 3, then step
    # 4: the replay must use the restored rates of steps 2 and 3.
    lrs = np.array([0.05, 0.1, 0.02, 0.07], np.float32)
    grad = np.full((1, 4), 0.5, np.float32)
    one = np.array([0, 1], np.int64)
    cpu = h.CpuTable(
        vec=4, workspace_mb=1.0, seed=2, optimizer="adam", update="lazy_global", **HYPER
    )
    gpu = h.HashTable(max_rows=100, vec=4, seed=2, optimizer="adam", update="lazy_global", **HYPER)
    key7, key9 = np.array([7], np.int64), np.array([9], np.int64)
    cpu.lookup_train(key7, one, 1, "sum")
    cpu.apply(key7, grad, lrs[0])
    cpu.lookup_train(key9, one, 1, "sum")
    cpu.apply(key9, grad, lrs[1])
    cpu.apply(key9, grad, lrs[2])
    cpu.apply(key7, grad, lrs[3])
    gpu.forward(key7, one, "sum", True)
    gpu.apply(key7, grad, lrs[0])
    gpu.restore_steps(lrs[:3])
    assert gpu.step == 3
    gpu.apply(key7, grad, lrs[3])
    c, g = cpu.export(), gpu.export()
    i = int(np.flatnonzero(c["keys"] == 7)[0])
    np.testing.assert_array_equal(g["weights"][0], c["weights"][i])
    np.testing.assert_array_equal(g["slot0"][0], c["opt_slots"][i][0])
    np.testing.assert_array_equal(g["slot1"][0], c["opt_slots"][i][1])
    assert g["step"] == 4


def test_one_hot_reset_rows_and_mark_seen():
    sizes = [10, 20]
    t = h.OneHotTable(
        slot_sizes=sizes, vec=4, seed=3, optimizer="momentum", update="local", **HYPER
    )
    fresh = t.export()
    values = np.array([1, 5, 2], np.int64)
    splits = np.array([0, 2, 3], np.int64)  # one sample, two slots
    t.forward(values, splits, "sum", True)
    rows = t.rows(values, splits)
    t.apply(np.unique(rows), np.ones((len(np.unique(rows)), 4), np.float32), 0.1)
    assert not np.array_equal(t.export()["weights"], fresh["weights"])
    t.reset_rows()
    after = t.export()
    np.testing.assert_array_equal(after["weights"], fresh["weights"])
    np.testing.assert_array_equal(after["slot0"], 0)
    assert after["seen"].sum() == 0
    t.mark_seen(np.array([3, 12], np.int64))
    after = t.export()
    np.testing.assert_array_equal(np.flatnonzero(after["seen"]), [3, 12])
    np.testing.assert_array_equal(after["last_step"][[3, 12]], t.step)
