"""`HugeCTR>FusedAdam` (cc/core/dense/adam.cc) against numpy and against Keras' own Adam.

The numpy reference applies Adam's formulas in float32, one rounding per operation (numpy's
float32 arithmetic), in the order Keras 3's `Adam.update_step` uses; the kernel promises the same
arithmetic, so the comparisons are exact. `optimizers.fused_apply` must equal
`keras.optimizers.Adam.apply` bit for bit over several steps, and fall back to it where the fused
op does not apply.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.api.optimizers import fused_apply
from hugectr_tf.ops import dense_ops

# Sizes on both sides of the kernel's 8192-element block, a scalar-like bias and a 2-D kernel.
SHAPES = [(429, 256), (1, 256), (3, 429), (5,), (20000,)]


def _arrays(rng, scale=1.0):
    return [(scale * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]


def adam_reference(w, m, v, g, lr, step, beta_1=0.9, beta_2=0.999, eps=1e-7):
    """One Adam step in float32, Keras' order of operations (numpy rounds every operation)."""
    f = np.float32
    t = f(step)
    alpha = f(f(lr) * np.sqrt(f(1) - np.power(f(beta_2), t))) / (f(1) - np.power(f(beta_1), t))
    m = m + (g - m) * f(1 - beta_1)
    v = v + (g * g - v) * f(1 - beta_2)
    w = w - (m * alpha) / (np.sqrt(v) + f(eps))
    return w, m, v


def test_fused_adam_op_matches_numpy():
    rng = np.random.default_rng(1)
    w0, m0, g = _arrays(rng), _arrays(rng, 0.1), _arrays(rng)
    v0 = [np.abs(a) for a in _arrays(rng, 0.01)]
    ws, ms, vs = ([tf.Variable(a) for a in arrays] for arrays in (w0, m0, v0))
    lr, step = 0.01, 3
    f = np.float32
    alpha = f(f(lr) * np.sqrt(f(1) - np.power(f(0.999), f(step)))) / (
        f(1) - np.power(f(0.9), f(step))
    )
    dense_ops.fused_adam(ws, ms, vs, g, alpha, 0.9, 0.999, 1e-7)
    for k in range(len(SHAPES)):
        w, m, v = adam_reference(w0[k], m0[k], v0[k], g[k], lr, step)
        np.testing.assert_array_equal(ms[k].numpy(), m)
        np.testing.assert_array_equal(vs[k].numpy(), v)
        np.testing.assert_array_equal(ws[k].numpy(), w)


def _keras_pair(optimizer_fn):
    rng = np.random.default_rng(2)
    init = _arrays(rng)
    pairs = []
    for _ in range(2):
        variables = [keras.Variable(a) for a in init]
        optimizer = optimizer_fn()
        optimizer.build(variables)
        pairs.append((variables, optimizer))
    return pairs, rng


@pytest.mark.parametrize(
    "optimizer_fn",
    [
        lambda: keras.optimizers.Adam(0.01),
        lambda: keras.optimizers.Adam(0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
        lambda: keras.optimizers.Adam(0.01, amsgrad=True),  # not fused: Keras' own apply
        lambda: keras.optimizers.SGD(0.1, momentum=0.9),  # not Adam: Keras' own apply
    ],
    ids=["adam", "adam-betas", "amsgrad-fallback", "sgd-fallback"],
)
def test_fused_apply_equals_keras_apply_bit_for_bit(optimizer_fn):
    ((fused_vars, fused_opt), (keras_vars, keras_opt)), rng = _keras_pair(optimizer_fn)
    fused_step = tf.function(lambda grads: fused_apply(fused_opt, fused_vars)(grads))
    keras_step = tf.function(lambda grads: keras_opt.apply(grads, keras_vars))
    for _ in range(4):
        grads = [tf.constant(a) for a in _arrays(rng)]
        fused_step(grads)
        keras_step(grads)
    for a, b in zip(fused_vars, keras_vars):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fused_opt.iterations.numpy()) == int(keras_opt.iterations.numpy()) == 4
    ops = fused_step.get_concrete_function([tf.TensorSpec(s) for s in SHAPES]).graph
    fused_ops = [op for op in ops.get_operations() if op.type == "HugeCTR>FusedAdam"]
    plain = isinstance(fused_opt, keras.optimizers.Adam) and not fused_opt.amsgrad
    assert len(fused_ops) == (1 if plain else 0)


def test_a_read_before_the_update_keeps_the_old_values():
    # A value read before the op must not change under it (the variable is copied first).
    w = tf.Variable(np.ones(10, np.float32))
    m, v = tf.Variable(np.zeros(10, np.float32)), tf.Variable(np.zeros(10, np.float32))

    @tf.function
    def step():
        before = w.read_value()
        with tf.control_dependencies([before]):
            dense_ops.fused_adam([w], [m], [v], [tf.ones(10)], 0.5, 0.9, 0.999, 1e-7)
        return before

    np.testing.assert_array_equal(step().numpy(), np.ones(10, np.float32))
    assert np.all(w.numpy() < 1)


def test_bad_calls_name_what_is_wrong():
    w = tf.Variable(np.ones((2, 3), np.float32))
    m, v = tf.Variable(np.zeros((2, 3), np.float32)), tf.Variable(np.zeros((2, 3), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="first moment variable of weight 0"):
        bad_m = tf.Variable(np.zeros((3, 2), np.float32))
        dense_ops.fused_adam([w], [bad_m], [v], [tf.ones((2, 3))], 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(tf.errors.InvalidArgumentError, match="weight"):
        dense_ops.fused_adam([w], [m], [v], [tf.ones((3, 2))], 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha must be a scalar"):
        dense_ops.fused_adam([w], [m], [v], [tf.ones((2, 3))], [0.1, 0.2], 0.9, 0.999, 1e-7)
    with pytest.raises(ValueError, match="sizes"):
        dense_ops.fused_adam([w], [m, m], [v], [tf.ones((2, 3))], 0.1, 0.9, 0.999, 1e-7)
