"""HugeCTR's `Model`: build a network layer by layer, compile it, train, evaluate and save.

`Model` is a thin facade over explicit collaborators: `ModelGraph` builds the Keras graph as
layers are added (graph.py), `Network` is the compiled result (network.py), `Trainer` runs the
step functions, readers and `fit` (training.py), and persistence.py reads and writes HugeCTR's
files. Inference (`hugectr_tf.inference`) uses the public `network` of a compiled Model.
"""

import contextlib

import tensorflow as tf

from hugectr_tf import distributed
from hugectr_tf.api import graph_json, model_files, persistence, precision
from hugectr_tf.api.graph import ModelGraph
from hugectr_tf.api.keras_state import PrivateKerasState
from hugectr_tf.api.log import log
from hugectr_tf.api.lr_scheduler import LearningRateScheduler
from hugectr_tf.api.network import Network
from hugectr_tf.api.oversubscription import ModelOversubscriber, fit_in_passes
from hugectr_tf.api.training import Trainer
from hugectr_tf.config import DataReaderParams, ModelOversubscriberParams, OptParamsPy, Solver


class Model:
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
        if mos is not None:
            _check_mos_reader(solver, reader_params)
        # First: logical devices (vvgpu without GPUs) exist only if made before TensorFlow starts.
        self.placement = distributed.placement_for(solver)
        for note in self.placement.notes:
            log(note)
        if mos is not None and self.placement.strategy is not None:
            raise ValueError(
                f"model oversubscription (CreateMOS) trains on one device; vvgpu={solver.vvgpu} "
                "asks for several. Use vvgpu=[[0]] with `mos`, or several devices without it."
            )
        self.solver = solver
        self.reader_params = reader_params
        self.opt_params = opt_params
        self.mos = mos
        self._keras_state = _apply_solver_settings(solver)
        with self._keras_state.active():
            self.graph = ModelGraph(reader_params, opt_params, solver.lr, solver.seed)
        self.network = None  # set by compile()
        self._trainer = None
        self._oversubscriber = None  # ModelOversubscriber, made by compile() when mos is given
        self._dense_frozen = False
        self._incremental = persistence.IncrementalTracker()
        self._lr_scheduler = LearningRateScheduler(
            solver.lr,
            solver.warmup_steps,
            solver.decay_start,
            solver.decay_steps,
            solver.decay_power,
            solver.end_lr,
        )

    # ----------------------------------------------------------------------------- building
    def add(self, layer):
        """Adds an `Input`, a `SparseEmbedding` or a `DenseLayer`, validating it at once."""
        if self.network is not None:
            raise RuntimeError("Model.add after Model.compile: add every layer before compiling")
        # Tables and weights are made here: with the Model's Keras state, under its strategy.
        with self._keras_state.active(), self._scope():
            self.graph.add(layer)

    def compile(self, jit_compile=False):
        """Builds the Keras model, the dense optimizer and the training/evaluation steps.

        Args:
            jit_compile: Boolean (an addition to HugeCTR's API). Compile the dense network of
                every step with XLA; the embedding lookups and sparse updates run outside it.
                Off by default: on CPUs TensorFlow's own kernels were faster for the measured
                models (docs/benchmarks.md).
        """
        if not isinstance(jit_compile, bool):
            raise ValueError(
                f"`jit_compile` must be a boolean. Received: jit_compile={jit_compile!r}"
            )
        if self.network is not None:
            return
        with self._keras_state.active():
            with self._scope():
                self.network = Network(self.graph, self.opt_params, self.solver.lr)
            self._trainer = Trainer(
                self.solver,
                self.reader_params,
                self.network,
                dense_frozen=self._dense_frozen,
                strategy=self.placement.strategy,
                jit_compile=jit_compile,
            )
        if self.mos is not None:
            self._oversubscriber = ModelOversubscriber(
                self.mos,
                self.network.embedding_layers,
                self.solver.i64_input_key,
                iteration=lambda: self.iteration,
            )

    def compile_for_inference(self):
        """Builds the network for prediction only. The graph may end without a loss layer, as
        the graph JSON HugeCTR writes for inference does; it then predicts its last layer."""
        if self.network is None:
            with self._scope():
                self.network = Network(self.graph, self.opt_params, self.solver.lr, inference=True)

    def _scope(self):
        strategy = self.placement.strategy
        return strategy.scope() if strategy is not None else contextlib.nullcontext()

    def summary(self):
        """Prints the layers with their inputs, outputs and output shapes."""
        print(self.summary_text())

    def summary_text(self):
        return self.graph.summary_text()

    def graph_to_json(self, graph_config_file):
        """Writes the model graph in HugeCTR's JSON schema."""
        model_files.write_json(graph_config_file, self.graph.to_json())

    def construct_from_json(self, graph_config_file, include_dense_network):
        """Adds the layers of a graph JSON file (all, or only Input and embeddings)."""
        document = model_files.read_json(graph_config_file, "graph config")
        try:
            layers = graph_json.graph_from_json(document, include_dense_network)
        except (KeyError, TypeError) as err:
            raise ValueError(f"graph config `{graph_config_file}` misses a field: {err}") from err
        for layer in layers:
            self.add(layer)

    # ----------------------------------------------------------------------------- public parts
    def _compiled(self, what):
        if self.network is None:
            raise RuntimeError(f"Model.{what} needs Model.compile() first")
        return self._trainer

    @property
    def keras_model(self):
        """The compiled Keras model (inputs by name, logits out)."""
        self._compiled("keras_model")
        return self.network.keras_model

    @property
    def embedding_layers(self):
        """The `hugectr_tf.keras.layers.SparseEmbedding` layers, in add order."""
        return list(self.graph.embedding_layers)

    @property
    def iteration(self):
        """Training iterations run so far."""
        return self._trainer.iteration if self._trainer is not None else 0

    @property
    def last_evaluation(self):
        """(predictions, labels) of the last `get_eval_metrics` round."""
        return self._compiled("last_evaluation").last_evaluation

    def train_on_batch(self, batch):
        """One training step on a reader batch dict (as `DataReader.next_batch` gives)."""
        return self._compiled("train_on_batch").train_on_batch(batch)

    def evaluate(self):
        """One evaluation round as `fit` runs it: `max_eval_batches` batches, then the metrics."""
        return self._compiled("evaluate").evaluate()

    # ----------------------------------------------------------------------------- training
    def fit(
        self,
        num_epochs=0,
        max_iter=2000,
        display=200,
        eval_interval=1000,
        snapshot=10000,
        snapshot_prefix="",
    ):
        """Trains in epoch mode (repeat_dataset=False) or iteration mode (max_iter); with model
        oversubscription, pass by pass over the sources and their keysets.

        Logs as HugeCTR does and returns a `FitHistory` (loss per display interval, metrics
        per evaluation), which writes itself as CSV (`to_csv`) or TensorBoard event files
        (`write_tensorboard`).
        """
        if self._oversubscriber is not None:
            return fit_in_passes(
                self._compiled("fit"),
                self._oversubscriber,
                self._lr_scheduler,
                self.reader_params,
                num_epochs=num_epochs,
                display=display,
                eval_interval=eval_interval,
                snapshot=snapshot,
            )
        return self._compiled("fit").fit(
            self._lr_scheduler,
            self.save_params_to_files,
            num_epochs=num_epochs,
            max_iter=max_iter,
            display=display,
            eval_interval=eval_interval,
            snapshot=snapshot,
            snapshot_prefix=snapshot_prefix,
        )

    def get_data_reader_train(self):
        return self._compiled("get_data_reader_train").train_reader()

    def get_data_reader_eval(self):
        return self._compiled("get_data_reader_eval").eval_reader()

    def start_data_reading(self):
        """Opens both readers (HugeCTR starts its reader threads here; tf.data starts lazily)."""
        self.get_data_reader_train()
        self.get_data_reader_eval()

    def get_learning_rate_scheduler(self):
        return self._lr_scheduler

    def reset_learning_rate_scheduler(
        self, base_lr, warmup_steps=1, decay_start=0, decay_steps=1, decay_power=2.0, end_lr=0.0
    ):
        self._lr_scheduler = LearningRateScheduler(
            base_lr, warmup_steps, decay_start, decay_steps, decay_power, end_lr
        )

    def get_model_oversubscriber(self):
        """The `ModelOversubscriber` (needs `mos=hugectr.CreateMOS(...)` and `compile()`)."""
        if self.mos is None:
            raise RuntimeError(
                "get_model_oversubscriber needs model oversubscription: create the Model with "
                "mos=hugectr.CreateMOS(...)"
            )
        self._compiled("get_model_oversubscriber")
        return self._oversubscriber

    def set_learning_rate(self, lr):
        self._compiled("set_learning_rate").set_learning_rate(lr)

    def train(self):
        """Trains on the next batch. Returns False (and trains nothing) at the end of an epoch."""
        trainer = self._compiled("train")
        if self._oversubscriber is not None and not self._oversubscriber.loaded:
            raise RuntimeError(
                "with model oversubscription, load a keyset before training: "
                "model.get_model_oversubscriber().update(keyset_file)"
            )
        return trainer.train()

    def get_current_loss(self):
        return self._trainer.current_loss if self._trainer is not None else float("nan")

    def eval(self):
        """Evaluates the next eval batch into the running metrics. False at the end of the data."""
        return self._compiled("eval").eval()

    def get_eval_metrics(self):
        """[(name, value)] over the batches evaluated since the last call, as HugeCTR returns."""
        return self._compiled("get_eval_metrics").get_eval_metrics()

    def export_predictions(self, output_prediction_file_name, output_label_file_name):
        """Writes the predictions and labels of the last evaluation, one value per line."""
        self._compiled("export_predictions").export_predictions(
            output_prediction_file_name, output_label_file_name
        )

    def set_source(self, source, keyset=None, eval_source=None):
        """Epoch mode: point the readers at new sources. With model oversubscription
        `set_source(source, keyset, eval_source)` (lists of file lists and their keysets, as
        `fit` then trains them); without it `set_source(source, eval_source)`."""
        if self.solver.repeat_dataset:
            raise RuntimeError("Model.set_source is for epoch mode (repeat_dataset=False)")
        if self.mos is None:
            if eval_source is None and isinstance(keyset, str):
                keyset, eval_source = None, keyset  # HugeCTR's set_source(source, eval_source)
            if keyset is not None:
                raise ValueError(
                    "Model.set_source takes a keyset only with model oversubscription "
                    f"(mos=hugectr.CreateMOS(...)). Received: keyset={keyset!r}"
                )
        sources = [source] if isinstance(source, str) else list(source)
        if self.mos is not None:
            keysets = [keyset] if isinstance(keyset, str) else list(keyset or [])
            if len(keysets) != len(sources) or not isinstance(eval_source, str):
                raise ValueError(
                    "with model oversubscription Model.set_source(source, keyset, eval_source) "
                    "takes one keyset per source and an eval_source string. Received: "
                    f"source={source!r}, keyset={keyset!r}, eval_source={eval_source!r}"
                )
            self.reader_params.keyset = keysets
        elif len(sources) != 1:
            raise ValueError(
                "Model.set_source takes one training source without model oversubscription. "
                f"Received: source={source!r}"
            )
        if not isinstance(eval_source, str):
            raise ValueError(f"`eval_source` must be a string. Received: {eval_source!r}")
        self.reader_params.source = sources
        self.reader_params.eval_source = eval_source
        if self._trainer is not None:
            self._trainer.set_sources(sources[0], eval_source)

    # ------------------------------------------------------------------------ freeze/unfreeze
    def freeze_dense(self):
        self._set_dense_frozen(True)

    def unfreeze_dense(self):
        self._set_dense_frozen(False)

    def freeze_embedding(self):
        self._set_embeddings_trainable(False)

    def unfreeze_embedding(self):
        self._set_embeddings_trainable(True)

    def _set_dense_frozen(self, frozen):
        self._dense_frozen = frozen
        if self._trainer is not None:
            self._trainer.dense_frozen = frozen
            self._trainer.build_steps()

    def _set_embeddings_trainable(self, trainable):
        for layer in self.graph.embedding_layers:
            layer.trainable = trainable
        if self._trainer is not None:
            self._trainer.build_steps()

    # ----------------------------------------------------------------------------- files
    def save_params_to_files(self, prefix, iter=0):  # noqa: A002 (HugeCTR's argument name)
        """Writes the dense weights and optimizer states with `prefix`, and the tables: to
        `<prefix><i>_sparse_<iter>.model`, or with model oversubscription to the CreateMOS
        sparse model folders (as HugeCTR)."""
        self._compiled("save_params_to_files")
        if self._oversubscriber is None:
            return persistence.save_params_to_files(self.network, prefix, iter)
        names = persistence.save_dense_params_to_files(self.network, prefix, iter)
        names["sparse"] = self._oversubscriber.save()
        log(f"Model oversubscription: sparse tables written to {names['sparse']}")
        return names

    def load_dense_weights(self, dense_model_file):
        self._compiled("load_dense_weights")
        persistence.load_dense_weights(self.network, dense_model_file)

    def load_dense_optimizer_states(self, dense_opt_states_file):
        self._compiled("load_dense_optimizer_states")
        persistence.load_dense_optimizer_states(self.network, dense_opt_states_file)

    def load_sparse_weights(self, sparse_embedding_files):
        self._compiled("load_sparse_weights")
        self._refuse_under_mos("load_sparse_weights")
        persistence.load_sparse_weights(self.network, sparse_embedding_files)

    def load_sparse_optimizer_states(self, sparse_opt_states_files):
        self._compiled("load_sparse_optimizer_states")
        self._refuse_under_mos("load_sparse_optimizer_states")
        persistence.load_sparse_optimizer_states(self.network, sparse_opt_states_files)

    def get_incremental_model(self):
        """[(keys int64 [n], vectors float32 [n, vec])] per embedding: the rows updated since the
        previous call (all rows on the first call), as HugeCTR returns for online updates."""
        self._compiled("get_incremental_model")
        if self._oversubscriber is not None:
            return self._oversubscriber.incremental_model()
        return self._incremental.collect(self.network)

    def _refuse_under_mos(self, what):
        if self.mos is not None:
            raise RuntimeError(
                f"Model.{what} is not available with model oversubscription (as in HugeCTR): "
                "the tables come from CreateMOS(trained_sparse_models=...)"
            )


