"""Keras initializers applied per key: the first value of a row depends only on its key.

`SparseEmbedding(embeddings_initializer=...)` initialises each row when its key is first seen in
training. Whatever the initializer, the row is a function of (table key, seed, initializer) alone,
not of the batch that brought the key or its neighbours, so runs that see keys in another order
(another batch size, shuffling, several replicas) start every row from the same value.

Each row is drawn as the initializer would draw a weight of shape `(1, embedding_vec_size)`:

- Keras' distribution initializers (`RandomUniform`, `RandomNormal`, `TruncatedNormal`, and
  `VarianceScaling` with its Glorot/He/Lecun forms) transform a per-key uniform draw in (0, 1)
  computed by the table's own hash (`cc/core/embedding/row_init.h`) through the distribution's
  inverse CDF: vectorised, and the same on every device.
- `Zeros`, `Ones`, `Constant` and `Identity` draw nothing: every row starts from the same value.
- Any other initializer (your own subclass, `Orthogonal`, ...) is called once per new key with a
  `seed` derived from the key (when its config has a `seed`): exact for any initializer, but a
  Python call per key, so prefer the ones above for large vocabularies.

The initializer's own integer `seed`, when it has one, is mixed into the layer's seed.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from hugectr_tf.ops import embedding_init_ops

# Keras' truncated normals cut at two standard deviations; dividing by this keeps the variance
# of the truncated draw at the requested one (VarianceScaling's "truncated_normal").
_TRUNCATED_STDDEV_CORRECTION = 0.87962566103423978
_MASK64 = (1 << 64) - 1


def parse(value):
    """None (HugeCTR's uniform +-0.05, computed by the table) or a Keras initializer."""
    if value is None or (isinstance(value, str) and value.lower() == "hugectr"):
        return None
    try:
        return keras.initializers.get(value)
    except (ValueError, TypeError) as err:
        raise ValueError(
            "`embeddings_initializer` must be None (HugeCTR's uniform +-0.05) or a Keras "
            f"initializer (object, name or config). Received: embeddings_initializer={value!r}"
        ) from err


def serialize(initializer):
    return None if initializer is None else keras.initializers.serialize(initializer)


def _splitmix64(z):
    """SplitMix64 on Python ints (a fact of the generator, as in row_init.h)."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _own_seed(initializer):
    # The configured seed: Keras replaces a missing one by a random default on the instance.
    seed = initializer.get_config().get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def row_seed(layer_seed, initializer):
    """The seed of the per-key draws: the layer's, mixed with the initializer's integer seed."""
    own = _own_seed(initializer)
    if own is None:
        return int(layer_seed)
    return _splitmix64((int(layer_seed) << 32) ^ own) >> 2  # fits an int64 attribute


def _is(initializer, cls):
    """Exactly a Keras class, or a subclass that keeps its sampling (Glorot... for Variance-)."""
    return isinstance(initializer, cls) and type(initializer).__call__ is cls.__call__


def _normal(u, mean, stddev):
    return mean + stddev * tf.math.ndtri(u)


def _truncated_normal(u, mean, stddev):
    """Normal cut at +-2 stddev, by inverse CDF: u spreads over [Phi(-2), Phi(2)]."""
    low = 0.5 * math.erfc(2.0 / math.sqrt(2.0))  # Phi(-2)
    return mean + stddev * tf.math.ndtri(low + u * (1.0 - 2.0 * low))


def _variance_scaling(u, initializer, vec):
    fan_in, fan_out = 1.0, float(vec)  # a (1, vec) weight
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
    scale = initializer.scale / max(1.0, fan[initializer.mode])
    if initializer.distribution == "truncated_normal":
        return _truncated_normal(u, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV_CORRECTION)
    if initializer.distribution == "untruncated_normal":
        return _normal(u, 0.0, math.sqrt(scale))
    limit = math.sqrt(3.0 * scale)
    return -limit + 2.0 * limit * u


def _from_uniform(initializer, vec):
    """u -> rows for Keras' distribution initializers; None for any other initializer."""
    I = keras.initializers  # noqa: N806
    if _is(initializer, I.VarianceScaling):
        return lambda u: _variance_scaling(u, initializer, vec)
    config = initializer.get_config()
    if _is(initializer, I.RandomUniform):
        low, high = config["minval"], config["maxval"]
        return lambda u: low + (high - low) * u
    if _is(initializer, I.RandomNormal):
        return lambda u: _normal(u, config["mean"], config["stddev"])
    if _is(initializer, I.TruncatedNormal):
        return lambda u: _truncated_normal(u, config["mean"], config["stddev"])
    return None


def _same_for_every_key(initializer):
    I = keras.initializers  # noqa: N806
    return any(_is(initializer, c) for c in (I.Zeros, I.Ones, I.Constant, I.Identity))


class RowInitializer:
    """Computes the first rows of new keys from a Keras initializer (see module docstring).

    Args:
        initializer: Keras initializer (from `parse`, not None).
        seed: Integer. The layer's seed.
        embedding_vec_size: Integer. Floats per row.
    """

    def __init__(self, initializer, seed, embedding_vec_size):
        self.initializer = initializer
        self.vec = int(embedding_vec_size)
        self.seed = row_seed(seed, initializer)
        self._transform = _from_uniform(initializer, self.vec)
        self._constant_row = None
        if self._transform is None and _same_for_every_key(initializer):
            row = initializer(shape=(1, self.vec), dtype="float32")
            self._constant_row = np.asarray(keras.ops.convert_to_numpy(row), np.float32)

    def __call__(self, keys):
        """float32 [len(keys), vec]: the first rows of the int64 table keys `keys`."""
        keys = tf.convert_to_tensor(keys, tf.int64)
        if self._constant_row is not None:
            return tf.tile(tf.constant(self._constant_row), [tf.size(keys), 1])
        if self._transform is not None:
            u = embedding_init_ops.key_uniform(keys, self.seed, self.vec)
            return tf.cast(self._transform(u), tf.float32)
        rows = tf.py_function(self.rows_one_by_one, [keys], tf.float32)
        return tf.reshape(rows, [-1, self.vec])

    def key_seed(self, key):
        """The 31-bit seed the initializer is called with for `key` (the per-key path)."""
        return _splitmix64((self.seed * 0x9E3779B97F4A7C15 + int(key)) & _MASK64) >> 33

    def rows_one_by_one(self, keys):
        """One initializer call per key, each with the key's own seed (any initializer)."""
        config = self.initializer.get_config()
        cls = type(self.initializer)
        rows = np.empty((len(keys), self.vec), np.float32)
        for i, key in enumerate(np.asarray(keys)):
            init = self.initializer
            if "seed" in config:
                init = cls.from_config({**config, "seed": self.key_seed(key)})
            value = init(shape=(1, self.vec), dtype="float32")
            rows[i] = np.asarray(keras.ops.convert_to_numpy(value), np.float32).reshape(-1)
        return rows
