"""Comparison rules and random inputs shared by the GPU harness tests (no harness import here).

Floats must agree within 1e-5 relative: |got - want| <= 1e-5 * (|want| + m), m the mean |want|
of the compared array, so that elements that cancel to ~0 are judged at the array's scale.
Per-key gradient sums, which may be added in another order (the GPU's pieces of hot keys, one
partial sum per GPU in the sharded table), are judged against the sum of the absolute values of
their terms, the scale of a sum's rounding error. The largest error of each kind is recorded in
MAX_ERR and written by conftest.py.
"""

import re

import numpy as np

HYPER = dict(beta1=0.9, beta2=0.999, epsilon=1e-7, initial_accu_value=0.1, momentum_factor=0.9)
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "adam"]
UPDATES = ["local", "global", "lazy_global"]
LRS = [0.05, 0.1, 0.02, 0.07]
MAX_ERR = {}


def close(what, got, want, tol=1e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert np.isfinite(got).all(), f"{what}: non-finite values"
    if not want.size:
        return
    err = np.abs(got - want) / (np.abs(want) + np.mean(np.abs(want)) + 1e-30)
    worst = float(err.max())
    MAX_ERR[what] = max(MAX_ERR.get(what, 0.0), worst)
    at = np.unravel_index(err.argmax(), err.shape)
    assert worst <= tol, f"{what}: rel err {worst:.3g} at {at}: got {got[at]} want {want[at]}"


def close_sum(what, got, want, abs_sum):
    """Sums: error relative to sum |terms| (abs_sum), the natural scale of rounding in a sum."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert np.isfinite(got).all(), f"{what}: non-finite values"
    if not want.size:
        return
    err = np.abs(got - want) / (np.asarray(abs_sum, np.float64) + 1e-30)
    worst = float(err.max())
    MAX_ERR[what] = max(MAX_ERR.get(what, 0.0), worst)
    at = np.unravel_index(err.argmax(), err.shape)
    assert worst <= 1e-5, f"{what}: err {worst:.3g} of sum|terms| at {at}: {got[at]} vs {want[at]}"


def key_pool(rng, size):
    """`size` distinct int64 keys over the whole range (negative too), INT64_MAX excluded."""
    keys = np.unique(rng.integers(-(2**63), 2**63 - 1, size=size + size // 8 + 16, dtype=np.int64))
    rng.shuffle(keys)
    return keys[:size]


def make_batch(rng, batch, slots, max_nnz, pool, alpha=1.2, p_empty=0.2):
    """CSR batch: empty bags, repeated keys within and across bags, power-law key frequency."""
    nnz = rng.integers(1, max_nnz + 1, batch * slots)
    nnz[rng.random(batch * slots) < p_empty] = 0
    splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    idx = (rng.zipf(alpha, int(splits[-1])) - 1) % len(pool)
    return pool[idx].astype(np.int64), splits


def per_slot_batch(rng, batch, slots, max_nnz, keys_per_slot, alpha=1.2, p_empty=0.2):
    """CSR batch whose slots draw from disjoint key ranges (negative keys too), as HugeCTR data
    gives every slot its own range: what Localized tables assume across shards."""
    nnz = rng.integers(1, max_nnz + 1, batch * slots)
    nnz[rng.random(batch * slots) < p_empty] = 0
    splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    slot = np.repeat(np.arange(batch * slots) % slots, nnz)
    local = (rng.zipf(alpha, int(splits[-1])) - 1) % keys_per_slot
    values = (slot - slots // 2) * 1_000_003 * keys_per_slot + local * 7919
    return values.astype(np.int64), splits


def one_hot_batch(rng, batch, sizes, max_nnz=2):
    slots = len(sizes)
    nnz = rng.integers(0, max_nnz + 1, batch * slots)
    splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
    slot = np.repeat(np.arange(batch * slots) % slots, nnz)
    values = (rng.zipf(1.3, int(splits[-1])) - 1) % np.array(sizes)[slot]
    return values.astype(np.int64), splits


def strip_location(message):
    """An error message without the trailing ' [file:line]' the cores append."""
    return re.sub(r" \[[^\]]*:\d+\]$", "", str(message))
