"""`SSDParameterServer` (SSD-PS): every row of a table in files.

The folder layout is `hugectr_tf.ps.folder`'s (a HugeCTR sparse model folder plus optimizer
state), so the PS is its own snapshot: after every commit the folder is a sparse model HugeCTR and
`EmbeddingTable.read_sparse_model` read, and reopening it resumes training where it stopped. Only
the key index (sorted keys and their row numbers, 16 bytes per key) is held in memory; rows are
read and written in place (a run of adjacent rows with one read or write per file: file_io.py;
scattered rows in segments, written through a memory map), so a table may be far larger than RAM.

A push is committed all or nothing, with a redo journal:
  1. rows of new keys are appended after the committed rows of every row file (invisible until
     the manifest counts them); fsync;
  2. the new values of the rows already held (their row numbers, rows, slot ids, optimizer
     slots, last steps), the new row count, step and learning-rate history go to `journal.tmp`;
     fsync; it is renamed to `journal` (the commit point); fsync of the folder;
  3. the held rows are written in place (adjacent rows: one range per row file, all files at
     once, then their fsyncs; a memmap scatter otherwise, msync), then `lr_history` and
     `ps.json` are replaced (write then rename) and the journal is deleted.
Opening the folder for writing first finishes a committed journal (step 3 is idempotent), then
cuts the row files to the manifest's row count (the tail of an uncommitted step 1). A crash or a
full disk before the rename leaves the previous commit intact; after it, the new one. Held rows
are so written twice (journal, then in place): docs/embedding.md says why that is kept.
"""

import contextlib
import errno
import fcntl
import json
import mmap
import os
import struct
import time
from pathlib import Path

import numpy as np

from hugectr_tf.ps import file_io
from hugectr_tf.ps import folder as ps_folder
from hugectr_tf.ps.base import ParameterServer
from hugectr_tf.ps.key_index import KeyIndex
from hugectr_tf.ps.rows import RowBlock

JOURNAL = "journal"
JOURNAL_MAGIC = b"HCTRPSJ1"
_HEAD = struct.Struct("<8sQ")  # magic, length of the JSON header that follows
# Row files the journal rewrites in place (the keys of held rows never change).
_UPDATED = ("emb_vector", "slot_id", "opt_state", "last_step")
_WRITE_CHUNK_ROWS = 1 << 16


