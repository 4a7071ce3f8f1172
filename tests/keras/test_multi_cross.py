import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import MultiCross


def _reference(x, weights):
    x = x.astype("float64")
    x0, xl = x, x
    for w, b in zip(weights[0::2], weights[1::2]):
        xl = x0 * (xl @ w.reshape(-1, 1)) + b + xl
    return xl


def test_matches_numpy_and_passes_layer_checks(rng):
    x = rng.normal(size=(4, 6)).astype("float32")
    kwargs = {"num_layers": 3, "bias_init_type": keras.initializers.RandomUniform(-0.1, 0.1)}
    layer = MultiCross(**kwargs)
    out = keras.ops.convert_to_numpy(layer(x))
    weights = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
    np.testing.assert_allclose(out, _reference(x, weights), rtol=1e-5, atol=1e-6)
    check_layer(MultiCross, kwargs, x, expected_output_shape=(4, 6))


def test_weight_order_is_w0_b0_w1_b1():
    layer = MultiCross(num_layers=2)
    layer.build((None, 5))
    assert [w.name for w in layer.trainable_weights] == ["w0", "b0", "w1", "b1"]
    assert all(tuple(w.shape) == (1, 5) for w in layer.trainable_weights)


def test_default_initializers_are_xavier_uniform_and_zero():
    layer = MultiCross(num_layers=1)
    layer.build((None, 400))
    w, b = (keras.ops.convert_to_numpy(v) for v in layer.trainable_weights)
    limit = np.sqrt(3 / 400)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert not b.any()


def test_uniform_falls_back_to_default_as_in_hugectr():
    layer = MultiCross(num_layers=1, weight_init_type="Uniform", bias_init_type="XavierNorm")
    layer.build((None, 400))
    w, b = (keras.ops.convert_to_numpy(v) for v in layer.trainable_weights)
    assert np.abs(w).max() > 0.9 * np.sqrt(3 / 400)  # not HugeCTR-FC Uniform's 1/800
    assert not b.any()


def test_gradients(rng):
    kwargs = {"num_layers": 2, "bias_init_type": keras.initializers.RandomUniform(-0.1, 0.1)}
    assert check_gradients(MultiCross, kwargs, rng.normal(size=(3, 4))) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"num_layers=0"):
        MultiCross(num_layers=0)
    with pytest.raises(ValueError, match=r"'mc' \(MultiCross\).*2-D.*\(2, 3, 4\)"):
        MultiCross(num_layers=1, name="mc")(np.ones((2, 3, 4), "float32"))


def test_fused_kernel_and_layer_by_layer_graph_agree(rng):
    """Eager runs the fused CPU op; XLA tracing takes the layer-by-layer graph."""
    x = tf.constant(rng.normal(size=(300, 40)).astype("float32"))
    layer = MultiCross(num_layers=3, bias_init_type=keras.initializers.RandomUniform(-0.1, 0.1))
    layer.build(x.shape)

    def value_and_grads(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs)
            loss = tf.reduce_sum(y * y)
        return [y, *tape.gradient(loss, [inputs, *layer.trainable_weights])]

    fused = value_and_grads(x)
    graph = tf.function(value_and_grads, jit_compile=True)(x)
    ops = tf.function(value_and_grads).get_concrete_function(x).graph.get_operations()
    assert any(op.type == "HugeCTR>MultiCross" for op in ops)
    for a, b in zip(fused, graph):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-4 * float(np.abs(b).max()))
