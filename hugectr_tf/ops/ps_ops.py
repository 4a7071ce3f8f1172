"""Wrappers of the parameter-server ops (`HugeCTR>Ps*`), used by `hugectr_tf.ps`."""

import numpy as np
import tensorflow as tf

from hugectr_tf.config import OptParamsPy
from hugectr_tf.ops import load_library
from hugectr_tf.ops.embedding_ops import OPTIMIZER_CODES


def catch_up(rows, optimizer_slots, last_step, step, lr_history, optimizer):
    """Replays the zero-gradient steps each row missed (update type Global).

    Args:
        rows: float32 [n, vec].
        optimizer_slots: float32 [n, k, vec] (k from the optimizer: Adam 2, SGD 0, others 1).
        last_step: int64 [n]. Step at which each row was last brought up to date.
        step: Integer. The table's step.
        lr_history: float32 [step]. Learning rate of steps 1..step.
        optimizer: `OptParamsPy`.

    Returns:
        numpy (rows, optimizer_slots, last_step) with every row at `step`, bit for bit the rows a
        table that held them all along would have (cc/core/ps/catch_up.h).
    """
    if not isinstance(optimizer, OptParamsPy):
        raise TypeError(f"`optimizer` must be an OptParamsPy. Received: optimizer={optimizer!r}")
    out = load_library().huge_ctr_ps_catch_up(
        tf.convert_to_tensor(rows, tf.float32),
        tf.convert_to_tensor(optimizer_slots, tf.float32),
        tf.convert_to_tensor(last_step, tf.int64),
        tf.convert_to_tensor(np.int64(step), tf.int64),
        tf.convert_to_tensor(lr_history, tf.float32),
        optimizer_type=OPTIMIZER_CODES[optimizer.optimizer_type],
        beta1=float(optimizer.beta1),
        beta2=float(optimizer.beta2),
        epsilon=float(optimizer.epsilon),
        momentum_factor=float(optimizer.momentum_factor),
    )
    return tuple(t.numpy() for t in out)


def import_table_state(table, state):
    """Replaces every row of a CPU embedding table (its resource handle) with `state` (a dict as
    `export_table` returns, e.g. `RowBlock.table_state`): the two imports of
    `EmbeddingTable.restore` as one bulk write (cc/core/embedding/table_import.cc). On error the
    table is unchanged."""
    return load_library().huge_ctr_ps_import_table_state(
        table,
        tf.convert_to_tensor(state["keys"], tf.int64),
        tf.convert_to_tensor(state["rows"], tf.float32),
        tf.convert_to_tensor(state["slot_ids"], tf.int64),
        tf.convert_to_tensor(state["optimizer_slots"], tf.float32),
        tf.convert_to_tensor(state["last_step"], tf.int64),
        tf.convert_to_tensor(state["step"], tf.int64),
        tf.convert_to_tensor(state["lr_history"], tf.float32),
    )
