import keras
import numpy as np
import pytest
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import Dropout


def test_training_drops_with_rate_and_rescales(rng):
    x = rng.uniform(1.0, 2.0, size=(200, 50)).astype("float32")
    out = keras.ops.convert_to_numpy(Dropout(dropout_rate=0.3, seed=3)(x, training=True))
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-6)


def test_inference_is_identity_and_layer_checks(rng):
    x = rng.normal(size=(4, 3)).astype("float32")
    out = check_layer(Dropout, {"dropout_rate": 0.5, "seed": 1}, x, expected_output_shape=(4, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), x)


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"dropout_rate=1.0"):
        Dropout(dropout_rate=1.0)
