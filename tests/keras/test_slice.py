import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import Gather, Slice


def test_slice_overlapping_ranges(rng):
    x = rng.normal(size=(4, 6)).astype("float32")
    ranges = [(0, 3), (2, 6), (5, 6)]
    outs = check_layer(Slice, {"ranges": ranges}, x, expected_output_shape=[(4, 3), (4, 4), (4, 1)])
    for out, (a, b) in zip(outs, ranges):
        np.testing.assert_array_equal(np.asarray(out), x[:, a:b])


def test_slice_gradients(rng):
    assert check_gradients(Slice, {"ranges": [(0, 2), (1, 3)]}, rng.normal(size=(2, 3))) > 0


def test_slice_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"ranges=\[\(3, 3\)\]"):
        Slice(ranges=[(3, 3)])
    with pytest.raises(ValueError, match=r"'sl' \(Slice\).*\(2, 7\)\] end past the input width 6"):
        Slice(ranges=[(0, 2), (2, 7)], name="sl")(np.ones((2, 6), "float32"))


def test_gather_rows(rng):
    x = rng.normal(size=(4, 3)).astype("float32")
    idx = [2, 0, 0, 3]
    out = check_layer(Gather, {"indices": idx}, x, expected_output_shape=(4, 3))
    np.testing.assert_array_equal(np.asarray(out), x[idx])


def test_gather_gradients(rng):
    assert check_gradients(Gather, {"indices": [1, 1, 0]}, rng.normal(size=(3, 2))) > 0


def test_gather_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"indices=\[-1\]"):
        Gather(indices=[-1])
    with pytest.raises(ValueError, match=r"'g' \(Gather\).*indices \[5\] are out of range for 4"):
        Gather(indices=[1, 5], name="g")(np.ones((4, 3), "float32"))
