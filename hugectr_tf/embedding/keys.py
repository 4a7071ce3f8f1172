"""Sparse keys in any form a user passes, turned into the CSR the embedding ops take.

The ops take int64 `values` and `row_splits` of length `batch * slot_num + 1` (one row per
(sample, slot), sample-major), as HugeCTR's readers produce.

Key types: any integer dtype. int8..int64 and uint8..uint32 keep their value. uint64 keys keep
their 64 bits: a key k >= 2^63 becomes the int64 k - 2^64 (a one-to-one map, so distinct keys stay
distinct; a sparse model's `key` file holds the same 8 bytes either way, read it as uint64 to get
k back). Floating-point keys are refused: truncating them to integers would silently merge keys.
"""

import numpy as np
import tensorflow as tf

_UINT64_SPAN = 1 << 64


def _int64_values(values, owner):
    """`values` (an integer tensor) as int64 keys, following the rules in the module docstring."""
    if not values.dtype.is_integer:
        raise ValueError(
            f"{owner} expects integer keys. Received dtype {values.dtype.name}: floating-point "
            "keys are refused (truncating them would merge distinct keys)"
        )
    if values.dtype == tf.uint64:
        return tf.bitcast(values, tf.int64)
    return tf.cast(values, tf.int64)


def int64_keys(values, owner):
    """A numpy int64 array of the keys in `values` (a list or array), by the same rules as
    `keys_to_csr`: integer keys only; uint64 (or Python ints in [2^63, 2^64)) keep their bits."""
    array = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if array.size == 0:
        return np.zeros(array.shape, np.int64)
    if array.dtype == object:
        flat = array.reshape(-1).tolist()
        bad = next(
            (v for v in flat if isinstance(v, bool) or not isinstance(v, (int, np.integer))), None
        )
        if bad is not None:
            raise ValueError(f"{owner} expects integer keys. Received: {bad!r}")
        out_of_range = next((v for v in flat if not -(1 << 63) <= v < _UINT64_SPAN), None)
        if out_of_range is not None:
            raise ValueError(
                f"{owner}: key {out_of_range} does not fit in 64 bits ([-2^63, 2^64) accepted)"
            )
        array = np.array([v % _UINT64_SPAN for v in flat], np.uint64).reshape(array.shape)
    if array.dtype.kind == "u" and array.dtype.itemsize == 8:
        return array.view(np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(
            f"{owner} expects integer keys. Received dtype {array.dtype}: floating-point keys "
            "are refused (truncating them would merge distinct keys)"
        )
    return array.astype(np.int64)


def keys_to_csr(inputs, slot_num, owner):
    """(values int64 [n], row_splits int64 [batch * slot_num + 1]) of `inputs`.

    Args:
        inputs: `tf.RaggedTensor` of integer keys `[batch, slot_num, (nnz)]`, or a dense integer
            tensor `[batch, slot_num]` / `[batch, slot_num, nnz]` (every entry is a key).
        slot_num: Integer. Slots per sample.
        owner: String. Who asks (named in error messages), e.g. "SparseEmbedding `emb`".
    """
    if isinstance(inputs, tf.RaggedTensor):
        if inputs.ragged_rank == 2:
            outer = inputs.row_lengths()
            check = tf.debugging.assert_equal(
                outer,
                tf.cast(slot_num, outer.dtype),
                message=f"{owner} expects slot_num={slot_num} slots in every sample",
            )
            with tf.control_dependencies([check]):
                values = tf.identity(inputs.values.values)
            splits = inputs.values.row_splits
        elif inputs.ragged_rank == 1 and inputs.shape.rank == 3:
            # [batch, slot_num, (nnz)] stored with a uniform slot dimension.
            inner = inputs.values
            if not isinstance(inner, tf.RaggedTensor):
                raise ValueError(
                    f"{owner} expects a ragged [batch, slot_num, (nnz)] input. Received: {inputs!r}"
                )
            values, splits = inner.values, inner.row_splits
        else:
            raise ValueError(
                f"{owner} expects a RaggedTensor [batch, slot_num={slot_num}, (nnz)]. Received "
                f"shape {inputs.shape} with ragged_rank={inputs.ragged_rank}"
            )
        return _int64_values(values, owner), tf.cast(splits, tf.int64)
    x = tf.convert_to_tensor(inputs)
    x = _int64_values(x, owner)
    if x.shape.rank == 2:
        x = x[:, :, tf.newaxis]
    if x.shape.rank != 3 or (x.shape[1] is not None and x.shape[1] != slot_num):
        raise ValueError(
            f"{owner} expects keys [batch, slot_num={slot_num}] or [batch, slot_num, nnz]. "
            f"Received shape {x.shape}"
        )
    shape = tf.shape(x, out_type=tf.int64)
    nnz = shape[2]
    splits = tf.range(shape[0] * shape[1] + 1, dtype=tf.int64) * nnz
    return tf.reshape(x, [-1]), splits
