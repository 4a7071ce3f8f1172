"""MultiCross: the cross network of DCN (Wang et al. 2017, arXiv 1708.05123)."""

import keras

from hugectr_tf.config import Initializer_t
from hugectr_tf.keras import initializers
from hugectr_tf.keras.layers._base import check_rank, layer_error, positive_int, serializable
from hugectr_tf.ops import dense_ops


@serializable
class MultiCross(keras.layers.Layer):
    """`num_layers` DCN-v1 cross layers: `x_{l+1} = x0 * (x_l . w_l) + b_l + x_l`.

    `x_l . w_l` is one scalar per sample; `w_l` and `b_l` have shape `[1, n]`. The weights are
    created in HugeCTR's order `w0, b0, w1, b1, ...`. `Initializer_t.Default` is HugeCTR's:
    XavierUniform (fan-average over n and n) for `w_l`, zeros for `b_l`. As in HugeCTR, whose
    MultiCross overrides only its Default, Uniform / XavierNorm / XavierUniform also give the
    Default; Zero gives zeros.

    Args:
        num_layers: Integer. Number of cross layers (positive).
        weight_init_type: `Initializer_t`, its name, or a Keras initializer for the `w_l`.
        bias_init_type: `Initializer_t`, its name, or a Keras initializer for the `b_l`.

    Input shape:
        `(batch, n)`.

    Output shape:
        `(batch, n)`.

    Example:
    >>> tuple(MultiCross(num_layers=2)(keras.ops.ones((3, 5))).shape)
    (3, 5)
    """

    def __init__(
        self,
        num_layers=1,
        weight_init_type=Initializer_t.Default,
        bias_init_type=Initializer_t.Default,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = positive_int(num_layers, "num_layers")
        self.weight_init_type = initializers.parse(weight_init_type, "weight_init_type")
        self.bias_init_type = initializers.parse(bias_init_type, "bias_init_type")

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))
        if input_shape[-1] is None:
            raise layer_error(self, f"input width must be known, received shape {input_shape}")
        n = int(input_shape[-1])
        self.cross_weights, self.cross_biases = [], []
        for i in range(self.num_layers):
            self.cross_weights.append(
                self.add_weight(
                    name=f"w{i}",
                    shape=(1, n),
                    initializer=initializers.to_keras(
                        self.weight_init_type,
                        n,
                        n,
                        default=initializers.xavier_uniform(n, n),
                        overridden=False,
                    ),
                )
            )
            self.cross_biases.append(
                self.add_weight(
                    name=f"b{i}",
                    shape=(1, n),
                    initializer=initializers.to_keras(
                        self.bias_init_type,
                        0,
                        n,
                        default=keras.initializers.Zeros(),
                        overridden=False,
                    ),
                )
            )

    def call(self, inputs):
        if dense_ops.fused_kernels_apply(inputs.dtype):
            # All layers in one fused CPU op, forward and backward (8-14x the layer-by-layer
            # graph on this project's DCN, docs/benchmarks.md).
            weights = keras.ops.concatenate(self.cross_weights, axis=0)
            biases = keras.ops.concatenate(self.cross_biases, axis=0)
            return dense_ops.multi_cross(inputs, weights, biases)
        x0 = inputs
        x = inputs
        for w, b in zip(self.cross_weights, self.cross_biases):
            # x . w as a [B, n] x [n, 1] product: one GEMM forward and backward instead of a
            # [B, n] multiply + row sum (and their gradients), ~5-10% of a DCN step on CPU.
            xw = keras.ops.matmul(x, keras.ops.transpose(w))
            x = x0 * xw + b + x
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "weight_init_type": initializers.serialize(self.weight_init_type),
            "bias_init_type": initializers.serialize(self.bias_init_type),
        }
