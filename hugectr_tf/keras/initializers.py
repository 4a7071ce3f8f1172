"""HugeCTR's weight initializers (`Initializer_t`) as Keras initializers.

HugeCTR picks the formula per layer and per weight `index` (0 = weight matrix, 1 = bias), from
the layer's fan-in ("bottom_dim") and fan-out ("top_dim"). The bias of a layer counts with a
fan-in of 0. The formulas (HugeCTR `VarianceScalingSimulator`, `fully_connected_layer.cu`):

- `Uniform`: U(-l, l) with l = 1 / (fan_in + fan_out).
- `XavierUniform`: U(-l, l) with l = sqrt(3 * s), s = 1 / max(1, (fan_in + fan_out) / 2).
- `XavierNorm`: normal with stddev sqrt(s) / 0.87962566103423978, truncated at two stddevs.
- `Zero`: zeros.
- `Default`: the layer's own choice (see docs/layers.md); layers without one use zeros.

A constructor argument may be an `Initializer_t` member, its name ("XavierUniform"), or any Keras
initializer (an object, a name such as "glorot_uniform", or a config dict); Keras initializers
are used as they are.
"""

import math

import keras

from hugectr_tf.config import Initializer_t

# 1 / stddev of a standard normal truncated at +-2: keeps the variance of the truncated draw.
_TRUNCATED_NORMAL_CORRECTION = 0.87962566103423978


def parse(value, argument):
    """An `Initializer_t` member or a Keras initializer object for a constructor argument."""
    if isinstance(value, Initializer_t):
        return value
    if isinstance(value, str):
        for member in Initializer_t:
            if value in (member.value, member.name):
                return member
    try:
        return keras.initializers.get(value)
    except (ValueError, TypeError) as err:
        names = ", ".join(m.name for m in Initializer_t)
        raise ValueError(
            f"`{argument}` must be an Initializer_t ({names}) or a Keras initializer. "
            f"Received: {argument}={value!r}"
        ) from err


def serialize(value):
    """Config form of a parsed initializer: the HugeCTR name, or the Keras serialization."""
    if isinstance(value, Initializer_t):
        return value.name
    return keras.initializers.serialize(value)


def uniform(fan_in, fan_out):
    limit = 1.0 / (fan_in + fan_out)
    return keras.initializers.RandomUniform(-limit, limit)


def xavier_uniform(fan_in, fan_out):
    limit = math.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2.0))
    return keras.initializers.RandomUniform(-limit, limit)


def xavier_norm(fan_in, fan_out):
    stddev = math.sqrt(1.0 / max(1.0, (fan_in + fan_out) / 2.0)) / _TRUNCATED_NORMAL_CORRECTION
    # Keras' TruncatedNormal redraws outside two stddevs, as HugeCTR's simulator does.
    return keras.initializers.TruncatedNormal(stddev=stddev)


def to_keras(value, fan_in, fan_out, default, overridden=True):
    """The Keras initializer for one weight.

    Args:
        value: `Initializer_t` member or Keras initializer (from `parse`).
        fan_in: Number. HugeCTR's bottom_dim for this weight (0 for biases).
        fan_out: Number. HugeCTR's top_dim.
        default: Keras initializer. What `Initializer_t.Default` means for this weight.
        overridden: Boolean. False for layers that keep HugeCTR's base-class behaviour, where
            Uniform / XavierNorm / XavierUniform all fall back to the layer's Default.
    """
    if not isinstance(value, Initializer_t):
        return value
    if value is Initializer_t.Zero:
        return keras.initializers.Zeros()
    if value is Initializer_t.Default or not overridden:
        return default
    if value is Initializer_t.Uniform:
        return uniform(fan_in, fan_out)
    if value is Initializer_t.XavierUniform:
        return xavier_uniform(fan_in, fan_out)
    return xavier_norm(fan_in, fan_out)
