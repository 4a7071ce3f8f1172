"""`SparseEmbedding`: HugeCTR's hash-table embedding as a Keras layer."""

import keras
import numpy as np
import tensorflow as tf

from hugectr_tf.api.config import OptParamsPy
from hugectr_tf.api.enums import Embedding_t, Optimizer_t
from hugectr_tf.embedding import files
from hugectr_tf.embedding.table import EmbeddingTable
from hugectr_tf.keras import serving
from hugectr_tf.ops import embedding_ops

_LOCALIZED = (
    Embedding_t.LocalizedSlotSparseEmbeddingHash,
    Embedding_t.LocalizedSlotSparseEmbeddingOneHot,
)
_TABLE_STATE = ("keys", "rows", "slot_ids", "optimizer_slots", "last_step", "step", "lr_history")

# The lookup ops have no TensorFlow gradient: the layer routes gradients through
# tf.custom_gradient into the sparse optimizer instead.
for _op in ("HugeCTR>EmbeddingLookupTrain", "HugeCTR>EmbeddingLookupInference"):
    try:
        tf.no_gradient(_op)
    except KeyError:  # already registered (module reloaded)
        pass


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _parse_optimizer(optimizer):
    """None | OptParamsPy | dict of CreateOptimizer arguments | optimizer name -> OptParamsPy."""
    if optimizer is None:
        return OptParamsPy()
    if isinstance(optimizer, OptParamsPy):
        return optimizer
    if isinstance(optimizer, (str, Optimizer_t)):
        return OptParamsPy(optimizer_type=Optimizer_t.parse(optimizer, "optimizer"))
    if isinstance(optimizer, dict):
        try:
            return OptParamsPy(**optimizer)
        except TypeError as err:
            raise ValueError(
                f"`optimizer` dict must hold CreateOptimizer arguments ({err}). "
                f"Received: optimizer={optimizer!r}"
            ) from None
    raise ValueError(
        "`optimizer` must be None, hugectr_tf.CreateOptimizer(...), a dict of its arguments or "
        f"an optimizer name such as 'Adam'. Received: optimizer={optimizer!r}"
    )


def _optimizer_config(opt):
    return {
        "optimizer_type": opt.optimizer_type.name,
        "update_type": opt.update_type.name,
        "beta1": opt.beta1,
        "beta2": opt.beta2,
        "epsilon": opt.epsilon,
        "momentum_factor": opt.momentum_factor,
        "atomic_update": opt.atomic_update,
        "initial_accu_value": opt.initial_accu_value,
    }


