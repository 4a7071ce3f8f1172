"""The embedding table as one entry of a layer's `weights`, so Keras' weight tools include it.

Keras reads and writes weights through `layer.weights`: `get_weights()` calls `numpy()` on each,
`set_weights()` compares `shape`s and calls `assign()`, `summary()`/`count_params()` multiply the
`shape`s. `TableWeights` answers those four for a `SparseEmbedding` table, so
`model.get_weights()` / `model.set_weights()` carry the whole table and
`EarlyStopping(restore_best_weights=True)` restores it with the dense weights.

- `numpy()` returns a `TableValue`: the rows, by ascending key, as a float32 `[rows, vec]` array
  that also carries the rest of the table state (keys, slot ids, optimizer slots, step counters).
- `assign(value)` with a `TableValue` restores that state exactly (keys added since are dropped);
  with a plain `[rows, vec]` array it sets the rows of the keys the table holds (ascending key
  order), keeping the optimizer state.
- `shape` is `(rows in use, vec)`. A table grows as keys arrive, so this shape compares equal to
  any `(n, vec)`: Keras' shape check in `set_weights` then accepts a snapshot taken when the
  table held another number of keys, and `assign` restores it.
- `trainable` is False: the table is trained by its own sparse optimizer inside the backward
  pass, never by the Keras optimizer, so Keras lists its rows under non-trainable parameters.
"""

import numpy as np

from hugectr_tf.embedding.table import STATE_NAMES


class RowsShape(tuple):
    """`(rows, vec)` that equals any `(n, vec)`: the row count of a table follows its keys."""

    def __eq__(self, other):
        try:
            other = tuple(other)
        except TypeError:
            return NotImplemented
        return len(other) == len(self) and other[1:] == tuple(self)[1:]

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = tuple.__hash__


class TableValue(np.ndarray):
    """Rows `[n, vec]` by ascending key, with the whole table state in `.state` (numpy dict)."""

    state = None

    def __array_finalize__(self, obj):
        self.state = getattr(obj, "state", None)


def snapshot(table):
    """The `TableValue` of an `EmbeddingTable` now."""
    state = {name: value.numpy() for name, value in table.export().items()}
    value = np.asarray(state["rows"], np.float32).view(TableValue)
    value.state = state
    return value


class TableWeights:
    """Weight-like view of a SparseEmbedding's table (see module docstring).

    Args:
        layer: The built `SparseEmbedding`.
    """

    trainable = False
    dtype = "float32"

    def __init__(self, layer):
        self._layer = layer

    @property
    def name(self):
        return "table"

    @property
    def path(self):
        return f"{self._layer.name}/table"

    @property
    def shape(self):
        return RowsShape((self._layer.size(), self._layer.embedding_vec_size))

    def numpy(self):
        return snapshot(self._layer.table)

    def __array__(self, dtype=None, copy=None):
        rows = np.asarray(self.numpy())
        return rows if dtype is None else rows.astype(dtype)

    def assign(self, value):
        table = self._layer.table
        state = getattr(value, "state", None)
        if state is None:
            state = {name: v.numpy() for name, v in table.export().items()}
            rows = np.asarray(value, np.float32)
            if rows.shape != state["rows"].shape:
                raise ValueError(
                    f"SparseEmbedding `{self._layer.name}`: a plain array assigned to the table "
                    f"must hold one row per key it holds, {state['rows'].shape}. Received shape "
                    f"{rows.shape} (use a value from get_weights() to restore other keys)"
                )
            state["rows"] = rows
        table.restore({name: state[name] for name in STATE_NAMES})

    def __repr__(self):
        return f"<TableWeights path={self.path} shape={tuple(self.shape)}>"
