"""The layers HugeCTR runs in mixed precision work under Keras' mixed_float16 policy."""

import keras
import numpy as np
import pytest
from helpers.layer_test import check_layer

from hugectr_tf.keras import layers as L

_RNG = np.random.default_rng(7)


def _x(*shape):
    return _RNG.normal(size=shape).astype("float32")


CASES = [
    (L.InnerProduct, {"num_output": 3}, _x(4, 5)),
    # Small inputs (no float16 gradient overflow at Keras' first loss scale, 2**15, which would
    # skip the step) and a positive bias (some ReLU unit is always alive), whatever the init.
    (
        L.FusedInnerProduct,
        {"num_output": 3, "bias_init_type": keras.initializers.Constant(0.5)},
        0.1 * _x(4, 5),
    ),
    # Small inputs: Keras' loss scale starts at 2**15, and a first step whose float16
    # gradients overflow is skipped by design, which would leave the weights unchanged.
    (L.MultiCross, {"num_layers": 2}, 0.1 * _x(4, 5)),
    (L.BatchNorm, {}, _x(4, 5)),
    (L.Interaction, {}, [_x(4, 3), _x(4, 2, 3)]),
    (L.FmOrder2, {"out_dim": 2}, _x(4, 6)),
    (L.WeightMultiply, {"weight_dims": [3, 2]}, _x(4, 3)),
    (L.Add, {}, [_x(4, 3), _x(4, 3)]),
    (L.ElementwiseMultiply, {}, [_x(4, 3), _x(4, 3)]),
    (L.Concat, {}, [_x(4, 3), _x(4, 2)]),
    (L.Slice, {"ranges": [(0, 2), (1, 3)]}, _x(4, 3)),
    (L.Reshape, {"leading_dim": 6}, _x(4, 2, 3)),
    (L.ReLU, {}, _x(4, 3)),
    (L.ELU, {}, _x(4, 3)),
    (L.Sigmoid, {}, _x(4, 3)),
    (L.Dropout, {"dropout_rate": 0.5}, _x(4, 3)),
    (L.ReduceSum, {"axis": 1}, _x(4, 3, 2)),
]


@pytest.mark.parametrize("cls,kwargs,inputs", CASES, ids=[c[0].__name__ for c in CASES])
def test_float16_compute_close_to_float32(cls, kwargs, inputs, mixed_precision):
    reference = cls(**kwargs, dtype="float32")
    expected = reference(inputs)
    layer = cls(**kwargs)
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"
    layer(inputs)
    layer.set_weights(reference.get_weights())
    outs = layer(inputs)
    for out, exp in zip(
        outs if isinstance(outs, list) else [outs],
        expected if isinstance(expected, list) else [expected],
    ):
        assert keras.backend.standardize_dtype(out.dtype) == "float16"
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(out).astype("float32"),
            keras.ops.convert_to_numpy(exp),
            rtol=1e-2,
            atol=1e-2,
        )
    check_layer(cls, kwargs, inputs)


@pytest.mark.parametrize(
    "cls,kwargs,width",
    [
        (L.BinaryCrossEntropyLoss, {}, 1),
        (L.CrossEntropyLoss, {}, 2),
        (L.MultiCrossEntropyLoss, {"target_weight_vec": [1.0, 2.0]}, 2),
    ],
)
def test_losses_compute_in_float32(cls, kwargs, width, mixed_precision):
    logits = _x(4, width).astype("float16")
    labels = (_x(4, 1 if width == 2 and cls is L.CrossEntropyLoss else width) > 0).astype("float32")
    layer = cls(**kwargs)
    out = layer([logits, labels])
    assert layer.compute_dtype == "float32"
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    exact = cls(**kwargs)([logits.astype("float32"), labels])
    np.testing.assert_allclose(float(out), float(exact), rtol=1e-6)


def test_policy_is_restored_after_the_fixture():
    assert keras.mixed_precision.global_policy().name == "float32"
