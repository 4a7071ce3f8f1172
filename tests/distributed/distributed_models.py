"""Small models, data and training loops shared by the tf.distribute tests.

The reference of every test is the same model trained on ONE replica (no strategy) on the same
global batches: N replicas must reproduce it. Keys of different slots never overlap (HugeCTR's
rule, which the Localized split by slot relies on) and slot 0 holds negative keys, so the
non-negative modulo of the split by key is exercised.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

from hugectr_tf.keras import padded_keys
from hugectr_tf.keras.layers import SparseEmbedding

SLOTS = 3
VEC = 4
SAMPLES = 48
GLOBAL_BATCH = 16
EPOCHS = 2
STEPS = EPOCHS * SAMPLES // GLOBAL_BATCH


def mirrored(num_replicas, collective=False):
    """MirroredStrategy over the first `num_replicas` logical CPU devices (tests/conftest.py).

    `collective=False` reduces on one device: TensorFlow's default CPU collectives key their
    groups per strategy, so strategies over different device sets cannot share a process.
    """
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:num_replicas]]
    assert len(devices) == num_replicas, "tests/conftest.py makes 4 logical CPU devices"
    ops = None if collective else tf.distribute.ReductionToOneDevice()
    return tf.distribute.MirroredStrategy(devices, cross_device_ops=ops)


def ragged_keys(seed=0, samples=SAMPLES, max_nnz=3):
    """RaggedTensor [samples, SLOTS, (0..max_nnz)] of int64 keys; slot s holds s*1000 + [-20,40)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, max_nnz + 1, samples * SLOTS)
    slot_of_key = np.repeat(np.arange(samples * SLOTS) % SLOTS, lengths)
    values = rng.integers(-20, 40, lengths.sum()) + 1000 * slot_of_key
    inner = tf.RaggedTensor.from_row_lengths(values.astype(np.int64), lengths)
    return tf.RaggedTensor.from_uniform_row_length(inner, SLOTS)


def dense_keys(seed=0, samples=SAMPLES, nnz=2):
    """int64 [samples, SLOTS, nnz] keys with the same per-slot ranges as `ragged_keys`."""
    rng = np.random.default_rng(seed)
    keys = rng.integers(-20, 40, (samples, SLOTS, nnz)) + 1000 * np.arange(SLOTS)[:, None]
    return keys.astype(np.int64)


def padded_batches(keys, y):
    """Dataset of GLOBAL_BATCH batches of ragged `keys` as the padded pair {"keys", "nnz"}
    (`padded_keys`, padded per global batch before Keras splits it across replicas), and `y`."""
    ds = tf.data.Dataset.from_tensor_slices((keys, y)).batch(GLOBAL_BATCH)
    return ds.map(lambda k, yy: (dict(zip(("keys", "nnz"), padded_keys(k, SLOTS))), yy))


def labels(seed=0, samples=SAMPLES):
    return np.random.default_rng(seed + 100).random((samples, 1)).astype(np.float32)


def build(
    ragged,
    combiner="sum",
    embedding_type="DistributedSlotSparseEmbeddingHash",
    learning_rate=0.05,
    padded=False,
    **kw,
):
    """keys -> SparseEmbedding (sparse Adam) -> Flatten -> Dense(1); same weights every call.

    `padded`: the keys come as the padded pair {"keys", "nnz"} (`padded_batches`).
    """
    keras.utils.set_random_seed(7)
    if padded:
        keys = {
            "keys": keras.Input(shape=(SLOTS, None), dtype="int64", name="keys"),
            "nnz": keras.Input(shape=(SLOTS,), dtype="int64", name="nnz"),
        }
    else:
        shape = (SLOTS, None) if ragged else (SLOTS, 2)
        keys = keras.Input(shape=shape, dtype="int64", name="keys", ragged=ragged)
    emb = SparseEmbedding(
        VEC,
        SLOTS,
        combiner=combiner,
        workspace_size_per_gpu_in_mb=1,
        embedding_type=embedding_type,
        learning_rate=learning_rate,
        name="emb",
        **kw,
    )([keys["keys"], keys["nnz"]] if padded else keys)
    out = keras.layers.Dense(1, name="dense")(keras.layers.Flatten()(emb))
    return keras.Model(keys, out)


def train_custom_loop(model, keys, y):
    """EPOCHS epochs of GLOBAL_BATCH batches with a loop written as tf.distribute documents it:
    per-replica losses divided by the global batch size, `strategy.run` per step (the strategy
    the model was built under, if any)."""
    strategy = model.distribute_strategy
    if strategy.num_replicas_in_sync == 1:
        strategy = None
    with strategy.scope() if strategy else contextlib.nullcontext():
        optimizer = keras.optimizers.Adam(0.01)
        optimizer.build(model.trainable_variables)

    def step(x, yy):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(x, training=True) - yy)) / GLOBAL_BATCH
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    dataset = tf.data.Dataset.from_tensor_slices((keys, y)).batch(GLOBAL_BATCH)
    if strategy is None:
        run = tf.function(step)
    else:
        dataset = strategy.experimental_distribute_dataset(dataset)
        run = tf.function(lambda x, yy: strategy.run(step, args=(x, yy)))
    for _ in range(EPOCHS):
        for x, yy in dataset:
            run(x, yy)


def train_fit(model, keys, y=None):
    """EPOCHS epochs of Keras `fit` (the model's strategy, if built in a scope, distributes) on
    `keys` and `y`, or on a dataset of batches (`keys`, y None)."""
    with model.distribute_strategy.scope():
        model.compile(keras.optimizers.Adam(0.01), "mse")
    if y is None:
        model.fit(keys, epochs=EPOCHS, verbose=0)
    else:
        model.fit(keys, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0)


def table_state(model):
    return {k: v.numpy() for k, v in model.get_layer("emb").table.export().items()}


def assert_same_table(state, reference, atol=1e-5):
    """The merged state of a sharded table equals the one-replica table's."""
    np.testing.assert_array_equal(state["keys"], reference["keys"])
    np.testing.assert_array_equal(state["slot_ids"], reference["slot_ids"])
    np.testing.assert_array_equal(state["last_step"], reference["last_step"])
    assert int(state["step"]) == int(reference["step"])
    np.testing.assert_allclose(state["rows"], reference["rows"], atol=atol)
    np.testing.assert_allclose(state["optimizer_slots"], reference["optimizer_slots"], atol=atol)
