"""SavedModels of Keras models holding SparseEmbedding: ragged inputs, with or without the plugin.

Keras' `model.export()` describes each input by a dense `TensorSpec`, so a ragged key input
`[batch, slots, (nnz)]` is exported as a dense `[batch, slots, nnz]` tensor (every entry a key)
and `model.export(input_signature=[tf.RaggedTensorSpec(...)])` is refused. `export(model, path)`
is the wrapper that writes what Keras would, for ragged inputs too:

- endpoint `serve(inputs)`: the model's inputs as the model takes them (a dict by input name, or
  a list in input order; `tf.RaggedTensor` for ragged inputs), returning {"outputs": ...};
- signature `serving_default` for TF Serving, which takes plain tensors only: each dense input by
  its name and, for each ragged key input, `<name>_values` (int64 [n]) and `<name>_row_splits`
  (int64 [batch * slots + 1]), the CSR layout of HugeCTR's inference API.

`export(..., freeze_tables=False)` keeps the live tables: the SavedModel holds the custom ops and
loads after `import hugectr_tf` (which loads the op library). `freeze_tables=True` (what
`export_for_serving` writes) freezes each table into a `tf.lookup.StaticHashTable` (key -> row
index) plus a variable of rows: only stock TensorFlow ops, so `tf.saved_model.load` and TF Serving
load it with no custom op library. Lookups follow the layer's inference semantics: a key the table
does not hold adds a zero vector and still counts in the `mean` combiner's denominator.
"""

import contextlib

import keras
import tensorflow as tf

from hugectr_tf.config import Embedding_t, slot_offsets
from hugectr_tf.embedding.frozen import FrozenTable, frozen_tables
from hugectr_tf.keras.layers.sparse_embedding import SparseEmbedding
from hugectr_tf.ops import load_library


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


class _Inputs:
    """The model's inputs: their specs as the model takes them, and as plain tensors (CSR)."""

    def __init__(self, model):
        self.inputs = list(model.inputs)
        self.names = [inp.name for inp in self.inputs]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"export needs distinct input names. Received: {self.names}")
        # The model is called as it was built: with a dict, a list, or a single tensor.
        structure = model.input
        self.kind = "dict" if isinstance(structure, dict) else "list"
        if not isinstance(structure, (dict, list, tuple)):
            self.kind = "single"
        self.ragged, self.model_specs, self.plain_specs = {}, {}, {}
        for inp in self.inputs:
            name = inp.name
            if getattr(inp, "ragged", False):
                slots = inp.shape[1]
                self.ragged[name] = slots
                self.model_specs[name] = tf.RaggedTensorSpec(
                    [None, slots, None], inp.dtype, ragged_rank=2
                )
                for part in ("values", "row_splits"):
                    self.plain_specs[f"{name}_{part}"] = tf.TensorSpec(
                        [None], tf.int64, f"{name}_{part}"
                    )
            else:
                self.model_specs[name] = tf.TensorSpec(inp.shape, inp.dtype, name)
                self.plain_specs[name] = tf.TensorSpec(inp.shape, inp.dtype, name)

    def model_signature(self):
        if self.kind == "dict":
            return [self.model_specs]
        if self.kind == "single":
            return [self.model_specs[self.names[0]]]
        return [[self.model_specs[name] for name in self.names]]

    def by_name(self, model_inputs):
        """{input name: tensor} from the model's call argument."""
        if self.kind == "dict":
            return dict(model_inputs)
        if self.kind == "single":
            return {self.names[0]: model_inputs}
        return dict(zip(self.names, model_inputs))

    def arrange(self, by_name):
        """The model's call argument from {input name: tensor}."""
        if self.kind == "dict":
            return by_name
        if self.kind == "single":
            return by_name[self.names[0]]
        return [by_name[name] for name in self.names]

    def from_plain(self, features):
        """{input name: tensor} from the plain-tensor signature (CSR -> RaggedTensor)."""
        by_name = {}
        for name in self.names:
            if name in self.ragged:
                inner = tf.RaggedTensor.from_row_splits(
                    features[f"{name}_values"], features[f"{name}_row_splits"]
                )
                by_name[name] = tf.RaggedTensor.from_uniform_row_length(inner, self.ragged[name])
            else:
                by_name[name] = features[name]
        return by_name


def export(model, path, freeze_tables=False):
    """Writes `model` as a SavedModel with a ragged endpoint and a TF-Serving signature.

    Args:
        model: A functional `keras.Model` whose inputs are named (dense inputs and ragged int64
            key inputs `[batch, slots, (nnz)]`).
        path: String. SavedModel folder.
        freeze_tables: Boolean. True: tables frozen into stock TensorFlow (loads without the
            plugin). False: the live tables (load after `import hugectr_tf`).

    Returns:
        The names of the `serving_default` signature's inputs.
    """
    inputs = _Inputs(model)
    layers = _embedding_layers(model)
    module = tf.Module()
    # The weights the graph reads (Keras variables wrap tf.Variables). The layers themselves are
    # not tracked, so only the tables chosen here enter the SavedModel.
    module.variables_ = [getattr(v, "value", v) for v in model.variables]
    if freeze_tables:
        frozen = {id(layer): freeze(layer) for layer in layers}
        module.tables = list(frozen.values())
        context = lambda: frozen_tables(frozen)  # noqa: E731
    else:
        load_library()  # the live tables' ops must be registered to trace them
        module.tables = [layer.table for layer in layers]
        context = contextlib.nullcontext

    def run(by_name):
        with context():
            out = model(inputs.arrange(by_name), training=False)
        return {"outputs": keras.ops.convert_to_tensor(out)}

    @tf.function(input_signature=inputs.model_signature())
    def serve(model_inputs):
        return run(inputs.by_name(model_inputs))

    @tf.function(input_signature=[inputs.plain_specs])
    def serve_plain(features):
        return run(inputs.from_plain(features))

    module.serve = serve
    module.serve_plain = serve_plain
    tf.saved_model.save(module, path, signatures={"serving_default": serve_plain})
    return sorted(inputs.plain_specs)


def export_for_serving(model, path):
    """`export(model, path, freeze_tables=True)`: a SavedModel that needs no plugin to load."""
    return export(model, path, freeze_tables=True)


def load(path):
    """Loads a SavedModel written with live tables (`export(..., freeze_tables=False)`): loads the
    op library first, then `tf.saved_model.load(path)`."""
    load_library()
    return tf.saved_model.load(str(path))
