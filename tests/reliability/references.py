"""Independent decoders of the formats under test, from their byte layouts (struct and numpy, no
package code): each says what a (possibly damaged) file holds, or that it is invalid. The campaign
compares every accepted input with them: a result that differs is a silent wrong result.

Records are returned as JSON-friendly lists, floats as their float32 bit patterns (so NaN and -0.0
compare exactly): (label bits, dense bits, [keys of each slot]).
"""

import json
import os
import struct

import numpy as np


class Invalid(Exception):
    """The bytes do not form a valid file of the format (the reason is the message)."""


def _bits(values):
    return np.asarray(values, "<f4").view("<u4").tolist()


def norm_records(data, *, label_dim, dense_dim, nnz_limits, fixed, slots_per_input, check_sum):
    """Records of a Norm file (uint32 keys) as the reader must return them, or Invalid.

    nnz_limits: nnz_per_slot of every slot; fixed: per sparse input, is_fixed_length.
    """
    total_slots = sum(slots_per_input)
    pos = 0

    def take(n):
        nonlocal pos
        if n < 0 or pos + n > len(data):
            raise Invalid(f"needs {n} bytes at {pos}, file has {len(data)}")
        out = data[pos : pos + n]
        pos += n
        return out

    def unit(expect=None):
        if not check_sum:
            return None
        (n,) = struct.unpack("<i", take(4))
        if expect is not None and n != expect:
            raise Invalid(f"header unit length {n}")
        payload = take(n)
        (stored,) = struct.unpack("<b", take(1))
        if (sum(payload) + 128) % 256 - 128 != stored:
            raise Invalid("checksum")
        return payload

    if check_sum:
        header = unit(64)
    else:
        header = take(64)
    fields = struct.unpack("<8q", header)
    if fields[0] != (1 if check_sum else 0) or fields[1] < 0:
        raise Invalid(f"header error_check/count {fields[:2]}")
    if fields[2:5] != (label_dim, dense_dim, total_slots):
        raise Invalid(f"header dims {fields[2:5]}")
    records = []
    for _ in range(fields[1]):
        body = unit()
        if check_sum:
            outer, outer_pos = data, pos
            data, pos = body, 0  # parse inside the unit
        label = struct.unpack(f"<{label_dim}f", take(4 * label_dim))
        dense = struct.unpack(f"<{dense_dim}f", take(4 * dense_dim))
        slots, slot = [], 0
        for i, count in enumerate(slots_per_input):
            limit, used = sum(nnz_limits[slot : slot + count]), 0
            for _ in range(count):
                (nnz,) = struct.unpack("<i", take(4))
                if nnz < 0 or (nnz > nnz_limits[slot] if fixed[i] else used + nnz > limit):
                    raise Invalid(f"nnz {nnz} in slot {slot}")
                used += nnz
                slots.append(list(struct.unpack(f"<{nnz}I", take(4 * nnz))))
                slot += 1
        if check_sum:
            if pos != len(data):
                raise Invalid("unit longer than its record")
            data, pos = outer, outer_pos
        records.append((_bits(label), _bits(dense), slots))
    if pos != len(data):
        raise Invalid(f"{len(data) - pos} bytes after the header's {fields[1]} records")
    return records


def raw_records(data, *, label_dim, dense_dim, slot_sizes):
    """Records of a Raw file (float32 label/dense, one int32 key per slot, keys checked against
    slot_sizes and offset by their prefix sums), or Invalid."""
    words = label_dim + dense_dim + len(slot_sizes)
    if len(data) % (4 * words):
        raise Invalid(f"{len(data)} bytes is not a whole number of {4 * words}-byte records")
    table = np.frombuffer(data, "<i4").reshape(-1, words)
    offsets = np.concatenate([[0], np.cumsum(slot_sizes)[:-1]])
    records = []
    for row in table:
        keys = row[label_dim + dense_dim :].astype(np.int64)
        if np.any(keys < 0) or np.any(keys >= slot_sizes):
            raise Invalid(f"key out of range: {keys.tolist()}")
        label = row[:label_dim].view("<u4").tolist()
        dense = row[label_dim : label_dim + dense_dim].view("<u4").tolist()
        records.append((label, dense, [[int(k)] for k in keys + offsets]))
    return records


