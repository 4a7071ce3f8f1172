"""`ShardedTable`: one embedding table split across the replicas of a tf.distribute strategy.

Each replica of a `MirroredStrategy` / `MultiWorkerMirroredStrategy` holds one shard, an
`EmbeddingTable` on the replica's device, owning the rows and optimizer state of the keys the
split rule gives it (sharding.py). Lookups inside `strategy.run` exchange keys and partial sums
between replicas (exchange.py); lookups outside it (eager calls, serving graphs) ask every shard
of this process in turn.

Persistence always holds the WHOLE table, whatever the number of shards: `tf.train.Checkpoint`
saves the merged state under the same names as an unsharded `EmbeddingTable`, Keras files and
HugeCTR sparse model folders hold the merged rows, so a table saved with N replicas restores into
M replicas (or one) and the other way round; restoring splits the state by the split rule.
"""

import numpy as np
import tensorflow as tf

from hugectr_tf.config import Embedding_t
from hugectr_tf.distributed import exchange, sharding
from hugectr_tf.embedding import files
from hugectr_tf.embedding.table import STATE_NAMES, EmbeddingTable, naming_file
from hugectr_tf.ops import embedding_ops

SUPPORTED_STRATEGIES = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)


def check_strategy(strategy, owner):
    """Raises ValueError unless `strategy` can hold a sharded table (its kind and devices)."""
    if not isinstance(strategy, SUPPORTED_STRATEGIES):
        raise ValueError(
            f"{owner}: a table is split across the replicas of a MirroredStrategy or a "
            f"MultiWorkerMirroredStrategy. Received: {type(strategy).__name__} with "
            f"{strategy.num_replicas_in_sync} replicas"
        )
    devices = list(strategy.extended.worker_devices)
    kinds = sorted({tf.DeviceSpec.from_string(d).device_type or "?" for d in devices})
    if len(kinds) > 1:
        raise ValueError(
            f"{owner}: the replicas of a sharded table must all be GPUs or all CPUs (one shard "
            f"per replica, one kind of kernel). Received replicas on {', '.join(kinds)}: "
            f"{devices}"
        )
    return devices


def local_replica_ids(strategy):
    """Global replica index of each replica of this process, in `worker_devices` order."""
    ids = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(ctx.replica_id_in_sync_group, tf.int64)
    )
    return [int(v.numpy()) for v in strategy.experimental_local_results(ids)]


def _entries_of_shards(file_keys, held):
    """{replica: bool mask of the entries of `file_keys` that go to that replica's shard}.

    A key held by several shards (a Localized key seen in slots of different shards) has one
    entry per holder, in shard order (the merged export is ordered stably): the i-th entry of a
    key goes to the i-th shard, in replica order, that holds it.
    """
    order = np.argsort(file_keys, kind="stable")
    sorted_keys = file_keys[order]
    occurrence = np.empty(len(file_keys), np.int64)
    occurrence[order] = np.arange(len(order)) - np.searchsorted(sorted_keys, sorted_keys)
    holders_before = np.zeros(len(file_keys), np.int64)
    masks = {}
    for replica in sorted(held):
        holds = np.isin(file_keys, held[replica])
        masks[replica] = holds & (occurrence == holders_before)
        holders_before += holds
    return masks