def _check_mos_reader(solver, reader_params):
    """HugeCTR's checks of a Model with model oversubscription."""
    if solver.repeat_dataset:
        raise ValueError(
            "model oversubscription trains in epoch mode: set repeat_dataset=False in "
            "CreateSolver. Received: repeat_dataset=True"
        )
    if len(reader_params.keyset) != len(reader_params.source):
        raise ValueError(
            "with model oversubscription DataReaderParams needs one keyset file per training "
            f"source. Received: source={reader_params.source}, keyset={reader_params.keyset}"
        )


def _apply_solver_settings(solver):
    """Applies the Solver's process-wide settings; returns the Model's private dtype policy and
    random streams (keras_state.py), so the user's global Keras state is left alone."""
    # TF32 only matters on Ampere+ GPUs; on CPUs TensorFlow ignores it. Like HugeCTR's solver
    # setting it applies to the whole process (TensorFlow has no per-model switch).
    tf.config.experimental.enable_tensor_float_32_execution(solver.enable_tf32_compute)
    # use_cuda_graph and use_algorithm_search have no TensorFlow counterpart to switch: XLA
    # and cuBLAS heuristics decide; they are accepted so HugeCTR scripts run unchanged.
    # float16 on GPUs; on CPUs bfloat16 where it is native, else float32 (precision.py).
    policy, note = precision.mixed_precision_policy(solver.use_mixed_precision)
    precision.note_once(note)
    return PrivateKerasState(policy, solver.seed)
