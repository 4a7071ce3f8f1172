"""Keras-native building blocks of hugectr_tf (`hugectr_tf.keras.layers`)."""

from hugectr_tf.keras import layers

__all__ = ["layers"]
