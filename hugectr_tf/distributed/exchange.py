"""What moves between replicas in one step of a sharded table (tf.distribute collectives).

Each replica holds one shard and a slice of the global batch. Inside `strategy.run`:

forward   all-gather   the keys of every replica (CSR values + per-row lengths, and a 3-number
                       header: rows, keys, key dtype) -> every replica sees the global batch
          lookup       each replica's shard combines the keys it owns into a partial
                       [B, slots, vec] for the whole global batch (sum over its own keys)
          reduce-scatter   the partials are summed and each replica keeps its own samples
                       (an all-reduce followed by a slice: `ReplicaContext` offers no
                       reduce-scatter; docs/distributed.md has the measurements)
backward  all-gather   every replica's output gradient [b, slots, vec] -> the gradient of the
                       global batch on every replica; each shard aggregates it per key it owns
                       and its sparse optimizer takes ONE step with it
The backward is the transpose of the forward's reduce-scatter, written as a custom gradient so
that each shard sees the gradient of the whole global batch (TensorFlow's own gradient of an
all-reduce would all-reduce a zero-padded [B, slots, vec] instead).

This is the exchange HugeCTR runs for DistributedSlotSparseEmbeddingHash; the Localized types
use the same one here (with the split by slot): every replica already has every key after the
all-gather, so a separate all-to-all path would only move the same partial sums.
"""

import contextlib

import tensorflow as tf

from hugectr_tf.distributed.sharding import owned_csr
from hugectr_tf.embedding.training import train_lookup
from hugectr_tf.ops import embedding_ops

# Dtype names indexed by TensorFlow's DataType enum, for the key-dtype error message. A plain
# list: a tensor made at import would start TensorFlow's runtime before devices are configured.
_DTYPE_NAMES = [
    tf.as_dtype(code).name if code in (3, 4, 5, 6, 9, 17, 22, 23) else "?" for code in range(24)
]


_OBSERVERS = []


@contextlib.contextmanager
def observe_payloads(callback):
    """Calls `callback(collective, tensor)` for every tensor a replica hands to a collective of
    this module while the block runs (collective: "all_gather" or "all_reduce"). Run eagerly,
    the tensors are concrete: benchmarks/distribute_bench.py counts the bytes exchanged."""
    _OBSERVERS.append(callback)
    try:
        yield
    finally:
        _OBSERVERS.remove(callback)


def _observe(collective, *tensors):
    for callback in _OBSERVERS:
        for tensor in tensors:
            callback(collective, tensor)


def replica_id(ctx, owner):
    """This replica's index in the sync group, as a Python int."""
    value = tf.get_static_value(ctx.replica_id_in_sync_group)
    if value is None:
        raise ValueError(
            f"{owner}: the replica index is not known while tracing "
            f"({type(ctx.strategy).__name__}); sharded tables need MirroredStrategy or "
            "MultiWorkerMirroredStrategy"
        )
    return int(value)


def _check_key_dtypes(headers, owner):
    """An assert op: every replica passed keys of one dtype (headers[:, 2] is the dtype code)."""
    codes = headers[:, 2]
    return tf.debugging.Assert(
        tf.reduce_all(tf.equal(codes, codes[0])),
        [
            f"{owner}: the key dtype differs between replicas; every replica must pass keys of "
            "one integer dtype. Received, replica by replica:",
            tf.gather(tf.constant(_DTYPE_NAMES), tf.clip_by_value(codes, 0, 23)),
        ],
    )


def _reduce_scatter(ctx, partial, begin, size):
    """Rows [begin, begin + size) of the sum of every replica's `partial`; the gradient of the
    output is all-gathered (so each replica gets the gradient of the whole global batch)."""

    @tf.custom_gradient
    def reduce(p):
        _observe("all_reduce", p)
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, p)

        def grad(d_local):
            d_local = tf.convert_to_tensor(d_local)
            _observe("all_gather", d_local)
            return ctx.all_gather(d_local, axis=0)

        return total[begin : begin + size], grad

    return reduce(partial)


