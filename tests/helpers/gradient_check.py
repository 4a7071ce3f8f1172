"""Finite-difference gradient check of a Keras layer in float64.

The layer is built with `dtype="float64"`; the scalar `sum_k sum(out_k * r_k)` (random fixed
`r_k`) is differentiated by the tape with respect to the floating inputs and every trainable
weight and compared with central differences.
"""

import keras
import numpy as np
import tensorflow as tf


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check_gradients(
    layer_cls,
    init_kwargs,
    inputs,
    call_kwargs=None,
    eps=1e-6,
    rtol=1e-5,
    atol=1e-7,
    wrt_inputs=True,
):
    """Asserts tape gradients equal central differences; returns the number of entries checked."""
    call_kwargs = call_kwargs or {}
    arrays = [np.asarray(a) for a in _as_list(inputs)]
    is_list = isinstance(inputs, (list, tuple))
    floats = [np.issubdtype(a.dtype, np.floating) for a in arrays]
    arrays = [a.astype("float64") if f else a for a, f in zip(arrays, floats)]
    layer = layer_cls(**init_kwargs, dtype="float64")
    variables = [tf.Variable(a) if f else tf.constant(a) for a, f in zip(arrays, floats)]

    def feed():
        return list(variables) if is_list else variables[0]

    outputs = _as_list(layer(feed(), **call_kwargs))
    rng = np.random.default_rng(1)
    probes = [tf.constant(rng.normal(size=o.shape)) for o in outputs]

    def scalar():
        outs = _as_list(layer(feed(), **call_kwargs))
        return sum(tf.reduce_sum(tf.cast(o, tf.float64) * p) for o, p in zip(outs, probes))

    targets = list(layer.trainable_weights)
    if wrt_inputs:
        targets += [v for v, f in zip(variables, floats) if f]
    assert targets, "nothing to differentiate"
    with tf.GradientTape() as tape:
        value = scalar()
    grads = tape.gradient(value, targets)
    checked = 0
    for var, grad in zip(targets, grads):
        grad = np.zeros(var.shape) if grad is None else np.asarray(tf.convert_to_tensor(grad))
        base = np.array(keras.ops.convert_to_numpy(var), dtype="float64")
        numeric = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            for sign in (1, -1):
                bumped = base.copy()
                bumped[idx] += sign * eps
                var.assign(bumped)
                numeric[idx] += sign * float(scalar()) / (2 * eps)
            var.assign(base)
            checked += 1
        np.testing.assert_allclose(grad, numeric, rtol=rtol, atol=atol, err_msg=var.name)
    return checked
