"""HugeCTR's `Model`: build a network layer by layer, compile it, train, evaluate and save.

The graph is built as a Keras functional model while layers are added, so a bottom name that does
not exist, a repeated top name or a shape a layer cannot take fails in `add` with the layer type
and names. Training runs a TensorFlow step function (see `model_training.py`); files use HugeCTR's
formats (`graph_json.py`, `model_files.py`, the embedding layer's sparse model folders).
"""

import keras
import tensorflow as tf

from hugectr_tf.api import graph_json
from hugectr_tf.api.config import (
    DataReaderParams,
    DenseLayer,
    Input,
    ModelOversubscriberParams,
    OptParamsPy,
    Solver,
    SparseEmbedding,
)
from hugectr_tf.api.enums import LOSS_LAYERS, Embedding_t, Layer_t
from hugectr_tf.api.lr_scheduler import LearningRateScheduler
from hugectr_tf.api.model_files import write_json
from hugectr_tf.api.model_persistence import ModelPersistence
from hugectr_tf.api.model_training import ModelTraining
from hugectr_tf.api.optimizers import dense_optimizer
from hugectr_tf.api.slot_offsets import RemoveSlotOffsets, reader_slot_offsets

# HugeCTR argument name -> Keras layer argument name, where they differ.
_ARG_RENAMES = {"lambda": "lambda_"}


