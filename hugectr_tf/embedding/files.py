"""HugeCTR sparse model folders and the optimizer-state file of a table.

Sparse model folder (HugeCTR layout, no headers, little-endian, one entry per key in the same
order in every file; this project writes keys in ascending order):
    <folder>/key         int64   [n]
    <folder>/emb_vector  float32 [n, embedding_vec_size]
    <folder>/slot_id     uint64  [n]   (Localized embedding types only)
    <folder>/hugectr_tf_manifest.json    (this project only: sizes and CRC-32 of the files above,
                                          see embedding/manifest.py; HugeCTR ignores it)
Folders are written to a temporary sibling and renamed into place, so a reader never sees a
half-written model. A folder with a manifest is verified against it before it is read; a folder
without one (written by HugeCTR) is checked for consistent sizes only.

Optimizer-state file (this project's format, little-endian):
    offset 0   8 bytes  magic b"HCTREOPT"
    offset 8   uint32   format version (1)
    offset 12  uint32   optimizer code (0 Adam, 1 Adagrad, 2 MomentumSGD, 3 Nesterov, 4 SGD)
    offset 16  int64    embedding_vec_size (vec)
    offset 24  int64    optimizer slot vectors per row (k: Adam 2, Adagrad/Momentum/Nesterov 1,
                        SGD 0)
    offset 32  int64    number of keys n
    offset 40  int64    step (optimizer steps applied so far)
    offset 48  int64   keys          [n]
               float32 slots         [n, k, vec]   (Adam: m then v)
               int64   last_step     [n]           (step at which each row was last updated)
               float32 lr_history    [step]        (learning rate of steps 1..step)
               uint32  crc32                       (version 2: CRC-32 of every byte before it)
Version 1 files (no checksum) are still read.
"""

import os
import shutil
import struct
import uuid
from pathlib import Path

import numpy as np

from hugectr_tf.embedding import manifest

OPT_MAGIC = b"HCTREOPT"
OPT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_OPT_HEADER = struct.Struct("<8sIIqqqq")
_CRC = struct.Struct("<I")
FOLDER_MANIFEST = "hugectr_tf_manifest.json"


def replace_folder(tmp, folder):
    """Moves the finished `tmp` folder to `folder`, replacing any previous one."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(folder, old)
    os.rename(tmp, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _byte_view(array):
    """The bytes of `array` as a flat uint8 array (no copy for contiguous input)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _write_array(path, array):
    """Writes `array`'s bytes durably; returns their manifest digest."""
    data = _byte_view(array)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"bytes": data.nbytes, "crc32": manifest.crc32_bytes(data)}


