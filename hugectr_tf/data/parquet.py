"""HugeCTR's Parquet layout as a tf.data pipeline, read column-wise with pyarrow.

A data folder holds `_file_list.txt` (a HugeCTR file list), the parquet files and
`_metadata.json`: `file_stats` (`file_name`, `num_rows`), and `labels`, `conts`, `cats` lists of
`{"col_name", "index"}`; columns are taken in `index` order, so they may sit in the files in any
order. Labels and dense values are float, categorical columns int64, one key per slot (nested
columns are not supported, as in HugeCTR 3.1), no missing values. With `slot_size_array`, slot
keys must lie in [0, size) and get per-slot offsets (the prefix sums of the sizes) so keys of
different slots never collide, as HugeCTR's Parquet reader does; a slot of size 0 shares the
offset and range of the next slot with a positive size (`hugectr_tf.config.slot_key_limits`).
"""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf

from hugectr_tf.config import slot_key_limits, slot_offsets
from hugectr_tf.data.file_list import read_file_list
from hugectr_tf.data.layout import InputLayout


def read_metadata(file_list):
    """Returns (files, metadata dict) of a Parquet `_file_list.txt` and its `_metadata.json`."""
    files = read_file_list(file_list)
    meta_path = os.path.join(os.path.dirname(os.path.abspath(file_list)), "_metadata.json")
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(
            f"Parquet metadata `{meta_path}` (next to `{file_list}`) is missing"
        )
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        for key in ("file_stats", "labels", "conts", "cats"):
            meta[key] = list(meta[key])
        _check_entries(meta)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(
            f"Parquet metadata `{meta_path}` is not valid: {err!r}; it needs file_stats, labels, "
            "conts and cats"
        ) from None
    meta["path"] = meta_path
    return files, meta


def _check_entries(meta):
    """Every entry has its fields with the right types (raises KeyError/TypeError otherwise)."""

    def typed(entry, field, kind):
        value = entry[field]
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            raise TypeError(f"{field}={value!r} must be a {kind.__name__}")
        if kind is int and value < 0:
            raise ValueError(f"{field}={value!r} is negative")

    for stat in meta["file_stats"]:
        typed(stat, "file_name", str)
        typed(stat, "num_rows", int)
    for key in ("labels", "conts", "cats"):
        for column in meta[key]:
            typed(column, "col_name", str)
            typed(column, "index", int)


def _columns(meta, key, expected, what):
    cols = sorted(meta[key], key=lambda c: int(c["index"]))
    if len(cols) != expected:
        raise ValueError(
            f"Parquet metadata `{meta['path']}` lists {len(cols)} `{key}` columns but the Input "
            f"has {what}={expected}"
        )
    return [c["col_name"] for c in cols]


