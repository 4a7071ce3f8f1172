import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import ReduceMean, ReduceSum


@pytest.mark.parametrize("cls,fn", [(ReduceSum, np.sum), (ReduceMean, np.mean)])
@pytest.mark.parametrize("axis", [1, 2])
def test_matches_numpy_and_passes_layer_checks(cls, fn, axis, rng):
    x = rng.normal(size=(4, 3, 5)).astype("float32")
    shape = [4, 3, 5]
    shape[axis] = 1
    out = check_layer(cls, {"axis": axis}, x, expected_output_shape=tuple(shape))
    np.testing.assert_allclose(np.asarray(out), fn(x, axis=axis, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("cls", [ReduceSum, ReduceMean])
def test_axis_zero_reduces_the_batch(cls, rng):
    x = rng.normal(size=(4, 3)).astype("float32")
    out = check_layer(cls, {"axis": 0}, x, expected_output_shape=(1, 3), train="tape")
    fn = np.sum if cls is ReduceSum else np.mean
    np.testing.assert_allclose(np.asarray(out), fn(x, axis=0, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("cls", [ReduceSum, ReduceMean])
def test_gradients(cls, rng):
    assert check_gradients(cls, {"axis": 1}, rng.normal(size=(2, 3, 2))) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"axis=-1"):
        ReduceSum(axis=-1)
    with pytest.raises(ValueError, match=r"'rs' \(ReduceSum\).*axis=2 is out of range.*\(2, 3\)"):
        ReduceSum(axis=2, name="rs")(np.ones((2, 3), "float32"))