def write_sparse_model(folder, keys, rows, slot_ids=None):
    """Writes a HugeCTR sparse model folder atomically (`slot_id` only when slot_ids is given)
    with its manifest; returns {file name in the folder: digest} of every file written."""
    folder = Path(folder)
    keys = np.ascontiguousarray(keys, dtype="<i8")
    rows = np.ascontiguousarray(rows, dtype="<f4")
    if rows.ndim != 2 or rows.shape[0] != keys.shape[0]:
        raise ValueError(
            f"rows must be [len(keys), vec]. Received: keys {keys.shape}, rows {rows.shape}"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        digests = {"key": _write_array(tmp / "key", keys)}
        digests["emb_vector"] = _write_array(tmp / "emb_vector", rows)
        if slot_ids is not None:
            digests["slot_id"] = _write_array(
                tmp / "slot_id", np.ascontiguousarray(slot_ids, dtype="<u8")
            )
        manifest.write_manifest(tmp / FOLDER_MANIFEST, "sparse_model", digests)
        digests[FOLDER_MANIFEST] = manifest.file_digest(tmp / FOLDER_MANIFEST)
        replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return digests


def read_sparse_model(folder, embedding_vec_size, need_slot_id):
    """Reads a HugeCTR sparse model folder; returns (keys, rows, slot_ids or None).

    Raises ValueError naming the file whose size does not fit the layout, or that fails the
    folder's manifest (`manifest.ManifestError`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"sparse model folder `{folder}` does not exist")
    own = folder / FOLDER_MANIFEST
    if own.exists():  # written by this project: every listed file must match
        document = manifest.read_manifest(own, "sparse_model")
        manifest.verify_files(own, document, [n for n in document["files"] if n != FOLDER_MANIFEST])
    key_file, emb_file, slot_file = folder / "key", folder / "emb_vector", folder / "slot_id"
    for f in (key_file, emb_file) + ((slot_file,) if need_slot_id else ()):
        if not f.is_file():
            raise FileNotFoundError(f"sparse model folder `{folder}` has no `{f.name}` file")
    key_bytes = key_file.stat().st_size
    if key_bytes % 8:
        raise ValueError(f"`{key_file}` holds {key_bytes} bytes, not a multiple of 8 (int64 keys)")
    n = key_bytes // 8
    want = n * embedding_vec_size * 4
    if emb_file.stat().st_size != want:
        raise ValueError(
            f"`{emb_file}` holds {emb_file.stat().st_size} bytes but {n} keys of "
            f"embedding_vec_size={embedding_vec_size} need {want} (float32)"
        )
    keys = np.fromfile(key_file, dtype="<i8")
    rows = np.fromfile(emb_file, dtype="<f4").reshape(n, embedding_vec_size)
    slot_ids = None
    if need_slot_id:
        if slot_file.stat().st_size != n * 8:
            raise ValueError(
                f"`{slot_file}` holds {slot_file.stat().st_size} bytes but {n} keys need "
                f"{n * 8} (uint64 slot ids)"
            )
        slot_ids = np.fromfile(slot_file, dtype="<u8").astype(np.int64)
    return keys, rows, slot_ids


def write_optimizer_states(path, optimizer_code, state):
    """Writes the optimizer-state file (layout in the module docstring) atomically; returns its
    manifest digest."""
    path = Path(path)
    keys = np.ascontiguousarray(state["keys"], dtype="<i8")
    slots = np.ascontiguousarray(state["optimizer_slots"], dtype="<f4")
    last_step = np.ascontiguousarray(state["last_step"], dtype="<i8")
    lr_history = np.ascontiguousarray(state["lr_history"], dtype="<f4")
    n, k, vec = slots.shape
    step = int(state["step"])
    header = _OPT_HEADER.pack(OPT_MAGIC, OPT_VERSION, optimizer_code, vec, k, n, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [np.frombuffer(header, np.uint8)] + [
        _byte_view(a) for a in (keys, slots, last_step, lr_history)
    ]
    crc = 0
    for part in parts:
        crc = manifest.crc32_bytes(part, crc)
    trailer = _CRC.pack(crc)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                f.write(part)
            f.write(trailer)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    size = sum(part.nbytes for part in parts) + len(trailer)
    return {"bytes": size, "crc32": manifest.crc32_bytes(trailer, crc)}


def read_optimizer_states(path, optimizer_code, embedding_vec_size):
    """Reads an optimizer-state file; checks it belongs to this optimizer and vector size."""
    path = Path(path)
    data = Path(path).read_bytes()
    if len(data) < _OPT_HEADER.size or data[:8] != OPT_MAGIC:
        raise ValueError(f"`{path}` is not a hugectr_tf optimizer-state file (bad magic)")
    magic, version, code, vec, k, n, step = _OPT_HEADER.unpack_from(data)
    if version not in _READABLE_VERSIONS:
        raise ValueError(
            f"`{path}` has format version {version}; this build reads {_READABLE_VERSIONS}"
        )
    if version >= 2:
        if len(data) < _OPT_HEADER.size + _CRC.size:
            raise ValueError(f"`{path}` holds {len(data)} bytes, too few for its checksum")
        (stored,) = _CRC.unpack_from(data, len(data) - _CRC.size)
        data = memoryview(data)[: -_CRC.size]
        if manifest.crc32_bytes(data) != stored:
            raise ValueError(f"`{path}` fails its checksum: the file is damaged")
    for name, value in (("slot vectors per row", k), ("keys", n), ("step", step)):
        if value < 0:
            raise ValueError(f"`{path}` has a negative count of {name} in its header: {value}")
    if code != optimizer_code:
        raise ValueError(
            f"`{path}` holds the state of optimizer code {code} but the table uses "
            f"{optimizer_code} (0 Adam, 1 Adagrad, 2 MomentumSGD, 3 Nesterov, 4 SGD)"
        )
    if vec != embedding_vec_size:
        raise ValueError(
            f"`{path}` holds embedding_vec_size={vec} but the table has {embedding_vec_size}"
        )
    want = _OPT_HEADER.size + n * 8 + n * k * vec * 4 + n * 8 + step * 4
    if len(data) != want:
        raise ValueError(
            f"`{path}` holds {len(data)} bytes of data but its header describes {want}"
        )
    off = _OPT_HEADER.size

    def take(dtype, count):
        nonlocal off
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=off)
        off += count * np.dtype(dtype).itemsize
        return arr

    keys = take("<i8", n)
    slots = take("<f4", n * k * vec).reshape(n, k, vec)
    last_step = take("<i8", n)
    lr_history = take("<f4", step)
    return {
        "keys": keys,
        "optimizer_slots": slots,
        "last_step": last_step,
        "step": np.int64(step),
        "lr_history": lr_history,
    }
