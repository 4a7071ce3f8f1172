"""Sparse keys in any form a user passes, turned into the CSR the embedding ops take.

The ops take int64 `values` and `row_splits` of length `batch * slot_num + 1` (one row per
(sample, slot), sample-major), as HugeCTR's readers produce.

Forms: a `tf.RaggedTensor` `[batch, slot_num, (nnz)]`; a dense tensor `[batch, slot_num(, nnz)]`
(every entry a key); or the padded pair `(keys [batch, slot_num, max_nnz], nnz [batch,
slot_num])` whose slot (b, s) holds `keys[b, s, :nnz[b, s]]` (the rest is ignored, so any key
value stays usable). The pair says what a ragged tensor says with dense tensors only, the form
Keras' `fit`/`evaluate` can split across the replicas of a `tf.distribute` strategy
(docs/distributed.md); `padded_keys` makes it from any other form.

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


def is_padded_pair(inputs):
    """Whether `inputs` is the `(keys, nnz)` pair: a tuple or list of two tensors or arrays (a
    nested Python list of keys is a dense input, however many samples it holds)."""
    return (
        isinstance(inputs, (tuple, list))
        and len(inputs) == 2
        and all(hasattr(part, "shape") for part in inputs)
    )


def key_dtype(inputs):
    """The dtype of the keys in any accepted form (None if it has none, e.g. a Python list)."""
    keys = inputs[0] if is_padded_pair(inputs) else inputs
    return getattr(keys, "dtype", None)


def _padded_to_csr(keys, nnz, slot_num, owner):
    keys = _int64_values(tf.convert_to_tensor(keys), owner)
    nnz = tf.convert_to_tensor(nnz)
    if not nnz.dtype.is_integer:
        raise ValueError(f"{owner} expects integer `nnz`. Received dtype {nnz.dtype.name}")
    if keys.shape.rank != 3 or (keys.shape[1] is not None and keys.shape[1] != slot_num):
        raise ValueError(
            f"{owner} expects padded keys [batch, slot_num={slot_num}, max_nnz] with `nnz` "
            f"[batch, slot_num]. Received keys of shape {keys.shape}"
        )
    if nnz.shape.rank != 2 or not nnz.shape.is_compatible_with(keys.shape[:2]):
        raise ValueError(
            f"{owner} expects `nnz` [batch, slot_num={slot_num}] beside padded keys of shape "
            f"{keys.shape}. Received nnz of shape {nnz.shape}"
        )
    nnz = tf.cast(nnz, tf.int64)
    shape = tf.shape(keys, out_type=tf.int64)
    checks = [
        tf.debugging.assert_equal(
            tf.shape(nnz, out_type=tf.int64),
            shape[:2],
            message=f"{owner}: padded keys and `nnz` must have the same [batch, slot_num]",
        ),
        tf.debugging.assert_non_negative(nnz, message=f"{owner}: `nnz` must be >= 0"),
        tf.debugging.assert_less_equal(
            nnz,
            shape[2],
            message=f"{owner}: `nnz` must be at most the padded width (keys.shape[2])",
        ),
    ]
    with tf.control_dependencies(checks):
        values = tf.boolean_mask(keys, tf.sequence_mask(nnz, shape[2]))
    lengths = tf.reshape(nnz, [-1])
    splits = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(lengths)], axis=0)
    return values, splits


def padded_keys(inputs, slot_num):
    """The padded pair `(keys int64 [batch, slot_num, max_nnz], nnz int64 [batch, slot_num])` of
    keys in any form `keys_to_csr` takes (padding: 0; max_nnz: the longest slot of the batch).

    Usable in `tf.data.Dataset.map`: padding each global batch before Keras splits it across
    the replicas keeps every replica's width equal.
    """
    owner = "padded_keys"
    values, splits = keys_to_csr(inputs, slot_num, owner)
    batch = (tf.shape(splits, out_type=tf.int64)[0] - 1) // slot_num
    nnz = tf.reshape(splits[1:] - splits[:-1], [batch, slot_num])
    rows = tf.RaggedTensor.from_row_splits(values, splits, validate=False).to_tensor()
    keys = tf.reshape(rows, [batch, slot_num, tf.shape(rows, out_type=tf.int64)[1]])
    return keys, nnz


def keys_to_csr(inputs, slot_num, owner):
    """(values int64 [n], row_splits int64 [batch * slot_num + 1]) of `inputs`.

    Args:
        inputs: `tf.RaggedTensor` of integer keys `[batch, slot_num, (nnz)]`, a dense integer
            tensor `[batch, slot_num]` / `[batch, slot_num, nnz]` (every entry is a key), or the
            padded pair `(keys [batch, slot_num, max_nnz], nnz [batch, slot_num])`.
        slot_num: Integer. Slots per sample.
        owner: String. Who asks (named in error messages), e.g. "SparseEmbedding `emb`".
    """
    if is_padded_pair(inputs):
        return _padded_to_csr(inputs[0], inputs[1], slot_num, owner)
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
