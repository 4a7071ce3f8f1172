import keras
import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import BatchNorm


def _np(v):
    return keras.ops.convert_to_numpy(v).astype("float64")


def test_training_matches_numpy_and_running_stats_follow_cudnn(rng):
    x = rng.normal(2.0, 3.0, size=(8, 5)).astype("float32")
    layer = BatchNorm(factor=0.25, eps=1e-3, gamma_init_type="Uniform")  # Uniform -> Default
    out = _np(layer(x, training=True))
    xd = x.astype("float64")
    mean, var = xd.mean(0), xd.var(0)
    np.testing.assert_allclose(out, (xd - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(layer.running_mean), 0.25 * mean, rtol=1e-5)
    np.testing.assert_allclose(
        _np(layer.running_var), 0.75 * 1.0 + 0.25 * xd.var(0, ddof=1), rtol=1e-5
    )
    inference = _np(layer(x, training=False))
    expected = (xd - _np(layer.running_mean)) / np.sqrt(_np(layer.running_var) + 1e-3)
    np.testing.assert_allclose(inference, expected, rtol=1e-5, atol=1e-5)


def test_layer_checks_and_weight_order(rng):
    x = rng.normal(size=(4, 3)).astype("float32")
    check_layer(BatchNorm, {}, x, expected_output_shape=(4, 3))
    layer = BatchNorm()
    layer.build((None, 3))
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["running_mean", "running_var"]
    np.testing.assert_array_equal(_np(layer.gamma), np.ones(3))
    np.testing.assert_array_equal(_np(layer.beta), np.zeros(3))


def test_gradients_in_training(rng):
    kwargs = {"gamma_init_type": keras.initializers.RandomUniform(0.5, 1.5, seed=1)}
    x = rng.normal(size=(5, 3))
    assert check_gradients(BatchNorm, kwargs, x, call_kwargs={"training": True}) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"`factor`.*factor=0"):
        BatchNorm(factor=0)
    with pytest.raises(ValueError, match=r"`eps`.*eps=-1"):
        BatchNorm(eps=-1)
    with pytest.raises(ValueError, match=r"'bn' \(BatchNorm\).*2-D.*\(2, 3, 4\)"):
        BatchNorm(name="bn")(np.ones((2, 3, 4), "float32"))
