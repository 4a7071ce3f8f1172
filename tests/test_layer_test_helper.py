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
