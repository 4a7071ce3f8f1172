"""`HostMemoryParameterServer` (HM-PS): every row of a table in host memory.

HugeCTR's host-memory PS: the fastest to pull from and push to, limited by RAM (rows, optimizer
slots and 16 bytes of key index per key). It loads from, and saves to, a sparse model folder
(`hugectr_tf.ps.folder`: a HugeCTR folder plus optimizer state), replacing the folder as a whole.
"""

import numpy as np

from hugectr_tf.ps import folder as ps_folder
from hugectr_tf.ps.base import ParameterServer
from hugectr_tf.ps.key_index import KeyIndex
from hugectr_tf.ps.rows import RowBlock


class HostMemoryParameterServer(ParameterServer):
    """Rows of one table in numpy arrays.

    Args:
        spec: `TableSpec` of the table.
        source: Optional path of a sparse model folder (plain HugeCTR or a PS folder) to load.
    """

    def __init__(self, spec, source=None):
        super().__init__(spec, "host memory" if source is None else f"host memory <- {source}")
        if source is None:
            block, step, lr_history = spec.empty_block(), 0, np.zeros(0, np.float32)
        else:
            block, step, lr_history = ps_folder.read_folder(source, spec)
        self._index_ = KeyIndex(block.keys, what=f"sparse model folder `{source}`")
        self._store = block
        self._n = len(block)
        self._step = int(step)
        self._lr_history = np.asarray(lr_history, np.float32)

    def _index(self):
        return self._index_

    def _read(self, positions):
        return self._store.take(np.asarray(positions, np.int64))

    def _commit(self, block, positions, step, lr_history):
        held = positions >= 0
        new = np.flatnonzero(~held)
        self._reserve(self._n + len(new))
        at = np.concatenate([positions[held], self._n + np.arange(len(new), dtype=np.int64)])
        order = np.concatenate([np.flatnonzero(held), new])
        for field in ("keys", "rows", "slot_ids", "optimizer_slots", "last_step"):
            getattr(self._store, field)[at] = getattr(block, field)[order]
        self._index_.add(block.keys[new], self._n + np.arange(len(new), dtype=np.int64))
        self._n += len(new)
        self._step = step
        self._lr_history = np.array(lr_history, np.float32)

    def _reserve(self, rows):
        """Grows the arrays (doubling) so that `rows` rows fit."""
        capacity = len(self._store.keys)
        if rows <= capacity:
            return
        grown = max(rows, 2 * capacity, 1024)
        old = self._store
        fresh = RowBlock(
            np.zeros(grown, np.int64),
            np.zeros((grown, self.spec.embedding_vec_size), np.float32),
            np.zeros(grown, np.int64),
            np.zeros((grown, self.spec.optimizer_slots, self.spec.embedding_vec_size), np.float32),
            np.zeros(grown, np.int64),
        )
        for field in ("keys", "rows", "slot_ids", "optimizer_slots", "last_step"):
            getattr(fresh, field)[: self._n] = getattr(old, field)[: self._n]
        self._store = fresh

    def save(self, folder, durable=True):
        """Writes every row (caught up, by ascending key) as a PS folder, replacing `folder`."""
        block = RowBlock.concat(list(self.blocks()), self.spec).sorted()
        ps_folder.write_folder(folder, self.spec, block, self._step, self._lr_history, durable)
