"""Dropout with HugeCTR's argument name."""

import keras

from hugectr_tf.keras.layers._base import serializable


@serializable
class Dropout(keras.layers.Layer):
    """Zeroes each element with probability `dropout_rate` in training, scaling the kept ones.

    Kept elements are multiplied by `1 / (1 - dropout_rate)` so that the expectation is
    unchanged; in inference the layer is the identity. (HugeCTR's reference text calls
    `dropout_rate = 1` "no dropped element"; its kernel, like this layer, drops with probability
    `dropout_rate`, so 0 means none dropped.)

    Args:
        dropout_rate: Float in [0, 1). Probability of dropping an element.
        seed: Integer or None. Seed of the random mask.

    Input shape: any. Output shape: same as input.

    Example:
    >>> Dropout(dropout_rate=0.5)(keras.ops.ones((1, 3)), training=False).numpy().tolist()
    [[1.0, 1.0, 1.0]]
    """

    def __init__(self, dropout_rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(dropout_rate) < 1.0:
            raise ValueError(
                f"`dropout_rate` must be in [0, 1). Received: dropout_rate={dropout_rate!r}"
            )
        self.dropout_rate = float(dropout_rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.dropout_rate == 0.0:
            return inputs
        return keras.random.dropout(inputs, self.dropout_rate, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "dropout_rate": self.dropout_rate, "seed": self.seed}