class _ParquetSource:
    """Reads whole files column-wise and cuts them into batches with numpy slicing."""

    def __init__(self, files, meta, layout, batch_size, slot_size_array, repeat):
        self.files = files
        self.layout = layout
        self.batch_size = batch_size
        self.repeat = repeat
        self.labels = _columns(meta, "labels", layout.label_dim, "label_dim")
        self.conts = _columns(meta, "conts", layout.dense_dim, "dense_dim")
        self.cats = _columns(meta, "cats", layout.total_slots, "total slot_num")
        stats = meta["file_stats"]
        self.rows = {os.path.basename(s["file_name"]): int(s["num_rows"]) for s in stats}
        self.meta_path = meta["path"]
        self.sizes = slot_key_limits(slot_size_array) if slot_size_array else None
        self.offsets = slot_offsets(slot_size_array) if slot_size_array else None

    def _fail(self, path, record, field, what):
        raise ValueError(f"Parquet file `{path}`, record {record}, field `{field}`: {what}")

    def _column(self, table, path, name, floating):
        if name not in table.column_names:
            raise ValueError(
                f"Parquet file `{path}` has no column `{name}`, which `{self.meta_path}` names"
            )
        col = table.column(name)
        if pa.types.is_nested(col.type):
            self._fail(path, 0, name, f"nested type {col.type} is not supported")
        numeric = pa.types.is_floating(col.type) or pa.types.is_integer(col.type)
        if not (numeric if floating else pa.types.is_integer(col.type)):
            want = "float" if floating else "integer"
            self._fail(path, 0, name, f"type {col.type} is not {want}")
        if col.null_count:
            first = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            self._fail(path, first, name, "missing value (nulls are not allowed)")
        return col.to_numpy()

    def read_file(self, path):
        name = os.path.basename(path)
        if name not in self.rows:
            raise ValueError(f"Parquet file `{path}` is not in file_stats of `{self.meta_path}`")
        try:
            table = pq.read_table(path, columns=None)
        except (OSError, pa.ArrowException) as err:
            raise ValueError(f"Parquet file `{path}` cannot be read: {err}") from None
        if table.num_rows != self.rows[name]:
            raise ValueError(
                f"Parquet file `{path}` has {table.num_rows} rows but `{self.meta_path}` says "
                f"num_rows={self.rows[name]}"
            )
        n = table.num_rows
        label = np.empty((n, len(self.labels)), np.float32)
        dense = np.empty((n, len(self.conts)), np.float32)
        cats = np.empty((n, len(self.cats)), np.int64)
        for j, c in enumerate(self.labels):
            label[:, j] = self._column(table, path, c, True)
        for j, c in enumerate(self.conts):
            dense[:, j] = self._column(table, path, c, True)
        for j, c in enumerate(self.cats):
            cats[:, j] = self._column(table, path, c, False)
        if self.sizes is not None:
            bad = (cats < 0) | (cats >= self.sizes)
            if bad.any():
                r, s = np.argwhere(bad)[0]
                self._fail(
                    path,
                    int(r),
                    self.cats[s],
                    f"key={cats[r, s]} is outside the slot's range [0, {self.sizes[s]}) from "
                    "slot_size_array",
                )
            cats += self.offsets
        return label, dense, cats

    def _emit(self, label, dense, cats):
        n = label.shape[0]
        splits, values, first = [], [], 0
        for slots in self.layout.slots_per_input:
            splits.append(np.arange(n * slots + 1, dtype=np.int64))
            values.append(np.ascontiguousarray(cats[:, first : first + slots]).reshape(-1))
            first += slots
        return (label, dense, *splits, *values)

    def __call__(self):
        carry = None
        while True:
            rows_this_pass = 0
            for path in self.files:
                part = self.read_file(path)
                rows_this_pass += part[0].shape[0]
                if carry is not None:
                    part = tuple(np.concatenate([a, b]) for a, b in zip(carry, part))
                n, b = part[0].shape[0], self.batch_size
                full = n - n % b
                for start in range(0, full, b):
                    yield self._emit(*(a[start : start + b] for a in part))
                carry = tuple(a[full:] for a in part) if full < n else None
            if not self.repeat:
                break
            if rows_this_pass == 0:
                raise ValueError("every Parquet file of the source has 0 rows; cannot repeat")
        if carry is not None:
            yield self._emit(*carry)


def parquet_dataset(file_list, input, batch_size, *, slot_size_array=(), repeat=False):  # noqa: A002
    """Batches of a HugeCTR Parquet folder (`_file_list.txt` + `_metadata.json`), in order.

    Several file lists may be passed as a list; they are read one after another. Batches span
    files; in epoch mode the last batch holds the remainder. Files are decoded by pyarrow's own
    thread pool, one file at a time (`num_workers` does not apply). Yields the same dicts as
    `norm_dataset`; bad data raises an error naming file, record and column.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    layout = InputLayout.from_input(input)
    slot_size_array = list(slot_size_array or [])
    if slot_size_array and len(slot_size_array) != layout.total_slots:
        raise ValueError(
            f"`slot_size_array` has {len(slot_size_array)} entries but the Input has "
            f"{layout.total_slots} slots. Received: slot_size_array={slot_size_array}"
        )
    lists = [file_list] if isinstance(file_list, (str, os.PathLike)) else list(file_list)
    sources = []
    for fl in lists:
        files, meta = read_metadata(fl)
        sources.append(_ParquetSource(files, meta, layout, batch_size, slot_size_array, repeat))
    source = sources[0]
    if len(sources) > 1:  # one source over all lists' files (same metadata layout required)
        for other in sources[1:]:
            source.files = source.files + other.files
            source.rows.update(other.rows)
    n = len(layout.sparse_names)
    signature = (
        tf.TensorSpec([None, layout.label_dim], tf.float32),
        tf.TensorSpec([None, layout.dense_dim], tf.float32),
        *[tf.TensorSpec([None], tf.int64) for _ in range(2 * n)],
    )
    ds = tf.data.Dataset.from_generator(source, output_signature=signature)
    ds = ds.map(layout.to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not repeat:
        rows = sum(source.rows.get(os.path.basename(f), 0) for f in source.files)
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-rows // batch_size)))
    return ds.prefetch(2)
