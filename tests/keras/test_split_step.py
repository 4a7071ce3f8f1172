"""Keras models holding SparseEmbedding under `jit_compile=True`: the split step
(hugectr_tf/keras/split_step.py) against the same model trained without XLA."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.keras import split_step
from hugectr_tf.keras.layers import MultiCross, SparseEmbedding
from hugectr_tf.ops import dense_ops

SLOTS, VEC, N = 3, 4, 512


def _model(seed=3):
    keras.utils.set_random_seed(seed)
    keys = keras.Input(shape=(SLOTS, None), dtype="int64", ragged=True, name="keys")
    dense = keras.Input(shape=(5,), name="dense_in")
    emb = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=4, seed=1, name="table")(keys)
    x = keras.layers.Concatenate()([keras.layers.Flatten()(emb), dense])
    x = MultiCross(2, bias_init_type=keras.initializers.RandomUniform(-0.1, 0.1))(x)
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    out = keras.layers.Dense(1, name="logit")(hidden)
    return keras.Model({"keys": keys, "dense_in": dense}, out)


def _data():
    rng = np.random.default_rng(0)
    keys = [
        [[int(k) for k in rng.integers(0, 60, rng.integers(0, 3))] for _ in range(SLOTS)]
        for _ in range(N)
    ]
    x = {
        "keys": tf.ragged.constant(keys, dtype=tf.int64, ragged_rank=2),
        "dense_in": rng.normal(size=(N, 5)).astype("float32"),
    }
    y = (rng.random((N, 1)) < 0.4).astype("float32")
    return x, y


def _trained(jit, x, y, epochs=3):
    model = _model()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.AUC(from_logits=True, name="auc")],
        jit_compile=jit,
    )
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*jit_compile.*")  # Keras' XLA fallback note
        history = model.fit(data, epochs=epochs, verbose=0, shuffle=False)
    return model, history.history


def test_jit_fit_evaluate_predict_match_the_unsplit_model():
    x, y = _data()
    plain, plain_history = _trained(False, x, y)
    split, split_history = _trained(True, x, y)
    assert split.jit_compile and not plain.jit_compile
    for name in ("loss", "auc"):
        np.testing.assert_allclose(split_history[name], plain_history[name], rtol=1e-5)
    table_rows = [m.get_layer("table").table.export()["rows"].numpy() for m in (plain, split)]
    assert len(table_rows[0]) > 50  # the table trained
    np.testing.assert_allclose(table_rows[1], table_rows[0], atol=1e-6)
    for a, b in zip(
        plain.get_layer("hidden").get_weights(), split.get_layer("hidden").get_weights()
    ):
        np.testing.assert_allclose(b, a, atol=1e-5)
    np.testing.assert_allclose(
        split.predict(x, batch_size=64, verbose=0),
        plain.predict(x, batch_size=64, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        split.evaluate(x, y, batch_size=64, verbose=0),
        plain.evaluate(x, y, batch_size=64, verbose=0),
        rtol=1e-5,
    )


def test_the_dense_part_is_compiled_by_xla_until_recompiled_without_it(monkeypatch):
    fused_calls = []
    original = dense_ops.multi_cross
    monkeypatch.setattr(dense_ops, "multi_cross", lambda *a: fused_calls.append(1) or original(*a))
    x, y = _data()
    model, _ = _trained(True, x, y, epochs=1)
    assert not fused_calls, "under XLA MultiCross takes the stock-op path"
    steps = model.__dict__["train_step"].__self__
    assert isinstance(steps, split_step._KerasSteps)
    dense = steps.split.dense_inputs(x)
    embeddings = steps.split.lookups(x, training=False)
    hlo = steps._train.experimental_get_compiler_ir(dense, embeddings, tf.constant(y), None)(
        stage="hlo"
    )
    assert "HloModule" in hlo and "HugeCTR" not in hlo
    # Recompiled without XLA, Keras gets its own steps back and MultiCross its fused kernel.
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert "train_step" not in model.__dict__
    assert fused_calls


class SubclassedModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.table = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=4)
        self.table.build()  # eagerly: Keras would build it inside its symbolic trace
        self.logit = keras.layers.Dense(1)

    def call(self, inputs, training=None):
        emb = self.table(inputs["keys"], training=training)
        return self.logit(keras.ops.concatenate([keras.ops.reshape(emb, (-1, SLOTS * VEC)),
                                                 inputs["dense_in"]], axis=1))  # fmt: skip


def test_a_model_that_cannot_be_split_runs_without_xla_and_says_why():
    x, y = _data()
    model = SubclassedModel()
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    with pytest.warns(UserWarning, match=r"not a functional Keras model.*jit_compile=False"):
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert model.jit_compile is False
    assert model.table.size() > 0


def test_a_table_called_twice_cannot_be_split():
    keys_a = keras.Input(shape=(SLOTS,), dtype="int64", name="a")
    keys_b = keras.Input(shape=(SLOTS,), dtype="int64", name="b")
    table = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=4, name="shared")
    joined = keras.layers.Concatenate()([table(keys_a), table(keys_b)])
    model = keras.Model([keys_a, keys_b], keras.layers.Dense(1)(keras.layers.Flatten()(joined)))
    with pytest.raises(ValueError, match=r"`shared` is called 2 times"):
        split_step.SplitNetwork(model)


def test_sparse_embedding_inside_a_user_xla_function_says_what_to_do():
    layer = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=4, name="emb")
    keys = tf.constant([[1, 2, 3]], tf.int64)
    layer(keys)  # build outside XLA

    @tf.function(jit_compile=True)
    def step(k):
        return layer(k, training=True)

    with pytest.raises(RuntimeError, match=r"`emb` is being traced for XLA.*jit_compile=True"):
        step(keys)


def test_a_regularized_table_cannot_be_split():
    keys = keras.Input(shape=(SLOTS,), dtype="int64", name="keys")
    table = SparseEmbedding(
        VEC, SLOTS, workspace_size_per_gpu_in_mb=4, embeddings_regularizer="l2", name="reg"
    )
    model = keras.Model(keys, keras.layers.Dense(1)(keras.layers.Flatten()(table(keys))))
    with pytest.raises(ValueError, match=r"\['reg'\].*embeddings_regularizer"):
        split_step.SplitNetwork(model)
