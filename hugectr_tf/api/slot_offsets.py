"""Keys from readers that already add per-slot offsets, made local again for OneHot tables.

HugeCTR's Raw and Parquet readers, given `slot_size_array`, add each slot's offset
(`hugectr_tf.config.slot_offsets`) to its keys so slots never share a key.
`LocalizedSlotSparseEmbeddingOneHot` addresses its dense table by `key + slot offset` itself, from
the same sizes. When both happen the Model puts this layer between them, so either way of writing
the script (sizes on the reader, on the embedding, or on both, as HugeCTR's samples do) reads the
same rows.
"""

import keras
import numpy as np
import tensorflow as tf

from hugectr_tf.config import DataReaderType_t, slot_offsets


class RemoveSlotOffsets(keras.layers.Layer):
    """keys[b, s, :] - offsets[s] for a RaggedTensor [batch, slots, (nnz)] of int64 keys."""

    def __init__(self, offsets, **kwargs):
        super().__init__(**kwargs)
        self.offsets = [int(o) for o in offsets]

    def call(self, keys):
        offsets = tf.constant(np.asarray(self.offsets, np.int64))
        slots = len(self.offsets)
        inner = keys.values  # [batch * slots, (nnz)]
        slot_of_value = tf.math.floormod(inner.value_rowids(), slots)
        local = inner.flat_values - tf.gather(offsets, slot_of_value)
        return keys.with_values(inner.with_flat_values(local))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "offsets": self.offsets}


def reader_slot_offsets(reader_params, inp, sparse_name):
    """The offsets the reader adds to `sparse_name`'s slots, or None when it adds none."""
    sizes = list(reader_params.slot_size_array)
    if reader_params.data_reader_type == DataReaderType_t.Norm or not sizes:
        return None
    start = inp.first_slot(sparse_name)
    slots = inp.sparse_param(sparse_name).slot_num
    return slot_offsets(sizes)[start : start + slots].tolist()
