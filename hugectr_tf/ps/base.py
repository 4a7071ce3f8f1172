"""`ParameterServer`: the interface both parameter servers share, and what they share in code.

A parameter server (PS) holds every row of one embedding table (key, row, slot id, optimizer
slots, the step at which the row was last brought up to date) plus the table's step counter and
learning-rate history, outside the working table. Model oversubscription pulls the rows of a
pass's keyset into the working table before the pass and pushes the working table back after it;
inference looks rows up in it behind an embedding cache.

Rows are read "caught up": with update type Global every step updates every row of a whole
table, so a row that sat in the PS while steps went by is replayed over the steps it missed
(zero gradient, the learning rate of each step; `hugectr_tf.ops.ps_ops.catch_up`) when it is
read. With Local and LazyGlobal a row is read as stored (a whole table does not touch it either).
"""

import abc

import numpy as np

from hugectr_tf.data.keyset import distinct_keys
from hugectr_tf.ops import ps_ops
from hugectr_tf.ps.rows import RowBlock

DEFAULT_CHUNK_ROWS = 1 << 18


class ParameterServer(abc.ABC):
    """Rows of one embedding table outside the working table.

    Subclasses store the rows (`HostMemoryParameterServer`, `SSDParameterServer`), keep the
    committed state in `_n` (keys held), `_step` and `_lr_history`, and implement `_index`,
    `_read` and `_commit`.

    Attributes:
        spec: `TableSpec` of the table.
        name: String naming the PS in messages (its folder, or "host memory").
        bytes_read, bytes_written: Integers. Row bytes moved since creation (key, slot id, last
            step, row and optimizer slots per row: `spec.row_bytes`).
    """

    def __init__(self, spec, name):
        self.spec = spec
        self.name = name
        self.bytes_read = 0
        self.bytes_written = 0

    # ------------------------------------------------------------------ storage (subclasses)
    @property
    def size(self):
        """Number of keys held."""
        return self._n

    @property
    def step(self):
        """Optimizer steps applied to the table so far."""
        return self._step

    @property
    def lr_history(self):
        """float32 [step]: learning rate of steps 1..step."""
        return self._lr_history

    @abc.abstractmethod
    def _index(self):
        """The `KeyIndex` of the held keys."""

    @abc.abstractmethod
    def _read(self, positions):
        """`RowBlock` of the rows at `positions` (as stored, not caught up), in that order."""

    @abc.abstractmethod
    def _commit(self, block, positions, step, lr_history):
        """Stores `block` (rows at `positions`, -1 for new keys) with the table's new step and
        learning-rate history, all or nothing."""

    # ------------------------------------------------------------------ shared
    def contains(self, keys):
        """Boolean mask: which of `keys` the PS holds."""
        return self._index().find(keys) >= 0

    def pull(self, keys):
        """The rows of those of `keys` the PS holds, caught up, by ascending key.

        Keys may repeat and come in any order; keys the PS does not hold are skipped (a pass
        creates them in the working table the first time it sees them).
        """
        keys = distinct_keys(keys)
        positions = self._index().find(keys)
        block = self._read(positions[positions >= 0])
        self.bytes_read += len(block) * self.spec.row_bytes
        return self.catch_up(block)

    def catch_up(self, block):
        """`block` with every row brought to the PS's step (a no-op unless update type Global)."""
        if not (self.spec.catches_up and len(block) and np.any(block.last_step < self.step)):
            return block
        rows, slots, last = ps_ops.catch_up(
            block.rows,
            block.optimizer_slots,
            block.last_step,
            self.step,
            self.lr_history,
            self.spec.optimizer,
        )
        return RowBlock(block.keys, rows, block.slot_ids, slots, last)

    def push(self, block, step, lr_history):
        """Stores the rows of `block` (new keys are added, held keys overwritten) and the table's
        step and learning-rate history; all or nothing.

        Raises ValueError when the block does not fit the table, or when `step` is behind the
        PS's (a working table never goes back in steps).
        """
        block.check(self.spec, f"pushing rows to parameter server `{self.name}`")
        lr_history = np.asarray(lr_history, np.float32).reshape(-1)
        step = int(step)
        if step < self.step or len(lr_history) != step:
            raise ValueError(
                f"pushing rows to parameter server `{self.name}`: the table's step {step} (with "
                f"{len(lr_history)} learning rates) is behind the PS's step {self.step}, or the "
                "learning-rate history does not hold one rate per step"
            )
        if len(block) > 1 and not np.all(block.keys[1:] > block.keys[:-1]):
            block = block.sorted()
            if np.any(block.keys[1:] == block.keys[:-1]):
                raise ValueError(f"pushing rows to parameter server `{self.name}`: keys repeat")
        positions = self._index().find(block.keys)
        self._commit(block, positions, step, lr_history)
        self.bytes_written += len(block) * self.spec.row_bytes

    def rows_for(self, keys):
        """(rows float32 [len(keys), vec], found mask) for `keys` in their order; absent keys get
        zero rows (the inference convention). Rows are caught up."""
        keys = np.asarray(keys, np.int64)
        positions = self._index().find(keys)
        found = positions >= 0
        out = np.zeros((len(keys), self.spec.embedding_vec_size), np.float32)
        if found.any():
            block = self.catch_up(self._read(positions[found]))
            self.bytes_read += len(block) * self.spec.row_bytes
            out[found] = block.rows
        return out, found

    def blocks(self, chunk_rows=DEFAULT_CHUNK_ROWS):
        """Yields every row, caught up, in storage order, `chunk_rows` at a time."""
        for start in range(0, self.size, chunk_rows):
            positions = np.arange(start, min(start + chunk_rows, self.size), dtype=np.int64)
            block = self._read(positions)
            self.bytes_read += len(block) * self.spec.row_bytes
            yield self.catch_up(block)

    def catch_up_stored(self, chunk_rows=DEFAULT_CHUNK_ROWS):
        """Stores every row caught up (update type Global), one commit per chunk that lagged;
        returns the rows rewritten. Reads see no difference; a folder read as a plain sparse
        model afterwards holds the rows a whole table would."""
        if not self.spec.catches_up:
            return 0
        rewritten = 0
        for start in range(0, self.size, chunk_rows):
            positions = np.arange(start, min(start + chunk_rows, self.size), dtype=np.int64)
            block = self._read(positions)
            lagging = block.last_step < self.step
            if lagging.any():
                caught = self.catch_up(block.take(lagging))
                self._commit(caught, positions[lagging], self.step, self.lr_history)
                rewritten += len(caught)
        self.bytes_read += self.size * self.spec.row_bytes
        self.bytes_written += rewritten * self.spec.row_bytes
        return rewritten

    def changed_since(self, step):
        """The rows (caught up) last updated after optimizer step `step`. Catching up counts as
        an update, as a whole table with update type Global updates every row every step."""
        parts = [block.take(block.last_step > step) for block in self.blocks()]
        return RowBlock.concat(parts, self.spec)
