"""Fused dense kernels (cc/core/dense) against numpy: forward and every gradient.

The references follow the layer definitions step by step (HugeCTR's layer-by-layer cross
recursion and its hand-written backward; DLRM's pairwise dots), independent of the kernels'
unrolled and vectorised arithmetic.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.ops import dense_ops

REPO = Path(__file__).resolve().parents[2]


def cross_reference(x0, w, b, dy):
    """HugeCTR's recursion forward, its backward layer by layer, in float64."""
    x0, w, b, dy = (a.astype("float64") for a in (x0, w, b, dy))
    xs, ss = [x0], []
    for wl, bl in zip(w, b):
        s = xs[-1] @ wl
        ss.append(s)
        xs.append(x0 * s[:, None] + bl + xs[-1])
    dx, dx0 = dy.copy(), np.zeros_like(x0)
    dw, db = np.zeros_like(w), np.zeros_like(b)
    for layer in reversed(range(len(w))):
        ds = (dx * x0).sum(1)
        dx0 += dx * ss[layer][:, None]
        db[layer] = dx.sum(0)
        dw[layer] = (ds[:, None] * xs[layer]).sum(0)
        dx = dx + ds[:, None] * w[layer]
    return xs[-1], dx0 + dx, dw, db


def interaction_reference(mlp, emb, dout):
    mlp, emb, dout = (a.astype("float64") for a in (mlp, emb, dout))
    batch, f, w = emb.shape
    n = f + 1
    out, dmlp, demb = [], dout[:, :w].copy(), np.zeros_like(emb)
    for r in range(batch):
        z = np.concatenate([mlp[r : r + 1], emb[r]])
        pairs = [z[i] @ z[j] for i in range(1, n) for j in range(i)]
        out.append(np.concatenate([mlp[r], pairs, [0.0]]))
        g = np.zeros((n, n))
        g[np.tril_indices(n, -1)] = dout[r, w:-1]  # same row-major order as the pairs
        dz = (g + g.T) @ z
        dmlp[r] += dz[0]
        demb[r] = dz[1:]
    return np.array(out), dmlp, demb


