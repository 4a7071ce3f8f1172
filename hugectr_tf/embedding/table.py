"""`EmbeddingTable`: the table resource as a TensorFlow trackable, with its file formats.

tf.train.Checkpoint (and anything built on it) saves the whole table through
`_serialize_to_tensors`: keys, rows, slot ids, optimizer slots, per-row last steps, the step
counter and the learning-rate history. Restoring replaces the table's content exactly.
HugeCTR's sparse model folders and this project's optimizer-state file are written and read by
`write_sparse_model` / `read_sparse_model` / `save_optimizer_states` / `load_optimizer_states`
(layouts in `hugectr_tf.embedding.files`).
"""

import tensorflow as tf

from hugectr_tf.config import Embedding_t, OptParamsPy
from hugectr_tf.embedding import files
from hugectr_tf.ops import embedding_ops

STATE_NAMES = ("keys", "rows", "slot_ids", "optimizer_slots", "last_step", "step", "lr_history")
LOCALIZED_TYPES = (
    Embedding_t.LocalizedSlotSparseEmbeddingHash,
    Embedding_t.LocalizedSlotSparseEmbeddingOneHot,
)


class EmbeddingTable(tf.saved_model.experimental.TrackableResource):
    """Owns one embedding table resource (see `hugectr_tf.ops.embedding_ops.create_table`).

    Args:
        embedding_vec_size: Integer. Floats per row.
        workspace_size_per_gpu_in_mb: Number. Memory limit of the table.
        embedding_type: `Embedding_t` member (parsed by the caller).
        slot_size_array: List of integers. Rows per slot (OneHot).
        seed: Integer. Seed of the row initialisation.
        optimizer: `OptParamsPy` or None for Adam defaults.
    """

    def __init__(
        self,
        embedding_vec_size,
        workspace_size_per_gpu_in_mb,
        embedding_type=Embedding_t.DistributedSlotSparseEmbeddingHash,
        slot_size_array=(),
        seed=0,
        optimizer=None,
    ):
        self.embedding_vec_size = int(embedding_vec_size)
        self.workspace_size_per_gpu_in_mb = float(workspace_size_per_gpu_in_mb)
        self.embedding_type = embedding_type
        self.slot_size_array = [int(s) for s in slot_size_array]
        self.seed = int(seed)
        self.optimizer = optimizer if optimizer is not None else OptParamsPy()
        super().__init__()
        # Create now, eagerly: a bad configuration fails at construction, not at first use.
        _ = self.resource_handle

    def _create_resource(self):
        return embedding_ops.create_table(
            self.embedding_vec_size,
            self.workspace_size_per_gpu_in_mb,
            embedding_type=self.embedding_type,
            slot_size_array=self.slot_size_array,
            seed=self.seed,
            optimizer=self.optimizer,
        )

    @property
    def handle(self):
        return self.resource_handle

    @property
    def localized(self):
        """True when rows carry slot ids (Localized types): sparse model folders hold `slot_id`."""
        return self.embedding_type in LOCALIZED_TYPES

    def size(self):
        return embedding_ops.table_size(self.resource_handle)

    def stats(self):
        return embedding_ops.table_stats(self.resource_handle)

    def export(self):
        """Dict of tensors: the whole state, rows by ascending key."""
        return embedding_ops.export_table(self.resource_handle)

    def restore(self, state):
        """Replaces the whole state with `state` (a dict as returned by `export`)."""
        imported = embedding_ops.import_rows(
            self.resource_handle, state["keys"], state["rows"], state["slot_ids"]
        )
        deps = [imported] if imported is not None else []
        with tf.control_dependencies(deps):
            return embedding_ops.import_optimizer_state(
                self.resource_handle,
                state["keys"],
                state["optimizer_slots"],
                state["last_step"],
                state["step"],
                state["lr_history"],
            )

    # HugeCTR files.
    def write_sparse_model(self, folder):
        """Writes the HugeCTR sparse model folder (`key`, `emb_vector`, [`slot_id`])."""
        state = self.export()
        slot_ids = state["slot_ids"].numpy() if self.localized else None
        files.write_sparse_model(folder, state["keys"].numpy(), state["rows"].numpy(), slot_ids)

    def read_sparse_model(self, folder):
        """Replaces the rows with a HugeCTR sparse model folder (optimizer state restarts)."""
        keys, rows, slot_ids = files.read_sparse_model(
            folder,
            self.embedding_vec_size,
            need_slot_id=self.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingHash,
        )
        embedding_ops.import_rows(self.resource_handle, keys, rows, slot_ids)

    def save_optimizer_states(self, path):
        """Writes keys, optimizer slots and step counters to one file (embedding/files.py)."""
        files.write_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            {k: v.numpy() for k, v in self.export().items()},
        )

    def load_optimizer_states(self, path):
        """Loads a file written by `save_optimizer_states` (its keys must be in the table)."""
        state = files.read_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            self.embedding_vec_size,
        )
        embedding_ops.import_optimizer_state(
            self.resource_handle,
            state["keys"],
            state["optimizer_slots"],
            state["last_step"],
            state["step"],
            state["lr_history"],
        )

    # tf.train.Checkpoint support.
    def _serialize_to_tensors(self):
        return self.export()

    def _restore_from_tensors(self, restored_tensors):
        return self.restore({name: restored_tensors[name] for name in STATE_NAMES})
