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


def naming_file(path, call, *args):
    """call(*args); an op error it raises is raised again with `path` in front of its message, so
    an import that the table refuses names the file it came from."""
    try:
        return call(*args)
    except tf.errors.OpError as err:
        raise type(err)(err.node_def, err.op, f"`{path}`: {err.message}") from None


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

    # HugeCTR files. Reading is split from importing so that a caller can read and check every
    # file of a set before it changes any table (all-or-nothing loads).
    def write_sparse_model(self, folder):
        """Writes the HugeCTR sparse model folder (`key`, `emb_vector`, [`slot_id`]) with its
        manifest; returns {file name in the folder: digest}."""
        state = self.export()
        slot_ids = state["slot_ids"].numpy() if self.localized else None
        return files.write_sparse_model(
            folder, state["keys"].numpy(), state["rows"].numpy(), slot_ids
        )

    def read_sparse_model_files(self, folder):
        """(keys, rows, slot_ids or None) of a sparse model folder, checked against this table's
        vector size and the folder's manifest; the table is not touched."""
        return files.read_sparse_model(
            folder,
            self.embedding_vec_size,
            need_slot_id=self.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingHash,
        )

    def import_sparse_rows(self, keys, rows, slot_ids):
        """Replaces every row (optimizer state restarts). On error the table is unchanged."""
        embedding_ops.import_rows(self.resource_handle, keys, rows, slot_ids)

    def read_sparse_model(self, folder):
        """Replaces the rows with a HugeCTR sparse model folder (optimizer state restarts)."""
        naming_file(folder, self.import_sparse_rows, *self.read_sparse_model_files(folder))

    def save_optimizer_states(self, path):
        """Writes keys, optimizer slots and step counters to one file (embedding/files.py);
        returns its digest."""
        return files.write_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            {k: v.numpy() for k, v in self.export().items()},
        )

    def read_optimizer_state_file(self, path):
        """The optimizer state in a file written by `save_optimizer_states`, checked against
        this table's optimizer and vector size; the table is not touched."""
        return files.read_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            self.embedding_vec_size,
        )

    def import_optimizer_state(self, state):
        """Sets the optimizer state of keys in the table. On error the table is unchanged."""
        embedding_ops.import_optimizer_state(
            self.resource_handle,
            state["keys"],
            state["optimizer_slots"],
            state["last_step"],
            state["step"],
            state["lr_history"],
        )

    def load_optimizer_states(self, path):
        """Loads a file written by `save_optimizer_states` (its keys must be in the table)."""
        naming_file(path, self.import_optimizer_state, self.read_optimizer_state_file(path))

    # tf.train.Checkpoint support.
    def _serialize_to_tensors(self):
        return self.export()

    def _restore_from_tensors(self, restored_tensors):
        return self.restore({name: restored_tensors[name] for name in STATE_NAMES})
