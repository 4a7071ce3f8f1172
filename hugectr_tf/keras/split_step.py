"""The split step: embedding lookups and sparse updates outside XLA, the dense network compiled.

The table ops of `SparseEmbedding` have no XLA kernels, so a step that XLA compiles whole cannot
hold them. A functional model is cut at its SparseEmbedding layers instead:

1. outside XLA, the lookups run on the batch's keys (under a tape, so that each table's own
   gradient path, the sparse optimizer, is kept);
2. XLA compiles the rest as one function of (dense inputs, embeddings, labels): the dense
   forward, the loss, the backward, the dense optimizer update and the metrics; it also returns
   the gradients with respect to the embeddings;
3. outside XLA, those gradients go back through the lookups' tape: the sparse optimizer updates
   the tables exactly as in the unsplit step.

`SplitNetwork` makes the cut; `hugectr_tf.Model.compile(jit_compile=True)` uses it, and Keras
models holding SparseEmbedding use it when compiled with `jit_compile=True`: this module hooks
`keras.Model.make_train_function` / `make_test_function` / `make_predict_function` (the functions
Keras builds around `train_step`; every other model is left to Keras unchanged). Keras wraps its
step in `tf.function(jit_compile=model.jit_compile)`; for a model it splits, the hook builds the
same wrapper with `jit_compile=False` around a step that calls the XLA-compiled dense function.
Models that cannot be split (subclassed models, nested models holding a table, a table called
twice) are told so once and run without XLA, as Keras does for layers without XLA kernels.
"""

import contextlib
import functools
import warnings

import keras
import tensorflow as tf

from hugectr_tf.keras.layers.sparse_embedding import SparseEmbedding


def _history(tensor):
    """(operation, node) that produced a KerasTensor of a functional graph."""
    operation, node_index, _ = tensor._keras_history
    return operation, operation._inbound_nodes[node_index]


