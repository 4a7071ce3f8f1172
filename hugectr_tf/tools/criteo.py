"""Criteo click logs (Kaggle `train.txt` TSV, or CSV with a `label,I1..,C1..` header) to HugeCTR
Norm, Raw or Parquet files with HugeCTR-style preprocessing:

- dense I1..I13: missing -> 0, negative -> 0, then log(x + 1);
- categorical C1..C26 (hex strings): per slot, values seen at least `freq_threshold` times (in the
  training rows) get contiguous ids 1..K, most frequent first; rare and missing values share the
  out-of-vocabulary id 0, so the slot's size is K + 1 (`slot_size_array`);
- lines with fewer than 40 fields have their trailing fields missing (the Kaggle file cuts them).

Norm keys get per-slot offsets (prefix sums of slot_size_array) so slots never share a key; Raw
and Parquet files keep per-slot ids (their readers add the offsets from slot_size_array). The last
`eval_fraction` of the rows become the evaluation set. Two streaming passes over the input: the
first counts values, the second converts `chunk_rows` lines at a time.
"""

import json
import os
from collections import Counter

import numpy as np

from hugectr_tf.config import Check_t, DataReaderType_t, slot_offsets
from hugectr_tf.data.file_list import write_file_list
from hugectr_tf.data.keyset import default_keyset_path, distinct_keys, write_keyset
from hugectr_tf.data.writers import (
    write_norm,
    write_parquet_metadata,
    write_parquet_part,
    write_raw,
)

NUM_DENSE = 13
NUM_SLOTS = 26
NUM_FIELDS = 1 + NUM_DENSE + NUM_SLOTS


