import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import FmOrder2


def _reference(x, e):
    v = x.astype("float64").reshape(x.shape[0], -1, e)
    out = np.zeros((x.shape[0], e))
    for i in range(v.shape[1]):  # pairwise form: sum_{i<j} v_i * v_j
        for j in range(i + 1, v.shape[1]):
            out += v[:, i] * v[:, j]
    return out


def test_matches_numpy_and_passes_layer_checks(rng):
    x = rng.normal(size=(4, 12)).astype("float32")
    out = check_layer(FmOrder2, {"out_dim": 3}, x, expected_output_shape=(4, 3))
    np.testing.assert_allclose(np.asarray(out), _reference(x, 3), rtol=1e-5, atol=1e-5)


def test_gradients(rng):
    assert check_gradients(FmOrder2, {"out_dim": 2}, rng.normal(size=(2, 6))) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"out_dim=0"):
        FmOrder2(out_dim=0)
    with pytest.raises(ValueError, match=r"'fm' \(FmOrder2\).*multiple of out_dim=4.*\(2, 6\)"):
        FmOrder2(out_dim=4, name="fm")(np.ones((2, 6), "float32"))