class SSDParameterServer(ParameterServer):
    """Rows of one table in the files of `folder`.

    Args:
        spec: `TableSpec` of the table.
        folder: String or path. A PS folder, a plain HugeCTR sparse model folder (adopted: its
            optimizer state starts new), or a folder to create.
        create: Boolean. Create an empty PS when `folder` does not exist (else FileNotFoundError).
        readonly: Boolean. Open for reading only (inference): nothing in the folder changes; a
            plain HugeCTR folder needs no optimizer-state files then.
        durable: Boolean. fsync files and folder at each commit (so a power loss, not only a
            crash, keeps the last commit). A crash of the process is survived either way.
    """

    def __init__(self, spec, folder, *, create=True, readonly=False, durable=True):
        self.folder = Path(folder)
        super().__init__(spec, str(self.folder))
        self.readonly = bool(readonly)
        self.durable = bool(durable)
        self.disk_bytes_read = 0
        self.disk_bytes_written = 0
        # Seconds spent so far: reading rows, and the three steps of a commit (each with its
        # fsyncs); "fsync" counts the fsyncs alone (benchmarks/mos_bench.py breaks passes down).
        self.seconds = dict.fromkeys(("read", "append", "journal", "apply", "fsync"), 0.0)
        self._maps = {}
        self._lock_fd = None
        self._failed = None
        self._plain = False
        if self.readonly:
            self._open_readonly()
        else:
            self._open_writable(create)
        keys = np.fromfile(self.folder / "key", "<i8", count=self._n)
        self._index_ = KeyIndex(keys, what=f"parameter server folder `{self.folder}`")

    # ------------------------------------------------------------------ opening
    def _open_readonly(self):
        if not self.folder.is_dir():
            raise FileNotFoundError(f"parameter server folder `{self.folder}` does not exist")
        if (self.folder / JOURNAL).exists():
            raise ValueError(
                f"parameter server folder `{self.folder}` has an unfinished commit (`{JOURNAL}`);"
                " open it once for writing (SSDParameterServer(..., readonly=False), or train "
                "with it) to finish the commit"
            )
        manifest = ps_folder.read_manifest(self.folder)
        if manifest is None:
            self._plain = True
            self._n, self._step = ps_folder.plain_rows(self.folder, self.spec), 0
            self._lr_history = np.zeros(0, np.float32)
            return
        self._load_manifest(manifest)

    def _open_writable(self, create):
        if not self.folder.exists():
            if not create:
                raise FileNotFoundError(f"parameter server folder `{self.folder}` does not exist")
            self.folder.mkdir(parents=True)
        elif not self.folder.is_dir():
            raise NotADirectoryError(f"parameter server folder `{self.folder}` is a file")
        self._lock()
        for stray in self.folder.glob(".*.tmp-*"):
            stray.unlink(missing_ok=True)
        (self.folder / (JOURNAL + ".tmp")).unlink(missing_ok=True)
        manifest = ps_folder.read_manifest(self.folder)
        if manifest is None:
            if (self.folder / "key").exists() or (self.folder / "emb_vector").exists():
                self._adopt_plain_folder()
            else:
                self._initialise_empty()
            manifest = ps_folder.read_manifest(self.folder)
        ps_folder.check_manifest(manifest, self.spec, self.folder)
        if (self.folder / JOURNAL).exists():
            self._recover(manifest)
            manifest = ps_folder.read_manifest(self.folder)
        self._load_manifest(manifest)
        for name in ps_folder.ROW_FILES:  # drop the tail of an uncommitted append
            os.truncate(self.folder / name, self._n * ps_folder.row_file_bytes(name, self.spec))

    def _lock(self):
        self._lock_fd = os.open(self.folder, os.O_RDONLY)  # flock works on a folder's fd
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise RuntimeError(
                f"parameter server folder `{self.folder}` is open for writing by another "
                "SSDParameterServer (in this or another process); close it first"
            ) from None

    def _load_manifest(self, manifest):
        ps_folder.check_manifest(manifest, self.spec, self.folder)
        self._n, self._step = manifest["rows"], manifest["step"]
        ps_folder.check_row_files(self.folder, self.spec, self._n)
        self._lr_history = ps_folder.read_lr_history(self.folder, self._step)

    def _initialise_empty(self):
        for name in ps_folder.ROW_FILES:
            (self.folder / name).write_bytes(b"")
        (self.folder / "lr_history").write_bytes(b"")
        self._write_manifest(0, 0)

    def _adopt_plain_folder(self):
        """Adds optimizer state (new), last steps (0) and slot ids (0 where absent) to a plain
        HugeCTR sparse model folder; the manifest, written last, makes it a PS folder."""
        n = ps_folder.plain_rows(self.folder, self.spec)
        KeyIndex(np.fromfile(self.folder / "key", dtype="<i8"), f"`{self.folder}/key`")
        if not (self.folder / "slot_id").is_file():
            self._fill(self.folder / "slot_id", n, np.zeros(1, "<u8"))
        slot_row = np.full(self.spec.optimizer_slots * self.spec.embedding_vec_size,
                           self.spec.initial_slot_value, "<f4")  # fmt: skip
        self._fill(self.folder / "opt_state", n, slot_row)
        self._fill(self.folder / "last_step", n, np.zeros(1, "<i8"))
        (self.folder / "lr_history").write_bytes(b"")
        self._write_manifest(n, 0)

    def _fill(self, path, n, row):
        chunk = np.tile(row, _WRITE_CHUNK_ROWS).tobytes()
        with open(path, "wb") as f:
            for start in range(0, n, _WRITE_CHUNK_ROWS):
                rows = min(_WRITE_CHUNK_ROWS, n - start)
                f.write(chunk[: rows * row.nbytes])
            self._sync(f)

    def _write_manifest(self, rows, step):
        text = json.dumps(ps_folder.manifest_dict(self.spec, rows, step), indent=1).encode()
        ps_folder.write_file_atomic(self.folder / ps_folder.MANIFEST, text, self.durable)

    # ------------------------------------------------------------------ state
    def _index(self):
        self._check_usable()
        return self._index_

    def close(self):
        """Unmaps the files and releases the folder (the PS is unusable afterwards)."""
        self._maps.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._failed = self._failed or "the parameter server was closed"

    def _check_usable(self):
        if self._failed:
            raise RuntimeError(f"parameter server `{self.folder}` is not usable: {self._failed}")

    # ------------------------------------------------------------------ reading
    def _map(self, name):
        """Row file `name` as an array [n, values per row] over a memory map (scattered writes)."""
        if name not in self._maps:
            dtype, per_row = ps_folder.ROW_FILES[name]
            width = per_row(self.spec.embedding_vec_size, self.spec.optimizer_slots)
            length = self._n * ps_folder.row_file_bytes(name, self.spec)
            with open(self.folder / name, "rb" if self.readonly else "r+b") as f:
                access = mmap.ACCESS_READ if self.readonly else mmap.ACCESS_WRITE
                mapped = mmap.mmap(f.fileno(), length, access=access)
            self._maps[name] = (mapped, np.frombuffer(mapped, dtype).reshape(self._n, width))
        return self._maps[name][1]

    def _read_file(self, name, where):
        """Rows `where` (ascending positions, or a slice) of row file `name`, in memory."""
        missing = name in ("opt_state", "last_step") or not (self.folder / name).exists()
        if self._plain and missing:
            count = where.stop - where.start if isinstance(where, slice) else len(where)
            return self._plain_default(name, count)
        dtype, per_row = ps_folder.ROW_FILES[name]
        width = per_row(self.spec.embedding_vec_size, self.spec.optimizer_slots)
        row_bytes = ps_folder.row_file_bytes(name, self.spec)
        count = where.stop - where.start if isinstance(where, slice) else len(where)
        if row_bytes == 0 or count == 0:  # e.g. SGD's optimizer state: rows of zero width
            return np.empty((count, width), dtype)
        path = self.folder / name
        fd = os.open(path, os.O_RDONLY)
        try:
            if isinstance(where, slice):  # adjacent rows: one sequential read
                values = file_io.aligned_empty((where.stop - where.start, width), dtype)
                file_io.read_into(fd, where.start * row_bytes, values, path)
            else:
                values = file_io.aligned_empty((len(where), width), dtype)
                segments = _segments(where, row_bytes)
                longest = max(int(where[hi - 1] - where[lo]) + 1 for lo, hi in segments)
                buffer = np.empty((longest, width), dtype)  # reused: no fresh pages per read
                for lo, hi in segments:
                    first = int(where[lo])
                    run = buffer[: int(where[hi - 1]) + 1 - first]
                    file_io.read_into(fd, first * row_bytes, run, path)
                    np.take(run, where[lo:hi] - first, axis=0, out=values[lo:hi])
        finally:
            os.close(fd)
        self.disk_bytes_read += values.nbytes
        return values

    def _plain_default(self, name, count):
        """Values a plain HugeCTR folder lacks, read-only: new optimizer state, step 0, slot 0."""
        spec = self.spec
        if name == "opt_state":
            width = spec.optimizer_slots * spec.embedding_vec_size
            return np.full((count, width), spec.initial_slot_value, np.float32)
        return np.zeros((count, 1), np.int64)

    def _read(self, positions):
        started = time.perf_counter()
        try:
            return self._read_positions(positions)
        finally:
            self.seconds["read"] += time.perf_counter() - started

    def _read_positions(self, positions):
        self._check_usable()
        positions = np.asarray(positions, np.int64)
        if len(positions) == 0:
            return self.spec.empty_block()
        back = None
        if np.any(positions[1:] < positions[:-1]):  # read the files front to back
            order = np.argsort(positions, kind="stable")
            positions = positions[order]
            back = np.empty_like(order)
            back[order] = np.arange(len(order))
        where = _as_slice(positions)
        arrays = {
            field: self._read_file(name, where) for name, field in ps_folder.BLOCK_FIELD.items()
        }
        vec, k = self.spec.embedding_vec_size, self.spec.optimizer_slots
        block = RowBlock(
            arrays["keys"].reshape(-1).astype(np.int64, copy=False),
            arrays["rows"].reshape(-1, vec).astype(np.float32, copy=False),
            arrays["slot_ids"].reshape(-1).astype(np.int64, copy=False),
            arrays["optimizer_slots"]
            .reshape(len(arrays["keys"]), k, vec)
            .astype(np.float32, copy=False),
            arrays["last_step"].reshape(-1).astype(np.int64, copy=False),
        )
        return block if back is None else block.take(back)

    # ------------------------------------------------------------------ committing
    def _sync(self, f):
        if self.durable:
            f.flush()
            self._fsync(f.fileno())

    def _fsync(self, fd):
        started = time.perf_counter()
        os.fsync(fd)
        self.seconds["fsync"] += time.perf_counter() - started

    @contextlib.contextmanager
    def _timed(self, step):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] += time.perf_counter() - started

    def _commit(self, block, positions, step, lr_history):
        self._check_usable()
        if self.readonly:
            raise RuntimeError(f"parameter server `{self.folder}` is open read-only")
        held_mask = positions >= 0
        fresh, held = block.take(~held_mask), block.take(held_mask)
        rows_before, rows_after = self._n, self._n + len(fresh)
        try:
            with self._timed("append"):
                self._append(fresh, rows_before)
            with self._timed("journal"):
                self._write_journal(positions[held_mask], held, rows_after, step, lr_history)
        except OSError as err:
            self._roll_back(rows_before)
            raise self._disk_error(err, "writing the pass", committed=False) from err
        updated = [held.rows, held.slot_ids, held.optimizer_slots, held.last_step]
        try:
            with self._timed("apply"):
                self._apply(positions[held_mask], updated, rows_after, step, lr_history)
        except OSError as err:
            self._failed = f"a committed pass is not applied yet ({err})"
            raise self._disk_error(err, "applying the committed pass", committed=True) from err
        self._index_.add(fresh.keys, rows_before + np.arange(len(fresh), dtype=np.int64))
        self._step = step
        self._lr_history = np.array(lr_history, np.float32)

    def _disk_error(self, err, what, committed):
        state = (
            "the pass is committed (journal); it is applied when the folder is next opened"
            if committed
            else f"nothing of it was committed: the PS keeps its {self._n} rows at step "
            f"{self._step}"
        )
        reason = "the disk is full" if err.errno in (errno.ENOSPC, errno.EDQUOT) else err.strerror
        return OSError(
            err.errno, f"SSD parameter server `{self.folder}`: {what} failed ({reason}); {state}"
        )

    def _append(self, fresh, rows_before):
        """Step 1: rows of new keys after the committed rows of each row file."""
        if len(fresh) == 0:
            return
        values = {name: getattr(fresh, field) for name, field in ps_folder.BLOCK_FIELD.items()}
        self._write_ranges(rows_before, values)
        self.disk_bytes_written += sum(v.nbytes for v in values.values())

    def _write_journal(self, positions, held, rows_after, step, lr_history):
        """Step 2: the journal, renamed into place once complete (the commit point)."""
        header = json.dumps(
            {"rows_after": int(rows_after), "updates": len(held), "step": int(step)}
        ).encode()
        tmp = self.folder / (JOURNAL + ".tmp")
        parts = [
            np.ascontiguousarray(positions, "<i8"),
            np.ascontiguousarray(held.rows, "<f4"),
            np.ascontiguousarray(held.slot_ids, "<u8"),
            np.ascontiguousarray(held.optimizer_slots, "<f4"),
            np.ascontiguousarray(held.last_step, "<i8"),
            np.ascontiguousarray(lr_history, "<f4"),
        ]
        head = np.frombuffer(_HEAD.pack(JOURNAL_MAGIC, len(header)) + header, np.uint8)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            offset = 0
            for part in [head, *parts]:
                file_io.write_from(fd, offset, part)
                offset += part.nbytes
                self.disk_bytes_written += part.nbytes
            if self.durable:
                self._fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.folder / JOURNAL)
        if self.durable:
            ps_folder.fsync_dir(self.folder)

    def _read_journal(self):
        path = self.folder / JOURNAL
        data = np.empty(path.stat().st_size, np.uint8)
        fd = os.open(path, os.O_RDONLY)
        try:
            file_io.read_into(fd, 0, data, path)
        finally:
            os.close(fd)
        if len(data) < _HEAD.size:
            raise ValueError(f"`{self.folder / JOURNAL}` is damaged: {len(data)} bytes")
        magic, length = _HEAD.unpack_from(data[: _HEAD.size].tobytes())
        if magic != JOURNAL_MAGIC:
            raise ValueError(f"`{self.folder / JOURNAL}` is not a parameter-server journal")
        header = json.loads(data[_HEAD.size : _HEAD.size + length].tobytes())
        u, step = int(header["updates"]), int(header["step"])
        vec, k = self.spec.embedding_vec_size, self.spec.optimizer_slots
        sizes = [
            ("<i8", u),
            ("<f4", u * vec),
            ("<u8", u),
            ("<f4", u * k * vec),
            ("<i8", u),
            ("<f4", step),
        ]
        want = _HEAD.size + length + sum(np.dtype(d).itemsize * c for d, c in sizes)
        if len(data) != want:
            raise ValueError(
                f"`{self.folder / JOURNAL}` holds {len(data)} bytes but its header describes "
                f"{want}; the folder is damaged"
            )
        offset, out = _HEAD.size + length, []
        for dtype, count in sizes:
            out.append(np.frombuffer(data, dtype, count, offset))
            offset += count * np.dtype(dtype).itemsize
        positions, lr_history = out[0], out[-1]
        return header, positions, out[1:-1], lr_history

    def _apply(self, positions, updated, rows_after, step, lr_history):
        """Step 3: the held rows in place, then the manifest; the journal goes last."""
        self._n = rows_after
        self._maps.clear()
        if len(positions):
            where = _as_slice(positions)
            if isinstance(where, slice):  # adjacent rows: one range per file, all at once
                self._write_ranges(where.start, dict(zip(_UPDATED, updated)))
            else:
                for name, values in zip(_UPDATED, updated):
                    self._write_rows(name, where, values.reshape(len(positions), -1))
            self.disk_bytes_written += sum(values.nbytes for values in updated)
        ps_folder.write_file_atomic(
            self.folder / "lr_history", np.asarray(lr_history, "<f4").tobytes(), self.durable
        )
        self._write_manifest(rows_after, int(step))
        (self.folder / JOURNAL).unlink()
        if self.durable:
            ps_folder.fsync_dir(self.folder)

    def _write_ranges(self, first, values_of):
        """Writes rows first.. of every row file in `values_of` ({name: values}): the files in
        parallel, then their fsyncs in parallel (one file after the other would leave the disk
        idle during each fsync)."""
        fds = {}
        try:
            for name, values in values_of.items():
                row_bytes = ps_folder.row_file_bytes(name, self.spec)
                if row_bytes == 0:  # SGD's optimizer state: nothing
                    continue
                dtype = ps_folder.ROW_FILES[name][0]
                values = np.ascontiguousarray(values, dtype)
                fds[name] = (os.open(self.folder / name, os.O_WRONLY), first * row_bytes, values)
            file_io.write_many(list(fds.values()))
            if self.durable:
                started = time.perf_counter()
                file_io.fsync_all([fd for fd, _, _ in fds.values()])
                self.seconds["fsync"] += time.perf_counter() - started
        finally:
            for fd, _, _ in fds.values():
                os.close(fd)

    def _write_rows(self, name, where, values):
        """Scattered rows `where` of row file `name`, through a memory map."""
        dtype = ps_folder.ROW_FILES[name][0]
        values = np.ascontiguousarray(values, dtype)
        if ps_folder.row_file_bytes(name, self.spec) == 0:  # SGD's optimizer state: nothing
            return
        self._map(name)[where] = values
        mapped, _ = self._maps.pop(name)
        if self.durable:
            mapped.flush()

    def _recover(self, manifest):
        """Finishes a committed journal left by a crash."""
        header, positions, updated, lr_history = self._read_journal()
        rows_after = int(header["rows_after"])
        ps_folder.check_row_files(self.folder, self.spec, rows_after)
        self._apply(positions, updated, rows_after, int(header["step"]), lr_history)

    def _roll_back(self, rows_before):
        """Undoes an uncommitted step 1 / 2 (best effort: opening the folder does it too)."""
        (self.folder / (JOURNAL + ".tmp")).unlink(missing_ok=True)
        for name in ps_folder.ROW_FILES:
            try:
                size = rows_before * ps_folder.row_file_bytes(name, self.spec)
                os.truncate(self.folder / name, size)
            except OSError:
                pass  # opening the folder cuts the files again


# Scattered rows are read in segments: rows closer than _MAX_GAP bytes share one sequential read
# (reading the gap costs less than another seek), and no read spans more than _MAX_SPAN bytes.
_MAX_GAP = 1 << 20
_MAX_SPAN = 64 << 20


def _segments(positions, row_bytes):
    """[(lo, hi)] index ranges of ascending `positions`, each read with one sequential read."""
    gaps = np.diff(positions) * row_bytes
    cuts = [0] + (np.flatnonzero(gaps > _MAX_GAP) + 1).tolist() + [len(positions)]
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        span_start = lo
        while span_start < hi:  # split long segments at _MAX_SPAN
            limit = positions[span_start] + _MAX_SPAN // row_bytes
            end = span_start + int(np.searchsorted(positions[span_start:hi], limit))
            end = max(end, span_start + 1)
            out.append((span_start, end))
            span_start = end
    return out


def _as_slice(positions):
    """A slice for ascending adjacent positions (one sequential copy), else the positions."""
    if positions[-1] - positions[0] + 1 == len(positions) and np.all(np.diff(positions) == 1):
        return slice(int(positions[0]), int(positions[-1]) + 1)
    return positions
