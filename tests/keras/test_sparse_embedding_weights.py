"""The table takes part in Keras' weights: get/set_weights, EarlyStopping's restore, summary()."""

import io

import keras
import numpy as np
import pytest

from hugectr_tf.keras.layers import SparseEmbedding
from hugectr_tf.keras.table_weights import TableValue

VEC, SLOTS = 4, 3


def build(seed=0):
    keras.utils.set_random_seed(seed)
    keys = keras.Input(shape=(SLOTS,), dtype="int64", name="keys")
    layer = SparseEmbedding(VEC, SLOTS, workspace_size_per_gpu_in_mb=1, name="emb")
    x = keras.layers.Flatten()(layer(keys))
    x = keras.layers.Dense(8, activation="relu")(x)
    model = keras.Model(keys, keras.layers.Dense(1)(x))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model, layer


def data(rng, n, vocab):
    keys = rng.integers(0, vocab, size=(n, SLOTS)).astype(np.int64)
    return keys, rng.normal(size=(n, 1)).astype(np.float32)


def state(layer):
    return {k: v.numpy() for k, v in layer.table.export().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_get_weights_carries_the_table_and_set_weights_restores_it_after_growth():
    rng = np.random.default_rng(0)
    model, layer = build()
    model.fit(*data(rng, 64, 20), batch_size=16, epochs=1, verbose=0)
    snapshot, table_then = model.get_weights(), state(layer)
    probe = data(rng, 8, 20)[0]
    predictions = model.predict(probe, verbose=0)

    model.fit(*data(rng, 64, 50), batch_size=16, epochs=1, verbose=0)  # new keys, new rows
    assert layer.size() > len(table_then["keys"])
    model.set_weights(snapshot)
    assert_same_state(state(layer), table_then)  # keys added since are gone, Adam state back
    np.testing.assert_array_equal(model.predict(probe, verbose=0), predictions)

    values = [w for w in snapshot if isinstance(w, TableValue)]
    assert len(values) == 1
    np.testing.assert_array_equal(np.asarray(values[0]), table_then["rows"])


def test_layer_set_weights_with_plain_rows_keeps_keys_and_optimizer_state():
    rng = np.random.default_rng(1)
    model, layer = build()
    model.fit(*data(rng, 32, 10), batch_size=16, epochs=1, verbose=0)
    before = state(layer)
    weights = layer.get_weights()
    weights[-1] = np.asarray(weights[-1]) + 1.0  # a plain ndarray: rows by ascending key
    layer.set_weights(weights)
    after = state(layer)
    np.testing.assert_array_equal(after["rows"], before["rows"] + 1.0)
    for name in ("keys", "optimizer_slots", "last_step", "step", "lr_history"):
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    with pytest.raises(ValueError, match=r"one row per key it holds, \(10, 4\)"):
        layer.set_weights(weights[:-1] + [np.zeros((3, VEC), np.float32)])
    with pytest.raises(ValueError, match="not compatible"):  # Keras' own width check
        layer.set_weights(weights[:-1] + [np.zeros((10, VEC + 1), np.float32)])


class GrowingKeys(keras.utils.PyDataset):
    """Batches whose keys come from a vocabulary that grows by 10 keys every epoch."""

    def __init__(self, rng):
        super().__init__()
        self.rng, self.epoch = rng, 0

    def __len__(self):
        return 6

    def __getitem__(self, index):
        return data(self.rng, 16, 20 + 10 * self.epoch)

    def on_epoch_end(self):
        self.epoch += 1


def test_early_stopping_restores_the_best_epoch_table_included():
    rng = np.random.default_rng(2)
    probe = data(rng, 8, 20)[0]
    model, layer = build()
    scores = [3.0, 1.0, 2.0, 4.0, 5.0]  # the best epoch is the second one (index 1)
    snapshots = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = scores[epoch]
            dense = [w.numpy() for w in self.model.trainable_weights]
            snapshots.append((state(layer), dense, self.model.predict(probe, verbose=0)))

    stop = keras.callbacks.EarlyStopping(
        monitor="score", mode="min", patience=10, restore_best_weights=True
    )
    model.fit(GrowingKeys(rng), epochs=5, verbose=0, callbacks=[Record(), stop])
    assert stop.best_epoch == 1
    best_table, best_dense, best_predictions = snapshots[1]
    last_table = snapshots[-1][0]
    assert len(last_table["keys"]) > len(best_table["keys"]), "the vocabulary did not grow"
    assert_same_state(state(layer), best_table)
    for got, expected in zip([w.numpy() for w in model.trainable_weights], best_dense):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(model.predict(probe, verbose=0), best_predictions)


def test_summary_and_count_params_count_the_rows():
    rng = np.random.default_rng(3)
    model, layer = build()
    model.fit(*data(rng, 32, 12), batch_size=16, epochs=1, verbose=0)
    rows = layer.size()
    assert rows == 12
    assert layer.count_params() == rows * VEC + 1  # + the update trigger scalar
    out = io.StringIO()
    model.summary(print_fn=lambda line, **_: out.write(line + "\n"))
    text = out.getvalue()
    assert f"{rows * VEC + 1:,}" in text.replace(" ", "")
    dense = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert f"Non-trainable params: {rows * VEC:,}" in text
    assert f"Trainable params: {dense:,}" in text
