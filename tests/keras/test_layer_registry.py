import keras
import pytest

from hugectr_tf.config import Layer_t, dense_argument_names
from hugectr_tf.keras import layers


def test_every_layer_type_has_a_registered_class():
    assert set(layers.LAYER_CLASSES) == {m.value for m in Layer_t}
    for member in Layer_t:
        cls = layers.layer_class_for(member)
        assert cls is layers.layer_class_for(member.value) is layers.layer_class_for(member.name)
        name = keras.saving.get_registered_name(cls)
        assert name.startswith("hugectr_tf>") and keras.saving.get_registered_object(name) is cls


def test_unknown_layer_type_message():
    with pytest.raises(ValueError, match=r"layer_type='Conv2D'"):
        layers.layer_class_for("Conv2D")


def test_from_dense_layer_reads_only_the_class_arguments():
    from hugectr_tf.config import DenseLayer
    from hugectr_tf.config.enums import Initializer_t, Regularizer_t

    fc = DenseLayer(
        Layer_t.InnerProduct, ["a"], ["b"], num_output=7, weight_init_type=Initializer_t.Uniform
    )
    layer = layers.from_dense_layer(fc, name="fc1")
    assert isinstance(layer, layers.InnerProduct) and layer.name == "fc1"
    assert layer.num_output == 7 and layer.weight_init_type is Initializer_t.Uniform
    assert dense_argument_names("InnerProduct") == (
        "num_output",
        "weight_init_type",
        "bias_init_type",
    )
    loss = DenseLayer(
        "BinaryCrossEntropyLoss",
        ["fc", "label"],
        ["loss"],
        use_regularizer=True,
        regularizer_type=Regularizer_t.L2,
        **{"lambda": 0.25},
    )
    built = layers.from_dense_layer(loss)
    assert built.use_regularizer and built.lambda_ == 0.25
    assert built.regularizer_type is Regularizer_t.L2
    scale = layers.from_dense_layer(DenseLayer("Scale", ["x"], ["y"], axis=0, factor=3.0))
    assert scale.factor == 3 and scale.axis == 0


@pytest.mark.parametrize(
    "layer_type,params",
    [
        ("Add", {}),
        ("BatchNorm", {"factor": 0.9}),
        ("Dropout", {"dropout_rate": 0.2}),
        ("ELU", {"elu_alpha": 0.5}),
        ("FmOrder2", {"out_dim": 4}),
        ("GRU", {"num_output": 3, "batchsize": 2, "SeqLength": 4, "vector_size": 5}),
        ("MultiCross", {"num_layers": 2}),
        ("PReLU_Dice", {"elu_alpha": 0.2, "eps": 1e-8}),
        ("ReduceMean", {"axis": 2}),
        ("Reshape", {"leading_dim": 6, "time_step": 2}),
        ("Slice", {"ranges": [(0, 2)]}),
        ("WeightMultiply", {"weight_dims": [3, 4]}),
        ("Gather", {"indices": [0, 1]}),
        (
            "MultiCrossEntropyLoss",
            {"target_weight_vec": [1.0, 2.0], "use_regularizer": True, "regularizer_type": "L2"},
        ),
    ],
)
def test_from_dense_layer_for_each_kind(layer_type, params):
    from hugectr_tf.config import DenseLayer

    layer = layers.from_dense_layer(DenseLayer(layer_type, ["x"], ["y"], **params))
    assert type(layer) is layers.layer_class_for(layer_type)
    for k, v in params.items():
        got = getattr(layer, k)
        assert _plain(got.name if k == "regularizer_type" else got) == _plain(v), k


def _plain(value):
    """Lists and tuples compared as nested lists (Slice keeps ranges as tuples)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