def _grads(fn, inputs, dy):
    tensors = [tf.constant(a) for a in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = fn(*tensors)
    return out.numpy(), [g.numpy() for g in tape.gradient(out, tensors, output_gradients=dy)]


@pytest.mark.parametrize("dtype,tol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("batch,width,layers", [(1, 3, 1), (5, 7, 3), (300, 429, 3), (129, 17, 6)])
def test_multi_cross_matches_layer_by_layer_reference(dtype, tol, batch, width, layers):
    rng = np.random.default_rng(batch * width + layers)
    x0 = rng.normal(size=(batch, width)).astype(dtype)
    w = (rng.normal(size=(layers, width)) / np.sqrt(width)).astype(dtype)
    b = rng.normal(scale=0.1, size=(layers, width)).astype(dtype)
    dy = rng.normal(size=(batch, width)).astype(dtype)
    want = cross_reference(x0, w, b, dy)
    y, (dx0, dw, db) = _grads(dense_ops.multi_cross, [x0, w, b], dy)
    for got, ref in zip((y, dx0, dw, db), want):
        assert got.dtype == dtype
        scale = np.abs(ref).max()
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * scale)


def test_multi_cross_results_do_not_depend_on_threads():
    rng = np.random.default_rng(0)
    x0, dy = rng.normal(size=(2, 1000, 40)).astype("float32")
    w, b = rng.normal(size=(2, 3, 40)).astype("float32")
    first = _grads(dense_ops.multi_cross, [x0, w, b], dy)
    again = _grads(dense_ops.multi_cross, [x0, w, b], dy)
    for a, c in zip([first[0], *first[1]], [again[0], *again[1]]):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype,tol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("batch,f,w", [(1, 1, 1), (3, 5, 3), (64, 26, 16), (7, 9, 13)])
def test_dot_interaction_matches_pairwise_reference(dtype, tol, batch, f, w):
    rng = np.random.default_rng(batch + f + w)
    mlp = rng.normal(size=(batch, w)).astype(dtype)
    emb = rng.normal(size=(batch, f, w)).astype(dtype)
    width = w + (f + 1) * f // 2 + 1
    dout = rng.normal(size=(batch, width)).astype(dtype)
    want = interaction_reference(mlp, emb, dout)
    out, (dmlp, demb) = _grads(dense_ops.dot_interaction, [mlp, emb], dout)
    assert out.shape == (batch, width)
    for got, ref in zip((out, dmlp, demb), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())


def inner_product_reference(x, kernel, bias, dy, relu):
    x, kernel, bias, dy = (a.astype("float64") for a in (x, kernel, bias, dy))
    pre = x @ kernel + bias
    y = np.maximum(pre, 0) if relu else pre
    dz = dy * (pre > 0) if relu else dy
    return y, dz @ kernel.T, x.T @ dz, dz.sum(0)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("dtype,tol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize(
    "batch,n_in,n_out", [(1, 1, 1), (7, 5, 3), (97, 300, 17), (200, 429, 256), (13, 600, 40)]
)
def test_inner_product_matches_numpy(relu, dtype, tol, batch, n_in, n_out):
    rng = np.random.default_rng(batch + n_in + n_out)
    x = rng.normal(size=(batch, n_in)).astype(dtype)
    kernel = (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
    bias = rng.normal(scale=0.1, size=(n_out,)).astype(dtype)
    dy = rng.normal(size=(batch, n_out)).astype(dtype)
    want = inner_product_reference(x, kernel, bias, dy, relu)
    if relu and batch * n_out > 1:
        assert (want[0] == 0).any() and (want[0] > 0).any(), "the ReLU must cut some values"
    y, grads = _grads(lambda *a: dense_ops.inner_product(*a, relu=relu), [x, kernel, bias], dy)
    for got, ref in zip((y, *grads), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_shapes_are_inferred_in_graphs():
    @tf.function
    def f(x0, w, b, mlp, emb):
        return dense_ops.multi_cross(x0, w, b), dense_ops.dot_interaction(mlp, emb)

    spec = tf.TensorSpec
    concrete = f.get_concrete_function(
        spec([None, 6]), spec([2, 6]), spec([2, 6]), spec([None, 4]), spec([None, 3, 4])
    )
    cross, inter = concrete.structured_outputs
    assert cross.shape.as_list() == [None, 6]
    assert inter.shape.as_list() == [None, 4 + 6 + 1]


def test_bad_shapes_name_what_was_received():
    ones = np.ones
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"weights, biases.*\[4,5\]"):
        dense_ops.multi_cross(ones((3, 6), "float32"), ones((4, 5), "float32"), ones((4, 5), "f4"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[2,3\].*\[2,4,5\]"):
        dense_ops.dot_interaction(ones((2, 3), "float32"), ones((2, 4, 5), "float32"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[4,3\].*\[4,5\].*\[5\]"):
        dense_ops.inner_product(ones((4, 3), "float32"), ones((4, 5), "float32"), ones(5, "f4"))
    with pytest.raises((TypeError, tf.errors.NotFoundError, tf.errors.InvalidArgumentError)):
        dense_ops.multi_cross(ones((3, 6), "int32"), ones((1, 6), "int32"), ones((1, 6), "int32"))


def test_fused_kernels_stay_out_of_xla_and_can_be_switched_off():
    seen = []

    def probe(x):
        seen.append(dense_ops.fused_kernels_apply(x.dtype))
        return x

    tf.function(probe)(tf.ones([1]))
    tf.function(probe, jit_compile=True)(tf.ones([1]))
    tf.function(probe)(tf.ones([1], tf.float16))
    with dense_ops.stock_ops_only():
        tf.function(probe)(tf.ones([2]))
    tf.function(probe)(tf.ones([3]))
    assert seen == [True, False, False, False, True]


def test_core_builds_without_tensorflow():
    """cc/core/dense compiles with a plain g++ and no TensorFlow headers (syntax check)."""
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ not found")
    for src in sorted((REPO / "cc" / "core" / "dense").glob("*.cc")):
        cmd = [cxx, "-std=c++17", "-fsyntax-only", f"-I{REPO}", str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-3000:]