class ShardedTable(tf.__internal__.tracking.Trackable):
    """An embedding table split across the replicas of `strategy` (one `EmbeddingTable` each).

    Args:
        strategy: `tf.distribute.MirroredStrategy` or `MultiWorkerMirroredStrategy`.
        owner: String naming the layer in error messages.
        embedding_vec_size, workspace_size_per_gpu_in_mb, embedding_type, slot_size_array,
            seed, optimizer: As `EmbeddingTable`; `workspace_size_per_gpu_in_mb` is the limit
            of each shard, as in HugeCTR. Every shard uses the same seed, so a key's first row
            is the one an unsharded table would give it.
    """

    def __init__(
        self,
        strategy,
        owner,
        *,
        embedding_vec_size,
        workspace_size_per_gpu_in_mb,
        embedding_type,
        slot_size_array=(),
        seed=0,
        optimizer=None,
    ):
        super().__init__()
        devices = check_strategy(strategy, owner)
        self.strategy = strategy
        self.owner = owner
        self.num_shards = strategy.num_replicas_in_sync
        embedding_type = Embedding_t.parse(embedding_type, "embedding_type")
        self.by_slot = sharding.splits_by_slot(embedding_type)
        self.shards = {}
        for replica, device in zip(local_replica_ids(strategy), devices):
            with tf.device(device):
                self.shards[replica] = EmbeddingTable(
                    embedding_vec_size,
                    workspace_size_per_gpu_in_mb,
                    embedding_type=embedding_type,
                    slot_size_array=slot_size_array,
                    seed=seed,
                    optimizer=optimizer,
                    device=device,
                )
        first = next(iter(self.shards.values()))
        self.embedding_vec_size = first.embedding_vec_size
        self.workspace_size_per_gpu_in_mb = first.workspace_size_per_gpu_in_mb
        self.embedding_type = first.embedding_type
        self.slot_size_array = first.slot_size_array
        self.seed = first.seed
        self.optimizer = first.optimizer

    @property
    def localized(self):
        """True when rows carry slot ids (Localized types): sparse model folders hold `slot_id`."""
        return self.by_slot

    @property
    def all_local(self):
        """True when every shard lives in this process (MirroredStrategy)."""
        return len(self.shards) == self.num_shards

    def _ordered_shards(self):
        if not self.all_local:
            raise ValueError(
                f"{self.owner}: this process holds shards {sorted(self.shards)} of "
                f"{self.num_shards}; call it inside strategy.run (MultiWorkerMirroredStrategy)"
            )
        return [self.shards[i] for i in range(self.num_shards)]

    # ------------------------------------------------------------------------------- lookups
    def lookup(self, values, splits, *, slot_num, combiner, key_dtype, trigger, train_options=None):
        """Combined embeddings `[batch, slot_num, vec]` of CSR keys: exchanged with the other
        replicas inside `strategy.run`, from every local shard elsewhere.

        Args:
            values, splits: CSR keys (`keys_to_csr`).
            slot_num, combiner: The layer's configuration.
            key_dtype: dtype of the keys the layer received (None: int64).
            trigger: The layer's update trigger (`train_lookup`).
            train_options: None (inference) or `train_lookup`'s keyword arguments (training:
                inserts, and one sparse-optimizer step per shard in the backward pass).

        Returns:
            The embeddings, or (embeddings, rows) with `train_options["regularized_rows"]`: the
            unique rows this replica's shard looked up for the global batch (inside
            `strategy.run`; weight their loss by `shard_loss_weight()`), or those of all shards.
        """
        key_dtype = tf.int64 if key_dtype is None else tf.as_dtype(key_dtype)
        kwargs = dict(
            slot_num=slot_num,
            embedding_vec_size=self.embedding_vec_size,
            by_slot=self.by_slot,
            trigger=trigger,
            train_options=train_options,
        )
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            if ctx.num_replicas_in_sync != self.num_shards:
                raise ValueError(
                    f"{self.owner}: the table is split into {self.num_shards} shards but runs "
                    f"in {ctx.num_replicas_in_sync} replicas; use the strategy it was built "
                    "under (or restore its checkpoint into a model built under this one)"
                )
            shard = exchange.replica_id(ctx, self.owner)
            out = exchange.replica_lookup(
                ctx,
                self.shards[shard].resource_handle,
                values,
                splits,
                shard=shard,
                num_shards=self.num_shards,
                key_dtype=key_dtype,
                owner=self.owner,
                **kwargs,
            )
        else:
            handles = [table.resource_handle for table in self._ordered_shards()]
            out = exchange.local_lookup(handles, values, splits, **kwargs)
        summed, rows = out if isinstance(out, tuple) else (out, None)
        if combiner == "mean":
            summed = exchange.divide_by_nnz(summed, splits, slot_num)
        return summed if rows is None else (summed, rows)

    # ------------------------------------------------------------------------------- state
    def size(self):
        """Number of keys in the whole table (int64 scalar)."""
        return tf.add_n([table.size() for table in self._ordered_shards()])

    def stats(self):
        """Dict of int64 scalars over all shards: size, capacity, step, misses."""
        stats = [table.stats() for table in self._ordered_shards()]
        out = {name: tf.add_n([s[name] for s in stats]) for name in ("size", "capacity")}
        out["step"] = stats[0]["step"]
        out["misses"] = tf.add_n([s["misses"] for s in stats])
        return out

    def shard_states(self):
        """{replica index: state dict} of the shards in this process (rows by ascending key)."""
        return {replica: table.export() for replica, table in sorted(self.shards.items())}

    def export(self):
        """The whole table as one unsharded table would export it (rows by ascending key)."""
        if self.all_local:
            return sharding.merge_states([table.export() for table in self._ordered_shards()])
        return self._gather_export()

    def _gather_export(self):
        """Whole-table export across processes: each per-key entry is gathered from all
        replicas with `strategy.gather` (a collective: every worker must export together)."""
        local = self.shard_states()
        per_key = {}
        for name in sharding.PER_KEY:
            value = self.strategy.experimental_distribute_values_from_function(
                lambda ctx, name=name: local[ctx.replica_id_in_sync_group][name]
            )
            per_key[name] = self.strategy.gather(value, axis=0)
        order = tf.argsort(per_key["keys"], stable=True)
        state = {name: tf.gather(value, order) for name, value in per_key.items()}
        any_shard = next(iter(local.values()))
        state["step"] = any_shard["step"]
        state["lr_history"] = any_shard["lr_history"]
        return {name: state[name] for name in STATE_NAMES}

    def restore(self, state):
        """Replaces the whole table with `state` (a whole-table dict, as `export` returns),
        each shard taking the keys the split rule gives it."""
        sharding.check_state(state, self.embedding_vec_size, self.owner)
        parts = sharding.split_state(state, self.num_shards, self.by_slot)
        return tf.group([self.shards[i].restore(parts[i]) for i in sorted(self.shards)])

    # ------------------------------------------------------------------------------- files
    # The same methods as `EmbeddingTable`'s (reading split from importing, so that the hugectr
    # API can check every file of a set before any table changes).
    def write_sparse_model(self, folder):
        """Writes the whole table as a HugeCTR sparse model folder with its manifest; returns
        {file name in the folder: digest}."""
        state = self.export()
        slot_ids = state["slot_ids"].numpy() if self.localized else None
        return files.write_sparse_model(
            folder, state["keys"].numpy(), state["rows"].numpy(), slot_ids
        )

    def read_sparse_model_files(self, folder):
        """(keys, rows, slot_ids or None) of a sparse model folder, checked against the vector
        size and the folder's manifest (a table split by slot needs `slot_id`); no shard is
        touched."""
        return files.read_sparse_model(folder, self.embedding_vec_size, need_slot_id=self.localized)

    def import_sparse_rows(self, keys, rows, slot_ids):
        """Replaces every row, each shard taking its keys (optimizer state restarts). On error
        no shard is changed."""
        masks = sharding.shard_masks(keys, slot_ids, self.num_shards, self.by_slot)

        def apply(replica, table):
            mine = masks[replica].numpy()
            part = None if slot_ids is None else slot_ids[mine]
            table.import_sparse_rows(keys[mine], rows[mine], part)

        self._on_every_shard(apply)

    def read_sparse_model(self, folder):
        """Replaces the rows with a HugeCTR sparse model folder, split across the shards
        (optimizer state restarts)."""
        naming_file(folder, self.import_sparse_rows, *self.read_sparse_model_files(folder))

    def save_optimizer_states(self, path):
        """Writes the whole table's optimizer state to one file (embedding/files.py); returns
        its digest."""
        return files.write_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            {k: v.numpy() for k, v in self.export().items()},
        )

    def read_optimizer_state_file(self, path):
        """The optimizer state in a file written by `save_optimizer_states`, checked against
        the optimizer and vector size; no shard is touched."""
        return files.read_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            self.embedding_vec_size,
        )

    def import_optimizer_state(self, state):
        """Sets the optimizer state of keys in the table, each key's on the shard that holds
        it (its keys must be in the table). On error no shard is changed."""
        held = {replica: t.export()["keys"].numpy() for replica, t in self.shards.items()}
        missing = ~np.isin(state["keys"], np.concatenate(list(held.values())))
        if self.all_local and missing.any():
            raise ValueError(
                f"{self.owner}: the file holds the optimizer state of {int(missing.sum())} "
                f"keys the table does not hold (first: {state['keys'][missing][:5].tolist()}); "
                "load the sparse model first"
            )

        entries = _entries_of_shards(state["keys"], held)

        def apply(replica, table):
            mine = entries[replica]
            part = {k: state[k][mine] for k in ("keys", "optimizer_slots", "last_step")}
            table.import_optimizer_state(
                {**part, "step": state["step"], "lr_history": state["lr_history"]}
            )

        self._on_every_shard(apply)

    def load_optimizer_states(self, path):
        """Loads a file written by `save_optimizer_states`; each key's state goes to the shard
        that holds the key (its keys must be in the table)."""
        naming_file(path, self.import_optimizer_state, self.read_optimizer_state_file(path))

    def _on_every_shard(self, apply):
        """apply(replica, shard) for every shard of this process, or for none: when one fails,
        the shards already changed get their previous state back (each shard's own import
        changes nothing on error)."""
        changed = []
        try:
            for replica, table in sorted(self.shards.items()):
                backup = table.export() if len(changed) < len(self.shards) - 1 else None
                apply(replica, table)
                changed.append((table, backup))
        except BaseException:
            for table, backup in reversed(changed):
                table.restore(backup)
            raise

    # ------------------------------------------------------------------- tf.train.Checkpoint
    def _serialize_to_tensors(self):
        return self.export()

    def _restore_from_tensors(self, restored_tensors):
        return self.restore({name: restored_tensors[name] for name in STATE_NAMES})

    def _export_to_saved_model_graph(self, object_map, tensor_map, options, **kwargs):
        # In a SavedModel each shard resource carries its own state (the shards are children in
        # that mode); the merged state would read the live shards' eager handles.
        object_map[self] = tf.__internal__.tracking.Trackable()
        return []

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # Checkpoints hold the whole table through this object only (so they restore into any
        # number of shards); a SavedModel also needs the shard resources its functions capture.
        if str(getattr(save_type, "value", save_type)) == "savedmodel":
            return {f"shard_{i}": table for i, table in sorted(self.shards.items())}
        return {}
