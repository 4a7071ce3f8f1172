"""SavedModels that serve without the plugin: hash tables frozen into stock TensorFlow.

`export_for_serving(model, path)` writes a SavedModel of a Keras model holding `SparseEmbedding`
layers in which each table is a `tf.lookup.StaticHashTable` (key -> row index) plus a variable of
rows: only stock TensorFlow ops, so `tf.saved_model.load` and TF Serving load it with no custom op
library. Lookups follow the layer's inference semantics: a key the table does not hold adds a
zero vector and still counts in the `mean` combiner's denominator.

The serving signature `serving_default` takes plain tensors, as TF Serving needs: each dense input
by its name, and for each ragged key input `<name>_values` (int64 [n]) and `<name>_row_splits`
(int64 [batch * slots + 1]), the CSR layout of HugeCTR's inference API.
"""

import contextlib
import contextvars

import keras
import numpy as np
import tensorflow as tf

_FROZEN = contextvars.ContextVar("hugectr_tf_frozen_tables", default=None)


class FrozenTable(tf.Module):
    """A SparseEmbedding table as a static hash table and a row variable (stock TF only)."""

    def __init__(self, layer):
        super().__init__(name=f"{layer.name}_frozen")
        state = layer.table.export()
        keys = state["keys"].numpy()
        rows = state["rows"].numpy()
        self.vec = layer.embedding_vec_size
        self.slot_num = layer.slot_num
        self.combiner = layer.combiner
        # One extra zero row answers keys the table does not hold.
        self.rows = tf.Variable(
            np.concatenate([rows, np.zeros((1, self.vec), np.float32)]), trainable=False
        )
        initializer = tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.int64), tf.range(len(keys), dtype=tf.int64)
        )
        self.index = tf.lookup.StaticHashTable(initializer, default_value=len(keys))
        sizes = list(getattr(layer, "slot_size_array", None) or [])
        onehot = "OneHot" in str(getattr(layer, "embedding_type", ""))
        # OneHot tables store key + slot offset (docs/embedding.md).
        self.offsets = (
            tf.constant(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64))
            if onehot and sizes
            else None
        )

    def lookup(self, values, splits):
        """[batch, slot_num, vec] from CSR keys, as the layer's inference lookup."""
        num_rows = tf.shape(splits, out_type=tf.int64)[0] - 1
        segment = tf.ragged.row_splits_to_segment_ids(splits, out_type=tf.int64)
        if self.offsets is not None:
            values = values + tf.gather(self.offsets, tf.math.floormod(segment, self.slot_num))
        gathered = tf.gather(self.rows, self.index.lookup(values))
        summed = tf.math.unsorted_segment_sum(gathered, segment, num_rows)
        if self.combiner == "mean":
            nnz = tf.cast(splits[1:] - splits[:-1], tf.float32)[:, None]
            summed = summed / tf.maximum(nnz, 1.0)
        return tf.reshape(summed, [-1, self.slot_num, self.vec])


def frozen_lookup(layer):
    """The FrozenTable standing in for `layer` while a serving graph is traced, else None."""
    tables = _FROZEN.get()
    return None if tables is None else tables.get(id(layer))


@contextlib.contextmanager
def _frozen(tables):
    token = _FROZEN.set(tables)
    try:
        yield
    finally:
        _FROZEN.reset(token)


def _embedding_layers(model):
    from hugectr_tf.keras.layers.sparse_embedding import SparseEmbedding

    return [layer for layer in model._flatten_layers() if isinstance(layer, SparseEmbedding)]


def export_for_serving(model, path):
    """Writes `model` as a SavedModel with its SparseEmbedding tables frozen (see module doc).

    Args:
        model: A functional `keras.Model` whose inputs are named (dense inputs and ragged int64
            key inputs `[batch, slots, (nnz)]`).
        path: String. SavedModel folder.

    Returns:
        The names of the serving signature's inputs.
    """
    layers = _embedding_layers(model)
    frozen = {id(layer): FrozenTable(layer) for layer in layers}
    specs, ragged = {}, {}
    for inp in model.inputs:
        name = inp.name
        if getattr(inp, "ragged", False):
            specs[f"{name}_values"] = tf.TensorSpec([None], tf.int64, f"{name}_values")
            specs[f"{name}_row_splits"] = tf.TensorSpec([None], tf.int64, f"{name}_row_splits")
            ragged[name] = inp.shape[1]
        else:
            specs[name] = tf.TensorSpec(inp.shape, inp.dtype, name)

    module = tf.Module()
    module.tables = list(frozen.values())
    # The dense weights the graph reads (Keras variables wrap tf.Variables). The layers are not
    # tracked, so the live table resources stay out of the SavedModel.
    module.weights = [getattr(v, "value", v) for v in model.weights]

    @tf.function(input_signature=[specs])
    def serve(features):
        inputs = {}
        for inp in model.inputs:
            name = inp.name
            if name in ragged:
                inner = tf.RaggedTensor.from_row_splits(
                    features[f"{name}_values"], features[f"{name}_row_splits"]
                )
                inputs[name] = tf.RaggedTensor.from_uniform_row_length(inner, ragged[name])
            else:
                inputs[name] = features[name]
        with _frozen(frozen):
            out = model(inputs, training=False)
        return {"outputs": keras.ops.convert_to_tensor(out)}

    module.serve = serve
    tf.saved_model.save(module, path, signatures={"serving_default": serve})
    return sorted(specs)
