"""`ModelGraph`: a HugeCTR model's layers, built into a Keras functional graph as they are added.

A bottom name that does not exist, a repeated top name or a shape a layer cannot take fails in
`add` with the layer type and names, as HugeCTR fails while parsing its graph.

Keras shapes leave the batch dimension open, but HugeCTR's layers may change the row count
(DeepFM's Reshape `[B, 26, 11] -> [B*26, 11]`, DIN's Scale `[B, 36] -> [B*10, 36]`). The graph
follows each tensor's rows per sample by running every layer's shape function on one sample, so
that layers mixing row counts and a loss that would see more rows than labels fail in `add`.
"""

import keras

from hugectr_tf.api import graph_json
from hugectr_tf.api.fused_buffers import used_bottoms_and_outputs
from hugectr_tf.api.no_counterpart import note_async_io, note_hybrid_embedding_param
from hugectr_tf.api.slot_offsets import RemoveSlotOffsets, reader_slot_offsets
from hugectr_tf.config import (
    LOSS_LAYERS,
    DataReaderType_t,
    DenseLayer,
    Embedding_t,
    Input,
    Layer_t,
    SparseEmbedding,
)
from hugectr_tf.keras.layers import SparseEmbedding as KerasSparseEmbedding
from hugectr_tf.keras.layers import from_dense_layer

# Layers whose single bottom is still passed as a one-element list in HugeCTR's graph.
_LIST_INPUT_LAYERS = (Layer_t.Concat, Layer_t.Add, Layer_t.FusedReshapeConcat)


