import keras
import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import WeightMultiply


def test_matches_numpy_and_passes_layer_checks(rng):
    x = rng.normal(size=(4, 3)).astype("float32")
    layer = WeightMultiply(weight_dims=[3, 2])
    out = keras.ops.convert_to_numpy(layer(x))
    w = keras.ops.convert_to_numpy(layer.kernel)
    expected = np.array([[x[b, i] * w[i, j] for i in range(3) for j in range(2)] for b in range(4)])
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    check_layer(WeightMultiply, {"weight_dims": [3, 2]}, x, expected_output_shape=(4, 6))


def test_weight_shape_and_default_limit():
    layer = WeightMultiply(weight_dims=[20, 30])
    layer.build((None, 20))
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(20, 30)]
    w = keras.ops.convert_to_numpy(layer.kernel)
    limit = np.sqrt(3 / ((20 + 600) / 2))  # XavierUniform, fan-in S, fan-out S*V
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit


def test_gradients(rng):
    assert check_gradients(WeightMultiply, {"weight_dims": [3, 2]}, rng.normal(size=(2, 3))) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"weight_dims=\[3\]"):
        WeightMultiply(weight_dims=[3])
    with pytest.raises(ValueError, match=r"'wm' \(WeightMultiply\).*weight_dims\[0\]=3.*\(2, 4\)"):
        WeightMultiply(weight_dims=[3, 2], name="wm")(np.ones((2, 4), "float32"))
