import keras
import numpy as np
import pytest
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import Cast


def test_flips_precision_and_layer_checks(rng):
    x = rng.normal(size=(4, 3)).astype("float32")
    out = check_layer(Cast, {}, x, expected_output_shape=(4, 3), train="tape")
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), x.astype("float16"))
    back = Cast()(out)
    assert keras.backend.standardize_dtype(back.dtype) == "float32"


def test_symbolic_output_dtype():
    inp = keras.Input((3,), dtype="float16")
    assert Cast()(inp).dtype == "float32"
    assert Cast(out_dtype="float16")(keras.Input((3,))).dtype == "float16"


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"out_dtype='int8'"):
        Cast(out_dtype="int8")
    with pytest.raises(ValueError, match=r"'c' \(Cast\).*float32 or float16, received float64"):
        Cast(name="c")(np.ones((2, 2), "float64"))
