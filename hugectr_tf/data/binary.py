"""Norm and Raw files as tf.data pipelines (decoded by the C++ reader op)."""

import math
import numbers
import os

import tensorflow as tf

from hugectr_tf.data.layout import InputLayout
from hugectr_tf.ops.reader_ops import BinaryReaderDataset


def _check_batch(batch_size, num_workers):
    for value, name in ((batch_size, "batch_size"), (num_workers, "num_workers")):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_files(files, what):
    files = [os.fspath(f) for f in files]
    if not files:
        raise ValueError(f"no {what} data files given")
    for f in files:
        if not os.path.isfile(f):
            raise FileNotFoundError(f"{what} data file `{f}` does not exist")
    return files


def with_cardinality(ds, num_records, batch_size):
    """Declares the batch count of one pass (Keras then knows the epoch length)."""
    if num_records is None:
        return ds
    return ds.apply(tf.data.experimental.assert_cardinality(math.ceil(num_records / batch_size)))


def _dataset(files, layout, batch_size, **kwargs):
    ds = BinaryReaderDataset(
        files,
        label_dim=layout.label_dim,
        dense_dim=layout.dense_dim,
        slots_per_input=layout.slots_per_input,
        max_nnz=layout.max_nnz,
        fixed_length=layout.fixed_length,
        input_names=layout.sparse_names,
        batch_size=batch_size,
        **kwargs,
    )
    return ds.map(layout.to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def norm_dataset(
    files, input, batch_size, *, check_sum, i64_input_key=False, repeat=False, num_workers=1
):  # noqa: A002
    """Batches of Norm data files (not file lists: see `read_file_list`), in order.

    Args:
        files: List of Norm data file paths; read one after another, decoded by `num_workers`
            threads in parallel. Batches span file boundaries.
        input: `hugectr_tf.Input` the files must agree with (label_dim, dense_dim, slot_num).
        batch_size: Integer. Records per batch. In epoch mode (`repeat=False`) only the last batch
            may be smaller (the remainder); it is yielded, not dropped.
        check_sum: Boolean. True for files written with `Check_t.Sum`.
        i64_input_key: Boolean. int64 keys instead of uint32.
        repeat: Boolean. Cycle over the files forever.
        num_workers: Integer. Decoding threads (files decoded ahead).

    Returns:
        A `tf.data.Dataset` of dicts {label_name: float32 [B, label_dim], dense_name: float32
        [B, dense_dim], sparse_name: int64 RaggedTensor [B, slot_num, None] per sparse input};
        without `repeat` its cardinality is the batch count of the records the headers declare
        (Keras then knows the epoch length). Bad data raises `tf.errors.DataLossError` naming
        the file, record and field.
    """
    _check_batch(batch_size, num_workers)
    files = _check_files(files, "Norm")
    layout = InputLayout.from_input(input)
    ds = _dataset(
        files,
        layout,
        batch_size,
        file_format="norm",
        check_sum=check_sum,
        key_i64=i64_input_key,
        repeat=repeat,
        num_workers=num_workers,
    )
    # Its cardinality (the batch count of the headers' records) comes from the C++ reader, the
    # one parser of Norm headers (cc/core/data/norm_codec.h).
    return ds


def raw_dataset(
    files,
    input,
    batch_size,
    *,
    float_label_dense=True,
    slot_size_array=(),
    num_samples=0,
    repeat=False,
    num_workers=1,
):  # noqa: A002
    """Batches of Raw files (one-hot, fixed-size int32 records), in order.

    Args:
        files: List of Raw file paths (HugeCTR uses one); read one after another, each split into
            record ranges decoded by `num_workers` threads.
        input: `hugectr_tf.Input`; record size is 4 * (label_dim + dense_dim + total slots).
        batch_size: Integer. Records per batch; in epoch mode the last batch holds the remainder.
        float_label_dense: Boolean. Label/dense words are float32 bits; else int32 values,
            dense transformed by log(x + 1).
        slot_size_array: Optional list. Key of slot s must lie in [0, slot_size_array[s]) and
            gets the slot's offset (sum of the sizes before it) added, as HugeCTR's Raw reader
            does, so slots never share a key. Without it keys are returned as stored.
        num_samples: Integer. Records per file (0: from the file size).
        repeat: Boolean. Cycle over the files forever.
        num_workers: Integer. Decoding threads.
    """
    _check_batch(batch_size, num_workers)
    layout = InputLayout.from_input(input)
    slot_size_array = list(slot_size_array or [])
    if slot_size_array and len(slot_size_array) != layout.total_slots:
        raise ValueError(
            f"`slot_size_array` has {len(slot_size_array)} entries but the Input has "
            f"{layout.total_slots} slots. Received: slot_size_array={slot_size_array}"
        )
    if 0 in slot_size_array:
        raise ValueError(
            "the Raw reader needs a positive size for every slot (slots of size 0, which share "
            "the next slot's key range, are read from Parquet). Received: "
            f"slot_size_array={slot_size_array}"
        )
    files = _check_files(files, "Raw")
    record = 4 * (layout.label_dim + layout.dense_dim + layout.total_slots)
    sizes = [os.path.getsize(f) for f in files]
    integral = isinstance(num_samples, numbers.Integral) and not isinstance(num_samples, bool)
    if not integral or num_samples < 0:
        raise ValueError(
            f"`num_samples` must be a non-negative integer. Received: num_samples={num_samples!r}"
        )
    ds = _dataset(
        files,
        layout,
        batch_size,
        file_format="raw",
        float_label_dense=float_label_dense,
        slot_sizes=slot_size_array,
        num_samples=num_samples,
        repeat=repeat,
        num_workers=num_workers,
    )
    if repeat:
        return ds
    if num_samples:
        # A num_samples the files cannot hold is reported by the reader op (file and both
        # counts); no cardinality is declared from it.
        fits = all(num_samples <= size // record for size in sizes)
        count = num_samples * len(files) if fits else None
    else:
        count = sum(sizes) // record if all(s % record == 0 for s in sizes) else None
    return with_cardinality(ds, count, batch_size)