@keras.saving.register_keras_serializable(package="hugectr_tf")
class SparseEmbedding(keras.layers.Layer):
    """Hash-table embedding over sparse keys with its own sparse optimizer (HugeCTR).

    Each (sample, slot) holds any number of int64 keys; the layer looks up one float32 row per
    key in a dynamic hash table (rows are created the first time a key is seen in training) and
    combines the rows of a slot by sum or mean. The table is trained by its own sparse optimizer
    (`optimizer`, default Adam) inside the backward pass, so a model holding this layer trains
    with plain `model.compile(...)` + `model.fit(...)`: the Keras optimizer updates the dense
    weights, this layer updates its table. Inference (`training=False`, `model.predict`) never
    inserts keys: an unseen key contributes a zero vector. Setting `trainable=False` freezes the
    table (no inserts, no updates).

    Args:
        embedding_vec_size: Integer. Floats per embedding row.
        slot_num: Integer. Slots per sample.
        combiner: String. "sum" or "mean" of the rows of one slot.
        workspace_size_per_gpu_in_mb: Number. Memory limit of the table: rows, optimizer state,
            counters and index (bytes per row in docs/embedding.md). Exceeding it raises an
            error that says how many MB are needed.
        optimizer: `hugectr_tf.CreateOptimizer(...)`, a dict of its arguments, an optimizer
            name ("Adam", "AdaGrad", "SGD", "MomentumSGD", "Nesterov") or None (Adam defaults,
            update type Global).
        embedding_type: `Embedding_t` or its name: DistributedSlotSparseEmbeddingHash,
            LocalizedSlotSparseEmbeddingHash or LocalizedSlotSparseEmbeddingOneHot.
        slot_size_array: List of integers. Keys per slot for LocalizedSlotSparseEmbeddingOneHot
            (key k of slot s addresses row k + sum(slot_size_array[:s])).
        learning_rate: Float. Learning rate of the sparse optimizer; change it with
            `set_learning_rate` (it lives in a variable, so no retracing).
        seed: Integer. Seed of the row initialisation.

    Input shape:
        `tf.RaggedTensor` of integer keys `[batch, slot_num, (nnz)]` (e.g. from
        `keras.Input(shape=(slot_num, None), dtype="int64", ragged=True)`), or a dense integer
        tensor `[batch, slot_num]` / `[batch, slot_num, nnz]` (every entry is a key).

    Output shape:
        `[batch, slot_num, embedding_vec_size]` float32.

    Example:

    >>> keys = keras.Input(shape=(26, None), dtype="int64", ragged=True)
    >>> emb = SparseEmbedding(16, 26, workspace_size_per_gpu_in_mb=64)(keys)
    >>> logit = keras.layers.Dense(1)(keras.layers.Flatten()(emb))
    >>> model = keras.Model(keys, logit)
    """

    def __init__(
        self,
        embedding_vec_size,
        slot_num,
        combiner="sum",
        workspace_size_per_gpu_in_mb=64,
        optimizer=None,
        embedding_type=Embedding_t.DistributedSlotSparseEmbeddingHash,
        slot_size_array=None,
        learning_rate=0.001,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embedding_vec_size = _positive_int(embedding_vec_size, "embedding_vec_size")
        self.slot_num = _positive_int(slot_num, "slot_num")
        if combiner not in embedding_ops.COMBINERS:
            raise ValueError(f"`combiner` must be 'sum' or 'mean'. Received: combiner={combiner!r}")
        self.combiner = combiner
        if not (
            isinstance(workspace_size_per_gpu_in_mb, (int, float))
            and not isinstance(workspace_size_per_gpu_in_mb, bool)
            and workspace_size_per_gpu_in_mb > 0
        ):
            raise ValueError(
                "`workspace_size_per_gpu_in_mb` must be a positive number. Received: "
                f"workspace_size_per_gpu_in_mb={workspace_size_per_gpu_in_mb!r}"
            )
        self.workspace_size_per_gpu_in_mb = workspace_size_per_gpu_in_mb
        self.optimizer = _parse_optimizer(optimizer)
        self.embedding_type = Embedding_t.parse(embedding_type, "embedding_type")
        self.slot_size_array = [
            _positive_int(s, "slot_size_array") for s in (slot_size_array or [])
        ]
        if self.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingOneHot:
            if len(self.slot_size_array) != self.slot_num:
                raise ValueError(
                    "`slot_size_array` must give one size per slot (slot_num="
                    f"{self.slot_num}) for LocalizedSlotSparseEmbeddingOneHot. Received: "
                    f"slot_size_array={slot_size_array!r}"
                )
        if not isinstance(learning_rate, (int, float)) or not learning_rate >= 0:
            raise ValueError(
                "`learning_rate` must be a non-negative number. Received: "
                f"learning_rate={learning_rate!r}"
            )
        self.initial_learning_rate = float(learning_rate)
        self.seed = int(seed)
        # The custom ops have no XLA kernels.
        self.supports_jit = False
        self._table = None
        # Loss scaling (mixed precision): incoming gradients are divided by this before the
        # sparse optimizer sees them. Set by whoever scales the loss (hugectr_tf.Model does).
        self.gradient_scale = 1.0

    # ----------------------------------------------------------------------------- building
    def build(self, input_shape=None):
        self._table = EmbeddingTable(
            self.embedding_vec_size,
            self.workspace_size_per_gpu_in_mb,
            embedding_type=self.embedding_type,
            slot_size_array=self.slot_size_array,
            seed=self.seed,
            optimizer=self.optimizer,
        )
        # A trainable scalar that stays 0: its gradient is the output of the sparse-optimizer
        # op, so the Keras train step cannot prune the table update (see docs/embedding.md).
        self._update_trigger = self.add_weight(
            name="sparse_update_trigger", shape=(), initializer="zeros", trainable=True
        )
        self._learning_rate = self.add_weight(
            name="sparse_learning_rate",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_learning_rate),
            trainable=False,
        )
        self.built = True

    @property
    def table(self):
        """The `hugectr_tf.embedding.EmbeddingTable` (after build)."""
        if self._table is None:
            raise RuntimeError(f"layer `{self.name}` is not built yet: call it on input first")
        return self._table

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.slot_num, self.embedding_vec_size)

    # ----------------------------------------------------------------------------- forward
    def _csr(self, inputs):
        """Flat int64 keys and row_splits of length batch * slot_num + 1."""
        if isinstance(inputs, tf.RaggedTensor):
            if inputs.ragged_rank == 2:
                outer = inputs.row_lengths()
                check = tf.debugging.assert_equal(
                    outer,
                    tf.cast(self.slot_num, outer.dtype),
                    message=f"SparseEmbedding `{self.name}` expects slot_num={self.slot_num} "
                    "slots in every sample",
                )
                with tf.control_dependencies([check]):
                    values = tf.identity(inputs.values.values)
                splits = inputs.values.row_splits
            elif inputs.ragged_rank == 1 and inputs.shape.rank == 3:
                # [batch, slot_num, (nnz)] stored with a uniform slot dimension.
                inner = inputs.values
                if not isinstance(inner, tf.RaggedTensor):
                    raise ValueError(
                        f"SparseEmbedding `{self.name}` expects a ragged [batch, slot_num, "
                        f"(nnz)] input. Received: {inputs!r}"
                    )
                values, splits = inner.values, inner.row_splits
            else:
                raise ValueError(
                    f"SparseEmbedding `{self.name}` expects a RaggedTensor [batch, slot_num="
                    f"{self.slot_num}, (nnz)]. Received shape {inputs.shape} with "
                    f"ragged_rank={inputs.ragged_rank}"
                )
            return tf.cast(values, tf.int64), tf.cast(splits, tf.int64)
        x = tf.convert_to_tensor(inputs)
        if not x.dtype.is_integer:
            raise ValueError(
                f"SparseEmbedding `{self.name}` expects integer keys. Received dtype {x.dtype}"
            )
        if x.shape.rank == 2:
            x = x[:, :, tf.newaxis]
        if x.shape.rank != 3 or (x.shape[1] is not None and x.shape[1] != self.slot_num):
            raise ValueError(
                f"SparseEmbedding `{self.name}` expects keys [batch, slot_num={self.slot_num}] "
                f"or [batch, slot_num, nnz]. Received shape {x.shape}"
            )
        shape = tf.shape(x, out_type=tf.int64)
        nnz = shape[2]
        splits = tf.range(shape[0] * shape[1] + 1, dtype=tf.int64) * nnz
        return tf.reshape(tf.cast(x, tf.int64), [-1]), splits

    def call(self, inputs, training=None):
        values, splits = self._csr(inputs)
        frozen = serving.frozen_lookup(self)
        if frozen is not None:  # tracing a plugin-free serving graph (hugectr_tf.keras.serving)
            return frozen.lookup(values, splits)
        handle = self.table.resource_handle
        if training and self.trainable:
            return self._train_lookup(handle, values, splits)
        emb, _ = embedding_ops.lookup_inference(
            handle, values, splits, self.slot_num, self.embedding_vec_size, self.combiner
        )
        return emb

    def _train_lookup(self, handle, values, splits):
        emb, unique_keys, inverse = embedding_ops.lookup_train(
            handle, values, splits, self.slot_num, self.embedding_vec_size, self.combiner
        )
        learning_rate = self._learning_rate
        combiner = self.combiner
        scale = float(self.gradient_scale)

        @tf.custom_gradient
        def attach(trigger):
            def grad(d_emb):
                d_emb = tf.cast(tf.convert_to_tensor(d_emb), tf.float32)
                if scale != 1.0:
                    d_emb = d_emb / scale
                key_grads = embedding_ops.backward(
                    d_emb, splits, inverse, unique_keys, combiner=combiner
                )
                zero = embedding_ops.apply_gradients(
                    handle, unique_keys, key_grads, tf.convert_to_tensor(learning_rate)
                )
                # The trigger's gradient is the update op's output: a data dependency.
                return tf.cast(zero, trigger.dtype)

            return tf.identity(emb), grad

        return attach(tf.convert_to_tensor(self._update_trigger))

    # ----------------------------------------------------------------------------- API
    def set_learning_rate(self, lr):
        """Sets the sparse optimizer's learning rate (used from the next update on)."""
        self._learning_rate.assign(float(lr))

    def size(self):
        """Number of keys in the table (int)."""
        return int(self.table.size().numpy())

    def export_sparse_model(self, folder):
        """Writes the HugeCTR sparse model folder (`key`, `emb_vector`, [`slot_id`])."""
        state = self.table.export()
        slot_ids = state["slot_ids"].numpy() if self.embedding_type in _LOCALIZED else None
        files.write_sparse_model(folder, state["keys"].numpy(), state["rows"].numpy(), slot_ids)

    def import_sparse_model(self, folder):
        """Replaces the table's rows with a HugeCTR sparse model folder (optimizer state resets)."""
        keys, rows, slot_ids = files.read_sparse_model(
            folder,
            self.embedding_vec_size,
            need_slot_id=self.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingHash,
        )
        embedding_ops.import_rows(self.table.resource_handle, keys, rows, slot_ids)

    def save_optimizer_states(self, path):
        """Writes keys, optimizer slots and step counters to one file (format: embedding/files)."""
        files.write_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            {k: v.numpy() for k, v in self.table.export().items()},
        )

    def load_optimizer_states(self, path):
        """Loads a file written by `save_optimizer_states` (keys must be in the table)."""
        state = files.read_optimizer_states(
            path,
            embedding_ops.OPTIMIZER_CODES[self.optimizer.optimizer_type],
            self.embedding_vec_size,
        )
        embedding_ops.import_optimizer_state(
            self.table.resource_handle,
            state["keys"],
            state["optimizer_slots"],
            state["last_step"],
            state["step"],
            state["lr_history"],
        )

    # ----------------------------------------------------------------------------- saving
    def save_own_variables(self, store):
        super().save_own_variables(store)
        for name, value in self.table.export().items():
            store[f"table_{name}"] = value.numpy()

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        for i, v in enumerate(own):
            v.assign(store[f"{i}"])
        self.table.restore({name: store[f"table_{name}"] for name in _TABLE_STATE})

    def get_config(self):
        config = {
            "embedding_vec_size": self.embedding_vec_size,
            "slot_num": self.slot_num,
            "combiner": self.combiner,
            "workspace_size_per_gpu_in_mb": self.workspace_size_per_gpu_in_mb,
            "optimizer": _optimizer_config(self.optimizer),
            "embedding_type": self.embedding_type.name,
            "slot_size_array": list(self.slot_size_array),
            "learning_rate": self.initial_learning_rate,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