def parquet_records(path, meta_bytes, *, label_dim, dense_dim, slot_sizes):
    """Records of a one-file HugeCTR Parquet folder (the parquet file and `_metadata.json`
    bytes), read with pyarrow and checked against the metadata, or Invalid."""
    import pyarrow.parquet as pq  # the reference needs pyarrow only for this format

    def typed(entry, field, kind):
        value = entry[field]
        if type(value) is not kind or value == "" or (kind is int and value < 0):
            raise TypeError(f"{field}={value!r}")
        return value

    try:
        meta = json.loads(meta_bytes)
        rows = {
            os.path.basename(typed(s, "file_name", str)): typed(s, "num_rows", int)
            for s in meta["file_stats"]
        }
        cols = [
            [
                typed(c, "col_name", str)
                for c in sorted(meta[k], key=lambda c: typed(c, "index", int))
            ]
            for k in ("labels", "conts", "cats")
        ]
    except Exception as err:  # noqa: BLE001 - any malformed metadata is invalid
        raise Invalid(f"metadata: {err!r}") from None
    if [len(c) for c in cols] != [label_dim, dense_dim, len(slot_sizes)]:
        raise Invalid("metadata column counts")
    try:
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - whatever pyarrow refuses is invalid
        raise Invalid(f"pyarrow: {err!r}") from None
    if rows.get(path.name) != table.num_rows:
        raise Invalid("num_rows differs from metadata")
    arrays = []
    for group, floating in zip(cols, (True, True, False)):
        out = []
        for name in group:
            if name not in table.column_names:
                raise Invalid(f"no column {name}")
            col = table.column(name)
            ok = str(col.type).startswith(("int", "uint")) or (
                floating and str(col.type) in ("float", "double", "halffloat")
            )
            if not ok or col.null_count:
                raise Invalid(f"column {name} type {col.type} nulls {col.null_count}")
            out.append(col.to_numpy())
        arrays.append(out)
    offsets = np.concatenate([[0], np.cumsum(slot_sizes)[:-1]])
    records = []
    for r in range(table.num_rows):
        keys = [int(c[r]) for c in arrays[2]]
        if any(not 0 <= k < s for k, s in zip(keys, slot_sizes)):
            raise Invalid(f"key out of range in row {r}")
        records.append(
            (
                _bits([c[r] for c in arrays[0]]),
                _bits([c[r] for c in arrays[1]]),
                [[k + int(o)] for k, o in zip(keys, offsets)],
            )
        )
    return records


def sparse_folder(key, emb_vector, slot_id, *, vec, capacity):
    """(keys, rows bits, slot ids) sorted by key, as a table holds a HugeCTR sparse model folder
    without a manifest (slot_id None for Distributed tables), or Invalid."""
    if len(key) % 8:
        raise Invalid("key file size")
    keys = np.frombuffer(key, "<i8")
    if len(emb_vector) != len(keys) * vec * 4:
        raise Invalid("emb_vector size")
    if slot_id is not None and len(slot_id) != len(keys) * 8:
        raise Invalid("slot_id size")
    if len(np.unique(keys)) != len(keys) or len(keys) > capacity:
        raise Invalid("duplicate keys or over capacity")
    order = np.argsort(keys, kind="stable")
    rows = np.frombuffer(emb_vector, "<u4").reshape(len(keys), vec)[order]
    slots = None if slot_id is None else np.frombuffer(slot_id, "<u8")[order].astype(np.int64)
    return keys[order].tolist(), rows.tolist(), None if slots is None else slots.tolist()


def dense_floats(data, count):
    """The float32 bit patterns of a HugeCTR dense file of `count` values, or Invalid."""
    if len(data) != 4 * count:
        raise Invalid(f"{len(data)} bytes for {count} float32 values")
    return np.frombuffer(data, "<u4").tolist()
