"""A table frozen into stock TensorFlow: a static hash table (key -> row) plus a row variable.

`export_for_serving` (hugectr_tf.keras.serving) freezes each SparseEmbedding this way and traces
the model inside `frozen_tables(...)`; while that context is active a layer's `call` asks
`frozen_lookup(layer)` for its stand-in, so the SavedModel holds no custom op. Lookups follow the
inference semantics of docs/EMBEDDING_SEMANTICS.md: a key the table does not hold adds a zero
vector and still counts in the `mean` combiner's denominator.
"""

import contextlib
import contextvars

import numpy as np
import tensorflow as tf

_FROZEN = contextvars.ContextVar("hugectr_tf_frozen_tables", default=None)


class FrozenTable(tf.Module):
    """Stock-TensorFlow copy of one table's rows, answering the layer's inference lookup.

    Args:
        state: Dict of arrays with at least `keys` [n] and `rows` [n, vec]
            (`EmbeddingTable.export`).
        slot_num: Integer. Slots per sample.
        combiner: "sum" or "mean".
        slot_offsets: None, or int64 [slot_num] added to each slot's keys (OneHot tables store
            key + slot offset).
        name: String. Module name.
    """

    def __init__(self, state, slot_num, combiner, slot_offsets=None, name=None):
        super().__init__(name=name)
        keys = np.asarray(state["keys"], np.int64)
        rows = np.asarray(state["rows"], np.float32)
        self.vec = rows.shape[1]
        self.slot_num = slot_num
        self.combiner = combiner
        # One extra zero row answers keys the table does not hold.
        self.rows = tf.Variable(
            np.concatenate([rows, np.zeros((1, self.vec), np.float32)]), trainable=False
        )
        index = np.arange(len(keys), dtype=np.int64)
        if len(keys) == 0:  # a static table cannot be empty: one key that maps to the zero row
            keys, index = np.zeros(1, np.int64), np.zeros(1, np.int64)
        initializer = tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(index))
        self.index = tf.lookup.StaticHashTable(initializer, default_value=len(rows))
        self.offsets = None if slot_offsets is None else tf.constant(slot_offsets, tf.int64)

    def lookup(self, values, splits):
        """[batch, slot_num, vec] from CSR keys, as the layer's inference lookup."""
        num_rows = tf.shape(splits, out_type=tf.int64)[0] - 1
        segment = tf.ragged.row_splits_to_segment_ids(splits, out_type=tf.int64)
        if self.offsets is not None:
            values = values + tf.gather(self.offsets, tf.math.floormod(segment, self.slot_num))
        gathered = tf.gather(self.rows, self.index.lookup(values))
        summed = tf.math.unsorted_segment_sum(gathered, segment, num_rows)
        if self.combiner == "mean":
            nnz = tf.cast(splits[1:] - splits[:-1], tf.float32)[:, None]
            summed = summed / tf.maximum(nnz, 1.0)
        return tf.reshape(summed, [-1, self.slot_num, self.vec])


def frozen_lookup(layer):
    """The FrozenTable standing in for `layer` while a serving graph is traced, else None."""
    tables = _FROZEN.get()
    return None if tables is None else tables.get(id(layer))


@contextlib.contextmanager
def frozen_tables(tables):
    """Makes `tables` ({id(layer): FrozenTable}) the stand-ins while the block runs."""
    token = _FROZEN.set(tables)
    try:
        yield
    finally:
        _FROZEN.reset(token)
