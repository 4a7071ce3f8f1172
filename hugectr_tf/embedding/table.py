"""`EmbeddingTable`: the table resource as a TensorFlow trackable.

tf.train.Checkpoint (and anything built on it) saves the whole table through
`_serialize_to_tensors`: keys, rows, slot ids, optimizer slots, per-row last steps, the step
counter and the learning-rate history. Restoring replaces the table's content exactly.
"""

import tensorflow as tf

from hugectr_tf.api.config import OptParamsPy
from hugectr_tf.api.enums import Embedding_t
from hugectr_tf.ops import embedding_ops

_STATE_NAMES = ("keys", "rows", "slot_ids", "optimizer_slots", "last_step", "step", "lr_history")


class EmbeddingTable(tf.saved_model.experimental.TrackableResource):
    """Owns one embedding table resource (see `hugectr_tf.ops.embedding_ops.create_table`)."""

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
        self.embedding_type = Embedding_t.parse(embedding_type, "embedding_type")
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

    # tf.train.Checkpoint support.
    def _serialize_to_tensors(self):
        return self.export()

    def _restore_from_tensors(self, restored_tensors):
        return self.restore({name: restored_tensors[name] for name in _STATE_NAMES})
