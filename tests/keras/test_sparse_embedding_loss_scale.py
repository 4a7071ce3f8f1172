"""Loss scaling under Keras' LossScaleOptimizer (mixed_float16 + model.compile) for every sparse
optimizer: the table's update matches the float32 run, and an overflowed step is skipped."""

import keras
import numpy as np
import pytest

from hugectr_tf.keras.layers import SparseEmbedding

VEC, SLOTS = 4, 3
OPTIMIZERS = [
    # epsilon 1e-3, not 1e-7: Adam's first step lr * g / (|g| + eps) is a sign for |g| >> eps,
    # which no loss-scale error would change, and ill-conditioned for |g| ~ 1e-7, where float16
    # compute noise moves it; at 1e-3 the step follows g over the gradients this model has.
    {"optimizer_type": "Adam", "epsilon": 1e-3},
    {"optimizer_type": "AdaGrad"},
    {"optimizer_type": "SGD"},
    {"optimizer_type": "MomentumSGD", "momentum_factor": 0.9},
    {"optimizer_type": "Nesterov", "momentum_factor": 0.9},
]


def one_step(policy, sparse_optimizer, keras_optimizer):
    """Rows before and after one fit step of a small model under `policy`."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        keys_in = keras.Input(shape=(SLOTS,), dtype="int64")
        layer = SparseEmbedding(
            VEC, SLOTS, workspace_size_per_gpu_in_mb=1, optimizer=sparse_optimizer
        )
        hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(layer(keys_in)))
        model = keras.Model(keys_in, keras.layers.Dense(1)(hidden))
        model.compile(keras_optimizer, loss=keras.losses.BinaryCrossentropy(from_logits=True))
        rng = np.random.default_rng(0)
        keys = rng.integers(0, 30, size=(64, SLOTS)).astype(np.int64)
        labels = rng.integers(0, 2, size=(64, 1)).astype(np.float32)
        model(keys, training=True)  # inserts the keys: the rows before the step
        before = layer.table.export()["rows"].numpy()
        dense_before = model.layers[-1].kernel.numpy()
        model.fit(keys, labels, batch_size=64, epochs=1, verbose=0)
        state = layer.table.export()
        return (
            model.optimizer,
            before,
            state["rows"].numpy(),
            int(state["step"]),
            dense_before,
            model.layers[-1].kernel.numpy(),
        )
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("sparse", OPTIMIZERS, ids=lambda o: o["optimizer_type"])
def test_mixed_float16_update_matches_float32(sparse):
    opt32, before32, after32, _, _, _ = one_step("float32", sparse, keras.optimizers.SGD(0.1))
    opt16, before16, after16, _, _, _ = one_step("mixed_float16", sparse, keras.optimizers.SGD(0.1))
    assert isinstance(opt16, keras.optimizers.LossScaleOptimizer)  # Keras scales the loss
    assert not isinstance(opt32, keras.optimizers.LossScaleOptimizer)
    np.testing.assert_array_equal(before16, before32)  # same keys, same first rows
    change32, change16 = after32 - before32, after16 - before16
    assert np.abs(change32).max() > 1e-4, "the step changed nothing"
    # float16 compute in the dense layers: gradients agree to about 3 decimal digits.
    np.testing.assert_allclose(change16, change32, rtol=2e-2, atol=2e-3 * np.abs(change32).max())


def test_an_overflowed_step_is_skipped_by_the_table_as_by_keras():
    huge = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=2.0**60)
    _, before, after, step, dense_before, dense_after = one_step(
        "mixed_float16", {"optimizer_type": "SGD"}, huge
    )
    np.testing.assert_array_equal(dense_after, dense_before)  # Keras skipped its step
    np.testing.assert_array_equal(after, before)  # and so did the table
    assert step == 0
    assert float(huge.dynamic_scale.numpy()) == 2.0**59  # Keras halved the scale
