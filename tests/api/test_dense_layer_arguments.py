"""Every `DenseLayer` argument reaches its Keras layer, with HugeCTR's default when not given.

Walks `DENSE_LAYER_ARGUMENTS` (every `Layer_t`, every argument it reads): a non-default value
must arrive at the Keras layer unchanged, an omitted one must arrive as HugeCTR's default (a
Keras default never stands in), and an argument the type does not read raises.
"""

import pytest

from hugectr_tf.config import (
    DENSE_DEFAULTS,
    DENSE_LAYER_ARGUMENTS,
    Activation_t,
    DenseLayer,
    FcPosition_t,
    Initializer_t,
    Layer_t,
    Regularizer_t,
)
from hugectr_tf.keras.layers import from_dense_layer

# A valid non-default value of each argument.
SAMPLES = {
    "factor": 0.5,
    "eps": 1e-3,
    "gamma_init_type": Initializer_t.Zero,
    "beta_init_type": Initializer_t.Zero,
    "dropout_rate": 0.25,
    "elu_alpha": 0.5,
    "num_output": 3,
    "weight_init_type": Initializer_t.Uniform,
    "bias_init_type": Initializer_t.Zero,
    "num_layers": 2,
    "leading_dim": 4,
    "selected": True,
    "selected_slots": [0, 1],
    "ranges": [(0, 2), (1, 3)],
    "weight_dims": [3, 4],
    "out_dim": 2,
    "axis": 0,
    "time_step": 2,
    "batchsize": 4,
    "SeqLength": 3,
    "vector_size": 5,
    "indices": [0, 2],
    "target_weight_vec": [0.5, 0.5],
    "use_regularizer": True,
    "regularizer_type": Regularizer_t.L2,
    "lambda": 0.1,
    "pos_type": FcPosition_t.Tail,
    "act_type": Activation_t.Non,
}
# Arguments without which a layer type cannot be built (HugeCTR's default is not usable).
REQUIRED = {
    Layer_t.MultiCross: {"num_layers": 1},
    Layer_t.FmOrder2: {"out_dim": 1},
    Layer_t.WeightMultiply: {"weight_dims": [2, 2]},
    Layer_t.Slice: {"ranges": [(0, 1)]},
    Layer_t.Gather: {"indices": [0]},
    Layer_t.MultiCrossEntropyLoss: {"target_weight_vec": [1.0]},
}
# Where one argument name means something else for one type (Scale's `factor` is a repeat count).
TYPE_SAMPLES = {(Layer_t.Scale, "factor"): 3}
KERAS_NAMES = {"lambda": "lambda_"}


def _as_compared(value):
    if isinstance(value, (list, tuple)):
        return [_as_compared(v) for v in value]
    return value


def _keras_value(layer, name):
    value = getattr(layer, KERAS_NAMES.get(name, name))
    return _as_compared(value)


CASES = [
    (t, arg.name)
    for t, args in DENSE_LAYER_ARGUMENTS.items()
    for arg in args
    if arg.name != "selected"  # set together with selected_slots
]


@pytest.mark.parametrize("layer_type,name", CASES, ids=[f"{t.name}-{n}" for t, n in CASES])
def test_a_given_argument_reaches_the_keras_layer(layer_type, name):
    kwargs = dict(REQUIRED.get(layer_type, {}))
    value = TYPE_SAMPLES.get((layer_type, name), SAMPLES[name])
    kwargs[name] = value
    if name == "selected_slots":
        kwargs["selected"] = True
    layer = from_dense_layer(DenseLayer(layer_type, ["a"], ["b"], **kwargs))
    assert _keras_value(layer, name) == _as_compared(value)


@pytest.mark.parametrize("layer_type", list(DENSE_LAYER_ARGUMENTS), ids=lambda t: t.name)
def test_omitted_arguments_arrive_as_hugectr_defaults(layer_type):
    required = REQUIRED.get(layer_type, {})
    layer = from_dense_layer(DenseLayer(layer_type, ["a"], ["b"], **required))
    for arg in DENSE_LAYER_ARGUMENTS[layer_type]:
        if arg.name in required:
            continue
        assert _keras_value(layer, arg.name) == _as_compared(DENSE_DEFAULTS[arg.name]), arg.name


@pytest.mark.parametrize("layer_type", list(REQUIRED), ids=lambda t: t.name)
def test_an_unusable_default_raises_naming_the_argument(layer_type):
    (name,) = REQUIRED[layer_type]
    with pytest.raises(ValueError, match=name):
        from_dense_layer(DenseLayer(layer_type, ["a"], ["b"]))


def test_scale_keeps_hugectr_axis_default():
    # HugeCTR's DenseLayer default axis=1 repeats rows ([B, N] -> [B * factor, N]), as DIN uses.
    layer = from_dense_layer(DenseLayer(Layer_t.Scale, ["a"], ["b"], factor=10))
    assert layer.axis == 1 and tuple(layer.compute_output_shape((4, 36))) == (40, 36)


def test_an_argument_the_type_does_not_read_raises():
    with pytest.raises(ValueError, match=r"ReLU.*does not read \['num_output'\]"):
        DenseLayer(Layer_t.ReLU, ["a"], ["b"], num_output=3)
    with pytest.raises(TypeError, match="unexpected arguments"):
        DenseLayer(Layer_t.ReLU, ["a"], ["b"], no_such_argument=1)