class Model(ModelTraining, ModelPersistence):
    """A HugeCTR model: one `Input`, `SparseEmbedding`s, then `DenseLayer`s ending in a loss."""

    def __init__(self, solver, reader_params, opt_params, mos=None):
        for value, cls, name in (
            (solver, Solver, "solver"),
            (reader_params, DataReaderParams, "reader_params"),
            (opt_params, OptParamsPy, "opt_params"),
        ):
            if not isinstance(value, cls):
                raise TypeError(f"`{name}` must be a hugectr {cls.__name__}. Received: {value!r}")
        if mos is not None and not isinstance(mos, ModelOversubscriberParams):
            raise TypeError(f"`mos` must come from hugectr.CreateMOS. Received: {mos!r}")
        if solver.num_devices > 1:
            raise ValueError(
                f"vvgpu={solver.vvgpu} asks for {solver.num_devices} devices; this release trains "
                "on one device (vvgpu=[[0]]). Multi-device training through tf.distribute is "
                "planned; until then use a single device."
            )
        self.solver = solver
        self.reader_params = reader_params
        self.opt_params = opt_params
        self.mos = mos
        self._apply_solver_settings()
        self._input = None
        self._embedding_params = []  # hugectr.SparseEmbedding, in add order
        self._embedding_layers = []  # hugectr_tf.keras.layers.SparseEmbedding
        self._dense_params = []  # hugectr.DenseLayer (loss included), in add order
        self._dense_layers = []  # Keras layers (None for the loss entry)
        self._tensors = {}  # name -> KerasTensor (label: None, it is not a model input)
        self._model_inputs = {}
        self._loss_param = None
        self._loss_layer = None
        self._keras_model = None
        self._lr_scheduler = LearningRateScheduler(
            solver.lr,
            solver.warmup_steps,
            solver.decay_start,
            solver.decay_steps,
            solver.decay_power,
            solver.end_lr,
        )
        self._init_training_state()

    def _apply_solver_settings(self):
        keras.utils.set_random_seed(self.solver.seed)
        # TF32 only matters on Ampere+ GPUs; on CPUs TensorFlow ignores it.
        tf.config.experimental.enable_tensor_float_32_execution(self.solver.enable_tf32_compute)
        policy = "mixed_float16" if self.solver.use_mixed_precision else "float32"
        keras.mixed_precision.set_global_policy(policy)
        # use_cuda_graph and use_algorithm_search have no TensorFlow counterpart to switch: XLA
        # and cuBLAS heuristics decide; they are accepted so HugeCTR scripts run unchanged.

    # ----------------------------------------------------------------------------- building
    def add(self, layer):
        """Adds an `Input`, a `SparseEmbedding` or a `DenseLayer`, validating it at once."""
        if self._keras_model is not None:
            raise RuntimeError("Model.add after Model.compile: add every layer before compiling")
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
        if self._input is not None:
            raise ValueError("Model.add(Input): the model already has an Input layer")
        for name in [inp.label_name, inp.dense_name] + [
            p.sparse_name for p in inp.data_reader_sparse_param_array
        ]:
            self._claim_name(name, "Input")
            self._tensors[name] = None
        self._tensors[inp.label_name] = None
        if inp.dense_dim > 0:
            dense = keras.Input(shape=(inp.dense_dim,), name=inp.dense_name, dtype="float32")
            self._tensors[inp.dense_name] = dense
            self._model_inputs[inp.dense_name] = dense
        for p in inp.data_reader_sparse_param_array:
            sparse = keras.Input(
                shape=(p.slot_num, None), name=p.sparse_name, dtype="int64", ragged=True
            )
            self._tensors[p.sparse_name] = sparse
            self._model_inputs[p.sparse_name] = sparse
        self._input = inp

    def _require_input(self, what):
        if self._input is None:
            raise ValueError(f"{what}: add the hugectr.Input layer first")

    def _add_embedding(self, emb):
        from hugectr_tf.keras.layers import SparseEmbedding as KerasSparseEmbedding

        what = f"SparseEmbedding {emb.sparse_embedding_name!r} (bottom {emb.bottom_name!r})"
        self._require_input(what)
        sparse = {p.sparse_name: p for p in self._input.data_reader_sparse_param_array}
        if emb.bottom_name not in sparse:
            raise ValueError(
                f"{what}: bottom_name must name a sparse input of the Input layer, one of "
                f"{sorted(sparse)}. Received: bottom_name={emb.bottom_name!r}"
            )
        self._claim_name(emb.sparse_embedding_name, what)
        param = sparse[emb.bottom_name]
        layer = KerasSparseEmbedding(
            embedding_vec_size=emb.embedding_vec_size,
            slot_num=param.slot_num,
            combiner=emb.combiner,
            workspace_size_per_gpu_in_mb=emb.workspace_size_per_gpu_in_mb,
            optimizer=emb.optimizer or self.opt_params,
            embedding_type=emb.embedding_type.value,
            slot_size_array=list(emb.slot_size_array) or None,
            learning_rate=self.solver.lr,
            seed=self.solver.seed + len(self._embedding_layers),
            name=emb.sparse_embedding_name,
        )
        keys = self._tensors[emb.bottom_name]
        offsets = reader_slot_offsets(self.reader_params, self._input, emb.bottom_name)
        if emb.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingOneHot and offsets:
            keys = RemoveSlotOffsets(offsets, name=f"{emb.sparse_embedding_name}_local_keys")(keys)
        self._tensors[emb.sparse_embedding_name] = layer(keys)
        self._embedding_params.append(emb)
        self._embedding_layers.append(layer)

    def _add_dense(self, d):
        what = f"{d.layer_type.name} layer (bottom {d.bottom_names}, top {d.top_names})"
        self._require_input(what)
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
        if self._input.label_name in d.bottom_names:
            raise ValueError(f"{what}: only a loss layer may take the label as a bottom")
        layer = self._make_keras_layer(d, what)
        inputs = [self._tensors[n] for n in d.bottom_names]
        try:
            outputs = layer(inputs if len(inputs) > 1 or _takes_list(d) else inputs[0])
        except Exception as err:  # Keras raises several types; keep the layer in the message
            raise ValueError(f"{what}: {err}") from err
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        if len(outputs) != len(d.top_names):
            raise ValueError(
                f"{what}: the layer gives {len(outputs)} outputs but {len(d.top_names)} top "
                "names were given"
            )
        for name, tensor in zip(d.top_names, outputs):
            self._tensors[name] = tensor
        self._dense_params.append(d)
        self._dense_layers.append(layer)

    def _make_keras_layer(self, d, what):
        from hugectr_tf.keras.layers import layer_class_for

        cls = layer_class_for(d.layer_type.value)
        kwargs = {_ARG_RENAMES.get(k, k): v for k, v in d.params().items()}
        for key in ("weight_init_type", "bias_init_type", "gamma_init_type", "beta_init_type"):
            if key in kwargs:
                kwargs[key] = kwargs[key].value
        if "regularizer_type" in kwargs:
            kwargs["regularizer_type"] = kwargs["regularizer_type"].value
        try:
            return cls(name=d.top_names[0], **kwargs)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{what}: {err}") from err

    def _add_loss(self, d, what):
        if self._loss_param is not None:
            raise ValueError(f"{what}: the model already has a loss layer")
        if len(d.bottom_names) != 2 or d.bottom_names[1] != self._input.label_name:
            raise ValueError(
                f"{what}: a loss layer takes [prediction, {self._input.label_name!r}] as bottoms. "
                f"Received: bottom_names={d.bottom_names}"
            )
        logits = self._tensors[d.bottom_names[0]]
        if logits is None:
            raise ValueError(f"{what}: {d.bottom_names[0]!r} is not a computed tensor")
        self._loss_layer = self._make_keras_layer(d, what)
        self._loss_param = d
        self._tensors[d.top_names[0]] = None
        self._dense_params.append(d)
        self._dense_layers.append(None)

    # ------------------------------------------------------------------------ compile, summary
    def compile(self):
        """Builds the Keras model, the dense optimizer and the training/evaluation steps."""
        if self._loss_param is None:
            raise ValueError("Model.compile: the model has no loss layer; add one first")
        if self._keras_model is not None:
            return
        logits = self._tensors[self._loss_param.bottom_names[0]]
        self._keras_model = keras.Model(inputs=self._model_inputs, outputs=logits)
        self._dense_optimizer = dense_optimizer(self.opt_params, self.solver.lr)
        self._dense_weights = [w for layer in self._keras_layers() for w in layer.trainable_weights]
        self._dense_non_trainable = [
            w for layer in self._keras_layers() for w in layer.non_trainable_weights
        ]
        self._dense_optimizer.build(self._dense_weights)
        self._build_steps()

    def _keras_layers(self):
        return [layer for layer in self._dense_layers if layer is not None]

    def _require_compiled(self, what):
        if self._keras_model is None:
            raise RuntimeError(f"Model.{what} needs Model.compile() first")

    def summary(self):
        """Prints the layers with their inputs, outputs and output shapes."""
        print(self.summary_text())

    def summary_text(self):
        self._require_input("Model.summary")
        rows = [("Layer Type", "Input Name", "Output Name", "Output Shape")]
        for emb in self._embedding_params:
            t = self._tensors[emb.sparse_embedding_name]
            rows.append(
                (emb.embedding_type.value, emb.bottom_name, emb.sparse_embedding_name, _shape(t))
            )
        for d in self._dense_params:
            shapes = ", ".join(_shape(self._tensors[n]) for n in d.top_names)
            rows.append(
                (d.layer_type.value, ",".join(d.bottom_names), ",".join(d.top_names), shapes)
            )
        inp = self._input
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

    # ----------------------------------------------------------------------------- graph JSON
    def graph_to_json(self, graph_config_file):
        """Writes the model graph in HugeCTR's JSON schema."""
        self._require_input("Model.graph_to_json")
        layers = [graph_json.input_to_json(self._input)]
        for emb in self._embedding_params:
            layers.append(graph_json.embedding_to_json(emb, emb.optimizer or self.opt_params))
        layers += [graph_json.dense_to_json(d) for d in self._dense_params]
        write_json(graph_config_file, {"layers": layers})

    def construct_from_json(self, graph_config_file, include_dense_network):
        """Adds the layers of a graph JSON file (all, or only Input and embeddings)."""
        from hugectr_tf.api.model_files import read_json

        document = read_json(graph_config_file, "graph config")
        try:
            layers = graph_json.graph_from_json(document, include_dense_network)
        except (KeyError, TypeError) as err:
            raise ValueError(f"graph config `{graph_config_file}` misses a field: {err}") from err
        for layer in layers:
            self.add(layer)


def _takes_list(d):
    # Layers whose single bottom is still passed as a one-element list in HugeCTR's graph.
    return d.layer_type in (Layer_t.Concat, Layer_t.Add, Layer_t.FusedReshapeConcat)


def _shape(tensor):
    if tensor is None:
        return "()"
    return str(tuple(tensor.shape))
