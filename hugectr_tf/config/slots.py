"""Slot offsets: where each slot's key range starts in a table shared by several slots.

HugeCTR gives each slot `s` of a `slot_size_array` the key range
`[offset[s], offset[s] + slot_size_array[s])` with `offset` the exclusive prefix sum of the sizes.
The Raw and Parquet readers add these offsets to per-slot ids, the Norm writers of this project add
them before writing, and `LocalizedSlotSparseEmbeddingOneHot` addresses row `key + offset[slot]`.
Every one of them calls `slot_offsets`.
"""

import numpy as np


def slot_offsets(slot_size_array):
    """int64 [len(slot_size_array)]: the first key of each slot (exclusive prefix sum)."""
    sizes = np.asarray(list(slot_size_array), np.int64).reshape(-1)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes.size else sizes
