"""Vectorised writers of HugeCTR's Norm, Raw and Parquet files (used by the generator and the
Criteo converter). Records are given column-wise: label [n, label_dim], dense [n, dense_dim],
`nnz` [n, slot_num] and `keys`, all keys of all records flattened record-major, slot-major."""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _sum_checksums(payload, starts, sizes):
    """Wrapping int8 sum of each record's bytes (Check_t.Sum), via one reduceat."""
    sums = np.add.reduceat(payload.astype(np.int64), starts) if len(starts) else np.zeros(0)
    sums = np.where(sizes > 0, sums, 0)
    return (sums % 256).astype(np.uint8)


def norm_bytes(label, dense, nnz, keys, *, check_sum=False, i64_input_key=False):
    """The bytes of one Norm file holding these records."""
    label = np.asarray(label, np.float32)
    dense = np.asarray(dense, np.float32)
    nnz = np.asarray(nnz, np.int64)
    keys = np.asarray(keys, np.int64 if i64_input_key else np.uint32)
    n, slots = nnz.shape
    ld = label.shape[1] + dense.shape[1]
    kw = 2 if i64_input_key else 1  # 4-byte words per key
    if nnz.sum() != len(keys):
        raise ValueError(f"nnz sums to {nnz.sum()} but {len(keys)} keys were given")
    flat = nnz.reshape(-1)
    before = np.concatenate([[0], np.cumsum(flat)])  # keys before each (record, slot) row
    rec_words = ld + slots + kw * nnz.sum(axis=1)
    rec_off = np.concatenate([[0], np.cumsum(rec_words)])
    words = np.zeros(rec_off[-1], np.uint32)
    rows = np.arange(n * slots)
    r, s = rows // slots, rows % slots
    nnz_pos = rec_off[r] + ld + s + kw * (before[rows] - before[r * slots])
    fixed = np.concatenate([label, dense], axis=1).view(np.uint32)
    words[(rec_off[:-1, None] + np.arange(ld)).reshape(-1)] = fixed.reshape(-1)
    words[nnz_pos] = flat.astype(np.uint32)
    key_row = np.repeat(rows, flat)
    key_pos = nnz_pos[key_row] + 1 + kw * (np.arange(len(keys)) - before[key_row])
    key_words = keys.view(np.uint32).reshape(-1, kw)
    for w in range(kw):
        words[key_pos + w] = key_words[:, w]
    header = np.array([1 if check_sum else 0, n, label.shape[1], dense.shape[1], slots, 0, 0, 0])
    header = header.astype("<i8").tobytes()
    payload = words.astype("<u4").view(np.uint8)
    if not check_sum:
        return header + payload.tobytes()
    # Frame each unit: int32 length, payload, int8 checksum.
    sizes = rec_words * 4
    starts = rec_off[:-1] * 4
    checks = _sum_checksums(payload, starts, sizes)
    out = np.empty(len(payload) + 5 * n, np.uint8)
    unit_start = starts + 5 * np.arange(n)
    byte_rec = np.repeat(np.arange(n), sizes)
    out[np.arange(len(payload)) + 5 * byte_rec + 4] = payload
    length_bytes = sizes.astype("<i4").view(np.uint8).reshape(n, 4)
    out[(unit_start[:, None] + np.arange(4)).reshape(-1)] = length_bytes.reshape(-1)
    out[unit_start + 4 + sizes] = checks
    head = np.frombuffer(header, np.uint8)
    head_unit = (
        np.int32(64).tobytes()
        + header
        + bytes([int(_sum_checksums(head, np.array([0]), np.array([64]))[0])])
    )
    return head_unit + out.tobytes()


def write_norm(path, label, dense, nnz, keys, *, check_sum=False, i64_input_key=False):
    with open(path, "wb") as f:
        f.write(
            norm_bytes(label, dense, nnz, keys, check_sum=check_sum, i64_input_key=i64_input_key)
        )


def write_raw(path, label, dense, keys, *, float_label_dense=True, append=False):
    """One Raw file: int32 words per record (label, dense, one key per slot); `keys` [n, slots].
    With float_label_dense the label/dense words hold float32 bits, else rounded int32 values."""
    label = np.asarray(label, np.float32)
    dense = np.asarray(dense, np.float32)
    if float_label_dense:
        ld = np.concatenate([label, dense], axis=1).view(np.int32)
    else:
        ld = np.rint(np.concatenate([label, dense], axis=1)).astype(np.int32)
    words = np.concatenate([ld, np.asarray(keys, np.int64).astype(np.int32)], axis=1)
    with open(path, "ab" if append else "wb") as f:
        f.write(words.astype("<i4").tobytes())


def parquet_column_names(label_dim, dense_dim, slot_num):
    """Column names used by the writers: label (or label0..), I1..Id, C1..Cs."""
    labels = [f"label{j}" if label_dim > 1 else "label" for j in range(label_dim)]
    return labels, [f"I{j + 1}" for j in range(dense_dim)], [f"C{j + 1}" for j in range(slot_num)]


def write_parquet_part(path, label, dense, keys):
    """One parquet file: float32 label/dense columns, int64 key columns (`keys` [n, slots])."""
    label, dense, keys = np.asarray(label), np.asarray(dense), np.asarray(keys)
    names = parquet_column_names(label.shape[1], dense.shape[1], keys.shape[1])
    columns = {}
    for group, values, dtype in zip(
        names, (label, dense, keys), (np.float32, np.float32, np.int64)
    ):
        for j, name in enumerate(group):
            columns[name] = pa.array(np.ascontiguousarray(values[:, j], dtype))
    pq.write_table(pa.table(columns), path)
    return len(label)


def write_parquet_metadata(folder, files_and_rows, *, label_dim, dense_dim, slot_num):
    """`_metadata.json` and `_file_list.txt` (absolute paths) for parquet files in `folder`."""
    labels, conts, cats = parquet_column_names(label_dim, dense_dim, slot_num)
    ordered = labels + conts + cats
    index = {name: i for i, name in enumerate(ordered)}
    meta = {
        "file_stats": [
            {"file_name": os.path.basename(p), "num_rows": int(n)} for p, n in files_and_rows
        ],
        "labels": [{"col_name": c, "index": index[c]} for c in labels],
        "conts": [{"col_name": c, "index": index[c]} for c in conts],
        "cats": [{"col_name": c, "index": index[c]} for c in cats],
    }
    with open(os.path.join(folder, "_metadata.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    list_path = os.path.join(folder, "_file_list.txt")
    files = [os.path.abspath(p) for p, _ in files_and_rows]
    with open(list_path, "w", encoding="utf-8") as f:
        f.write(f"{len(files)}\n" + "".join(p + "\n" for p in files))
    return list_path


def write_parquet_folder(folder, parts, *, label_dim, dense_dim, slot_num):
    """Writes `parts` (a list of (label, dense, keys[n, slots]) tuples, one per file) as
    `folder/part_<i>.parquet` plus `_file_list.txt` and `_metadata.json`; returns the list path."""
    os.makedirs(folder, exist_ok=True)
    done = []
    for i, (label, dense, keys) in enumerate(parts):
        path = os.path.join(folder, f"part_{i}.parquet")
        done.append((path, write_parquet_part(path, label, dense, keys)))
    return write_parquet_metadata(
        folder, done, label_dim=label_dim, dense_dim=dense_dim, slot_num=slot_num
    )
