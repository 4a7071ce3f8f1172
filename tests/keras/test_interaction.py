import numpy as np
import pytest
import tensorflow as tf
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import Interaction


def _reference(mlp, emb):
    """Loops written from the DLRM description, independent of the layer's index arithmetic."""
    b, f, w = emb.shape
    rows = []
    for s in range(b):
        z = [mlp[s].astype("float64")] + [emb[s, k].astype("float64") for k in range(f)]
        pairs = [z[i] @ z[j] for i in range(1, f + 1) for j in range(i)]
        rows.append(np.concatenate([z[0], pairs, [0.0]]))
    return np.array(rows)


def test_matches_numpy_and_passes_layer_checks(rng):
    mlp = rng.normal(size=(4, 3)).astype("float32")
    emb = rng.normal(size=(4, 5, 3)).astype("float32")
    n = 6
    out = check_layer(
        Interaction, {}, [mlp, emb], expected_output_shape=(4, 3 + n * (n - 1) // 2 + 1)
    )
    np.testing.assert_allclose(np.asarray(out), _reference(mlp, emb), rtol=1e-5, atol=1e-6)


def test_pair_order_is_row_major_lower_triangle():
    mlp = np.array([[1.0, 0.0]], "float32")
    emb = np.array([[[2.0, 0.0], [3.0, 0.0], [0.0, 1.0]]], "float32")
    out = np.asarray(Interaction()([mlp, emb]))[0]
    # z = [m, e1, e2, e3]; pairs (1,0)=2, (2,0)=3, (2,1)=6, (3,0)=0, (3,1)=0, (3,2)=0, pad 0.
    np.testing.assert_array_equal(out, [1, 0, 2, 3, 6, 0, 0, 0, 0])


def test_gradients(rng):
    inputs = [rng.normal(size=(2, 3)), rng.normal(size=(2, 2, 3))]
    assert check_gradients(Interaction, {}, inputs) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"'inter' \(Interaction\).*must match.*4 and 3"):
        Interaction(name="inter")([np.ones((2, 4), "float32"), np.ones((2, 5, 3), "float32")])
    with pytest.raises(ValueError, match=r"\(Interaction\).*expects 2 input.*received 1"):
        Interaction()([np.ones((2, 5, 3), "float32")])


def test_fused_kernel_and_stock_graph_agree(rng):
    """Eager runs the fused CPU op; XLA tracing takes the stock TensorFlow graph."""
    mlp = tf.constant(rng.normal(size=(64, 16)).astype("float32"))
    emb = tf.constant(rng.normal(size=(64, 26, 16)).astype("float32"))
    layer = Interaction()

    def value_and_grads(m, e):
        with tf.GradientTape() as tape:
            tape.watch([m, e])
            out = layer([m, e])
            loss = tf.reduce_sum(out * out)
        return [out, *tape.gradient(loss, [m, e])]

    fused = value_and_grads(mlp, emb)
    graph = tf.function(value_and_grads, jit_compile=True)(mlp, emb)
    ops = tf.function(value_and_grads).get_concrete_function(mlp, emb).graph.get_operations()
    assert any(op.type == "HugeCTR>DotInteraction" for op in ops)
    for a, b in zip(fused, graph):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5 * float(np.abs(b).max()))
