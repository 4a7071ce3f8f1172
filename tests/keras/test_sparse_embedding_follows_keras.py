"""SparseEmbedding follows Keras: the optimizer's learning rate (schedules, callbacks included),
Keras initializers applied per key, and Keras regularizers on the rows of a batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from hugectr_tf.keras.layers import SparseEmbedding
from hugectr_tf.keras.row_initializers import RowInitializer

VEC, SLOTS = 4, 2


def model_over(layer, zero_output=False):
    """keys [B, SLOTS] -> embeddings -> one output (a constant 0 when `zero_output`)."""
    keys = keras.Input(shape=(SLOTS,), dtype="int64", name="keys")
    x = keras.layers.Flatten()(layer(keys))
    if zero_output:
        out = keras.layers.Lambda(lambda t: 0.0 * keras.ops.sum(t, axis=1, keepdims=True))(x)
    else:
        out = keras.layers.Dense(1, kernel_initializer="ones", name="out")(x)
    return keras.Model(keys, out)


def keys_and_targets(n=12):
    keys = np.arange(n * SLOTS, dtype=np.int64).reshape(n, SLOTS) % 10
    return keys, np.linspace(-1, 1, n, dtype=np.float32)[:, None]


def table(layer):
    return {k: v.numpy() for k, v in layer.table.export().items()}


# ------------------------------------------------------------------------------ learning rate
def test_rate_follows_the_keras_schedule_at_every_step():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([2, 4], [0.5, 0.1, 0.02])
    layer = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=1, optimizer="SGD")
    model = model_over(layer)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    keys, y = keys_and_targets()
    model.fit(keys, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    # The table's rate of step t is the schedule at Keras' iteration t - 1.
    expected = [float(schedule(i)) for i in range(6)]
    np.testing.assert_allclose(table(layer)["lr_history"], expected, rtol=1e-6)


def test_rate_follows_learning_rate_scheduler_callback():
    layer = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=1, optimizer="SGD")
    model = model_over(layer)
    model.compile(optimizer=keras.optimizers.SGD(0.9), loss="mse")
    keys, y = keys_and_targets(4)
    callback = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * (epoch + 1))
    model.fit(keys, y, batch_size=2, epochs=3, shuffle=False, verbose=0, callbacks=[callback])
    np.testing.assert_allclose(table(layer)["lr_history"], [0.1, 0.1, 0.2, 0.2, 0.3, 0.3])


def test_keras_rate_zero_stops_the_table_and_a_float_rate_is_kept():
    keys, y = keys_and_targets()
    follower = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=1, optimizer="SGD")
    model = model_over(follower)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    model(keys[:1])  # build, then snapshot the rows the first step creates
    model.fit(keys, y, batch_size=12, epochs=1, verbose=0)
    first = table(follower)
    model.fit(keys, y, batch_size=2, epochs=2, verbose=0)
    np.testing.assert_array_equal(table(follower)["rows"], first["rows"])

    fixed = SparseEmbedding(
        VEC, SLOTS, workspace_size_per_gpu_in_mb=1, optimizer="SGD", learning_rate=0.05
    )
    model = model_over(fixed)
    model.compile(optimizer=keras.optimizers.SGD(0.7), loss="mse")
    model.fit(keys, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(table(fixed)["lr_history"], [0.05] * 3)


def test_following_and_fixed_rate_give_the_same_table():
    keys, y = keys_and_targets()
    tables = []
    for rate in (None, 0.3):
        keras.utils.set_random_seed(3)
        layer = SparseEmbedding(
            VEC, SLOTS, workspace_size_per_gpu_in_mb=1, optimizer="Adam", learning_rate=rate
        )
        model = model_over(layer)
        model.compile(optimizer=keras.optimizers.SGD(0.3), loss="mse")
        model.fit(keys, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
        tables.append(table(layer))
    np.testing.assert_array_equal(tables[0]["keys"], tables[1]["keys"])
    np.testing.assert_allclose(tables[0]["rows"], tables[1]["rows"], rtol=1e-6, atol=1e-7)


def test_following_layer_needs_a_compiled_model_and_refuses_set_learning_rate():
    layer = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=1)
    model = model_over(layer)
    keys = tf.constant([[1, 2]], tf.int64)
    with tf.GradientTape() as tape:
        out = model(keys, training=True)  # a forward pass inserts the keys; no rate needed
    assert layer.size() == 2
    with pytest.raises(ValueError, match="has no optimizer: compile it"):
        tape.gradient(out, model.trainable_weights)  # the update needs the rate
    with pytest.raises(ValueError, match=r"follows the Keras optimizer.*Received: lr=0.1"):
        layer.set_learning_rate(0.1)
    with pytest.raises(ValueError, match="learning_rate=-1"):
        SparseEmbedding(VEC, SLOTS, learning_rate=-1)
    with pytest.raises(ValueError, match="learning_rate=True"):
        SparseEmbedding(VEC, SLOTS, learning_rate=True)


# ------------------------------------------------------------------------------ initializers
def insert(layer, batches):
    """Training-mode calls insert the keys (the rate is fixed, so no optimizer is needed)."""
    for keys in batches:
        layer(tf.constant(keys, tf.int64), training=True)
    return table(layer)


class HalfUniform(keras.initializers.Initializer):
    """A user's own initializer: U(0, 0.5), through Keras' random ops."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        return 0.5 * keras.random.uniform(shape, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"seed": self.seed}


