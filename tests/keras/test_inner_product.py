import keras
import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.config.enums import Initializer_t
from hugectr_tf.keras.layers import FusedInnerProduct, InnerProduct


def _reference(layer, x, relu):
    w, b = (keras.ops.convert_to_numpy(v) for v in layer.trainable_weights)
    y = x.astype("float64") @ w + b
    return np.maximum(y, 0) if relu else y


@pytest.mark.parametrize("cls,relu", [(InnerProduct, False), (FusedInnerProduct, True)])
def test_matches_numpy_and_passes_layer_checks(cls, relu, rng):
    x = rng.normal(size=(4, 5)).astype("float32")
    layer = cls(num_output=3)
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out, _reference(layer, x, relu), rtol=1e-5, atol=1e-6)
    check_layer(cls, {"num_output": 3}, x, expected_output_shape=(4, 3))


def test_weight_order_and_shapes_follow_hugectr():
    layer = InnerProduct(num_output=3)
    layer.build((None, 5))
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(5, 3), (1, 3)]
    assert [w.name for w in layer.trainable_weights] == ["kernel", "bias"]


@pytest.mark.parametrize("cls", [InnerProduct, FusedInnerProduct])
def test_gradients(cls, rng):
    # Inputs away from the ReLU kink: a bias of +5 keeps every unit active.
    x = rng.normal(size=(3, 4))
    layer_kwargs = {"num_output": 2, "bias_init_type": keras.initializers.Constant(5.0)}
    assert check_gradients(cls, layer_kwargs, x) > 0


def test_uniform_and_zero_initializers_use_hugectr_limits():
    layer = InnerProduct(
        num_output=30, weight_init_type=Initializer_t.Uniform, bias_init_type="Uniform"
    )
    layer.build((None, 50))
    w, b = (keras.ops.convert_to_numpy(v) for v in layer.trainable_weights)
    assert np.abs(w).max() <= 1 / 80 and np.abs(w).max() > 0.8 / 80
    assert np.abs(b).max() <= 1 / 30
    zero = InnerProduct(num_output=3, weight_init_type="Zero", bias_init_type=Initializer_t.Zero)
    zero.build((None, 4))
    assert all(not keras.ops.convert_to_numpy(v).any() for v in zero.trainable_weights)


def test_default_initializer_is_xavier_norm_kernel_and_truncated_normal_bias():
    layer = InnerProduct(num_output=200)
    layer.build((None, 600))
    w, b = (keras.ops.convert_to_numpy(v) for v in layer.trainable_weights)
    kernel_std = np.sqrt(1 / 400) / 0.87962566103423978
    # A normal truncated at 2 stddevs has std 0.8796 * stddev: the fan-average variance 1/400.
    assert abs(w.std() - np.sqrt(1 / 400)) < 0.02 * np.sqrt(1 / 400)
    assert np.abs(w).max() <= 2 * kernel_std + 1e-7
    assert np.abs(b).max() <= 2 * np.sqrt(1 / 200) + 1e-7


def test_xavier_uniform_limit():
    layer = InnerProduct(num_output=10, weight_init_type="XavierUniform")
    layer.build((None, 30))
    w = keras.ops.convert_to_numpy(layer.kernel)
    limit = np.sqrt(3 / 20)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit


def test_keras_initializer_is_accepted_and_serialized():
    layer = InnerProduct(num_output=2, weight_init_type="ones")
    layer.build((None, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel), np.ones((3, 2)))
    clone = InnerProduct.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"`num_output` must be a positive integer.*num_output=0"):
        InnerProduct(num_output=0)
    with pytest.raises(ValueError, match=r"weight_init_type=.*Bogus"):
        InnerProduct(num_output=1, weight_init_type="Bogus")
    layer = InnerProduct(num_output=2, name="fc9")
    with pytest.raises(ValueError, match=r"'fc9' \(InnerProduct\).*received shape \(4,\)"):
        layer(np.ones((4,), "float32"))


@pytest.mark.parametrize("act_type,relu", [("Relu", True), ("None", False)])
def test_fused_act_type_decides_the_relu(act_type, relu, rng):
    x = rng.normal(size=(6, 5)).astype("float32")
    layer = FusedInnerProduct(num_output=4, act_type=act_type, pos_type="Tail")
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out, _reference(layer, x, relu), rtol=1e-5, atol=1e-6)
    assert (out < 0).any() != relu
    clone = FusedInnerProduct.from_config(layer.get_config())
    assert (clone.pos_type.value, clone.act_type.value) == ("Tail", act_type)


def test_fused_bad_position_and_activation_messages():
    with pytest.raises(ValueError, match=r"`pos_type` must be one of FcPosition_t.*Middle"):
        FusedInnerProduct(num_output=1, pos_type="Middle")
    with pytest.raises(ValueError, match=r"`act_type` must be one of Activation_t.*Tanh"):
        FusedInnerProduct(num_output=1, act_type="Tanh")