def _lines(path):
    """Yields (line number, list of 40 field strings); detects CSV-with-header vs TSV."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
        sep = "," if first.startswith("label,") else "\t"
        number = 1
        if sep == "\t" and first:
            yield number, _fields(first, sep, path, number)
        for line in f:
            number += 1
            if line.strip():
                yield number, _fields(line, sep, path, number)


def _fields(line, sep, path, number):
    fields = line.rstrip("\r\n").split(sep)
    if len(fields) > NUM_FIELDS:
        raise ValueError(
            f"Criteo file `{path}`, line {number}: {len(fields)} fields, at most {NUM_FIELDS} "
            "(label, I1..I13, C1..C26) expected"
        )
    return fields + [""] * (NUM_FIELDS - len(fields))


def _chunks(path, chunk_rows):
    rows, first_line = [], None
    for number, fields in _lines(path):
        if first_line is None:
            first_line = number
        rows.append(fields)
        if len(rows) == chunk_rows:
            yield first_line, np.array(rows, dtype=str)
            rows, first_line = [], None
    if rows:
        yield first_line, np.array(rows, dtype=str)


def _parse_numbers(block, what, path, first_line):
    text = np.where(block == "", "0", block)
    try:
        return text.astype(np.float64)
    except ValueError:
        for r, row in enumerate(text):
            for c, value in enumerate(np.atleast_1d(row)):
                try:
                    float(value)
                except ValueError:
                    raise ValueError(
                        f"Criteo file `{path}`, line {first_line + r}: {what} field {c + 1} is "
                        f"{str(value)!r}, not a number"
                    ) from None
        raise


def convert_criteo(
    input_path,
    output_dir,
    data_reader_type=DataReaderType_t.Norm,
    *,
    num_files=1,
    freq_threshold=2,
    eval_fraction=0.0,
    check_type=Check_t.Sum,
    i64_input_key=False,
    chunk_rows=100_000,
    keyset=False,
):
    """Converts a Criteo text file; returns (and writes to `output_dir/dataset_info.json`) a dict
    with `source`, `eval_source` (None without eval rows), row counts and `slot_size_array`.

    Args:
        input_path: String. Kaggle TSV or CSV with header.
        output_dir: String. Receives `train/` (and `eval/`).
        data_reader_type: Norm, Raw or Parquet.
        num_files: Integer. Train files for Norm / Parquet (eval gets one); Raw writes one file.
        freq_threshold: Integer >= 1. Minimum training count for a value to get its own id.
        eval_fraction: Float in [0, 1). Share of the last rows written as the evaluation set.
        check_type: Check_t for Norm files.
        i64_input_key: Boolean. int64 Norm keys.
        chunk_rows: Integer. Lines converted at a time (memory bound).
        keyset: Boolean. Also write the keyset of each written source (`<source>.keyset`, with
            `.txt` replaced): its distinct table keys (slot offsets included, as every reader
            yields them), int64 if `i64_input_key` else uint32. Model oversubscription reads it.
    """
    kind = DataReaderType_t.parse(data_reader_type, "data_reader_type")
    check_type = Check_t.parse(check_type, "check_type")
    input_path = os.fspath(input_path)
    if not os.path.isfile(input_path):
        raise FileNotFoundError(f"Criteo input `{input_path}` does not exist")
    if not isinstance(freq_threshold, int) or freq_threshold < 1:
        raise ValueError(f"`freq_threshold` must be an integer >= 1. Received: {freq_threshold!r}")
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"`eval_fraction` must be in [0, 1). Received: {eval_fraction!r}")
    if not isinstance(num_files, int) or num_files < 1:
        raise ValueError(f"`num_files` must be a positive integer. Received: {num_files!r}")

    total = sum(1 for _ in _lines(input_path))
    num_eval = int(round(total * eval_fraction))
    num_train = total - num_eval
    if num_train == 0:
        raise ValueError(f"Criteo input `{input_path}` has no training rows ({total} rows)")

    # Pass 1: value counts of the training rows.
    counts = [Counter() for _ in range(NUM_SLOTS)]
    seen = 0
    for _, block in _chunks(input_path, chunk_rows):
        block = block[: max(0, num_train - seen)]
        seen += len(block)
        for s in range(NUM_SLOTS):
            values, n = np.unique(block[:, 1 + NUM_DENSE + s], return_counts=True)
            counts[s].update(dict(zip(values.tolist(), n.tolist())))
    vocab = []
    for c in counts:
        kept = sorted(
            (v for v, n in c.items() if v and n >= freq_threshold), key=lambda v: (-c[v], v)
        )
        vocab.append({v: i + 1 for i, v in enumerate(kept)})
    slot_sizes = [len(v) + 1 for v in vocab]
    offsets = slot_offsets(slot_sizes)

    # Pass 2: convert and write.
    writer = _Writer(kind, output_dir, num_train, num_eval, num_files, check_type, i64_input_key)
    seen_keys = {"source": [], "eval_source": []}  # table keys of each set, for the keysets
    row_at = 0
    for first_line, block in _chunks(input_path, chunk_rows):
        label = _parse_numbers(block[:, :1], "label", input_path, first_line).astype(np.float32)
        dense = _parse_numbers(block[:, 1 : 1 + NUM_DENSE], "dense", input_path, first_line)
        dense = np.log1p(np.maximum(dense, 0.0)).astype(np.float32)
        keys = np.empty((len(block), NUM_SLOTS), np.int64)
        for s in range(NUM_SLOTS):
            values, inverse = np.unique(block[:, 1 + NUM_DENSE + s], return_inverse=True)
            ids = np.array([vocab[s].get(v, 0) for v in values.tolist()], np.int64)
            keys[:, s] = ids[inverse.reshape(-1)]
        if keyset:
            table_keys = keys + offsets
            cut = max(0, min(len(block), num_train - row_at))
            seen_keys["source"].append(distinct_keys(table_keys[:cut]))
            seen_keys["eval_source"].append(distinct_keys(table_keys[cut:]))
        row_at += len(block)
        if kind == DataReaderType_t.Norm:
            keys = keys + offsets
        writer.add(label, dense, keys)
    info = writer.finish()
    if keyset:
        for name, parts in seen_keys.items():
            if info[name] is not None:
                info[name + "_keyset"] = default_keyset_path(info[name])
                write_keyset(info[name + "_keyset"], np.concatenate(parts), i64_input_key)
    info.update(
        data_reader_type=kind.value,
        num_train_samples=num_train,
        num_eval_samples=num_eval,
        slot_size_array=slot_sizes,
        freq_threshold=freq_threshold,
        check_type=check_type.name,
        i64_input_key=bool(i64_input_key),
    )
    with open(os.path.join(output_dir, "dataset_info.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    return info


class _Writer:
    """Routes converted rows into train/eval part files of the chosen format."""

    def __init__(self, kind, output_dir, num_train, num_eval, num_files, check_type, i64):
        self.kind, self.check_sum, self.i64 = kind, check_type == Check_t.Sum, i64
        self.sets = []
        for name, rows, files in (("train", num_train, num_files), ("eval", num_eval, 1)):
            if rows == 0:
                continue
            folder = os.path.join(output_dir, name)
            os.makedirs(folder, exist_ok=True)
            parts = 1 if kind == DataReaderType_t.Raw else min(files, rows)
            bounds = np.linspace(0, rows, parts + 1).astype(int)
            self.sets.append({"name": name, "folder": folder, "sizes": np.diff(bounds).tolist()})
        for s in self.sets:
            s.update(done=[], pending=[], pending_rows=0)
            if kind == DataReaderType_t.Raw:
                open(os.path.join(s["folder"], f"{s['name']}_data.bin"), "wb").close()
        self.current = 0

    def add(self, label, dense, keys):
        start = 0
        while start < len(label):
            s = self.sets[self.current]
            want = s["sizes"][len(s["done"])] - s["pending_rows"]
            take = min(want, len(label) - start)
            piece = tuple(a[start : start + take] for a in (label, dense, keys))
            if self.kind == DataReaderType_t.Raw:  # one file: append as we go
                write_raw(os.path.join(s["folder"], f"{s['name']}_data.bin"), *piece, append=True)
            else:
                s["pending"].append(piece)
            s["pending_rows"] += take
            start += take
            if s["pending_rows"] == s["sizes"][len(s["done"])]:
                self._flush(s)
                if len(s["done"]) == len(s["sizes"]):
                    self.current += 1

    def _flush(self, s):
        i = len(s["done"])
        if self.kind == DataReaderType_t.Raw:
            path = os.path.abspath(os.path.join(s["folder"], f"{s['name']}_data.bin"))
            s["done"].append((path, s["pending_rows"]))
            s["pending_rows"] = 0
            return
        label, dense, keys = (np.concatenate(a) for a in zip(*s["pending"]))
        if self.kind == DataReaderType_t.Norm:
            path = os.path.abspath(os.path.join(s["folder"], f"part_{i}.bin"))
            nnz = np.ones(keys.shape, np.int64)
            write_norm(
                path,
                label,
                dense,
                nnz,
                keys.reshape(-1),
                check_sum=self.check_sum,
                i64_input_key=self.i64,
            )
        else:
            path = os.path.abspath(os.path.join(s["folder"], f"part_{i}.parquet"))
            write_parquet_part(path, label, dense, keys)
        s["done"].append((path, len(label)))
        s["pending"], s["pending_rows"] = [], 0

    def finish(self):
        out = {"source": None, "eval_source": None}
        for s in self.sets:
            key = "source" if s["name"] == "train" else "eval_source"
            if self.kind == DataReaderType_t.Norm:
                out[key] = os.path.join(s["folder"], "file_list.txt")
                write_file_list(out[key], [p for p, _ in s["done"]])
            elif self.kind == DataReaderType_t.Raw:
                out[key] = s["done"][0][0]
            else:
                out[key] = write_parquet_metadata(
                    s["folder"], s["done"], label_dim=1, dense_dim=NUM_DENSE, slot_num=NUM_SLOTS
                )
        return out
