import keras
import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import ELU, PReLUDice, ReLU, Sigmoid, Softmax


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _dice(x, alpha, eps):
    p = 1 / (1 + np.exp(-(x - x.mean(0)) / np.sqrt(x.var(0) + eps)))
    return p * x + (1 - p) * alpha * x


CASES = [
    (ReLU, {}, lambda x: np.maximum(x, 0)),
    (ELU, {"elu_alpha": 0.7}, lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    (Sigmoid, {}, lambda x: 1 / (1 + np.exp(-x))),
    (Softmax, {}, _softmax),
    (PReLUDice, {"elu_alpha": 0.2, "eps": 1e-8}, lambda x: _dice(x, 0.2, 1e-8)),
]


@pytest.mark.parametrize("cls,kwargs,reference", CASES, ids=[c[0].__name__ for c in CASES])
def test_matches_numpy_and_passes_layer_checks(cls, kwargs, reference, rng):
    x = rng.normal(size=(6, 4)).astype("float32")
    out = check_layer(cls, kwargs, x, expected_output_shape=(6, 4))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out), reference(x.astype("float64")), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("cls,kwargs,reference", CASES[1:], ids=[c[0].__name__ for c in CASES[1:]])
def test_gradients(cls, kwargs, reference, rng):
    x = rng.normal(size=(4, 3))
    x[np.abs(x) < 0.05] = 0.5  # ELU's branch point
    assert check_gradients(cls, kwargs, x) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"`eps`.*eps=-0.1"):
        PReLUDice(eps=-0.1)
    with pytest.raises(ValueError, match=r"'dice' \(PReLUDice\).*2-D.*\(2, 3, 4\)"):
        PReLUDice(name="dice")(np.ones((2, 3, 4), "float32"))
