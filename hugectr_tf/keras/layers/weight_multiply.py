"""WeightMultiply: scales each input slot by a learned vector (HugeCTR's `WeightMultiply`)."""

import keras

from hugectr_tf.config import Initializer_t
from hugectr_tf.keras import initializers
from hugectr_tf.keras.layers._base import (
    check_rank,
    int_list,
    layer_error,
    serializable,
)


@serializable
class WeightMultiply(keras.layers.Layer):
    """`out[b, i*V + j] = x[b, i] * W[i, j]`: turns S scalars into S vectors of size V.

    The weight `W` has shape `weight_dims = [S, V]`. `Initializer_t.Default` is HugeCTR's
    XavierUniform with fan-in S and fan-out S*V.

    Args:
        weight_dims: List of two integers `[S, V]`.
        weight_init_type: `Initializer_t`, its name, or a Keras initializer for `W`.

    Input shape:
        `(batch, S)`.

    Output shape:
        `(batch, S * V)`.

    Example:
    >>> tuple(WeightMultiply(weight_dims=[3, 2])(keras.ops.ones((4, 3))).shape)
    (4, 6)
    """

    def __init__(self, weight_dims=(), weight_init_type=Initializer_t.Default, **kwargs):
        super().__init__(**kwargs)
        dims = int_list(weight_dims, "weight_dims")
        if len(dims) != 2 or min(dims) <= 0:
            raise ValueError(
                "`weight_dims` must be two positive integers [slot_num, vec_size]. "
                f"Received: weight_dims={weight_dims!r}"
            )
        self.weight_dims = dims
        self.weight_init_type = initializers.parse(weight_init_type, "weight_init_type")

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))
        slots, vec = self.weight_dims
        if input_shape[-1] != slots:
            raise layer_error(
                self,
                f"input width must equal weight_dims[0]={slots}, received shape "
                f"{tuple(input_shape)}",
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(slots, vec),
            initializer=initializers.to_keras(
                self.weight_init_type,
                slots,
                slots * vec,
                default=initializers.xavier_uniform(slots, slots * vec),
            ),
        )

    def call(self, inputs):
        slots, vec = self.weight_dims
        out = keras.ops.expand_dims(inputs, -1) * self.kernel
        return keras.ops.reshape(out, (-1, slots * vec))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.weight_dims[0] * self.weight_dims[1])

    def get_config(self):
        return {
            **super().get_config(),
            "weight_dims": list(self.weight_dims),
            "weight_init_type": initializers.serialize(self.weight_init_type),
        }