INITIALIZERS = [
    None,
    "uniform",
    keras.initializers.RandomNormal(0.1, 0.3, seed=5),
    keras.initializers.TruncatedNormal(stddev=0.2),
    "glorot_uniform",
    "he_normal",
    "zeros",
    keras.initializers.Constant(0.7),
    HalfUniform(seed=1),
]


@pytest.mark.parametrize("initializer", INITIALIZERS, ids=lambda i: type(i).__name__)
def test_first_row_depends_only_on_key_seed_and_initializer(initializer):
    def layer(seed=0):
        return SparseEmbedding(
            VEC,
            SLOTS,
            workspace_size_per_gpu_in_mb=1,
            learning_rate=0.0,
            seed=seed,
            embeddings_initializer=initializer,
        )

    # The same keys, met in other batches, another order, another batch size.
    a = insert(layer(), [[[1, 2], [3, 4]], [[5, 9], [1, 7]]])
    b = insert(layer(), [[[9, 7]], [[5, 4], [3, 2]], [[1, 1]]])
    np.testing.assert_array_equal(a["keys"], [1, 2, 3, 4, 5, 7, 9])
    np.testing.assert_array_equal(a["keys"], b["keys"])
    np.testing.assert_array_equal(a["rows"], b["rows"])
    if initializer not in ("zeros",) and not isinstance(initializer, keras.initializers.Constant):
        assert len({tuple(r) for r in a["rows"]}) == 7, "two keys share a first row"
        other_seed = insert(layer(seed=1), [[[1, 2], [3, 4]], [[5, 9], [1, 7]]])
        assert not np.array_equal(other_seed["rows"], a["rows"]), "the seed changes nothing"


DISTRIBUTIONS = [
    ("uniform", stats.uniform(-0.05, 0.1)),
    (keras.initializers.RandomUniform(-0.3, 0.9), stats.uniform(-0.3, 1.2)),
    (keras.initializers.RandomNormal(0.1, 0.3), stats.norm(0.1, 0.3)),
    (keras.initializers.TruncatedNormal(0.0, 0.2), stats.truncnorm(-2, 2, 0.0, 0.2)),
    # VarianceScaling draws a (1, vec) weight per row: fan_in 1, fan_out vec (16 here).
    ("glorot_uniform", stats.uniform(-np.sqrt(6 / 17), 2 * np.sqrt(6 / 17))),
    ("he_normal", stats.truncnorm(-2, 2, 0.0, np.sqrt(2.0) / 0.87962566103423978)),
    ("lecun_uniform", stats.uniform(-np.sqrt(3.0), 2 * np.sqrt(3.0))),
    (
        keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"),
        stats.norm(0.0, np.sqrt(2.0 / 16)),
    ),
]


@pytest.mark.parametrize("initializer,reference", DISTRIBUTIONS, ids=lambda x: str(x)[:30])
def test_rows_follow_the_initializers_distribution(initializer, reference):
    layer = SparseEmbedding(
        16,
        1,
        workspace_size_per_gpu_in_mb=2,
        learning_rate=0.0,
        embeddings_initializer=initializer,
    )
    rows = insert(layer, [np.arange(3000, dtype=np.int64)[:, None]])["rows"].ravel()
    # Kolmogorov-Smirnov against scipy's distribution (48000 draws).
    assert stats.kstest(rows, reference.cdf).pvalue > 1e-3


