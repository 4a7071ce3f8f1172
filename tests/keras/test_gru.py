import keras
import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import GRU

H, E, S, B = 3, 2, 4, 5


def _keras_reference(flat, x_bse):
    """Keras' own GRU (reset_after=True, no recurrent bias) carries cuDNN's equations."""
    flat = flat.reshape(-1)
    w = flat[: 3 * H * E].reshape(3, H, E)  # r, z, n
    r = flat[3 * H * E : 3 * H * E + 3 * H * H].reshape(3, H, H)
    b = flat[3 * H * E + 3 * H * H :].reshape(3, H)
    ref = keras.layers.GRU(H, return_sequences=True, reset_after=True)
    ref.build((None, S, E))
    order = [1, 0, 2]  # Keras packs gates as z, r, h
    kernel = np.concatenate([w[g].T for g in order], axis=1)
    recurrent = np.concatenate([r[g].T for g in order], axis=1)
    bias = np.stack([np.concatenate([b[g] for g in order]), np.zeros(3 * H)])
    ref.set_weights([kernel, recurrent, bias])
    return keras.ops.convert_to_numpy(ref(x_bse))


def test_3d_input_matches_keras_gru(rng):
    x = rng.normal(size=(B, S, E)).astype("float32")
    kwargs = {
        "num_output": H,
        "batchsize": B,
        "SeqLength": S,
        "vector_size": E,
        "weight_init_type": keras.initializers.RandomUniform(-0.5, 0.5, seed=2),
    }
    layer = GRU(**kwargs)
    out = keras.ops.convert_to_numpy(layer(x))
    flat = keras.ops.convert_to_numpy(layer.gru_weights)
    np.testing.assert_allclose(out, _keras_reference(flat, x), rtol=1e-5, atol=1e-6)
    check_layer(GRU, kwargs, x, expected_output_shape=(B, S, H))


def test_2d_input_is_sequence_major_as_cudnn(rng):
    x_bse = rng.normal(size=(B, S, E)).astype("float32")
    rows = np.transpose(x_bse, (1, 0, 2)).reshape(S * B, E)  # row t*B + b
    kwargs = {
        "num_output": H,
        "batchsize": B,
        "SeqLength": S,
        "vector_size": E,
        "weight_init_type": "XavierUniform",
    }
    layer = GRU(**kwargs)
    out = keras.ops.convert_to_numpy(layer(rows))
    ref = _keras_reference(keras.ops.convert_to_numpy(layer.gru_weights), x_bse)
    np.testing.assert_allclose(
        out, np.transpose(ref, (1, 0, 2)).reshape(S * B, H), rtol=1e-5, atol=1e-6
    )
    check_layer(GRU, kwargs, rows, expected_output_shape=(S * B, H))


def test_weights_follow_hugectr_layout():
    layer = GRU(num_output=H, batchsize=B, SeqLength=S, vector_size=E)
    layer.build((None, S, E))
    assert [tuple(w.shape) for w in layer.weights] == [
        (1, 3 * H * E + 3 * H * H + 3 * H),
        (1, B * H),
    ]
    assert [w.name for w in layer.trainable_weights] == ["weights"]


def test_gradients(rng):
    kwargs = {
        "num_output": 2,
        "batchsize": 2,
        "SeqLength": 3,
        "vector_size": 2,
        "weight_init_type": keras.initializers.RandomUniform(-0.5, 0.5, seed=3),
    }
    assert check_gradients(GRU, kwargs, rng.normal(size=(2, 3, 2))) > 0


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"SeqLength=0"):
        GRU(num_output=2, SeqLength=0)
    layer = GRU(num_output=2, batchsize=2, SeqLength=3, vector_size=4, name="gru")
    with pytest.raises(ValueError, match=r"'gru' \(GRU\).*batchsize \* SeqLength = 6.*\(5, 4\)"):
        layer(np.ones((5, 4), "float32"))
    with pytest.raises(ValueError, match=r"\(GRU\).*vector_size=4.*\(6, 3\)"):
        GRU(num_output=2, batchsize=2, SeqLength=3, vector_size=4)(np.ones((6, 3), "float32"))
