import keras
import numpy as np
import pytest
import tensorflow as tf

from hugectr_tf.config.enums import Regularizer_t
from hugectr_tf.keras import regularizers
from hugectr_tf.keras.layers import BinaryCrossEntropyLoss


def _weights(rng):
    return [tf.Variable(rng.normal(size=s).astype("float32")) for s in [(3, 2), (1, 2), (4,)]]


def test_l1_and_l2_terms_follow_hugectr(rng):
    ws = _weights(rng)
    flat = np.concatenate([w.numpy().ravel() for w in ws]).astype("float64")
    l1 = regularizers.regularization_term(ws, Regularizer_t.L1, 0.3, 8)
    l2 = regularizers.regularization_term(ws, "L2", 0.3, 8)
    np.testing.assert_allclose(float(l1), 0.3 / 8 * np.abs(flat).sum(), rtol=1e-6)
    np.testing.assert_allclose(float(l2), 0.3 / 16 * (flat**2).sum(), rtol=1e-6)


@pytest.mark.parametrize("kind", ["L1", "L2"])
def test_gradients_are_hugectr_wgrad(kind, rng):
    ws = _weights(rng)
    with tf.GradientTape() as tape:
        term = regularizers.regularization_term(ws, kind, 0.5, 4)
    for w, g in zip(ws, tape.gradient(term, ws)):
        expected = np.sign(w.numpy()) * 0.5 / 4 if kind == "L1" else w.numpy() * 0.5 / 4
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-6)


def test_loss_layer_regularization_settings(rng):
    ws = _weights(rng)
    off = BinaryCrossEntropyLoss(**{"lambda": 0.5})
    assert float(off.regularization(ws, 4)) == 0.0
    on = BinaryCrossEntropyLoss(use_regularizer=True, regularizer_type="L2", **{"lambda": 0.5})
    assert on.lambda_ == 0.5 and on.get_config()["regularizer_type"] == "L2"
    np.testing.assert_allclose(
        float(on.regularization(ws, 4)),
        float(regularizers.regularization_term(ws, "L2", 0.5, 4)),
    )


def test_keras_regularizer_objects(rng):
    w = rng.normal(size=(3, 3)).astype("float32")
    reg = regularizers.L2(lambda_=0.2, batch_size=5)
    np.testing.assert_allclose(float(reg(w)), 0.2 / 10 * (w.astype("float64") ** 2).sum(), 1e-6)
    again = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
    assert isinstance(again, regularizers.L2) and again.get_config() == reg.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"lambda=-1"):
        regularizers.regularization_term([], "L1", -1, 4)
    with pytest.raises(ValueError, match=r"batch_size=0"):
        regularizers.regularization_term([], "L1", 0.1, 0)
    with pytest.raises(ValueError, match=r"regularizer_type='L0'"):
        regularizers.regularization_term([], "L0", 0.1, 4)
