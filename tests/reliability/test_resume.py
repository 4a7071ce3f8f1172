"""Resuming from a save equals never stopping, for both APIs (issue 13).

hugectr API: train, `save_params_to_files`, load every file into a model built with another seed,
train on: the losses and the final state equal an uninterrupted run's. Keras API: the same with
`tf.train.Checkpoint` and with a `.keras` file (both carry the optimizer and the tables).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import snapshot_model as sm

from hugectr_tf.keras.layers import SparseEmbedding

STEPS, STOP = 7, 4


def test_hugectr_model_resumes_exactly(tmp_path):
    batches = sm.batches(STEPS, seed=11)
    straight = sm.build(seed=0)
    want = [straight.train_on_batch(b) for b in batches]

    first = sm.build(seed=0)
    losses = [first.train_on_batch(b) for b in batches[:STOP]]
    names = first.save_params_to_files(str(tmp_path / "run"), STOP)
    # The same configuration (the seed also initialises rows of keys first seen later), but a
    # different state before the load: everything must come from the files.
    resumed = sm.build(seed=0)
    resumed.train_on_batch(sm.batches(1, seed=99)[0])
    sm.load_all(resumed, names)
    losses += [resumed.train_on_batch(b) for b in batches[STOP:]]

    assert losses == want
    sm.assert_same_state(sm.state(resumed), sm.state(straight))


def _keras_model(seed):
    keras.utils.set_random_seed(seed)
    keys = keras.Input(shape=(3, None), dtype="int64", ragged=True, name="keys")
    dense = keras.Input(shape=(2,), name="dense")
    emb = SparseEmbedding(4, 3, workspace_size_per_gpu_in_mb=1, learning_rate=0.05, name="emb")
    x = keras.layers.Concatenate()([keras.layers.Flatten()(emb(keys)), dense])
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(8, name="fc1")(x))
    out = keras.layers.Dense(1, name="fc2")(keras.layers.ReLU()(x))
    model = keras.Model({"keys": keys, "dense": dense}, out)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model, emb


def _data(seed=3, batches=STEPS, size=8):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(batches):
        lengths = rng.integers(1, 3, size * 3)
        values = rng.integers(0, 50, int(lengths.sum()))
        keys = tf.RaggedTensor.from_uniform_row_length(
            tf.RaggedTensor.from_row_lengths(tf.constant(values, tf.int64), lengths), 3
        )
        dense = rng.normal(size=(size, 2)).astype(np.float32)
        out.append(({"keys": keys, "dense": dense}, rng.normal(size=(size, 1)).astype(np.float32)))
    return out


def _fit(model, batches):
    losses = []
    for x, y in batches:
        losses.append(float(model.train_on_batch(x, y)))
    return losses


def _keras_state(model, emb):
    out = {w.path: w.numpy() for w in model.weights}
    out.update({f"opt/{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)})
    out.update({f"table/{k}": v.numpy() for k, v in emb.table.export().items()})
    return out


@pytest.mark.parametrize("how", ["tf.train.Checkpoint", ".keras file"])
def test_keras_model_resumes_exactly(tmp_path, how):
    batches = _data()
    straight, straight_emb = _keras_model(0)
    want = _fit(straight, batches)

    first, _ = _keras_model(0)
    losses = _fit(first, batches[:STOP])
    if how == "tf.train.Checkpoint":
        path = tf.train.Checkpoint(model=first, optimizer=first.optimizer).write(
            str(tmp_path / "ckpt")
        )
        resumed, resumed_emb = _keras_model(0)
        _fit(resumed, _data(seed=99, batches=1))  # another state, and the optimizer's slots
        ckpt = tf.train.Checkpoint(model=resumed, optimizer=resumed.optimizer)
        ckpt.read(path).assert_consumed()
    else:
        first.save(tmp_path / "m.keras")
        resumed = keras.models.load_model(tmp_path / "m.keras")
        resumed_emb = resumed.get_layer("emb")
    losses += _fit(resumed, batches[STOP:])

    np.testing.assert_allclose(losses, want, rtol=1e-6)
    got, expected = _keras_state(resumed, resumed_emb), _keras_state(straight, straight_emb)
    assert sorted(got) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, atol=1e-7, err_msg=name)
