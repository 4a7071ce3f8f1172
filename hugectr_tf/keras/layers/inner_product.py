"""InnerProduct and FusedInnerProduct: HugeCTR's fully connected layers."""

import math

import keras

from hugectr_tf.config import Activation_t, FcPosition_t, Initializer_t
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
    """InnerProduct with the activation fused in, as HugeCTR's `FusedInnerProduct`.

    `y = relu(x @ W + b)`, or `x @ W + b` with `act_type=Activation_t.Non` (the last layer of
    HugeCTR's MLPerf DLRM MLPs). Same weights (kernel `[in, out]`, bias `[1, out]`) and
    initializers as `InnerProduct`. HugeCTR runs it in mixed precision; here it runs in any Keras
    dtype policy.

    `pos_type` is the layer's place in HugeCTR's chain of fused layers (Head, Body, Tail): HugeCTR
    fuses the bias and ReLU of one layer into the GEMMs of its neighbours and passes its buffers
    between them as extra tensors. The math is the same wherever the fusion happens, so the value
    is kept (for the graph JSON) and the hugectr `Model` wires the extra tensors to the one output.

    Args:
        num_output, weight_init_type, bias_init_type: As `InnerProduct`.
        pos_type: `FcPosition_t` or its name. Default `Non` (a standalone layer).
        act_type: `Activation_t` or its name: `Relu` (default) or `Non`.

    Example:
    >>> layer = FusedInnerProduct(num_output=2, act_type="None", bias_init_type="Zero")
    >>> tuple(layer(keras.ops.ones((3, 4))).shape)
    (3, 2)
    """

    def __init__(self, *args, pos_type=FcPosition_t.Non, act_type=Activation_t.Relu, **kwargs):
        super().__init__(*args, **kwargs)
        self.pos_type = FcPosition_t.parse(pos_type, "pos_type")
        self.act_type = Activation_t.parse(act_type, "act_type")
        self.activation = keras.ops.relu if self.act_type == Activation_t.Relu else None

    def get_config(self):
        return {
            **super().get_config(),
            "pos_type": self.pos_type.value,
            "act_type": self.act_type.value,
        }
