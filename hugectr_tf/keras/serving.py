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

import keras
import tensorflow as tf

from hugectr_tf.config import Embedding_t, slot_offsets
from hugectr_tf.embedding.frozen import FrozenTable, frozen_tables
from hugectr_tf.keras.layers.sparse_embedding import SparseEmbedding


def freeze(layer):
    """The FrozenTable of one SparseEmbedding layer (its rows as they are now)."""
    onehot = layer.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingOneHot
    # OneHot tables store key + slot offset (docs/EMBEDDING_SEMANTICS.md).
    offsets = slot_offsets(layer.slot_size_array) if onehot else None
    state = {k: v.numpy() for k, v in layer.table.export().items()}
    return FrozenTable(
        state, layer.slot_num, layer.combiner, slot_offsets=offsets, name=f"{layer.name}_frozen"
    )


def _embedding_layers(model):
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
    frozen = {id(layer): freeze(layer) for layer in layers}
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
        with frozen_tables(frozen):
            out = model(inputs, training=False)
        return {"outputs": keras.ops.convert_to_tensor(out)}

    module.serve = serve
    tf.saved_model.save(module, path, signatures={"serving_default": serve})
    return sorted(specs)
