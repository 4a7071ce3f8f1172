"""Keras-native HugeCTR building blocks: layers, losses, initializers and regularizers."""

from hugectr_tf.keras import initializers, layers, losses, regularizers, split_step

__all__ = ["initializers", "layers", "losses", "regularizers", "split_step"]
