"""The shared layer-test helper must pass a correct layer and catch broken ones."""

import keras
import numpy as np
import pytest
from helpers.layer_test import check_layer


@keras.saving.register_keras_serializable(package="hugectr_tf_tests")
class _Affine(keras.layers.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones")

    def call(self, x):
        return x @ self.w

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="hugectr_tf_tests")
class _ForgetsConfig(_Affine):
    def get_config(self):  # drops `units`: from_config gives a different layer
        return keras.layers.Layer.get_config(self)


def test_helper_accepts_a_correct_layer():
    x = np.arange(8, dtype="float32").reshape(2, 4)
    out = check_layer(_Affine, {"units": 3}, x, expected_output_shape=(2, 3))
    np.testing.assert_allclose(out, x @ np.ones((4, 3), "float32"))


def test_helper_rejects_wrong_shape():
    x = np.ones((2, 4), "float32")
    with pytest.raises(AssertionError, match="output shapes"):
        check_layer(_Affine, {"units": 3}, x, expected_output_shape=(2, 4))


def test_helper_rejects_lossy_config():
    x = np.ones((2, 4), "float32")
    with pytest.raises(AssertionError, match="config misses arguments"):
        check_layer(_ForgetsConfig, {"units": 5}, x, expected_output_shape=(2, 5))


@keras.saving.register_keras_serializable(package="hugectr_tf_tests")
class _MeanLoss(keras.layers.Layer):
    """A scalar output, as a loss layer gives: `fit` cannot pair it with targets."""

    def call(self, inputs):
        return keras.ops.mean(keras.ops.square(inputs[0] - inputs[1]))

    def compute_output_shape(self, input_shape):
        return ()


@keras.saving.register_keras_serializable(package="hugectr_tf_tests")
class _Detached(_MeanLoss):
    def call(self, inputs):
        return keras.ops.mean(keras.ops.stop_gradient(inputs[0]) * 0.0 + inputs[1])


def test_tape_mode_accepts_a_scalar_output_layer():
    x = [np.ones((3, 2), "float32"), np.zeros((3, 2), "float32")]
    out = check_layer(_MeanLoss, {}, x, expected_output_shape=(), train="tape")
    assert float(out) == 1.0


def test_tape_mode_rejects_a_layer_that_blocks_the_gradient():
    x = [np.ones((3, 2), "float32"), np.zeros((3, 2), "float32")]
    with pytest.raises(AssertionError, match="no gradient reaches the first input"):
        check_layer(_Detached, {}, x, train="tape")
