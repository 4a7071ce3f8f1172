"""BatchNorm: cuDNN per-activation batch normalization as HugeCTR runs it."""

import keras

from hugectr_tf.config import Initializer_t
from hugectr_tf.keras import initializers
from hugectr_tf.keras.layers._base import check_rank, layer_error, serializable


@serializable
class BatchNorm(keras.layers.Layer):
    """`y = gamma * (x - mean) / sqrt(var + eps) + beta` per feature.

    In training the batch mean and the biased batch variance normalize, and the running
    statistics move as cuDNN moves them: `running = (1 - factor) * running + factor * batch`,
    with the unbiased batch variance for `running_var`. In inference the running statistics
    normalize. HugeCTR's default `factor = 1` keeps the last batch's statistics.

    Weights, in HugeCTR's order: trainable `gamma [n]`, `beta [n]`; non-trainable
    `running_mean [n]`, `running_var [n]` (HugeCTR keeps these out of the dense model file and
    writes them into the inference JSON). `Initializer_t.Default` gives gamma = 1, beta = 0;
    as in HugeCTR, Uniform / XavierNorm / XavierUniform also fall back to those.

    Args:
        factor: Float in (0, 1]. Exponential average factor of the running statistics.
        eps: Float > 0. Added to the variance.
        gamma_init_type: `Initializer_t`, its name, or a Keras initializer for gamma.
        beta_init_type: `Initializer_t`, its name, or a Keras initializer for beta.

    Input shape:
        `(batch, n)`.

    Output shape:
        `(batch, n)`.

    Example:
    >>> tuple(BatchNorm()(keras.ops.ones((4, 3)), training=True).shape)
    (4, 3)
    """

    def __init__(
        self,
        factor=1.0,
        eps=1e-5,
        gamma_init_type=Initializer_t.Default,
        beta_init_type=Initializer_t.Default,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 < float(factor) <= 1.0:
            raise ValueError(f"`factor` must be in (0, 1]. Received: factor={factor!r}")
        if not float(eps) > 0.0:
            raise ValueError(f"`eps` must be positive. Received: eps={eps!r}")
        self.factor = float(factor)
        self.eps = float(eps)
        self.gamma_init_type = initializers.parse(gamma_init_type, "gamma_init_type")
        self.beta_init_type = initializers.parse(beta_init_type, "beta_init_type")

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))
        if input_shape[-1] is None:
            raise layer_error(self, f"input width must be known, received shape {input_shape}")
        n = int(input_shape[-1])

        def init(value, default):
            return initializers.to_keras(value, n, n, default=default, overridden=False)

        self.gamma = self.add_weight(
            name="gamma", shape=(n,), initializer=init(self.gamma_init_type, "ones")
        )
        self.beta = self.add_weight(
            name="beta", shape=(n,), initializer=init(self.beta_init_type, "zeros")
        )
        self.running_mean = self.add_weight(
            name="running_mean", shape=(n,), initializer="zeros", trainable=False, autocast=False
        )
        self.running_var = self.add_weight(
            name="running_var", shape=(n,), initializer="ones", trainable=False, autocast=False
        )

    def call(self, inputs, training=False):
        # Statistics in float32 even under mixed precision: float16 sums of squares overflow.
        sdtype = "float32" if self.compute_dtype in ("float16", "bfloat16") else self.compute_dtype
        x = keras.ops.cast(inputs, sdtype)
        if training:
            mean = keras.ops.mean(x, axis=0)
            var = keras.ops.mean(keras.ops.square(x - mean), axis=0)
            count = keras.ops.cast(keras.ops.shape(x)[0], sdtype)
            unbiased = var * count / keras.ops.maximum(count - 1.0, 1.0)
            f = self.factor
            self.running_mean.assign(
                (1.0 - f) * self.running_mean + f * keras.ops.cast(mean, self.variable_dtype)
            )
            self.running_var.assign(
                (1.0 - f) * self.running_var + f * keras.ops.cast(unbiased, self.variable_dtype)
            )
        else:
            mean = keras.ops.cast(self.running_mean, sdtype)
            var = keras.ops.cast(self.running_var, sdtype)
        gamma = keras.ops.cast(self.gamma, sdtype)
        beta = keras.ops.cast(self.beta, sdtype)
        y = (x - mean) * keras.ops.rsqrt(var + self.eps) * gamma + beta
        return keras.ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "eps": self.eps,
            "gamma_init_type": initializers.serialize(self.gamma_init_type),
            "beta_init_type": initializers.serialize(self.beta_init_type),
        }
