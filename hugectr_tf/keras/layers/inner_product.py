"""InnerProduct and FusedInnerProduct: HugeCTR's fully connected layers."""

import math

import keras

from hugectr_tf.config import Initializer_t
from hugectr_tf.keras import initializers
from hugectr_tf.keras.layers._base import layer_error, positive_int, serializable


@serializable
class InnerProduct(keras.layers.Layer):
    """Fully connected layer `y = x @ W + b` with HugeCTR's weight layout and initializers.

    The kernel is stored `[in, out]` and the bias `[1, out]`, in this order, which is the order
    and shape HugeCTR writes them to its dense model file.

    `Initializer_t.Default` is HugeCTR's: the kernel is XavierNorm (fan-average, truncated
    normal), the bias a normal with stddev `sqrt(1 / out)` truncated at two stddevs.

    Args:
        num_output: Integer. Number of output units.
        weight_init_type: `Initializer_t`, its name, or a Keras initializer for the kernel.
        bias_init_type: `Initializer_t`, its name, or a Keras initializer for the bias.

    Input shape:
        `(batch, ..., in)`; HugeCTR uses 2-D inputs.

    Output shape:
        `(batch, ..., num_output)`.

    Example:
    >>> layer = InnerProduct(num_output=4)
    >>> tuple(layer(keras.ops.ones((2, 3))).shape)
    (2, 4)
    """

    activation = None

    def __init__(
        self,
        num_output=1,
        weight_init_type=Initializer_t.Default,
        bias_init_type=Initializer_t.Default,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_output = positive_int(num_output, "num_output")
        self.weight_init_type = initializers.parse(weight_init_type, "weight_init_type")
        self.bias_init_type = initializers.parse(bias_init_type, "bias_init_type")

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise layer_error(
                self,
                f"input must be at least 2-D with a known last dimension, "
                f"received shape {tuple(input_shape)}",
            )
        fan_in, fan_out = int(input_shape[-1]), self.num_output
        bias_std = math.sqrt(1.0 / fan_out)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(fan_in, fan_out),
            initializer=initializers.to_keras(
                self.weight_init_type,
                fan_in,
                fan_out,
                default=initializers.xavier_norm(fan_in, fan_out),
            ),
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(1, fan_out),
            initializer=initializers.to_keras(
                self.bias_init_type,
                0,
                fan_out,
                default=keras.initializers.TruncatedNormal(stddev=bias_std),
            ),
        )

    def call(self, inputs):
        y = keras.ops.matmul(inputs, self.kernel) + keras.ops.reshape(self.bias, (-1,))
        return y if self.activation is None else self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_output)

    def get_config(self):
        return {
            **super().get_config(),
            "num_output": self.num_output,
            "weight_init_type": initializers.serialize(self.weight_init_type),
            "bias_init_type": initializers.serialize(self.bias_init_type),
        }


@serializable
class FusedInnerProduct(InnerProduct):
    """InnerProduct with the ReLU fused in, as HugeCTR's `FusedInnerProduct`: `relu(x @ W + b)`.

    Same arguments, weights (kernel `[in, out]`, bias `[1, out]`) and initializers as
    `InnerProduct`. HugeCTR runs it in mixed precision; here it runs in any Keras dtype policy.
    """

    activation = staticmethod(keras.ops.relu)
