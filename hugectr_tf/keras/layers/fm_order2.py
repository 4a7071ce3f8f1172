"""FmOrder2: the second-order term of a factorization machine (DeepFM, arXiv 1703.04247)."""

import keras

from hugectr_tf.keras.layers._base import check_rank, layer_error, positive_int, serializable


@serializable
class FmOrder2(keras.layers.Layer):
    """`0.5 * ((sum_s v_s)^2 - sum_s v_s^2)` per embedding dimension.

    The input holds S slot vectors of size E flattened to `[B, S*E]`; `out_dim` is E.

    Args:
        out_dim: Integer. The embedding vector size E.

    Input shape:
        `(batch, S * out_dim)`.

    Output shape:
        `(batch, out_dim)`.

    Example:
    >>> tuple(FmOrder2(out_dim=2)(keras.ops.ones((3, 6))).shape)
    (3, 2)
    """

    def __init__(self, out_dim=0, **kwargs):
        super().__init__(**kwargs)
        self.out_dim = positive_int(out_dim, "out_dim")

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))
        width = input_shape[-1]
        if width is None or width % self.out_dim:
            raise layer_error(
                self,
                f"input width must be a multiple of out_dim={self.out_dim}, "
                f"received shape {tuple(input_shape)}",
            )

    def call(self, inputs):
        v = keras.ops.reshape(inputs, (-1, inputs.shape[-1] // self.out_dim, self.out_dim))
        s = keras.ops.sum(v, axis=1)
        return 0.5 * (s * s - keras.ops.sum(v * v, axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.out_dim)

    def get_config(self):
        return {**super().get_config(), "out_dim": self.out_dim}
