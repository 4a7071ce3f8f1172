"""What a parameter server stores per row, and the shape of the table it serves.

`TableSpec` fixes the row layout of one embedding table (floats per row, sparse optimizer and its
slot vectors per row); `RowBlock` carries rows of that layout between a parameter server and the
working table, ordered by ascending key as `EmbeddingTable.export()` gives them.
"""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from hugectr_tf.config import Embedding_t, Optimizer_t, OptParamsPy, Update_t
from hugectr_tf.ops.embedding_ops import OPTIMIZER_SLOT_NAMES
from hugectr_tf.ps import file_io


@dataclass(frozen=True)
class TableSpec:
    """The row layout of one embedding table.

    Args:
        embedding_vec_size: Integer. Floats per row.
        optimizer: `OptParamsPy` of the table's sparse optimizer.
        embedding_type: `Embedding_t` of the table (Localized types keep slot ids in the
            HugeCTR sparse model folder).
    """

    embedding_vec_size: int
    optimizer: OptParamsPy
    embedding_type: Embedding_t = Embedding_t.DistributedSlotSparseEmbeddingHash

    def __post_init__(self):
        vec = self.embedding_vec_size
        if isinstance(vec, bool) or not isinstance(vec, (int, np.integer)) or vec <= 0:
            raise ValueError(f"`embedding_vec_size` must be a positive integer. Received: {vec!r}")
        if not isinstance(self.optimizer, OptParamsPy):
            raise TypeError(f"`optimizer` must be an OptParamsPy. Received: {self.optimizer!r}")

    @property
    def optimizer_slots(self):
        """Slot vectors per row (Adam 2, SGD 0, the others 1)."""
        return len(OPTIMIZER_SLOT_NAMES[self.optimizer.optimizer_type])

    @property
    def initial_slot_value(self):
        """Value of every optimizer slot of a new row (Adagrad's initial accumulator, else 0)."""
        if self.optimizer.optimizer_type == Optimizer_t.Adagrad:
            return float(self.optimizer.initial_accu_value)
        return 0.0

    @property
    def catches_up(self):
        """True when rows that sat out steps must replay them (update type Global)."""
        return self.optimizer.update_type == Update_t.Global

    @property
    def localized(self):
        return self.embedding_type in (
            Embedding_t.LocalizedSlotSparseEmbeddingHash,
            Embedding_t.LocalizedSlotSparseEmbeddingOneHot,
        )

    @property
    def row_bytes(self):
        """Bytes of one row on disk: key, slot id, last step, the row and its optimizer slots."""
        return 24 + 4 * self.embedding_vec_size * (1 + self.optimizer_slots)

    def empty_block(self):
        return RowBlock.empty(self)


@dataclass
class RowBlock:
    """Rows of one table: keys [n] int64, rows [n, vec] float32, slot_ids [n] int64,
    optimizer_slots [n, k, vec] float32, last_step [n] int64."""

    keys: np.ndarray
    rows: np.ndarray
    slot_ids: np.ndarray
    optimizer_slots: np.ndarray
    last_step: np.ndarray

    @classmethod
    def empty(cls, spec):
        vec, k = spec.embedding_vec_size, spec.optimizer_slots
        return cls(
            np.zeros(0, np.int64),
            np.zeros((0, vec), np.float32),
            np.zeros(0, np.int64),
            np.zeros((0, k, vec), np.float32),
            np.zeros(0, np.int64),
        )

    @classmethod
    def from_state(cls, state):
        """The rows of an `EmbeddingTable.export()` dict (tensors or arrays)."""
        arrays = {}
        for name in ("keys", "rows", "slot_ids", "optimizer_slots", "last_step"):
            value = state[name]
            # np.asarray shares a tensor's buffer (read-only); Tensor.numpy() would copy it.
            arrays[name] = np.asarray(value)
        return cls(**arrays)

    def __len__(self):
        return len(self.keys)

    def table_state(self, step, lr_history):
        """The block as the state dict `EmbeddingTable.restore` takes, as tensors that share the
        block's arrays where they can (file_io.as_tensor: the rows a parameter server read into
        aligned buffers reach the working table without another copy)."""
        return {
            "keys": file_io.as_tensor(self.keys, tf.int64),
            "rows": file_io.as_tensor(self.rows, tf.float32),
            "slot_ids": file_io.as_tensor(self.slot_ids, tf.int64),
            "optimizer_slots": file_io.as_tensor(self.optimizer_slots, tf.float32),
            "last_step": file_io.as_tensor(self.last_step, tf.int64),
            "step": tf.constant(int(step), tf.int64),
            "lr_history": tf.constant(np.asarray(lr_history, np.float32).reshape(-1)),
        }

    def check(self, spec, what):
        """Raises ValueError naming `what` when the arrays do not fit `spec` or each other."""
        n, vec, k = len(self.keys), spec.embedding_vec_size, spec.optimizer_slots
        shapes = {
            "keys": (self.keys.shape, (n,)),
            "rows": (self.rows.shape, (n, vec)),
            "slot_ids": (self.slot_ids.shape, (n,)),
            "optimizer_slots": (self.optimizer_slots.shape, (n, k, vec)),
            "last_step": (self.last_step.shape, (n,)),
        }
        for name, (got, want) in shapes.items():
            if tuple(got) != want:
                raise ValueError(
                    f"{what}: `{name}` has shape {tuple(got)} but a table of embedding_vec_size="
                    f"{vec} with {k} optimizer slot vectors per row needs {want}"
                )

    def take(self, index):
        """The rows at `index` (an integer array or a boolean mask)."""
        index = np.asarray(index)
        if index.dtype == bool and index.all():
            return self
        return RowBlock(
            self.keys[index],
            self.rows[index],
            self.slot_ids[index],
            self.optimizer_slots[index],
            self.last_step[index],
        )

    def sorted(self):
        """The block ordered by ascending key."""
        if len(self) < 2 or np.all(self.keys[1:] > self.keys[:-1]):
            return self
        return self.take(np.argsort(self.keys, kind="stable"))

    @staticmethod
    def concat(blocks, spec):
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return RowBlock.empty(spec)
        return RowBlock(
            *(
                np.concatenate([getattr(b, name) for b in blocks])
                for name in ("keys", "rows", "slot_ids", "optimizer_slots", "last_step")
            )
        )
