"""HugeCTR keyset files: the distinct keys of a training source, for model oversubscription.

A keyset file is raw little-endian keys, no header, in any order: int64 when the Solver has
`i64_input_key=True`, uint32 otherwise (HugeCTR reads it as its key type; its keyset script writes
int64). Keys are the table keys the reader yields: Norm keys as stored, Raw and Parquet keys with
the per-slot offsets their readers add from `slot_size_array`.
"""

import os

import numpy as np
import tensorflow as tf

from hugectr_tf.config import (
    Check_t,
    DataReaderParams,
    DataReaderSparseParam,
    DataReaderType_t,
    Input,
)
from hugectr_tf.data.file_list import read_file_list
from hugectr_tf.data.params import dataset_for_sources
from hugectr_tf.data.parquet import read_metadata
from hugectr_tf.ops.reader_ops import read_norm_header

_BATCH = 65536


def distinct_keys(keys):
    """The distinct values of `keys`, ascending, as int64 (sort based: numpy's hash-based
    `np.unique` is far slower on millions of int64 keys)."""
    keys = np.asarray(keys, np.int64).reshape(-1)
    if len(keys) < 2 or np.all(keys[1:] > keys[:-1]):
        return keys
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])]


def default_keyset_path(source):
    """HugeCTR's naming: `file_list.0.txt` -> `file_list.0.keyset` (same folder); another name
    gets `.keyset` appended."""
    source = os.fspath(source)
    root, ext = os.path.splitext(source)
    return (root if ext == ".txt" else source) + ".keyset"


def keyset_dtype(i64_input_key):
    return np.dtype("<i8") if i64_input_key else np.dtype("<u4")


def read_keyset(path, i64_input_key=True):
    """The distinct keys of keyset file `path`, ascending, as int64.

    Raises FileNotFoundError for a missing file and ValueError for an empty one or one whose size
    is not a whole number of keys of the key type.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"keyset file `{path}` does not exist")
    dtype = keyset_dtype(i64_input_key)
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"keyset file `{path}` is empty")
    if size % dtype.itemsize:
        raise ValueError(
            f"keyset file `{path}` holds {size} bytes, not a multiple of {dtype.itemsize} "
            f"({'int64' if i64_input_key else 'uint32'} keys for i64_input_key={i64_input_key})"
        )
    return distinct_keys(np.fromfile(path, dtype=dtype).astype(np.int64))


def write_keyset(path, keys, i64_input_key=True):
    """Writes the distinct `keys` (ascending) as a keyset file; returns how many were written."""
    keys = distinct_keys(keys)
    if not i64_input_key and len(keys) and (keys[0] < 0 or keys[-1] > np.iinfo(np.uint32).max):
        bad = keys[0] if keys[0] < 0 else keys[-1]
        raise ValueError(
            f"key {int(bad)} does not fit a uint32 keyset (i64_input_key=False); write it with "
            "i64_input_key=True"
        )
    keys.astype(keyset_dtype(i64_input_key)).tofile(os.fspath(path))
    return len(keys)


def _norm_input(files):
    """(Input that reads any record of these Norm files, their Check_t), from the first header
    (read by the C++ reader's parser; a bad one raises ValueError naming file and field, which
    `hugectr-tf keyset` prints as its error)."""
    try:
        header = read_norm_header(files[0])
    except tf.errors.DataLossError as err:
        raise ValueError(err.message) from None
    if header.slot_num == 0:
        raise ValueError(f"Norm file `{files[0]}` has no slots (slot_num=0): it holds no keys")
    check = Check_t.Sum if header.check_sum else Check_t.Non
    # nnz is only an upper bound for the reader's checks: any record passes with this one.
    sparse = DataReaderSparseParam("keys", 1 << 30, False, header.slot_num)
    return Input(header.label_dim, "label", header.dense_dim, "dense", [sparse]), check


def _parquet_input(file_list):
    _, meta = read_metadata(file_list)
    sparse = DataReaderSparseParam("keys", 1, True, len(meta["cats"]))
    return Input(len(meta["labels"]), "label", len(meta["conts"]), "dense", [sparse])


def keys_of_source(
    data_reader_type,
    source,
    *,
    check_type=None,
    i64_input_key=False,
    slot_size_array=(),
    num_workers=2,
):
    """The distinct table keys (ascending int64) of a Norm or Parquet file list.

    Args:
        data_reader_type: `DataReaderType_t` or its name: Norm or Parquet (Raw files carry no
            header to learn their shape from).
        source: String. The file list.
        check_type: `Check_t` or its name, as the files were written (Norm); None reads it
            from the first file's header.
        i64_input_key: Boolean. Norm key width.
        slot_size_array: List of integers (Parquet): the reader adds its per-slot offsets.
        num_workers: Integer. Decoding threads (Norm).
    """
    kind = DataReaderType_t.parse(data_reader_type, "data_reader_type")
    source = os.fspath(source)
    detected = Check_t.Non
    if kind == DataReaderType_t.Norm:
        inp, detected = _norm_input(read_file_list(source))
    elif kind == DataReaderType_t.Parquet:
        inp = _parquet_input(source)
    else:
        raise ValueError(
            "keysets are read from Norm or Parquet file lists (Raw files have no header to "
            f"learn their slots from). Received: data_reader_type={kind.value}"
        )
    params = DataReaderParams(
        data_reader_type=kind,
        source=[source],
        eval_source="",
        check_type=detected if check_type is None else check_type,
        slot_size_array=list(slot_size_array),
        num_workers=num_workers,
    )
    ds = dataset_for_sources(
        params, inp, _BATCH, [source], train=True, repeat=False, i64_input_key=i64_input_key
    )
    parts = [distinct_keys(batch["keys"].flat_values.numpy()) for batch in ds]
    if not parts:
        return np.zeros(0, np.int64)
    return distinct_keys(np.concatenate(parts))
