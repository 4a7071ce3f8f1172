"""OneHot tables hold sum(slot_size_array) rows, as HugeCTR 3.1 sizes them, whatever the workspace.

HugeCTR's `add_sparse_embedding.cpp` ignores `workspace_size_per_gpu_in_mb` for
LocalizedSlotSparseEmbeddingOneHot; the DLRM Kaggle sample gives 23.8 M rows of 128 floats
(12 GB). Memory is reserved, not committed: creating and using such a table costs the pages of
the keys it sees.
"""

import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.ops import embedding_ops as E

# HugeCTR 3.1's samples/dlrm/dlrm_kaggle_fp32.py.
KAGGLE_SLOT_SIZES = [
    1459, 583, 6373320, 1977439, 305, 24, 12513, 633, 3, 92719, 5681, 5666265, 3193, 27, 14986,
    4209368, 10, 5652, 2173, 4, 5058596, 18, 15, 282062, 105, 141594,
]  # fmt: skip
ONE_HOT = "LocalizedSlotSparseEmbeddingOneHot"


def _rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_capacity_is_the_sum_of_the_slot_sizes_whatever_the_workspace():
    t = E.create_table(8, 1, embedding_type=ONE_HOT, slot_size_array=[3, 5, 100000])
    stats = E.table_stats(t)
    assert int(stats["capacity"]) == 100008 and int(stats["size"]) == 0


def test_kaggle_sized_table_is_reserved_lazily():
    before = _rss_bytes()
    t = E.create_table(128, 11645, embedding_type=ONE_HOT, slot_size_array=KAGGLE_SLOT_SIZES)
    assert int(E.table_stats(t)["capacity"]) == sum(KAGGLE_SLOT_SIZES) == 23848747
    # One sample touching the last key of every slot (the far ends of the 12 GB of rows).
    keys = np.asarray(KAGGLE_SLOT_SIZES, np.int64) - 1
    splits = np.arange(len(keys) + 1, dtype=np.int64)
    emb, unique_keys, _ = E.lookup_train(t, keys, splits, len(keys), 128)
    assert emb.shape == (1, 26, 128) and np.isfinite(emb.numpy()).all()
    offsets = np.concatenate([[0], np.cumsum(KAGGLE_SLOT_SIZES)[:-1]])
    np.testing.assert_array_equal(unique_keys.numpy(), keys + offsets)
    grown = _rss_bytes() - before
    assert grown < 512 * 2**20, f"creating and using the table took {grown / 2**20:.0f} MB"


def test_zero_size_slots_share_the_range_of_the_next_positive_slot():
    # DIN: [users, 0, 0, items, 0, categories]: slots 1-3 read item ids, slot 4-5 categories.
    t = E.create_table(4, 1, embedding_type=ONE_HOT, slot_size_array=[10, 0, 0, 6, 0, 3])
    _, unique_keys, _ = E.lookup_train(t, [9, 5, 5, 0, 2, 1], np.arange(7), 6, 4)
    # offsets [0, 10, 10, 10, 16, 16]: item 5 of slots 1 and 2 is one row, 15.
    np.testing.assert_array_equal(unique_keys.numpy(), [9, 10, 15, 17, 18])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"key 6 in slot 1 .*\[0, 6\)"):
        E.lookup_train(t, [0, 6, 0, 0, 0, 0], np.arange(7), 6, 4)


@pytest.mark.parametrize(
    "sizes, message",
    [([], r"must be given"), ([3, -1], r"non-negative.*slot_size_array\[1\]=-1"), ([0, 0], "sum")],
)
def test_bad_slot_sizes_are_named(sizes, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        E.create_table(4, 1, embedding_type=ONE_HOT, slot_size_array=sizes)
