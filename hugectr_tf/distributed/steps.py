"""Running one step of a global batch on the replicas of a strategy (hugectr `Model`'s loop).

Every replica receives the whole global batch and keeps its consecutive share: replica r of N
takes samples [r*B//N, (r+1)*B//N), so the shares, in replica order, are the global batch again
(the order the sharded tables' exchange gathers them in). With MultiWorkerMirroredStrategy each
process reads the same global batches and keeps the shares of its own replicas.
"""

import tensorflow as tf


def share(batch_size, ctx):
    """(begin, end) of this replica's share of a global batch of `batch_size` samples."""
    size = tf.cast(batch_size, tf.int64)
    replica = tf.cast(ctx.replica_id_in_sync_group, tf.int64)
    count = tf.cast(ctx.num_replicas_in_sync, tf.int64)
    return replica * size // count, (replica + 1) * size // count


def run_on_shares(strategy, fn, features, labels):
    """`fn(features_r, labels_r, global_batch, weight_r)` on every replica of `strategy`.

    features: a structure of tensors / RaggedTensors with the global batch first; labels: the
    global batch's labels. `weight_r` = b_r / B is the replica's share of the global batch: a
    per-replica mean loss times it adds up, over replicas, to the global mean (use
    `tf.math.multiply_no_nan`, as a replica may hold no sample of a short last batch).
    Returns the per-replica results (reduce or gather them in the caller).
    """
    batch_size = tf.shape(labels, out_type=tf.int64)[0]

    def replica_fn(features, labels):
        begin, end = share(batch_size, tf.distribute.get_replica_context())
        mine = tf.nest.map_structure(lambda t: t[begin:end], features)
        weight = tf.cast(end - begin, tf.float32) / tf.cast(batch_size, tf.float32)
        return fn(mine, labels[begin:end], batch_size, weight)

    return strategy.run(replica_fn, args=(features, labels))