def test_constant_initializers_and_the_default():
    zeros = SparseEmbedding(VEC, SLOTS, learning_rate=0.0, embeddings_initializer="zeros")
    np.testing.assert_array_equal(insert(zeros, [[[1, 2]]])["rows"], np.zeros((2, VEC)))
    seven = SparseEmbedding(
        VEC, SLOTS, learning_rate=0.0, embeddings_initializer=keras.initializers.Constant(0.7)
    )
    np.testing.assert_allclose(insert(seven, [[[1, 2]]])["rows"], np.full((2, VEC), 0.7))
    # None keeps HugeCTR 3.1's hash-table init, U(-0.05, 0.05), computed by the table (the range
    # of keras.layers.Embedding's default "uniform" too).
    default = SparseEmbedding(16, 1, workspace_size_per_gpu_in_mb=2, learning_rate=0.0)
    rows = insert(default, [np.arange(3000, dtype=np.int64)[:, None]])["rows"].ravel()
    assert stats.kstest(rows, stats.uniform(-0.05, 0.1).cdf).pvalue > 1e-3


def test_any_other_initializer_is_called_per_key_with_the_keys_seed():
    init = HalfUniform(seed=4)
    layer = SparseEmbedding(VEC, SLOTS, learning_rate=0.0, seed=3, embeddings_initializer=init)
    got = insert(layer, [[[11, 12]]])
    helper = RowInitializer(init, 3, VEC)
    for key, row in zip(got["keys"], got["rows"]):
        expected = HalfUniform(seed=helper.key_seed(key))(shape=(1, VEC), dtype="float32")
        np.testing.assert_array_equal(row, keras.ops.convert_to_numpy(expected)[0])


def test_one_hot_rows_are_keyed_by_table_key():
    # OneHot tables store key + slot offset; a row's first value follows that table key.
    init = keras.initializers.RandomNormal(stddev=0.5)
    onehot = SparseEmbedding(
        VEC,
        SLOTS,
        embedding_type="LocalizedSlotSparseEmbeddingOneHot",
        slot_size_array=[10, 10],
        learning_rate=0.0,
        embeddings_initializer=init,
    )
    hashed = SparseEmbedding(VEC, SLOTS, learning_rate=0.0, embeddings_initializer=init)
    a = insert(onehot, [[[3, 3]]])
    b = insert(hashed, [[[3, 13]]])
    np.testing.assert_array_equal(a["keys"], [3, 13])
    np.testing.assert_array_equal(a["rows"], b["rows"])


def test_bad_initializer_and_regularizer_are_named():
    with pytest.raises(ValueError, match="embeddings_initializer='no_such'"):
        SparseEmbedding(VEC, SLOTS, embeddings_initializer="no_such")
    with pytest.raises(ValueError, match="embeddings_regularizer=42"):
        SparseEmbedding(VEC, SLOTS, embeddings_regularizer=42)


def test_config_round_trip_keeps_initializer_and_regularizer():
    layer = SparseEmbedding(
        VEC,
        SLOTS,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=0.2, seed=3),
        embeddings_regularizer=keras.regularizers.L2(0.01),
    )
    clone = SparseEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.learning_rate_follows_optimizer if hasattr(clone, "x") else True
    assert isinstance(clone.embeddings_initializer, keras.initializers.RandomNormal)
    assert clone.embeddings_regularizer.get_config() == {"l2": 0.01}
    assert layer.get_config()["learning_rate"] is None


# ------------------------------------------------------------------------------ regularizer
def test_l2_regularizer_on_the_batch_rows_enters_loss_and_update():
    lam, lr = 0.1, 0.5
    layer = SparseEmbedding(
        VEC,
        SLOTS,
        workspace_size_per_gpu_in_mb=1,
        optimizer="SGD",
        embeddings_regularizer=keras.regularizers.L2(lam),
    )
    model = model_over(layer, zero_output=True)  # the data loss is 0: only the regularizer
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    keys = np.array([[1, 2], [2, 3]], np.int64)  # key 2 twice: regularized once
    model(keys)  # build
    insert_batch = layer(tf.constant(keys), training=False)  # inference inserts nothing
    del insert_batch
    history = model.fit(keys, np.zeros((2, 1), np.float32), batch_size=2, epochs=1, verbose=0)
    after = table(layer)
    # Rows before the step are HugeCTR's initial rows of keys 1, 2, 3; recover them by undoing
    # the SGD step analytically: r1 = r0 - lr * 2 * lam * r0.
    before = after["rows"] / (1 - lr * 2 * lam)
    np.testing.assert_allclose(history.history["loss"][0], lam * np.sum(before**2), rtol=1e-5)
    # And those rows are the table's initial rows: |x| <= 0.05.
    assert np.all(np.abs(before) <= 0.05 + 1e-6)
    np.testing.assert_array_equal(after["keys"], [1, 2, 3])
