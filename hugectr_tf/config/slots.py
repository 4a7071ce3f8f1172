"""Slot offsets: where each slot's key range starts in a table shared by several slots.

HugeCTR gives each slot `s` of a `slot_size_array` the key range
`[offset[s], offset[s] + slot_size_array[s])` with `offset` the exclusive prefix sum of the sizes.
The Raw and Parquet readers add these offsets to per-slot ids, the Norm writers of this project add
them before writing, and `LocalizedSlotSparseEmbeddingOneHot` addresses row `key + offset[slot]`.
Every one of them calls `slot_offsets`.

A slot of size 0 adds nothing to the offsets, so its keys share the key range of the slots after
it: HugeCTR's DIN samples give their history slots size 0 so that they read the ids of the item
slot that follows (the same offset). `slot_key_limits` gives the bound each slot's keys must stay
under.
"""

import numpy as np

from hugectr_tf.config.checks import non_negative_int, require


def slot_offsets(slot_size_array):
    """int64 [len(slot_size_array)]: the first key of each slot (exclusive prefix sum)."""
    sizes = np.asarray(list(slot_size_array), np.int64).reshape(-1)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes.size else sizes


def check_slot_size_array(sizes, argument="slot_size_array"):
    """`sizes` as a list of ints >= 0 with a positive sum (when not empty); raises otherwise."""
    require(isinstance(sizes, (list, tuple)), argument, sizes, "a list of integers")
    sizes = [non_negative_int(s, argument) for s in sizes]
    require(not sizes or sum(sizes) > 0, argument, sizes, "a list with a positive sum")
    return sizes


def slot_key_limits(slot_size_array):
    """int64 [slots]: slot s takes keys in [0, limit[s]). That is its size, or for a slot of size 0
    the size of the next slot with a positive size, whose offset it shares (0 if none follows)."""
    sizes = [int(s) for s in slot_size_array]
    limits, following = [], 0
    for size in reversed(sizes):
        following = size if size > 0 else following
        limits.append(following)
    return np.asarray(limits[::-1], np.int64)
