import numpy as np
import pytest
from helpers.gradient_check import check_gradients
from helpers.layer_test import check_layer

from hugectr_tf.keras.layers import Concat, FusedReshapeConcat, FusedReshapeConcatGeneral


def test_concat_matches_numpy(rng):
    xs = [rng.normal(size=(4, w)).astype("float32") for w in (2, 3, 1)]
    out = check_layer(Concat, {}, xs, expected_output_shape=(4, 6))
    np.testing.assert_array_equal(np.asarray(out), np.concatenate(xs, axis=1))


def test_concat_gradients(rng):
    assert check_gradients(Concat, {}, [rng.normal(size=(2, 2)), rng.normal(size=(2, 1))]) > 0


def test_concat_bad_configuration_messages():
    a = np.ones((2, 3), "float32")
    with pytest.raises(ValueError, match=r"'cat' \(Concat\).*at least 2.*received 1"):
        Concat(name="cat")([a])
    with pytest.raises(ValueError, match=r"\(Concat\).*all but the last.*\(3, 3\)"):
        Concat()([a, np.ones((3, 3), "float32")])


def _fused_reference(xs):
    b, s = xs[0].shape[:2]
    rows = [np.concatenate([x[i, j] for x in xs]) for i in range(b) for j in range(s)]
    return np.array(rows).reshape(b, s, -1)


def test_fused_reshape_concat(rng):
    xs = [rng.normal(size=(3, 4, w)).astype("float32") for w in (2, 3)]
    outs = check_layer(
        FusedReshapeConcat, {}, xs, expected_output_shape=[(9, 5), (3, 5)], train="tape"
    )
    ref = _fused_reference(xs)
    np.testing.assert_array_equal(np.asarray(outs[0]), ref[:, :3].reshape(9, 5))
    np.testing.assert_array_equal(np.asarray(outs[1]), ref[:, 3])


def test_fused_reshape_concat_general(rng):
    xs = [rng.normal(size=(3, 4, w)).astype("float32") for w in (2, 1)]
    out = check_layer(
        FusedReshapeConcatGeneral, {}, xs, expected_output_shape=(12, 3), train="tape"
    )
    np.testing.assert_array_equal(np.asarray(out), _fused_reference(xs).reshape(12, 3))


@pytest.mark.parametrize("cls", [FusedReshapeConcat, FusedReshapeConcatGeneral])
def test_fused_gradients(cls, rng):
    assert check_gradients(cls, {}, [rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 3, 1))]) > 0


def test_fused_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"'f' \(FusedReshapeConcat\).*3-D.*\(2, 3\)"):
        FusedReshapeConcat(name="f")([np.ones((2, 3), "float32")])
    with pytest.raises(ValueError, match=r"\(FusedReshapeConcat\).*at least 2 slots"):
        FusedReshapeConcat()([np.ones((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match=r"\(FusedReshapeConcatGeneral\).*all but the last"):
        FusedReshapeConcatGeneral()([np.ones((2, 3, 2), "float32"), np.ones((2, 4, 2), "float32")])
