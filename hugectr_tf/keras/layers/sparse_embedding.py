"""`SparseEmbedding`: HugeCTR's hash-table embedding as a Keras layer."""

import contextlib
import warnings

import keras
import numpy as np
import tensorflow as tf

from hugectr_tf import distributed
from hugectr_tf.config import Embedding_t, check_slot_size_array, parse_optimizer
from hugectr_tf.embedding.frozen import frozen_lookup
from hugectr_tf.embedding.keys import key_dtype, keys_to_csr
from hugectr_tf.embedding.table import STATE_NAMES
from hugectr_tf.embedding.training import train_lookup
from hugectr_tf.keras import row_initializers
from hugectr_tf.keras.table_weights import TableWeights
from hugectr_tf.ops import embedding_ops
from hugectr_tf.ops.xla import in_xla_context


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="hugectr_tf")
class SparseEmbedding(keras.layers.Layer):
    """Hash-table embedding over sparse keys with its own sparse optimizer (HugeCTR).

    Each (sample, slot) holds any number of int64 keys; the layer looks up one float32 row per
    key in a dynamic hash table (rows are created the first time a key is seen in training) and
    combines the rows of a slot by sum or mean. The table is trained by its own sparse optimizer
    (`optimizer`, default Adam) inside the backward pass, so a model holding this layer trains
    with plain `model.compile(...)` + `model.fit(...)`: the Keras optimizer updates the dense
    weights, this layer updates its table at the Keras optimizer's current learning rate (its
    schedule and `LearningRateScheduler` included) and undoes its loss scaling (mixed precision).
    Inference (`training=False`, `model.predict`) never inserts keys: an unseen key contributes a
    zero vector. Setting `trainable=False` freezes the table (no inserts, no updates). The table
    is one of `layer.weights` (`get_weights`/`set_weights`, `EarlyStopping(restore_best_weights=
    True)`, `summary()`); docs/embedding.md says how the table follows Keras.

    Args:
        embedding_vec_size: Integer. Floats per embedding row.
        slot_num: Integer. Slots per sample.
        combiner: String. "sum" or "mean" of the rows of one slot.
        workspace_size_per_gpu_in_mb: Number. Memory limit of a hash table: rows, optimizer
            state, counters and index (bytes per row in docs/embedding.md). Exceeding it raises
            an error that says how many MB are needed. A OneHot table holds
            sum(slot_size_array) rows whatever its value (as HugeCTR).
        optimizer: `hugectr_tf.CreateOptimizer(...)`, a dict of its arguments, an optimizer
            name ("Adam", "AdaGrad", "SGD", "MomentumSGD", "Nesterov") or None (Adam defaults,
            update type Global).
        embedding_type: `Embedding_t` or its name: DistributedSlotSparseEmbeddingHash,
            LocalizedSlotSparseEmbeddingHash or LocalizedSlotSparseEmbeddingOneHot.
        slot_size_array: List of integers. Keys per slot for LocalizedSlotSparseEmbeddingOneHot
            (key k of slot s addresses row k + sum(slot_size_array[:s])).
        learning_rate: None (default) or float. None: the table follows the learning rate of
            the Keras optimizer of the model being trained, read at every update. A float:
            the table's own rate, changed with `set_learning_rate` (hugectr.Model uses this for
            HugeCTR's solver rate and scheduler).
        seed: Integer. Seed of the row initialisation.
        embeddings_initializer: None (HugeCTR 3.1's uniform +-0.05) or any
            Keras initializer, applied to a row when its key is first seen in training; the row
            depends only on the key, `seed` and the initializer (see
            `hugectr_tf.keras.row_initializers`).
        embeddings_regularizer: None or a Keras regularizer, applied to the rows of each
            training batch (each key of the batch once) and added to the loss.

    Input shape:
        `tf.RaggedTensor` of integer keys `[batch, slot_num, (nnz)]` (e.g. from
        `keras.Input(shape=(slot_num, None), dtype="int64", ragged=True)`), a dense integer
        tensor `[batch, slot_num]` / `[batch, slot_num, nnz]` (every entry is a key), or the
        padded pair `[keys, nnz]`: keys `[batch, slot_num, max_nnz]` and integer `nnz`
        `[batch, slot_num]`, slot (b, s) holding `keys[b, s, :nnz[b, s]]` (the ragged keys
        in dense tensors: the form Keras' `fit` can split across the replicas of a strategy;
        `hugectr_tf.keras.padded_keys` makes it, docs/distributed.md).

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
        learning_rate=None,
        seed=0,
        embeddings_initializer=None,
        embeddings_regularizer=None,
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
        self.optimizer = parse_optimizer(optimizer)
        self.embedding_type = Embedding_t.parse(embedding_type, "embedding_type")
        self.slot_size_array = check_slot_size_array(list(slot_size_array or []))
        if self.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingOneHot:
            if len(self.slot_size_array) != self.slot_num:
                raise ValueError(
                    "`slot_size_array` must give one size per slot (slot_num="
                    f"{self.slot_num}) for LocalizedSlotSparseEmbeddingOneHot. Received: "
                    f"slot_size_array={slot_size_array!r}"
                )
        if learning_rate is not None and (
            isinstance(learning_rate, bool)
            or not isinstance(learning_rate, (int, float))
            or not learning_rate >= 0
        ):
            raise ValueError(
                "`learning_rate` must be None (follow the Keras optimizer) or a non-negative "
                f"number. Received: learning_rate={learning_rate!r}"
            )
        self.initial_learning_rate = None if learning_rate is None else float(learning_rate)
        self.seed = int(seed)
        self.embeddings_initializer = row_initializers.parse(embeddings_initializer)
        try:
            self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        except (ValueError, TypeError) as err:
            raise ValueError(
                "`embeddings_regularizer` must be None or a Keras regularizer. Received: "
                f"embeddings_regularizer={embeddings_regularizer!r}"
            ) from err
        # The table ops have no XLA kernels: under jit_compile=True, XLA compiles the rest of the
        # model and the lookups and updates run outside it (hugectr_tf/keras/split_step.py).
        self.supports_jit = True
        self._table = None
        self._table_weights = None
        self._row_initializer = None
        # Set by `trained_by` (the split step calls tables directly): a function returning the
        # model being trained (a function, since Keras would track a model as a sub-layer).
        self._training_model = None
        # Loss scaling by the caller's own train step (hugectr_tf.Model sets the solver's
        # scaler): incoming gradients are divided by this. Under Keras' model.fit the loss scale
        # of the model's optimizer is read instead, at every update.
        self.gradient_scale = 1.0
        self._warned_ragged_under_strategy = False

    # ----------------------------------------------------------------------------- building
    def build(self, input_shape=None):
        # Under a strategy with several replicas the table is split across them (one shard each).
        self._table = distributed.create_table(
            f"SparseEmbedding `{self.name}`",
            embedding_vec_size=self.embedding_vec_size,
            workspace_size_per_gpu_in_mb=self.workspace_size_per_gpu_in_mb,
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
        if self.initial_learning_rate is not None:
            self._learning_rate = self.add_weight(
                name="sparse_learning_rate",
                shape=(),
                initializer=keras.initializers.Constant(self.initial_learning_rate),
                trainable=False,
            )
        if self.embeddings_initializer is not None:
            self._row_initializer = row_initializers.RowInitializer(
                self.embeddings_initializer, self.seed, self.embedding_vec_size
            )
        self._table_weights = TableWeights(self)
        self.built = True

    @property
    def table(self):
        """The `hugectr_tf.embedding.EmbeddingTable` (after build)."""
        if self._table is None:
            raise RuntimeError(f"layer `{self.name}` is not built yet: call it on input first")
        return self._table

    @property
    def weights(self):
        """Keras' weights plus the table (`hugectr_tf.keras.table_weights.TableWeights`)."""
        weights = super().weights
        return weights + [self._table_weights] if self._table_weights is not None else weights

    def compute_output_spec(self, inputs, *args, **kwargs):
        # A functional model being built on symbolic keys (a keras.Input).
        self._warn_if_ragged_under_strategy(inputs)
        return super().compute_output_spec(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        padded_pair = len(input_shape) == 2 and isinstance(input_shape[0], (tuple, list))
        batch = input_shape[0][0] if padded_pair else input_shape[0]
        return (batch, self.slot_num, self.embedding_vec_size)

    # ----------------------------------------------------------------------------- forward
    def call(self, inputs, training=None):
        if in_xla_context():
            raise RuntimeError(
                f"SparseEmbedding `{self.name}` is being traced for XLA, but its table ops run "
                "outside XLA only: compile a functional model with `jit_compile=True` (Keras "
                "fit/evaluate/predict then compile the rest of the model), or call the layer "
                "outside the jit_compile=True function"
            )
        values, splits = keys_to_csr(inputs, self.slot_num, f"SparseEmbedding `{self.name}`")
        frozen = frozen_lookup(self)
        if frozen is not None:  # tracing a plugin-free serving graph (hugectr_tf.keras.serving)
            return frozen.lookup(values, splits)
        distributed.check_replicas(self.table, f"SparseEmbedding `{self.name}`")
        train = bool(training and self.trainable)
        if distributed.is_sharded(self.table):  # split across replicas (docs/distributed.md)
            out = self.table.lookup(
                values,
                splits,
                slot_num=self.slot_num,
                combiner=self.combiner,
                key_dtype=key_dtype(inputs),
                trigger=self._update_trigger,
                train_options=self._train_options() if train else None,
            )
            return self._regularized(out, distributed.shard_loss_weight()) if train else out
        handle = self.table.resource_handle
        if train:
            return self._train_lookup(handle, values, splits)
        emb, _ = embedding_ops.lookup_inference(
            handle, values, splits, self.slot_num, self.embedding_vec_size, self.combiner
        )
        return emb

    def _warn_if_ragged_under_strategy(self, inputs):
        """Ragged keys in a model built in the scope of a multi-replica strategy: Keras 3's
        fit/evaluate cannot split them (they stop before any layer runs, in Keras'
        `_maybe_symbolic_build`, which `strategy.reduce`s the first batch: TensorFlow reduces
        dense tensors only). Said once, when the model is built, with what works."""
        if self._warned_ragged_under_strategy or getattr(inputs, "ragged", False) is not True:
            return
        strategy = tf.distribute.get_strategy()
        if strategy.num_replicas_in_sync == 1 or not tf.distribute.in_cross_replica_context():
            return
        self._warned_ragged_under_strategy = True
        warnings.warn(
            f"SparseEmbedding `{self.name}` takes ragged keys in the scope of "
            f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replicas): Keras' "
            "model.fit and model.evaluate cannot split ragged batches across replicas (they "
            "stop with \"AttributeError: 'RaggedTensor' object has no attribute 'device'\"). "
            "For fit/evaluate feed the padded pair [keys, nnz] instead "
            "(hugectr_tf.keras.padded_keys, docs/distributed.md); predict and custom loops "
            "(strategy.run) take ragged keys",
            UserWarning,
            stacklevel=2,
        )

    # ------------------------------------------------------ how the table follows Keras
    def _train_lookup(self, handle, values, splits):
        out = train_lookup(
            handle,
            values,
            splits,
            slot_num=self.slot_num,
            embedding_vec_size=self.embedding_vec_size,
            combiner=self.combiner,
            trigger=self._update_trigger,
            **self._train_options(),
        )
        return self._regularized(out)

    def _train_options(self):
        """`train_lookup`'s options that follow Keras: rate, loss scale, initializer, rows."""
        optimizer = self._keras_optimizer()
        if self.initial_learning_rate is not None:
            learning_rate = self._learning_rate
        else:  # read at update time; only an update needs it (a forward pass just inserts)
            learning_rate = lambda: self._followed_learning_rate(optimizer)  # noqa: E731
        # The loss scale of the caller's own step if it set one, else the optimizer's, read at
        # every update: Keras scales the loss by optimizer.scale_loss (a LossScaleOptimizer
        # under mixed_float16) and unscales only the gradients it applies itself.
        # A dynamic scale that overflowed makes Keras skip its step: the table skips its update.
        scale, skip_nonfinite = self.gradient_scale, False
        if scale == 1.0 and optimizer is not None:
            scale = lambda: optimizer.scale_loss(1.0)  # noqa: E731
            skip_nonfinite = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        return dict(
            learning_rate=learning_rate,
            gradient_scale=scale,
            skip_nonfinite=skip_nonfinite,
            initial_rows=self._row_initializer,
            regularized_rows=self.embeddings_regularizer is not None,
        )

    def _regularized(self, out, weight=1.0):
        """The embeddings of `train_lookup`'s output, adding the rows' regularization loss."""
        if self.embeddings_regularizer is None:
            return out
        emb, rows = out
        self.add_loss(weight * self.embeddings_regularizer(rows))
        return emb

    def _followed_learning_rate(self, optimizer):
        if optimizer is None:
            raise ValueError(
                f"SparseEmbedding `{self.name}` follows the learning rate of the Keras optimizer "
                "(learning_rate=None), but the model being trained has no optimizer: compile it "
                "(model.compile(optimizer=...)) or give the layer a float learning_rate"
            )
        return optimizer.learning_rate

    @contextlib.contextmanager
    def trained_by(self, model):
        """Within: the table follows `model`'s optimizer (learning rate, loss scale) although
        it is called on its own, not inside `model`'s call (hugectr_tf/keras/split_step.py)."""
        previous, self._training_model = self._training_model, lambda: model
        try:
            yield self
        finally:
            self._training_model = previous

    def _keras_optimizer(self):
        """The optimizer of the model being trained, or None.

        Keras' call context names the outermost layer of the running call: the model that
        `model.fit`'s train step (or a custom step) calls, whose `optimizer` compile set;
        `trained_by` names it when the table is called on its own.
        """
        if self._training_model is not None:
            entry = self._training_model()
        else:
            entry = self._get_call_context().entry_layer
        optimizer = getattr(entry, "optimizer", None)  # a layer's own `optimizer` is no Keras one
        return optimizer if isinstance(optimizer, keras.optimizers.Optimizer) else None

    # ----------------------------------------------------------------------------- API
    def set_learning_rate(self, lr):
        """Sets the sparse optimizer's learning rate (used from the next update on).

        Only for a layer built with a float `learning_rate`; one that follows the Keras
        optimizer (learning_rate=None) changes rate with the optimizer's.
        """
        if self.initial_learning_rate is None:
            raise ValueError(
                f"SparseEmbedding `{self.name}` follows the Keras optimizer's learning rate "
                "(learning_rate=None): set the optimizer's rate (or use a schedule or "
                "LearningRateScheduler), or build the layer with a float learning_rate. "
                f"Received: lr={lr!r}"
            )
        self._learning_rate.assign(float(lr))

    def size(self):
        """Number of keys in the table (int)."""
        return int(self.table.size().numpy())

    def export_sparse_model(self, folder):
        """Writes the HugeCTR sparse model folder (`key`, `emb_vector`, [`slot_id`])."""
        self.table.write_sparse_model(folder)

    def import_sparse_model(self, folder):
        """Replaces the table's rows with a HugeCTR sparse model folder (optimizer state resets)."""
        self.table.read_sparse_model(folder)

    def save_optimizer_states(self, path):
        """Writes keys, optimizer slots and step counters to one file (format: embedding/files)."""
        self.table.save_optimizer_states(path)

    def load_optimizer_states(self, path):
        """Loads a file written by `save_optimizer_states` (keys must be in the table)."""
        self.table.load_optimizer_states(path)

    # ----------------------------------------------------------------------------- saving
    def save_own_variables(self, store):
        super().save_own_variables(store)
        for name, value in self.table.export().items():
            store[f"table_{name}"] = value.numpy()

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        for i, v in enumerate(own):
            v.assign(store[f"{i}"])
        self.table.restore({name: store[f"table_{name}"] for name in STATE_NAMES})

    def get_config(self):
        config = {
            "embedding_vec_size": self.embedding_vec_size,
            "slot_num": self.slot_num,
            "combiner": self.combiner,
            "workspace_size_per_gpu_in_mb": self.workspace_size_per_gpu_in_mb,
            "optimizer": self.optimizer.to_config(),
            "embedding_type": self.embedding_type.name,
            "slot_size_array": list(self.slot_size_array),
            "learning_rate": self.initial_learning_rate,
            "seed": self.seed,
            "embeddings_initializer": row_initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
        }
        return {**super().get_config(), **config}
