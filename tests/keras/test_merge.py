import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import Add, DotProduct, ElementwiseMultiply, Sub

CASES = [
    (Add, 3, lambda xs: xs[0] + xs[1] + xs[2]),
    (Sub, 2, lambda xs: xs[0] - xs[1]),
    (ElementwiseMultiply, 3, lambda xs: xs[0] * xs[1] * xs[2]),
    (DotProduct, 2, lambda xs: xs[0] * xs[1]),
]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("cls,n,reference", CASES, ids=IDS)
def test_matches_numpy_and_passes_layer_checks(cls, n, reference, rng):
    xs = [rng.normal(size=(4, 5)).astype("float32") for _ in range(n)]
    out = check_layer(cls, {}, xs, expected_output_shape=(4, 5))
    np.testing.assert_allclose(np.asarray(out), reference(xs), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls,n,reference", CASES, ids=IDS)
def test_gradients(cls, n, reference, rng):
    assert check_gradients(cls, {}, [rng.normal(size=(2, 3)) for _ in range(n)]) > 0


def test_bad_configuration_messages():
    a = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match=r"'s' \(Sub\).*expects 2 input.*received 3"):
        Sub(name="s")([a, a, a])
    with pytest.raises(ValueError, match=r"\(Add\).*at least 2 input.*received 1"):
        Add()([a])
    with pytest.raises(ValueError, match=r"\(ElementwiseMultiply\).*same shape.*\(2, 4\)"):
        ElementwiseMultiply()([a, np.ones((2, 4), "float32")])
