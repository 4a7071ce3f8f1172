"""Wrappers of the ops behind `embeddings_initializer` and `embeddings_regularizer`.

A Keras initialiser fills a new row in three steps: `new_keys` names the keys a training lookup of
the batch would insert, the caller computes their rows (from `key_uniform`, a per-key draw that
depends only on key, seed and column), and `insert_rows` puts them in the table before the lookup.
`gather_rows` reads rows back by key (the regularised rows of a batch). Semantics:
docs/embedding.md ("How the table follows Keras").
"""

import tensorflow as tf

from hugectr_tf.ops import load_library


def new_keys(table, values, row_splits, slot_num):
    """(keys, slot_ids): the table keys this batch would insert, ascending; nothing is inserted."""
    return load_library().huge_ctr_embedding_new_keys(
        table,
        tf.convert_to_tensor(values, tf.int64),
        tf.convert_to_tensor(row_splits, tf.int64),
        slot_num=int(slot_num),
    )


def insert_rows(table, keys, rows, slot_ids):
    """Inserts the absent ones of `keys` (ascending) with `rows`; returns how many (int64)."""
    return load_library().huge_ctr_embedding_insert_rows(
        table,
        tf.convert_to_tensor(keys, tf.int64),
        tf.convert_to_tensor(rows, tf.float32),
        tf.convert_to_tensor(slot_ids, tf.int64),
    )


def gather_rows(table, keys, embedding_vec_size):
    """float32 [len(keys), vec]: the rows of table keys the table holds."""
    return load_library().huge_ctr_embedding_gather_rows(
        table, tf.convert_to_tensor(keys, tf.int64), embedding_vec_size=int(embedding_vec_size)
    )


def key_uniform(keys, seed, embedding_vec_size):
    """float32 [len(keys), vec] in (0, 1): a function of (key, seed, column) only."""
    return load_library().huge_ctr_embedding_key_uniform(
        tf.convert_to_tensor(keys, tf.int64),
        seed=int(seed),
        embedding_vec_size=int(embedding_vec_size),
    )


# Reading, inserting and drawing rows has no gradient: `train_lookup` routes gradients itself.
for _op in (
    "HugeCTR>EmbeddingNewKeys",
    "HugeCTR>EmbeddingInsertRows",
    "HugeCTR>EmbeddingGatherRows",
    "HugeCTR>EmbeddingKeyUniform",
):
    try:
        tf.no_gradient(_op)
    except KeyError:  # already registered (module reloaded)
        pass
