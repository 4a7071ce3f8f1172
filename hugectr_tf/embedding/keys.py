"""Sparse keys in any form a user passes, turned into the CSR the embedding ops take.

The ops take int64 `values` and `row_splits` of length `batch * slot_num + 1` (one row per
(sample, slot), sample-major), as HugeCTR's readers produce.
"""

import tensorflow as tf


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
        return tf.cast(values, tf.int64), tf.cast(splits, tf.int64)
    x = tf.convert_to_tensor(inputs)
    if not x.dtype.is_integer:
        raise ValueError(f"{owner} expects integer keys. Received dtype {x.dtype}")
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
    return tf.reshape(tf.cast(x, tf.int64), [-1]), splits