class ModelGraph:
    """One `Input`, `SparseEmbedding`s, then `DenseLayer`s ending in a loss, as Keras tensors.

    Args:
        reader_params: `DataReaderParams`. Tells whether the reader adds slot offsets to keys.
        optimizer: `OptParamsPy`. The sparse optimizer of embeddings that name none.
        learning_rate: Float. Initial sparse learning rate.
        seed: Integer. Embedding i is seeded with `seed + i`.
    """

    def __init__(self, reader_params, optimizer, learning_rate, seed):
        self._reader_params = reader_params
        if reader_params.data_reader_type == DataReaderType_t.RawAsync:
            note_async_io(reader_params.async_param)
        self._optimizer = optimizer
        self._learning_rate = learning_rate
        self._seed = seed
        self.input = None
        self.embedding_params = []  # hugectr.SparseEmbedding, in add order
        self.embedding_layers = []  # hugectr_tf.keras.layers.SparseEmbedding
        self.dense_params = []  # hugectr.DenseLayer (loss included), in add order
        self.dense_layers = []  # Keras layers (None for the loss entry)
        self.loss_param = None
        self.loss_layer = None
        self.model_inputs = {}  # name -> keras.Input
        self._tensors = {}  # name -> KerasTensor (label: None, it is not a model input)
        self._rows = {}  # name -> rows per sample (1 unless a layer changed the row count)

    # ----------------------------------------------------------------------------- adding
    def add(self, layer):
        """Adds an `Input`, a `SparseEmbedding` or a `DenseLayer`, validating it at once."""
        if isinstance(layer, Input):
            self._add_input(layer)
        elif isinstance(layer, SparseEmbedding):
            self._add_embedding(layer)
        elif isinstance(layer, DenseLayer):
            self._add_dense(layer)
        else:
            raise TypeError(
                "Model.add takes hugectr.Input, hugectr.SparseEmbedding or hugectr.DenseLayer. "
                f"Received: {layer!r}"
            )

    def _claim_name(self, name, what):
        if name in self._tensors:
            raise ValueError(f"{what}: top name {name!r} is already used by an earlier layer")

    def _add_input(self, inp):
        if self.input is not None:
            raise ValueError("Model.add(Input): the model already has an Input layer")
        for name in [inp.label_name, inp.dense_name] + [
            p.sparse_name for p in inp.data_reader_sparse_param_array
        ]:
            self._claim_name(name, "Input")
            self._tensors[name] = None
            self._rows[name] = 1
        if inp.dense_dim > 0:
            dense = keras.Input(shape=(inp.dense_dim,), name=inp.dense_name, dtype="float32")
            self._tensors[inp.dense_name] = dense
            self.model_inputs[inp.dense_name] = dense
        for p in inp.data_reader_sparse_param_array:
            sparse = keras.Input(
                shape=(p.slot_num, None), name=p.sparse_name, dtype="int64", ragged=True
            )
            self._tensors[p.sparse_name] = sparse
            self.model_inputs[p.sparse_name] = sparse
        self.input = inp

    def require_input(self, what):
        if self.input is None:
            raise ValueError(f"{what}: add the hugectr.Input layer first")

    def _add_embedding(self, emb):
        what = f"SparseEmbedding {emb.sparse_embedding_name!r} (bottom {emb.bottom_name!r})"
        self.require_input(what)
        param = self.input.sparse_param(emb.bottom_name)
        if param is None:
            names = sorted(p.sparse_name for p in self.input.data_reader_sparse_param_array)
            raise ValueError(
                f"{what}: bottom_name must name a sparse input of the Input layer, one of "
                f"{names}. Received: bottom_name={emb.bottom_name!r}"
            )
        self._claim_name(emb.sparse_embedding_name, what)
        table_type = emb.embedding_type
        if table_type == Embedding_t.HybridSparseEmbedding:
            # HugeCTR's hybrid embedding is one table over slot_size_array whose frequent rows
            # it replicates and infrequent rows it shards: on one device, a OneHot table.
            table_type = Embedding_t.LocalizedSlotSparseEmbeddingOneHot
            note_hybrid_embedding_param(emb.hybrid_embedding_param)
        layer = KerasSparseEmbedding(
            embedding_vec_size=emb.embedding_vec_size,
            slot_num=param.slot_num,
            combiner=emb.combiner,
            # Slot-sized tables (OneHot, Hybrid) ignore the workspace, which may then be 0.
            workspace_size_per_gpu_in_mb=emb.workspace_size_per_gpu_in_mb or 1,
            optimizer=emb.optimizer or self._optimizer,
            embedding_type=table_type,
            slot_size_array=list(emb.slot_size_array) or None,
            learning_rate=self._learning_rate,
            seed=self._seed + len(self.embedding_layers),
            name=emb.sparse_embedding_name,
        )
        keys = self._tensors[emb.bottom_name]
        offsets = reader_slot_offsets(self._reader_params, self.input, emb.bottom_name)
        if emb.sized_by_slots and offsets:
            keys = RemoveSlotOffsets(offsets, name=f"{emb.sparse_embedding_name}_local_keys")(keys)
        self._tensors[emb.sparse_embedding_name] = layer(keys)
        self._rows[emb.sparse_embedding_name] = 1
        self.embedding_params.append(emb)
        self.embedding_layers.append(layer)

    def _add_dense(self, d):
        what = f"{d.layer_type.name} layer (bottom {d.bottom_names}, top {d.top_names})"
        self.require_input(what)
        for name in d.bottom_names:
            if name not in self._tensors:
                raise ValueError(f"{what}: no tensor named {name!r} exists yet")
        for name in d.top_names:
            self._claim_name(name, what)
        if len(set(d.top_names)) != len(d.top_names):
            raise ValueError(f"{what}: top names repeat")
        if d.layer_type in LOSS_LAYERS:
            self._add_loss(d, what)
            return
        if self.input.label_name in d.bottom_names:
            raise ValueError(f"{what}: only a loss layer may take the label as a bottom")
        layer = _keras_layer(d, what)
        bottoms, made = used_bottoms_and_outputs(d, what)
        inputs = [self._tensors[n] for n in bottoms]
        takes_list = len(inputs) > 1 or d.layer_type in _LIST_INPUT_LAYERS
        try:
            outputs = layer(inputs if takes_list else inputs[0])
        except Exception as err:  # Keras raises several types; keep the layer in the message
            raise ValueError(f"{what}: {err}") from err
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if len(outputs) != made:
            raise ValueError(
                f"{what}: the layer gives {len(outputs)} outputs but {made} top names were given"
            )
        rows = self._rows_per_sample(bottoms, layer, takes_list, made, what)
        # HugeCTR's fused layers name extra tops for their internal buffers: the one output.
        outputs += outputs[-1:] * (len(d.top_names) - made)
        rows += rows[-1:] * (len(d.top_names) - made)
        for name, tensor, count in zip(d.top_names, outputs, rows):
            self._tensors[name] = tensor
            self._rows[name] = count
        self.dense_params.append(d)
        self.dense_layers.append(layer)

    def _add_loss(self, d, what):
        if self.loss_param is not None:
            raise ValueError(f"{what}: the model already has a loss layer")
        if len(d.bottom_names) != 2 or d.bottom_names[1] != self.input.label_name:
            raise ValueError(
                f"{what}: a loss layer takes [prediction, {self.input.label_name!r}] as bottoms. "
                f"Received: bottom_names={d.bottom_names}"
            )
        prediction = d.bottom_names[0]
        if self._tensors[prediction] is None:
            raise ValueError(f"{what}: {prediction!r} is not a computed tensor")
        if self._rows[prediction] != 1:
            shape = self._shape_per_batch(prediction)
            raise ValueError(
                f"{what}: the loss would see more rows than labels: the prediction "
                f"{prediction!r} has shape {shape} ({self._rows[prediction]} rows per sample) "
                f"but the label {self.input.label_name!r} has shape (B, {self.input.label_dim}). "
                "Reshape the prediction back to one row per sample first."
            )
        self.loss_layer = _keras_layer(d, what)
        self.loss_param = d
        self._tensors[d.top_names[0]] = None
        self.dense_params.append(d)
        self.dense_layers.append(None)

    # ----------------------------------------------------------------------------- rows
    def _shape_per_batch(self, name):
        """`name`'s shape with its rows written in terms of the batch size B: "(B*26, 11)"."""
        rows = self._rows[name]
        dims = ", ".join(str(d) for d in self._tensors[name].shape[1:])
        return f"({'B' if rows == 1 else f'B*{rows}'}, {dims})"

    def _rows_per_sample(self, bottoms, layer, takes_list, made, what):
        """Rows per sample of each output: the layer's shape function run on one sample."""
        counts = [self._rows[n] for n in bottoms]
        if len(set(counts)) > 1:
            shapes = ", ".join(f"{n!r} {self._shape_per_batch(n)}" for n in bottoms)
            raise ValueError(
                f"{what}: the bottoms hold different numbers of rows per sample: {shapes}"
            )
        tensors = [self._tensors[n] for n in bottoms]
        if any(getattr(t, "ragged", False) or getattr(t, "sparse", False) for t in tensors):
            return [1] * made
        one_sample = [
            keras.KerasTensor((count, *t.shape[1:]), dtype=t.dtype)
            for t, count in zip(tensors, counts)
        ]
        try:
            spec = layer.compute_output_spec(one_sample if takes_list else one_sample[0])
        except ValueError as err:
            raise ValueError(f"{what}: per sample: {err}") from err
        specs = list(spec) if isinstance(spec, (list, tuple)) else [spec]
        return [s.shape[0] for s in specs]

    # ----------------------------------------------------------------------------- reading
    @property
    def logits(self):
        """The tensor the loss layer takes as prediction."""
        if self.loss_param is None:
            raise ValueError("Model.compile: the model has no loss layer; add one first")
        return self._tensors[self.loss_param.bottom_names[0]]

    @property
    def output(self):
        """What inference predicts: the loss layer's prediction or, in a graph without a loss
        (HugeCTR's inference JSON, which ends in a Sigmoid), the last dense layer's output."""
        if self.loss_param is not None:
            return self.logits
        if not self.dense_params:
            raise ValueError("the graph has neither a loss layer nor a dense layer to predict with")
        return self._tensors[self.dense_params[-1].top_names[0]]

    def keras_dense_layers(self):
        """The Keras layers of the dense network (the loss excluded), in add order."""
        return [layer for layer in self.dense_layers if layer is not None]

    def summary_text(self):
        self.require_input("Model.summary")
        rows = [("Layer Type", "Input Name", "Output Name", "Output Shape")]
        for emb in self.embedding_params:
            t = self._tensors[emb.sparse_embedding_name]
            rows.append(
                (emb.embedding_type.value, emb.bottom_name, emb.sparse_embedding_name, _shape(t))
            )
        for d in self.dense_params:
            shapes = ", ".join(_shape(self._tensors[n]) for n in d.top_names)
            rows.append(
                (d.layer_type.value, ",".join(d.bottom_names), ",".join(d.top_names), shapes)
            )
        inp = self.input
        head = [
            "=" * 40 + " Model Summary " + "=" * 40,
            f"Label: {inp.label_name} (None, {inp.label_dim})   "
            f"Dense: {inp.dense_name} (None, {inp.dense_dim})   Sparse: "
            + ", ".join(
                f"{p.sparse_name} (None, {p.slot_num}, None)"
                for p in inp.data_reader_sparse_param_array
            ),
            "-" * 95,
        ]
        body = [f"{a:<36}{b:<22}{c:<22}{d}" for a, b, c, d in rows]
        return "\n".join(head + body[:1] + ["-" * 95] + body[1:])

    def to_json(self):
        """The graph in HugeCTR's JSON schema (a dict)."""
        self.require_input("Model.graph_to_json")
        layers = [graph_json.input_to_json(self.input)]
        for emb in self.embedding_params:
            layers.append(graph_json.embedding_to_json(emb, emb.optimizer or self._optimizer))
        layers += [graph_json.dense_to_json(d) for d in self.dense_params]
        return {"layers": layers}


def _keras_layer(d, what):
    try:
        return from_dense_layer(d, name=d.top_names[0])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what}: {err}") from err


def _shape(tensor):
    if tensor is None:
        return "()"
    return str(tuple(tensor.shape))