def replica_lookup(
    ctx,
    handle,
    values,
    splits,
    *,
    shard,
    num_shards,
    slot_num,
    embedding_vec_size,
    by_slot,
    key_dtype,
    trigger,
    train_options=None,
    owner,
):
    """Summed embeddings `[b, slot_num, vec]` of this replica's samples (sum combiner), and
    with `train_options["regularized_rows"]` the rows of this shard's keys of the global batch.

    Args:
        ctx: The `tf.distribute.ReplicaContext` of the replica.
        handle: Resource handle of this replica's shard.
        values, splits: This replica's CSR keys (`keys_to_csr`).
        shard, num_shards: This replica's index and the number of replicas.
        slot_num, embedding_vec_size: The layer's configuration.
        by_slot: Boolean. Shards own slots (Localized) instead of keys (Distributed).
        key_dtype: `tf.DType` of the keys the layer received (checked equal on all replicas).
        trigger: The layer's update trigger (`train_lookup`).
        train_options: None (inference: no insert, no update) or `train_lookup`'s keyword
            arguments (learning_rate, gradient_scale, skip_nonfinite, initial_rows,
            regularized_rows): insert unseen keys and train the shard in the backward pass.
        owner: String naming the layer in error messages.
    """
    num_rows = tf.shape(splits, out_type=tf.int64)[0] - 1
    header = tf.stack(
        [
            num_rows,
            tf.size(values, out_type=tf.int64),
            tf.constant(key_dtype.as_datatype_enum, tf.int64),
        ]
    )
    payload = [header[tf.newaxis], values, splits[1:] - splits[:-1]]
    _observe("all_gather", *payload)
    headers, all_values, all_lengths = ctx.all_gather(payload, axis=0)
    with tf.control_dependencies([_check_key_dtypes(headers, owner)]):
        all_splits = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(all_lengths)], axis=0)
    mine_values, mine_splits = owned_csr(
        all_values,
        all_splits,
        shard=shard,
        num_shards=num_shards,
        slot_num=slot_num,
        by_slot=by_slot,
    )
    partial, rows = _shard_lookup(
        handle, mine_values, mine_splits, slot_num, embedding_vec_size, trigger, train_options
    )
    begin = tf.reduce_sum(headers[:shard, 0]) // slot_num
    summed = _reduce_scatter(ctx, partial, begin, num_rows // slot_num)
    return summed if rows is None else (summed, rows)


def _shard_lookup(handle, values, splits, slot_num, embedding_vec_size, trigger, options):
    """(partial sums [rows, vec] of one shard, its unique rows or None): a training lookup with
    `options` (`train_lookup`'s keyword arguments), or an inference lookup when None."""
    if options is None:
        partial, _ = embedding_ops.lookup_inference(
            handle, values, splits, slot_num, embedding_vec_size, "sum"
        )
        return partial, None
    out = train_lookup(
        handle,
        values,
        splits,
        slot_num=slot_num,
        embedding_vec_size=embedding_vec_size,
        combiner="sum",
        trigger=trigger,
        **options,
    )
    return out if options.get("regularized_rows") else (out, None)


def local_lookup(
    handles,
    values,
    splits,
    *,
    slot_num,
    embedding_vec_size,
    by_slot,
    trigger,
    train_options=None,
):
    """Summed embeddings `[batch, slot_num, vec]` when every shard is in this process and no
    replica runs (eager calls, `model(x)` outside `strategy.run`, serving graphs): each shard
    combines the keys it owns and the partial sums are added. With
    `train_options["regularized_rows"]`, also the unique rows of all shards."""
    partials, rows = [], []
    for shard, handle in enumerate(handles):
        mine_values, mine_splits = owned_csr(
            values,
            splits,
            shard=shard,
            num_shards=len(handles),
            slot_num=slot_num,
            by_slot=by_slot,
        )
        partial, shard_rows = _shard_lookup(
            handle, mine_values, mine_splits, slot_num, embedding_vec_size, trigger, train_options
        )
        partials.append(partial)
        rows.append(shard_rows)
    summed = tf.add_n(partials)
    return summed if rows[0] is None else (summed, tf.concat(rows, axis=0))


def divide_by_nnz(summed, splits, slot_num):
    """The `mean` combiner from summed rows: each (sample, slot) divided by its number of keys
    (a row without keys stays zero), as docs/embedding.md defines it."""
    nnz = tf.cast(splits[1:] - splits[:-1], tf.float32)
    return summed / tf.reshape(tf.maximum(nnz, 1.0), [-1, slot_num, 1])
