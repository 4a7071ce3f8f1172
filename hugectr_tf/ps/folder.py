"""The on-disk layout of a parameter server: a HugeCTR sparse model folder plus optimizer state.

    <folder>/key         int64   [n]           \\  HugeCTR's sparse model files: row i of every
    <folder>/emb_vector  float32 [n, vec]       }  file belongs to key[i] (insertion order, not
    <folder>/slot_id     uint64  [n]           /   sorted); slot_id for every embedding type
    <folder>/opt_state   float32 [n, k, vec]   optimizer slots (Adam: m then v; k per optimizer)
    <folder>/last_step   int64   [n]           step at which each row was last brought up to date
    <folder>/lr_history  float32 [>= step]     learning rate of steps 1..step (a longer file is
                                               the tail of an uncommitted pass; it is ignored)
    <folder>/ps.json     manifest: format, version, rows n, embedding_vec_size, optimizer, k, step
    <folder>/journal     only while a pass is being committed (ssd.py)

All files are raw little-endian without headers. A plain HugeCTR sparse model folder (`key`,
`emb_vector`, optionally `slot_id`) is read as a PS whose optimizer state is new and whose step is
0; a PS folder stays readable by HugeCTR and by `EmbeddingTable.read_sparse_model`.
"""

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from hugectr_tf.embedding.files import replace_folder
from hugectr_tf.ps.rows import RowBlock

MANIFEST = "ps.json"
FORMAT = "hugectr_tf parameter server"
VERSION = 1
# name -> (dtype, values per row as a function of (vec, k))
ROW_FILES = {
    "key": ("<i8", lambda vec, k: 1),
    "emb_vector": ("<f4", lambda vec, k: vec),
    "slot_id": ("<u8", lambda vec, k: 1),
    "opt_state": ("<f4", lambda vec, k: k * vec),
    "last_step": ("<i8", lambda vec, k: 1),
}
# RowBlock field of each row file
BLOCK_FIELD = {
    "key": "keys",
    "emb_vector": "rows",
    "slot_id": "slot_ids",
    "opt_state": "optimizer_slots",
    "last_step": "last_step",
}


def row_file_bytes(name, spec):
    """Bytes one row takes in row file `name`."""
    dtype, per_row = ROW_FILES[name]
    return np.dtype(dtype).itemsize * per_row(spec.embedding_vec_size, spec.optimizer_slots)


def raw_bytes(array):
    """The bytes of `array` in memory order, without a copy (for file writes)."""
    return memoryview(np.ascontiguousarray(array).reshape(-1)).cast("B")


