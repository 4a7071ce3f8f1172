"""Wrappers of the hash-table embedding ops (`HugeCTR>Embedding*`).

The table is a TensorFlow resource owned by its handle: `create_table` returns a scalar
`tf.resource` tensor and the table is freed with the last reference to it. Keys arrive as CSR per
(sample, slot): `values` int64 and `row_splits` int64 of length `batch * slot_num + 1`.
Semantics (initialisation, combiners, optimizers, update types): docs/embedding.md.
"""

import tensorflow as tf

from hugectr_tf.config import Embedding_t, Optimizer_t, OptParamsPy, Update_t
from hugectr_tf.ops import load_library

# Numbering of the `optimizer_type` / `update_type` attributes (cc/core/embedding/optimizer.h).
OPTIMIZER_CODES = {
    Optimizer_t.Adam: 0,
    Optimizer_t.Adagrad: 1,
    Optimizer_t.MomentumSGD: 2,
    Optimizer_t.Nesterov: 3,
    Optimizer_t.SGD: 4,
}
UPDATE_CODES = {Update_t.Local: 0, Update_t.Global: 1, Update_t.LazyGlobal: 2}
# Optimizer slot vectors per row, in the order of `export_table(...)["optimizer_slots"]`.
OPTIMIZER_SLOT_NAMES = {
    Optimizer_t.Adam: ("m", "v"),
    Optimizer_t.Adagrad: ("accumulator",),
    Optimizer_t.MomentumSGD: ("momentum",),
    Optimizer_t.Nesterov: ("momentum",),
    Optimizer_t.SGD: (),
}
COMBINERS = ("sum", "mean")


def _lib():
    return load_library()


def create_table(
    embedding_vec_size,
    workspace_size_per_gpu_in_mb,
    embedding_type=Embedding_t.DistributedSlotSparseEmbeddingHash,
    slot_size_array=(),
    seed=0,
    optimizer=None,
):
    """Creates an empty table; returns its resource handle.

    Args:
        embedding_vec_size: Integer. Floats per row.
        workspace_size_per_gpu_in_mb: Number. Memory limit of the table (rows, optimizer state,
            counters and index; see docs/embedding.md for bytes per row).
        embedding_type: `Embedding_t` member (or its name, for direct callers).
        slot_size_array: List of integers. Rows per slot (required for OneHot).
        seed: Integer. Seed of the row initialisation.
        optimizer: `OptParamsPy` (from `hugectr_tf.CreateOptimizer`) or None for Adam defaults.
    """
    embedding_type = Embedding_t.parse(embedding_type, "embedding_type")  # a member passes as is
    opt = optimizer if optimizer is not None else OptParamsPy()
    if not isinstance(opt, OptParamsPy):
        raise TypeError(
            "`optimizer` must be a hugectr_tf.OptParamsPy (from CreateOptimizer) or None. "
            f"Received: optimizer={optimizer!r}"
        )
    return _lib().huge_ctr_embedding_table_create(
        embedding_vec_size=int(embedding_vec_size),
        workspace_size_per_gpu_in_mb=float(workspace_size_per_gpu_in_mb),
        embedding_type=embedding_type.value,
        slot_size_array=[int(s) for s in slot_size_array],
        seed=int(seed),
        optimizer_type=OPTIMIZER_CODES[opt.optimizer_type],
        update_type=UPDATE_CODES[opt.update_type],
        beta1=float(opt.beta1),
        beta2=float(opt.beta2),
        epsilon=float(opt.epsilon),
        momentum_factor=float(opt.momentum_factor),
        initial_accu_value=float(opt.initial_accu_value),
    )


def _csr(values, row_splits):
    return (
        tf.convert_to_tensor(values, tf.int64),
        tf.convert_to_tensor(row_splits, tf.int64),
    )


def lookup_train(table, values, row_splits, slot_num, embedding_vec_size, combiner="sum"):
    """Training lookup (inserts unseen keys). Returns (embeddings, unique_keys, inverse).

    embeddings: float32 [batch, slot_num, vec]; unique_keys: ascending int64 table keys of the
    batch; inverse: int64 [n], the unique index of each key position.
    """
    values, row_splits = _csr(values, row_splits)
    return _lib().huge_ctr_embedding_lookup_train(
        table,
        values,
        row_splits,
        slot_num=int(slot_num),
        embedding_vec_size=int(embedding_vec_size),
        combiner=combiner,
    )


def lookup_inference(table, values, row_splits, slot_num, embedding_vec_size, combiner="sum"):
    """Inference lookup (never inserts). Returns (embeddings, misses)."""
    values, row_splits = _csr(values, row_splits)
    return _lib().huge_ctr_embedding_lookup_inference(
        table,
        values,
        row_splits,
        slot_num=int(slot_num),
        embedding_vec_size=int(embedding_vec_size),
        combiner=combiner,
    )


def backward(grad, row_splits, inverse, unique_keys, combiner="sum"):
    """Aggregated gradient per unique key: float32 [len(unique_keys), vec]."""
    return _lib().huge_ctr_embedding_backward(
        tf.convert_to_tensor(grad, tf.float32),
        tf.convert_to_tensor(row_splits, tf.int64),
        tf.convert_to_tensor(inverse, tf.int64),
        tf.convert_to_tensor(unique_keys, tf.int64),
        combiner=combiner,
    )


def apply_gradients(table, unique_keys, key_grads, learning_rate):
    """One sparse-optimizer step. Returns a float32 0 to use as a data dependency."""
    return _lib().huge_ctr_embedding_apply_gradients(
        table,
        tf.convert_to_tensor(unique_keys, tf.int64),
        tf.convert_to_tensor(key_grads, tf.float32),
        tf.convert_to_tensor(learning_rate, tf.float32),
    )


def table_size(table):
    """Number of keys in the table (int64 scalar)."""
    return _lib().huge_ctr_embedding_table_size(table)


def table_stats(table):
    """Dict of int64 scalars: size, capacity (rows), step (optimizer steps), misses."""
    out = _lib().huge_ctr_embedding_table_stats(table)
    return dict(zip(("size", "capacity", "step", "misses"), out))


def export_table(table):
    """The whole table, rows by ascending key, as a dict of tensors.

    keys [n] int64, rows [n, vec] float32, slot_ids [n] int64, optimizer_slots
    [n, slots, vec] float32, last_step [n] int64, step scalar int64, lr_history [step] float32.
    """
    out = _lib().huge_ctr_embedding_table_export(table)
    names = ("keys", "rows", "slot_ids", "optimizer_slots", "last_step", "step", "lr_history")
    return dict(zip(names, out))


def import_rows(table, keys, rows, slot_ids=None):
    """Replaces all rows; optimizer slots restart, step and learning-rate history stay."""
    if slot_ids is None:
        slot_ids = tf.zeros([0], tf.int64)
    return _lib().huge_ctr_embedding_table_import(
        table,
        tf.convert_to_tensor(keys, tf.int64),
        tf.convert_to_tensor(rows, tf.float32),
        tf.convert_to_tensor(slot_ids, tf.int64),
    )


def import_optimizer_state(table, keys, optimizer_slots, last_step, step, lr_history):
    """Sets step, learning-rate history and optimizer slots of keys already in the table."""
    return _lib().huge_ctr_embedding_table_import_optimizer_state(
        table,
        tf.convert_to_tensor(keys, tf.int64),
        tf.convert_to_tensor(optimizer_slots, tf.float32),
        tf.convert_to_tensor(last_step, tf.int64),
        tf.convert_to_tensor(step, tf.int64),
        tf.convert_to_tensor(lr_history, tf.float32),
    )
