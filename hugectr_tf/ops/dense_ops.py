"""Wrappers of the fused CPU kernels of dense layers (`HugeCTR>MultiCross`,
`HugeCTR>DotInteraction`) and their gradients.

The kernels (cc/core/dense) run float32 and float64 on the CPU. They have no XLA kernels: code
traced for XLA (`jit_compile=True`) and other dtypes or devices use the layers' stock TensorFlow
path instead; `fused_kernels_apply` says which one a layer should take. The speed of both paths
is measured in docs/benchmarks.md.
"""

import contextlib

import tensorflow as tf

from hugectr_tf.ops import load_library
from hugectr_tf.ops.xla import in_xla_context

FUSED_DTYPES = (tf.float32, tf.float64)
_gpu_visible = None
_enabled = True


def _lib():
    return load_library()


def _no_gpu():
    global _gpu_visible
    if _gpu_visible is None:
        _gpu_visible = bool(tf.config.list_logical_devices("GPU"))
    return not _gpu_visible


def fused_kernels_apply(dtype):
    """Whether a layer computing in `dtype` should run the fused CPU kernels here: float32 or
    float64, no GPU visible (the kernels are CPU-only), not traced for XLA and not switched off
    by `stock_ops_only`."""
    return _enabled and tf.as_dtype(dtype) in FUSED_DTYPES and _no_gpu() and not in_xla_context()


@contextlib.contextmanager
def stock_ops_only():
    """Layers traced (or run eagerly) inside take their stock TensorFlow path: to measure the
    fused kernels' gain in a whole step, or to rule them out when debugging."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def multi_cross(x0, weights, biases):
    """All layers of a DCN-v1 cross network in one op.

    Args:
        x0: Tensor (batch, width).
        weights: Tensor (layers, width), row l is w_l.
        biases: Tensor (layers, width), row l is b_l.

    Returns:
        y (batch, width) with x_{l+1} = x0 * (x_l . w_l) + b_l + x_l.
    """
    y, _ = _lib().huge_ctr_multi_cross(x0, weights, biases)
    return y


@tf.RegisterGradient("HugeCTR>MultiCross")
def _multi_cross_grad(op, dy, _ddots):
    x0, weights, biases = op.inputs
    return _lib().huge_ctr_multi_cross_grad(x0, weights, biases, op.outputs[1], dy)


def dot_interaction(mlp, embeddings):
    """DLRM dot interaction as HugeCTR's Interaction layer.

    Args:
        mlp: Tensor (batch, w), the bottom MLP output.
        embeddings: Tensor (batch, f, w).

    Returns:
        (batch, w + n (n - 1) / 2 + 1) with n = f + 1: mlp, the strict lower triangle of
        z z^T (z = [mlp, embeddings...]) in row-major order, and one zero.
    """
    return _lib().huge_ctr_dot_interaction(mlp, embeddings)


@tf.RegisterGradient("HugeCTR>DotInteraction")
def _dot_interaction_grad(op, dout):
    mlp, embeddings = op.inputs
    return _lib().huge_ctr_dot_interaction_grad(mlp, embeddings, dout)


def inner_product(x, kernel, bias, relu=False):
    """`x @ kernel + bias` (bias a vector), then `max(y, 0)` when `relu`, in one op.

    Args:
        x: Tensor (batch, in).
        kernel: Tensor (in, out).
        bias: Tensor (out,).
        relu: Boolean. Fuse the ReLU (HugeCTR's FusedInnerProduct).
    """
    return _lib().huge_ctr_inner_product(x, kernel, bias, relu=bool(relu))


@tf.RegisterGradient("HugeCTR>InnerProduct")
def _inner_product_grad(op, dy):
    x, kernel, _ = op.inputs
    return _lib().huge_ctr_inner_product_grad(
        x, kernel, op.outputs[0], dy, relu=op.get_attr("relu")
    )


def fused_adam(weights, ms, vs, grads, alpha, beta_1, beta_2, epsilon):
    """Adam's update of float32 variables in one op (`HugeCTR>FusedAdam`).

    With Keras 3 Adam's arithmetic, one rounding per operation in its order, so the result equals
    `keras.optimizers.Adam`'s op-by-op update:
    `m += (g - m) * (1 - beta_1)`, `v += (g * g - v) * (1 - beta_2)`,
    `w -= (m * alpha) / (sqrt(v) + epsilon)`.

    Args:
        weights, ms, vs: Lists of N float32 `tf.Variable`s (weights and Adam's two moments).
        grads: List of N float32 tensors, each of its weight's shape.
        alpha: Scalar float32 tensor, `lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`.
        beta_1, beta_2, epsilon: Python floats (`1 - beta` is rounded to float32 once, as
            Keras' Python arithmetic does).

    Returns:
        The op (it has no outputs).
    """
    lists = {"weights": weights, "ms": ms, "vs": vs, "grads": grads}
    sizes = {name: len(items) for name, items in lists.items()}
    if len(set(sizes.values())) != 1 or not weights:
        raise ValueError(f"fused_adam needs N >= 1 of each list, all equal. Received sizes {sizes}")
    return _lib().huge_ctr_fused_adam(
        [w.handle for w in weights],
        [m.handle for m in ms],
        [v.handle for v in vs],
        [tf.convert_to_tensor(g, tf.float32) for g in grads],
        tf.convert_to_tensor(alpha, tf.float32),
        one_minus_beta1=1 - beta_1,
        one_minus_beta2=1 - beta_2,
        epsilon=epsilon,
    )
