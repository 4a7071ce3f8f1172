"""Interaction: DLRM's dot-product feature interaction (Naumov et al. 2019, arXiv 1906.00091)."""

import keras
import numpy as np

from hugectr_tf.keras.layers._base import (
    as_shape_list,
    check_num_inputs,
    check_rank,
    layer_error,
    serializable,
)
from hugectr_tf.ops import dense_ops


@serializable
class Interaction(keras.layers.Layer):
    """Pairwise dot products of the bottom-MLP output and the embedding vectors (DLRM).

    With the MLP vector `m` `[B, w]` and the embeddings `e` `[B, F, w]`, stack the n = F + 1
    vectors `z = [m, e_1, ..., e_F]`. The output is `m`, followed by the strictly lower
    triangle of `z z^T` in row order `(1,0), (2,0), (2,1), (3,0), ...`, followed by one zero,
    which HugeCTR adds so that the width is even: `[B, w + n(n-1)/2 + 1]`.

    Input shape:
        A list `[mlp, embeddings]` of shapes `(batch, w)` and `(batch, F, w)`.

    Output shape:
        `(batch, w + n * (n - 1) / 2 + 1)` with n = F + 1.

    Example:
    >>> tuple(Interaction()([keras.ops.ones((2, 4)), keras.ops.ones((2, 3, 4))]).shape)
    (2, 11)
    """

    def build(self, input_shape):
        shapes = as_shape_list(input_shape)
        check_num_inputs(self, shapes, expected=2)
        mlp, emb = shapes
        check_rank(self, mlp, (2,), "the first input (bottom MLP)")
        check_rank(self, emb, (3,), "the second input (embeddings)")
        if mlp[-1] != emb[-1]:
            raise layer_error(
                self,
                f"the MLP width and the embedding vector size must match, received "
                f"{mlp[-1]} and {emb[-1]} (shapes {mlp} and {emb})",
            )
        n = emb[1] + 1
        rows, cols = np.tril_indices(n, k=-1)  # row-major order of the strict lower triangle
        self._pairs = (rows * n + cols).astype("int32")

    def call(self, inputs):
        mlp, emb = inputs
        if mlp.dtype == emb.dtype and dense_ops.fused_kernels_apply(mlp.dtype):
            # One fused CPU op, forward and backward (docs/benchmarks.md).
            return dense_ops.dot_interaction(mlp, emb)
        z = keras.ops.concatenate([keras.ops.expand_dims(mlp, 1), emb], axis=1)
        gram = keras.ops.matmul(z, keras.ops.transpose(z, (0, 2, 1)))
        n = keras.ops.shape(z)[1]
        flat = keras.ops.reshape(gram, (-1, n * n))
        pairs = keras.ops.take(flat, self._pairs, axis=1)
        pad = keras.ops.zeros_like(pairs[:, :1])
        return keras.ops.concatenate([mlp, pairs, pad], axis=1)

    def compute_output_shape(self, input_shape):
        mlp, emb = as_shape_list(input_shape)
        n = emb[1] + 1
        return (mlp[0], mlp[1] + n * (n - 1) // 2 + 1)
