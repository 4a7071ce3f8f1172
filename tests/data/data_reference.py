"""An independent, record-by-record writer of HugeCTR Norm and Raw files for the reader tests,
following the byte layout of the spec (struct packing, no shared code with the package), and
random records to fill them."""

import struct

import numpy as np

import hugectr_tf as hugectr


def checksum(payload: bytes) -> int:
    """Check_t.Sum: wrapping signed 8-bit sum of the bytes, stored as one byte."""
    return sum(payload) % 256


def norm_file(records, *, label_dim, dense_dim, slot_num, check_sum, i64, header=None):
    """Bytes of a Norm file. `records` is a list of (label list, dense list, list of key lists)."""
    fields = header or [
        1 if check_sum else 0,
        len(records),
        label_dim,
        dense_dim,
        slot_num,
        0,
        0,
        0,
    ]
    units = [struct.pack("<8q", *fields)]
    for label, dense, slots in records:
        body = struct.pack(f"<{label_dim}f", *label) + struct.pack(f"<{dense_dim}f", *dense)
        for keys in slots:
            body += struct.pack("<i", len(keys))
            body += struct.pack(f"<{len(keys)}{'q' if i64 else 'I'}", *keys)
        units.append(body)
    if not check_sum:
        return b"".join(units)
    return b"".join(struct.pack("<i", len(u)) + u + bytes([checksum(u)]) for u in units)


def raw_file(records, *, float_label_dense):
    """Bytes of a Raw file; each record is (label list, dense list, one key per slot)."""
    out = b""
    for label, dense, keys in records:
        fmt = "f" if float_label_dense else "i"
        cast = float if float_label_dense else int
        out += struct.pack(f"<{len(label)}{fmt}", *map(cast, label))
        out += struct.pack(f"<{len(dense)}{fmt}", *map(cast, dense))
        out += struct.pack(f"<{len(keys)}i", *keys)
    return out


def random_records(rng, n, *, label_dim, dense_dim, max_nnz, i64, allow_empty=True):
    """n records with multi-hot slots (nnz in [0 or 1, max_nnz[s]]) and wide key ranges."""
    high = 2**40 if i64 else 2**32
    records = []
    for _ in range(n):
        label = rng.integers(0, 2, label_dim).astype(np.float32).tolist()
        dense = rng.normal(size=dense_dim).astype(np.float32).tolist()
        slots = [
            rng.integers(0, high, rng.integers(0 if allow_empty else 1, m + 1)).tolist()
            for m in max_nnz
        ]
        records.append((label, dense, slots))
    return records


def make_input(label_dim, dense_dim, sparse):
    """An Input with sparse inputs given as (name, nnz_per_slot, is_fixed_length, slot_num)."""
    return hugectr.Input(
        label_dim=label_dim,
        label_name="label",
        dense_dim=dense_dim,
        dense_name="dense",
        data_reader_sparse_param_array=[hugectr.DataReaderSparseParam(*s) for s in sparse],
    )


def write_list(path, files):
    with open(path, "w") as f:
        f.write(f"{len(files)}\n" + "".join(f"{p}\n" for p in files))
    return str(path)


def collect(dataset, names):
    """Concatenates a dataset's batches into per-record Python lists for comparison."""
    out = {"label": [], "dense": [], **{n: [] for n in names}, "sizes": []}
    for batch in dataset:
        out["sizes"].append(int(batch["label"].shape[0]))
        out["label"] += batch["label"].numpy().tolist()
        out["dense"] += batch["dense"].numpy().tolist()
        for n in names:
            out[n] += batch[n].to_list()
    return out
