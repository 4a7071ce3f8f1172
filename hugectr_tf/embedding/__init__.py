"""Python side of the hash-table embedding: the trackable table and its file formats."""

from hugectr_tf.embedding.files import (
    read_optimizer_states,
    read_sparse_model,
    write_optimizer_states,
    write_sparse_model,
)
from hugectr_tf.embedding.table import EmbeddingTable

__all__ = [
    "EmbeddingTable",
    "read_optimizer_states",
    "read_sparse_model",
    "write_optimizer_states",
    "write_sparse_model",
]
