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
