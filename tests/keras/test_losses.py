import os
import tempfile

import keras
import numpy as np
import pytest
from helpers.layer_test import check_layer

from hugectr_tf.keras import losses
from hugectr_tf.keras.layers import BinaryCrossEntropyLoss, CrossEntropyLoss, MultiCrossEntropyLoss


def _bce_np(x, y):
    x, y = x.astype("float64"), y.astype("float64")
    p = 1 / (1 + np.exp(-x))
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_binary_cross_entropy_layer_matches_numpy(rng):
    logits = rng.normal(size=(6, 1)).astype("float32")
    labels = rng.integers(0, 2, size=(6, 1)).astype("float32")
    out = check_layer(
        BinaryCrossEntropyLoss, {}, [logits, labels], expected_output_shape=(), train="tape"
    )
    np.testing.assert_allclose(float(out), _bce_np(logits, labels).mean(), rtol=1e-5)


def test_binary_cross_entropy_is_stable_for_large_logits():
    logits = np.array([[100.0], [-100.0], [100.0]], "float32")
    labels = np.array([[1.0], [0.0], [0.0]], "float32")
    out = float(BinaryCrossEntropyLoss()([logits, labels]))
    np.testing.assert_allclose(out, 100.0 / 3, rtol=1e-6)


def test_cross_entropy_layer_matches_numpy(rng):
    logits = rng.normal(size=(5, 2)).astype("float32")
    labels = rng.integers(0, 2, size=(5, 1)).astype("float32")
    out = check_layer(
        CrossEntropyLoss, {}, [logits, labels], expected_output_shape=(), train="tape"
    )
    z = logits.astype("float64")
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    expected = -np.log(p[np.arange(5), labels[:, 0].astype(int)]).mean()
    np.testing.assert_allclose(float(out), expected, rtol=1e-5)


def test_multi_cross_entropy_masks_and_weights(rng):
    logits = rng.normal(size=(4, 3)).astype("float32")
    labels = rng.integers(0, 2, size=(4, 3)).astype("float32")
    labels[1, 2] = labels[3, 0] = -1.0
    weights = [0.5, 1.0, 2.0]
    out = check_layer(
        MultiCrossEntropyLoss,
        {"target_weight_vec": weights},
        [logits, labels],
        expected_output_shape=(),
        train="tape",
    )
    total = 0.0
    for b in range(4):
        for j in range(3):
            if labels[b, j] >= -0.5:
                total += weights[j] * _bce_np(logits[b, j], labels[b, j])
    np.testing.assert_allclose(float(out), total / 12, rtol=1e-5)


@pytest.mark.parametrize(
    "layer_cls,loss,width,label_width",
    [
        (BinaryCrossEntropyLoss, losses.BinaryCrossEntropy(), 1, 1),
        (CrossEntropyLoss, losses.CrossEntropy(), 2, 1),
        (MultiCrossEntropyLoss, losses.MultiCrossEntropy([1.0, 3.0]), 2, 2),
    ],
)
def test_keras_losses_equal_loss_layers(layer_cls, loss, width, label_width, rng):
    logits = rng.normal(size=(5, width)).astype("float32")
    labels = rng.integers(0, 2, size=(5, label_width)).astype("float32")
    kwargs = {"target_weight_vec": [1.0, 3.0]} if layer_cls is MultiCrossEntropyLoss else {}
    np.testing.assert_allclose(
        float(loss(labels, logits)), float(layer_cls(**kwargs)([logits, labels])), rtol=1e-6
    )
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


def test_keras_loss_trains_and_saves_with_a_model(rng):
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=losses.BinaryCrossEntropy())
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    assert isinstance(loaded.loss, losses.BinaryCrossEntropy)


def test_loss_gradient_is_hugectr_formula(rng):
    # HugeCTR's backward: (sigmoid(x) - y) / batch.
    import tensorflow as tf

    logits = tf.Variable(rng.normal(size=(4, 1)).astype("float32"))
    labels = rng.integers(0, 2, size=(4, 1)).astype("float32")
    with tf.GradientTape() as tape:
        value = BinaryCrossEntropyLoss()([logits, labels])
    grad = tape.gradient(value, logits).numpy()
    expected = (1 / (1 + np.exp(-logits.numpy())) - labels) / 4
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def test_bad_configuration_messages():
    a = np.ones((2, 1), "float32")
    bce_message = r"'loss' \(BinaryCrossEntropyLoss\).*expects 2.*received 3"
    with pytest.raises(ValueError, match=bce_message):
        BinaryCrossEntropyLoss(name="loss")([a, a, a])
    with pytest.raises(ValueError, match=r"\(CrossEntropyLoss\).*\(batch, 2\).*\(2, 1\)"):
        CrossEntropyLoss()([a, a])
    with pytest.raises(ValueError, match=r"\(MultiCrossEntropyLoss\).*target_weight_vec\)=3"):
        MultiCrossEntropyLoss(target_weight_vec=[1, 1, 1])([np.ones((2, 2)), np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"target_weight_vec=\[\]"):
        MultiCrossEntropyLoss(target_weight_vec=[])
    with pytest.raises(ValueError, match=r"regularizer_type='L3'"):
        BinaryCrossEntropyLoss(use_regularizer=True, regularizer_type="L3")
