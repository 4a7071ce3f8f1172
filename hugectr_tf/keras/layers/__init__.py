"""Keras layers of hugectr_tf."""

from hugectr_tf.keras.layers.sparse_embedding import SparseEmbedding

__all__ = ["SparseEmbedding"]
