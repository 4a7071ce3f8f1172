"""Save -> restore -> more steps gives exactly the losses of an uninterrupted run."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import hugectr_tf
from hugectr_tf.keras.layers import SparseEmbedding

SLOTS = 3


def batches(n=5, size=32, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        keys = [
            [list(rng.integers(0, 300, rng.integers(0, 3))) for _ in range(SLOTS)]
            for _ in range(size)
        ]
        x = {
            "dense": rng.normal(size=(size, 2)).astype(np.float32),
            "keys": tf.ragged.constant(keys, dtype=tf.int64, ragged_rank=2),
        }
        out.append((x, rng.integers(0, 2, size=(size, 1)).astype(np.float32)))
    return out


def build():
    dense_in = keras.Input(shape=(2,), name="dense")
    keys_in = keras.Input(shape=(SLOTS, None), dtype="int64", ragged=True, name="keys")
    emb = SparseEmbedding(
        4,
        SLOTS,
        combiner="mean",
        workspace_size_per_gpu_in_mb=2,
        optimizer=hugectr_tf.CreateOptimizer(update_type="LazyGlobal"),
        learning_rate=0.05,
        name="sparse_embedding",
    )(keys_in)
    x = keras.layers.Concatenate()([dense_in, keras.layers.Flatten()(emb)])
    out = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    model = keras.Model({"dense": dense_in, "keys": keys_in}, out)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


def run_steps(model, data):
    losses = []
    for i, (x, y) in enumerate(data):
        # A changing sparse learning rate exercises the saved learning-rate history.
        model.get_layer("sparse_embedding").set_learning_rate(0.05 / (1 + i))
        losses.append(float(model.train_on_batch(x, y)))
    return losses


def table_state(model):
    return {k: v.numpy() for k, v in model.get_layer("sparse_embedding").table.export().items()}


@pytest.mark.parametrize("how", ["checkpoint", "keras_file"])
def test_restore_then_two_steps_match_uninterrupted_run(tmp_path, how):
    data = batches()
    keras.utils.set_random_seed(0)
    a = build()
    run_steps(a, data[:3])
    if how == "checkpoint":
        prefix = tf.train.Checkpoint(model=a, optimizer=a.optimizer).write(str(tmp_path / "ckpt"))
    else:
        a.save(tmp_path / "model.keras")
    saved = table_state(a)
    expected = run_steps(a, data[3:])

    keras.utils.set_random_seed(1)  # different initial dense weights: restore must fix them
    if how == "checkpoint":
        b = build()
        b.optimizer.build(b.trainable_variables)
        tf.train.Checkpoint(model=b, optimizer=b.optimizer).read(prefix).assert_consumed()
    else:
        b = keras.models.load_model(tmp_path / "model.keras")
    restored = table_state(b)
    for name, value in saved.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)
    assert saved["step"] == 3 and len(saved["keys"]) > 0
    assert run_steps(b, data[3:]) == expected


def test_save_weights_restores_table_and_next_losses(tmp_path):
    data = batches(seed=3)
    a = build()
    run_steps(a, data[:3])
    a.save_weights(tmp_path / "w.weights.h5")
    saved = table_state(a)
    expected = run_steps(a, data[3:])
    b = build()
    b.optimizer.build(b.trainable_variables)  # so that the Keras optimizer state loads too
    b.load_weights(tmp_path / "w.weights.h5")
    restored = table_state(b)
    for name, value in saved.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)
    assert run_steps(b, data[3:]) == expected


def test_tf_saved_model_serves_with_the_table(tmp_path):
    model = build()
    data = batches(n=2, seed=5)
    run_steps(model, data)
    x = {"dense": tf.constant(data[0][0]["dense"]), "keys": data[0][0]["keys"]}
    assert model.get_layer("sparse_embedding").size() > 0
    want = model(x, training=False).numpy()

    class Serve(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(
            input_signature=[
                {
                    "dense": tf.TensorSpec([None, 2], tf.float32),
                    "keys": tf.RaggedTensorSpec([None, SLOTS, None], tf.int64, ragged_rank=2),
                }
            ]
        )
        def __call__(self, features):
            return self.model(features, training=False)

    tf.saved_model.save(Serve(model), str(tmp_path / "served"))
    del model
    loaded = tf.saved_model.load(str(tmp_path / "served"))
    # Graph vs eager execution of the dense layer may differ in the last bit.
    np.testing.assert_allclose(loaded(x).numpy(), want, rtol=1e-6, atol=1e-7)