class SplitNetwork:
    """A functional Keras model cut at its `SparseEmbedding` layers.

    Args:
        model: A functional `keras.Model` (or `keras.Sequential`), built.

    Attributes:
        tables: The SparseEmbedding layers, in the model's order.
        dense_model: A functional model of (dense inputs..., one embedding per table) to the
            model's output: everything but the lookups, which XLA can compile.

    Raises:
        ValueError: naming what prevents the cut (not functional, a table inside a nested
            model, a table called more than once).
    """

    def __init__(self, model):
        functional = getattr(model, "_functional", model)  # Sequential keeps one inside
        if not hasattr(functional, "operations") or not getattr(functional, "inputs", None):
            raise ValueError(
                f"model `{model.name}` ({type(model).__name__}) is not a functional Keras model: "
                "the split step needs the graph from inputs to SparseEmbedding layers"
            )
        self.model = functional
        operations = list(functional.operations)
        self.tables = [op for op in operations if isinstance(op, SparseEmbedding)]
        nested = [
            layer.name
            for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, SparseEmbedding) and not any(layer is t for t in self.tables)
        ]
        if nested:
            raise ValueError(
                f"model `{model.name}` holds SparseEmbedding {nested} inside a nested model; "
                "the split step cuts only the top-level graph"
            )
        regularized = [t.name for t in self.tables if t.embeddings_regularizer is not None]
        if regularized:  # its loss is added in the lookup, outside the compiled dense loss
            raise ValueError(
                f"SparseEmbedding {regularized} of model `{model.name}` has an "
                "embeddings_regularizer, whose loss the split step cannot add to the compiled "
                "dense loss"
            )
        key_tensors, embedding_tensors = [], []
        for table in self.tables:
            if len(table._inbound_nodes) != 1:
                raise ValueError(
                    f"SparseEmbedding `{table.name}` is called {len(table._inbound_nodes)} times "
                    "in the model; the split step needs one call per table"
                )
            node = table._inbound_nodes[0]
            key_tensors.append(node.input_tensors[0])
            embedding_tensors.append(node.output_tensors[0])
        self._input_tensors = list(functional.inputs)
        # Keys that are model inputs are taken straight from the batch; others (keys computed by
        # layers, e.g. slot offsets removed) come from a sub-model, run outside XLA too.
        self._key_from_input = [self._input_index(t) for t in key_tensors]
        computed = [t for t, i in zip(key_tensors, self._key_from_input) if i is None]
        self._keys_model = keras.Model(self._input_tensors, computed) if computed else None
        self._dense_input_index = self._inputs_reached(functional.outputs, embedding_tensors)
        self.dense_model = keras.Model(
            [self._input_tensors[i] for i in self._dense_input_index] + embedding_tensors,
            functional.output,
            name=f"{model.name}_dense",
        )

    def _input_index(self, tensor):
        return next((i for i, t in enumerate(self._input_tensors) if t is tensor), None)

    def _inputs_reached(self, outputs, stops):
        """Indices of the model inputs the outputs depend on without passing through `stops`."""
        seen, reached, stack = set(), set(), list(outputs)
        while stack:
            tensor = stack.pop()
            if id(tensor) in seen or any(tensor is s for s in stops):
                continue
            seen.add(id(tensor))
            index = self._input_index(tensor)
            if index is not None:
                reached.add(index)
                continue
            _, node = _history(tensor)
            stack.extend(node.input_tensors)
        return sorted(reached)

    def flat_inputs(self, x):
        """The batch's model inputs as a flat list in the model's input order."""
        structure = self.model.input
        if isinstance(structure, dict):
            return [x[name] for name in sorted(structure)]
        return keras.tree.flatten(x)

    def dense_inputs(self, x):
        flat = self.flat_inputs(x)
        return [flat[i] for i in self._dense_input_index]

    def lookups(self, x, training, model=None):
        """The embeddings of every table for batch x (runs the table ops: outside XLA); the
        tables follow the optimizer of `model` (the Keras model being trained) when given."""
        flat = self.flat_inputs(x)
        computed = []
        if self._keys_model is not None:
            computed = keras.tree.flatten(self._keys_model(flat, training=training))
        keys, k = [], 0
        for index in self._key_from_input:
            if index is None:
                keys.append(computed[k])
                k += 1
            else:
                keys.append(flat[index])
        embeddings = []
        for table, key in zip(self.tables, keys):
            scope = table.trained_by(model) if model is not None else contextlib.nullcontext()
            with scope:
                embeddings.append(table(key, training=training))
        return embeddings

    def sparse_weights(self):
        """The tables' trainable weights, through which their sparse updates run."""
        return [w for table in self.tables for w in table.trainable_weights]

    def dense_weights(self, trainable_weights):
        """`trainable_weights` without those of the tables."""
        sparse = {id(w) for w in self.sparse_weights()}
        return [w for w in trainable_weights if id(w) not in sparse]

    def apply_sparse_updates(self, tape, embeddings, embedding_grads):
        """Sends the gradients of the embeddings through the lookups' tape: each trained table
        runs its backward and sparse optimizer, as in an unsplit step."""
        weights = self.sparse_weights()
        if weights:
            tape.gradient(embeddings, weights, output_gradients=embedding_grads)


# ------------------------------------------------------------------------------------ Keras hook
def _unscale_for_distribution(loss):
    strategy = tf.distribute.get_strategy()
    return loss * tf.cast(strategy.num_replicas_in_sync, loss.dtype)


def _batch_size(tensors):
    return tf.shape(next(t for t in tensors if t is not None))[0]


