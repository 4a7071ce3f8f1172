"""A plain-Keras user's model: SparseEmbedding under compile(Adam(0.01)) learns as fast as the same
model with keras.layers.Embedding (the table follows the Keras optimizer's rate)."""

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from hugectr_tf.keras.layers import SparseEmbedding

SLOTS, VOCAB, VEC = 4, 200, 8


def planted_data(rng, n, weights):
    """One key per slot (global ids: slot * VOCAB + id); labels from a logistic model on keys."""
    keys = rng.integers(0, VOCAB, size=(n, SLOTS)) + VOCAB * np.arange(SLOTS)
    probability = 1 / (1 + np.exp(-weights[keys].sum(axis=1)))
    labels = (rng.random(n) < probability).astype(np.float32)[:, None]
    return keys.astype(np.int64), labels, probability


def model_with(embedding):
    keras.utils.set_random_seed(7)
    keys = keras.Input(shape=(SLOTS,), dtype="int64")
    x = keras.layers.Flatten()(embedding(keys))
    x = keras.layers.Dense(16, activation="relu")(x)
    model = keras.Model(keys, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


def test_sparse_embedding_learns_as_fast_as_keras_embedding():
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 1.0, size=SLOTS * VOCAB)
    train_keys, train_labels, _ = planted_data(rng, 8000, weights)
    test_keys, test_labels, test_probability = planted_data(rng, 4000, weights)
    best = roc_auc_score(test_labels[:, 0], test_probability)  # the planted model's own AUC

    aucs = {}
    for name, embedding in (
        ("keras", keras.layers.Embedding(SLOTS * VOCAB, VEC)),
        ("sparse", SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=1)),
    ):
        model = model_with(embedding)
        model.fit(train_keys, train_labels, batch_size=128, epochs=3, shuffle=False, verbose=0)
        predictions = model.predict(test_keys, batch_size=1000, verbose=0)[:, 0]
        aucs[name] = roc_auc_score(test_labels[:, 0], predictions)
    assert aucs["keras"] > best - 0.05, aucs  # the reference learned the planted model
    assert abs(aucs["sparse"] - aucs["keras"]) < 0.02, (aucs, best)
