"""Loading a parameter server's rows into a working table (model oversubscription, every pass)."""

from hugectr_tf.embedding.table import EmbeddingTable
from hugectr_tf.ops import ps_ops


def load_rows(table, block, step, lr_history):
    """Replaces every row of `table` with `block` (a `RowBlock`) at the PS's `step` and
    learning-rate history. A CPU `EmbeddingTable` takes it in one bulk import that writes every
    row, slot and counter once; other tables (a GPU table, a table sharded over replicas) through
    their `restore`, the same state in two imports."""
    state = block.table_state(step, lr_history)
    if isinstance(table, EmbeddingTable) and "GPU" not in table.resource_handle.device.upper():
        ps_ops.import_table_state(table.resource_handle, state)
    else:
        table.restore(state)