class _KerasSteps:
    """Keras' train / test / predict steps for a model split by `SplitNetwork`."""

    def __init__(self, model, split):
        self.model, self.split = model, split
        self._train = tf.function(self._dense_train, jit_compile=True, reduce_retracing=True)
        self._test = tf.function(self._dense_test, jit_compile=True, reduce_retracing=True)
        self._predict = tf.function(
            lambda dense, embeddings: split.dense_model(dense + embeddings, training=False),
            jit_compile=True,
            reduce_retracing=True,
        )

    def _dense_train(self, dense, embeddings, y, sample_weight):
        model = self.model
        with tf.GradientTape() as tape:
            tape.watch(embeddings)
            y_pred = self.split.dense_model(dense + embeddings, training=True)
            loss = model.compute_loss(
                y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            model._loss_tracker.update_state(
                _unscale_for_distribution(loss), sample_weight=_batch_size(dense + embeddings)
            )
            if model.optimizer is not None:
                loss = model.optimizer.scale_loss(loss)
        weights = self.split.dense_weights(model.trainable_weights)
        grads = tape.gradient(loss, weights + embeddings)
        if weights:
            model.optimizer.apply_gradients(zip(grads[: len(weights)], weights))
        return model.compute_metrics(None, y, y_pred, sample_weight), grads[len(weights) :]

    def _dense_test(self, dense, embeddings, y, sample_weight):
        model = self.model
        y_pred = self.split.dense_model(dense + embeddings, training=False)
        loss = model.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        model._loss_tracker.update_state(
            _unscale_for_distribution(loss), sample_weight=_batch_size(dense + embeddings)
        )
        return model.compute_metrics(None, y, y_pred, sample_weight)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            embeddings = self.split.lookups(x, training=True, model=self.model)
        logs, grads = self._train(self.split.dense_inputs(x), embeddings, y, sample_weight)
        self.split.apply_sparse_updates(tape, embeddings, grads)
        return logs

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        embeddings = self.split.lookups(x, training=False)
        return self._test(self.split.dense_inputs(x), embeddings, y, sample_weight)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        embeddings = self.split.lookups(x, training=False)
        return self._predict(self.split.dense_inputs(x), embeddings)


_FUNCTIONS = {
    "train_step": "train_function",
    "test_step": "test_function",
    "predict_step": "predict_function",
}


def _holds_tables(model):
    return any(isinstance(layer, SparseEmbedding) for layer in model._flatten_layers())


def _split_steps(model, step_name):
    """The split steps of `model` when Keras would XLA-compile a model holding tables with its
    own `step_name`, else None (Keras builds its usual function). A model that cannot be split
    runs without XLA, as Keras does for layers without XLA kernels, saying why once."""
    if not (model.jit_compile and not model.run_eagerly and _holds_tables(model)):
        return None
    reason = None
    if getattr(type(model), step_name) is not getattr(keras.Model, step_name):
        reason = f"model `{model.name}` overrides {step_name}"
    else:
        try:
            return _KerasSteps(model, SplitNetwork(model))
        except ValueError as err:
            reason = str(err)
    warnings.warn(
        f"jit_compile=True: {reason}; the split step (lookups outside XLA) cannot apply. "
        "Proceeding with jit_compile=False.",
        stacklevel=3,
    )
    model.jit_compile = False
    return None


def _hook(name, step_name):
    original = getattr(keras.Model, name)
    if getattr(original, "_hugectr_split_hook", False):
        return

    @functools.wraps(original)
    def make_function(self, force=False):
        built = getattr(self, _FUNCTIONS[step_name], None)
        if built is not None and not force:
            return built
        if isinstance(getattr(self.__dict__.get(step_name), "__self__", None), _KerasSteps):
            del self.__dict__[step_name]  # a split step of an earlier compile
        steps = _split_steps(self, step_name)
        if steps is None:
            return original(self, force=force)
        # The instance's step is the split one, and Keras' wrapper around it is built without
        # XLA (the dense part inside is compiled): jit_compile is lowered while it is built.
        self.__dict__[step_name] = getattr(steps, step_name)
        self._jit_compile = False
        try:
            return original(self, force=force)
        finally:
            self._jit_compile = True

    make_function._hugectr_split_hook = True
    setattr(keras.Model, name, make_function)


for _name, _step in (
    ("make_train_function", "train_step"),
    ("make_test_function", "test_step"),
    ("make_predict_function", "predict_step"),
):
    _hook(_name, _step)
