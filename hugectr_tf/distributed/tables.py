"""The two decisions a `SparseEmbedding` layer asks of this package: which table to build, and
whether a lookup may run where it is called."""

import tensorflow as tf

from hugectr_tf.distributed.sharded_table import ShardedTable
from hugectr_tf.embedding.table import EmbeddingTable


def create_table(owner, **table_args):
    """An `EmbeddingTable`, or a `ShardedTable` when built in the scope of a strategy with more
    than one replica.

    Args:
        owner: String naming the layer in error messages.
        **table_args: `EmbeddingTable`'s keyword arguments (embedding_vec_size,
            workspace_size_per_gpu_in_mb, embedding_type, slot_size_array, seed, optimizer).
    """
    strategy = tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync == 1:
        return EmbeddingTable(**table_args)
    if not tf.distribute.in_cross_replica_context():
        raise RuntimeError(
            f"{owner} is being built inside `strategy.run` (replica context), where each of the "
            f"{strategy.num_replicas_in_sync} replicas would build its own table. Build the "
            "model in `strategy.scope()` before the first step (call it once on a batch, or "
            "let Keras' compile/fit build it)"
        )
    return ShardedTable(strategy, owner, **table_args)


def is_sharded(table):
    """True for a table split across replicas (lookups go through `table.lookup`)."""
    return isinstance(table, ShardedTable)


def check_replicas(table, owner):
    """Raises ValueError when an unsharded table is looked up in a step of several replicas:
    each replica would insert and train on its own batch, one optimizer step per replica."""
    if is_sharded(table):
        return
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        raise ValueError(
            f"{owner} was built outside the scope of the {type(ctx.strategy).__name__} it now "
            f"runs in ({ctx.num_replicas_in_sync} replicas): its single table would take one "
            "optimizer step per replica. Build the model inside `strategy.scope()` so that the "
            "table is split across the replicas"
        )


def shard_loss_weight():
    """What a loss term computed from a shard's rows is multiplied by to count once per step.

    Inside `strategy.run` each replica's loss is divided by the number of replicas (Keras,
    `tf.distribute` loops) because every replica computes it on its share of the global batch.
    A term over the rows a replica's shard looked up for the WHOLE global batch (a regularizer
    of the embeddings) is not a share: it is multiplied back by the number of replicas. 1
    outside replicas.
    """
    ctx = tf.distribute.get_replica_context()
    return 1.0 if ctx is None else float(ctx.num_replicas_in_sync)
