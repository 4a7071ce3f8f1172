"""Keras-native HugeCTR building blocks: layers, losses, initializers and regularizers."""

from hugectr_tf.embedding.keys import padded_keys
from hugectr_tf.keras import initializers, layers, losses, regularizers, split_step

__all__ = ["initializers", "layers", "losses", "padded_keys", "regularizers", "split_step"]
