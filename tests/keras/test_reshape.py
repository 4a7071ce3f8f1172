import keras
import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import Reshape, Scale


def test_leading_dim_equal_to_sample_size(rng):
    x = rng.normal(size=(4, 3, 2)).astype("float32")
    out = check_layer(Reshape, {"leading_dim": 6}, x, expected_output_shape=(4, 6))
    np.testing.assert_array_equal(np.asarray(out), x.reshape(4, 6))


def test_leading_dim_regroups_the_whole_batch(rng):
    # 4 samples of 3 elements -> 3 rows of 4: rows span samples, as in HugeCTR.
    x = rng.normal(size=(4, 3, 1)).astype("float32")
    out = check_layer(Reshape, {"leading_dim": 4}, x, expected_output_shape=(3, 4), train="tape")
    np.testing.assert_array_equal(np.asarray(out), x.reshape(3, 4))


def test_time_step_gives_3d(rng):
    x = rng.normal(size=(2, 6, 2)).astype("float32")
    kwargs = {"leading_dim": 4, "time_step": 3}
    out = check_layer(Reshape, kwargs, x, expected_output_shape=(2, 3, 4))
    np.testing.assert_array_equal(np.asarray(out), x.reshape(2, 3, 4))


def test_selected_slots_in_listed_order(rng):
    x = rng.normal(size=(3, 4, 2)).astype("float32")
    kwargs = {"selected": True, "selected_slots": [3, 0, 3]}
    out = check_layer(Reshape, kwargs, x, expected_output_shape=(3, 6))
    expected = np.concatenate([x[:, 3], x[:, 0], x[:, 3]], axis=1)
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_reshape_gradients(rng):
    kwargs = {"selected": True, "selected_slots": [1, 1]}
    assert check_gradients(Reshape, kwargs, rng.normal(size=(2, 3, 2))) > 0


def test_reshape_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"leading_dim=0"):
        Reshape(leading_dim=0)
    divide = r"'r' \(Reshape\).*leading_dim=5 does not divide the 12 elements"
    with pytest.raises(ValueError, match=divide):
        Reshape(leading_dim=5, name="r")(np.ones((2, 3, 2), "float32"))
    with pytest.raises(ValueError, match=r"\(Reshape\).*selected_slots \[4\] are out of range"):
        Reshape(selected=True, selected_slots=[0, 4])(np.ones((2, 3, 2), "float32"))


def test_deepfm_row_count_round_trip_in_a_functional_model(rng):
    # HugeCTR's DeepFM: [B, 26, 11] -> [B*26, 11] -> slice 10 | 1 -> [B, 260] and [B, 26].
    emb = keras.Input((26, 11))
    rows = Reshape(leading_dim=11)(emb)
    wide, narrow = rows[:, :10], rows[:, 10:]
    model = keras.Model(emb, [Reshape(leading_dim=260)(wide), Reshape(leading_dim=26)(narrow)])
    assert tuple(rows.shape) == (None, 11)
    x = rng.normal(size=(4, 26, 11)).astype("float32")
    out_wide, out_narrow = model(x)
    np.testing.assert_array_equal(np.asarray(out_wide), x[:, :, :10].reshape(4, 260))
    np.testing.assert_array_equal(np.asarray(out_narrow), x[:, :, 10])


def test_known_row_count_is_checked_in_compute_output_shape():
    layer = Reshape(leading_dim=260, name="r2")
    assert layer.compute_output_shape((26 * 3, 10)) == (3, 260)
    with pytest.raises(ValueError, match=r"'r2'.*leading_dim=260 does not divide the 250"):
        layer.compute_output_shape((25, 10))


@pytest.mark.parametrize("axis", [0, 1])
def test_scale_matches_numpy(axis, rng):
    x = rng.normal(size=(3, 4)).astype("float32")
    shape = (3, 12) if axis == 0 else (9, 4)
    out = check_layer(
        Scale,
        {"axis": axis, "factor": 3},
        x,
        expected_output_shape=shape,
        train=True if axis == 0 else "tape",
    )
    b, n = x.shape
    expected = np.zeros(shape, "float32")
    for i in range(b):
        for j in range(n):
            for k in range(3):
                if axis == 0:
                    expected[i, j * 3 + k] = x[i, j]
                else:
                    expected[i * 3 + k, j] = x[i, j]
    np.testing.assert_array_equal(np.asarray(out), expected)


@pytest.mark.parametrize("axis", [0, 1])
def test_scale_gradients(axis, rng):
    assert check_gradients(Scale, {"axis": axis, "factor": 2}, rng.normal(size=(2, 3))) > 0


def test_scale_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"axis=2"):
        Scale(axis=2, factor=2)
    with pytest.raises(ValueError, match=r"factor=0"):
        Scale(axis=0, factor=0)
    with pytest.raises(ValueError, match=r"'sc' \(Scale\).*2-D.*\(2, 3, 4\)"):
        Scale(factor=2, name="sc")(np.ones((2, 3, 4), "float32"))
