"""Element-wise activations with HugeCTR's arguments: ReLU, ELU, Sigmoid, Softmax, PReLU_Dice."""

import keras

from hugectr_tf.keras.layers._base import check_rank, serializable


class _Elementwise(keras.layers.Layer):
    """Shape-preserving layer without weights."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@serializable
class ReLU(_Elementwise):
    """`max(x, 0)`.

    Input shape: any. Output shape: same as input.

    Example:
    >>> ReLU()(keras.ops.convert_to_tensor([[-1.0, 2.0]])).numpy().tolist()
    [[0.0, 2.0]]
    """

    def call(self, inputs):
        return keras.ops.relu(inputs)


@serializable
class ELU(_Elementwise):
    """`x` for x > 0, `elu_alpha * (exp(x) - 1)` otherwise.

    Args:
        elu_alpha: Float. The value the function saturates to for large negative x is
            `-elu_alpha`.

    Input shape: any. Output shape: same as input.
    """

    def __init__(self, elu_alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.elu_alpha = float(elu_alpha)

    def call(self, inputs):
        neg = self.elu_alpha * keras.ops.expm1(keras.ops.minimum(inputs, 0.0))
        return keras.ops.where(inputs > 0, inputs, neg)

    def get_config(self):
        return {**super().get_config(), "elu_alpha": self.elu_alpha}


@serializable
class Sigmoid(_Elementwise):
    """`1 / (1 + exp(-x))`. Input shape: any. Output shape: same as input."""

    def call(self, inputs):
        return keras.ops.sigmoid(inputs)


@serializable
class Softmax(_Elementwise):
    """Softmax over the last dimension. Input shape: any. Output shape: same as input."""

    def call(self, inputs):
        return keras.ops.softmax(inputs, axis=-1)


@serializable
class PReLUDice(_Elementwise):
    """Dice activation of DIN (Zhou et al. 2018, arXiv 1706.06978), HugeCTR's `PReLU_Dice`.

    `p = sigmoid((x - mean) / sqrt(var + eps))`, `y = p * x + (1 - p) * elu_alpha * x`, with the
    mean and the (biased) variance of each feature over the current batch, in training and in
    inference alike, as HugeCTR computes them. `elu_alpha` is a fixed hyper-parameter, not a
    trainable weight (HugeCTR's `PReLU_Dice` has no weights).

    Args:
        elu_alpha: Float. Slope of the "off" part (HugeCTR's DenseLayer `elu_alpha`).
        eps: Float >= 0. Added to the variance (HugeCTR's DenseLayer `eps`).

    Input shape:
        `(batch, n)`.

    Output shape:
        `(batch, n)`.
    """

    def __init__(self, elu_alpha=1.0, eps=1e-5, **kwargs):
        super().__init__(**kwargs)
        if float(eps) < 0:
            raise ValueError(f"`eps` must be non-negative. Received: eps={eps!r}")
        self.elu_alpha = float(elu_alpha)
        self.eps = float(eps)

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))

    def call(self, inputs):
        mean = keras.ops.mean(inputs, axis=0, keepdims=True)
        var = keras.ops.mean(keras.ops.square(inputs - mean), axis=0, keepdims=True)
        p = keras.ops.sigmoid((inputs - mean) * keras.ops.rsqrt(var + self.eps))
        return p * inputs + (1.0 - p) * self.elu_alpha * inputs

    def get_config(self):
        return {**super().get_config(), "elu_alpha": self.elu_alpha, "eps": self.eps}