def fsync_dir(folder):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path, data, durable=True):
    """Writes bytes to a temporary sibling, then renames it over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def manifest_dict(spec, rows, step):
    return {
        "format": FORMAT,
        "version": VERSION,
        "rows": int(rows),
        "embedding_vec_size": int(spec.embedding_vec_size),
        "optimizer": spec.optimizer.optimizer_type.name,
        "optimizer_slots": int(spec.optimizer_slots),
        "step": int(step),
    }


def read_manifest(folder):
    """The manifest dict of a PS folder, or None for a plain HugeCTR sparse model folder."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        for key in ("rows", "embedding_vec_size", "optimizer_slots", "step"):
            manifest[key] = int(manifest[key])
        manifest["optimizer"] = str(manifest["optimizer"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"parameter server manifest `{path}` is not valid: {err!r}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(
            f"`{path}` is not a {FORMAT} manifest of version {VERSION}: format="
            f"{manifest.get('format')!r}, version={manifest.get('version')!r}"
        )
    return manifest


def check_manifest(manifest, spec, folder):
    """Raises ValueError when the PS folder was written for another table layout."""
    if manifest["embedding_vec_size"] != spec.embedding_vec_size:
        raise ValueError(
            f"parameter server folder `{folder}` holds rows of embedding_vec_size="
            f"{manifest['embedding_vec_size']} but the table has embedding_vec_size="
            f"{spec.embedding_vec_size}"
        )
    optimizer = spec.optimizer.optimizer_type.name
    if manifest["optimizer"] != optimizer or manifest["optimizer_slots"] != spec.optimizer_slots:
        raise ValueError(
            f"parameter server folder `{folder}` holds the optimizer state of "
            f"{manifest['optimizer']} ({manifest['optimizer_slots']} slot vectors per row) but "
            f"the table's sparse optimizer is {optimizer}; train with {manifest['optimizer']}, "
            "or write the rows alone (a HugeCTR sparse model folder: `key`, `emb_vector`, "
            "`slot_id`) to a new folder and start from that"
        )


def plain_rows(folder, spec):
    """Number of keys of a plain HugeCTR sparse model folder, checked against `spec`."""
    folder = Path(folder)
    key_file, emb_file = folder / "key", folder / "emb_vector"
    for f in (key_file, emb_file):
        if not f.is_file():
            raise FileNotFoundError(f"sparse model folder `{folder}` has no `{f.name}` file")
    key_bytes, emb_bytes = key_file.stat().st_size, emb_file.stat().st_size
    if key_bytes % 8:
        raise ValueError(f"`{key_file}` holds {key_bytes} bytes, not a multiple of 8 (int64 keys)")
    n = key_bytes // 8
    want = n * spec.embedding_vec_size * 4
    if emb_bytes != want:
        hint = ""
        if n and emb_bytes % (4 * n) == 0:
            hint = f": the folder holds rows of embedding_vec_size={emb_bytes // (4 * n)}"
        raise ValueError(
            f"`{emb_file}` holds {emb_bytes} bytes but {n} keys of embedding_vec_size="
            f"{spec.embedding_vec_size} need {want}{hint}"
        )
    slot_file = folder / "slot_id"
    if slot_file.is_file() and slot_file.stat().st_size != n * 8:
        raise ValueError(
            f"`{slot_file}` holds {slot_file.stat().st_size} bytes but {n} keys need {n * 8}"
        )
    return n


def read_lr_history(folder, step):
    path = Path(folder) / "lr_history"
    if step == 0:
        return np.zeros(0, np.float32)
    if not path.is_file() or path.stat().st_size < 4 * step:
        raise ValueError(
            f"`{path}` must hold the learning rates of the {step} steps the manifest counts"
        )
    return np.fromfile(path, dtype="<f4", count=step).astype(np.float32)


def check_row_files(folder, spec, rows):
    """Raises ValueError naming a row file shorter than `rows` rows (a longer file holds the tail
    of an uncommitted pass and is cut by the writer that opens it)."""
    for name in ROW_FILES:
        path = Path(folder) / name
        want = rows * row_file_bytes(name, spec)
        have = path.stat().st_size if path.is_file() else -1
        if have < want:
            raise ValueError(
                f"parameter server folder `{folder}`: `{name}` holds {max(have, 0)} bytes but "
                f"the manifest's {rows} rows need {want}; the folder is damaged"
            )


def write_folder(folder, spec, block, step, lr_history, durable=True):
    """Writes a whole PS folder (rows of `block`) to a temporary sibling and renames it into place,
    replacing any previous folder: a reader sees the old folder or the new one, never a mix."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        for name, field in BLOCK_FIELD.items():
            dtype = ROW_FILES[name][0]
            _write_array(tmp / name, np.ascontiguousarray(getattr(block, field), dtype), durable)
        _write_array(tmp / "lr_history", np.asarray(lr_history, "<f4"), durable)
        manifest = json.dumps(manifest_dict(spec, len(block), step), indent=1)
        _write_array(tmp / MANIFEST, np.frombuffer(manifest.encode(), np.uint8), durable)
        if durable:
            fsync_dir(tmp)
        replace_folder(tmp, folder)
        if durable:
            fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_array(path, array, durable):
    with open(path, "wb") as f:
        f.write(raw_bytes(array))
        if durable:
            f.flush()
            os.fsync(f.fileno())


def read_folder(folder, spec):
    """(RowBlock, step, lr_history) of a PS folder or a plain HugeCTR sparse model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"sparse model folder `{folder}` does not exist")
    if (folder / "journal").exists():
        raise ValueError(
            f"parameter server folder `{folder}` has an unfinished commit (`journal`); open it "
            "once with the SSD parameter server (use_host_memory_ps=False) to finish it"
        )
    manifest = read_manifest(folder)
    vec, k = spec.embedding_vec_size, spec.optimizer_slots
    if manifest is None:
        n = plain_rows(folder, spec)
        keys = np.fromfile(folder / "key", dtype="<i8")
        slot_file = folder / "slot_id"
        slots = (
            np.fromfile(slot_file, dtype="<u8").astype(np.int64)
            if slot_file.is_file()
            else np.zeros(n, np.int64)
        )
        block = RowBlock(
            keys,
            np.fromfile(folder / "emb_vector", dtype="<f4").reshape(n, vec),
            slots,
            np.full((n, k, vec), spec.initial_slot_value, np.float32),
            np.zeros(n, np.int64),
        )
        return block, 0, np.zeros(0, np.float32)
    check_manifest(manifest, spec, folder)
    n, step = manifest["rows"], manifest["step"]
    check_row_files(folder, spec, n)
    arrays = {}
    for name, field in BLOCK_FIELD.items():
        dtype, per_row = ROW_FILES[name]
        values = np.fromfile(folder / name, dtype=dtype, count=n * per_row(vec, k))
        arrays[field] = values
    block = RowBlock(
        arrays["keys"].astype(np.int64),
        arrays["rows"].astype(np.float32).reshape(n, vec),
        arrays["slot_ids"].astype(np.int64),
        arrays["optimizer_slots"].astype(np.float32).reshape(n, k, vec),
        arrays["last_step"].astype(np.int64),
    )
    return block, step, read_lr_history(folder, step)
