"""Keras layers with HugeCTR's semantics: SparseEmbedding and every HugeCTR dense layer and loss.

`LAYER_CLASSES` maps each `hugectr.Layer_t` value (the name HugeCTR writes in its graph JSON)
to its class; `layer_class_for("InnerProduct")` looks one up; `from_dense_layer(dense_layer)`
builds the Keras layer of a `hugectr.DenseLayer` from the arguments its type reads
(`hugectr_tf.config.DENSE_LAYER_ARGUMENTS`).
"""

from hugectr_tf.config import Layer_t
from hugectr_tf.keras.layers.activations import ELU, PReLUDice, ReLU, Sigmoid, Softmax
from hugectr_tf.keras.layers.batch_norm import BatchNorm
from hugectr_tf.keras.layers.cast import Cast
from hugectr_tf.keras.layers.concat import Concat, FusedReshapeConcat, FusedReshapeConcatGeneral
from hugectr_tf.keras.layers.dropout import Dropout
from hugectr_tf.keras.layers.fm_order2 import FmOrder2
from hugectr_tf.keras.layers.gru import GRU
from hugectr_tf.keras.layers.inner_product import FusedInnerProduct, InnerProduct
from hugectr_tf.keras.layers.interaction import Interaction
from hugectr_tf.keras.layers.loss_layers import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MultiCrossEntropyLoss,
)
from hugectr_tf.keras.layers.merge import Add, DotProduct, ElementwiseMultiply, Sub
from hugectr_tf.keras.layers.multi_cross import MultiCross
from hugectr_tf.keras.layers.reduce import ReduceMean, ReduceSum
from hugectr_tf.keras.layers.reshape import Reshape, Scale
from hugectr_tf.keras.layers.slice import Gather, Slice
from hugectr_tf.keras.layers.sparse_embedding import SparseEmbedding
from hugectr_tf.keras.layers.weight_multiply import WeightMultiply

# HugeCTR argument name -> Keras constructor argument name, where they differ.
_KERAS_NAMES = {"lambda": "lambda_"}

LAYER_CLASSES = {
    "Add": Add,
    "BatchNorm": BatchNorm,
    "Cast": Cast,
    "Concat": Concat,
    "DotProduct": DotProduct,
    "Dropout": Dropout,
    "ELU": ELU,
    "FmOrder2": FmOrder2,
    "FusedInnerProduct": FusedInnerProduct,
    "InnerProduct": InnerProduct,
    "Interaction": Interaction,
    "MultiCross": MultiCross,
    "ReLU": ReLU,
    "ReduceSum": ReduceSum,
    "Reshape": Reshape,
    "Sigmoid": Sigmoid,
    "Slice": Slice,
    "WeightMultiply": WeightMultiply,
    "ElementwiseMultiply": ElementwiseMultiply,
    "GRU": GRU,
    "Scale": Scale,
    "FusedReshapeConcat": FusedReshapeConcat,
    "FusedReshapeConcatGeneral": FusedReshapeConcatGeneral,
    "Softmax": Softmax,
    "PReLU_Dice": PReLUDice,
    "ReduceMean": ReduceMean,
    "Sub": Sub,
    "Gather": Gather,
    "BinaryCrossEntropyLoss": BinaryCrossEntropyLoss,
    "CrossEntropyLoss": CrossEntropyLoss,
    "MultiCrossEntropyLoss": MultiCrossEntropyLoss,
}


def layer_class_for(layer_type):
    """The Keras layer class for a `Layer_t` member, its value ("InnerProduct") or its name."""
    return LAYER_CLASSES[Layer_t.parse(layer_type, "layer_type").value]


def keras_arguments(dense_layer):
    """The constructor arguments of the Keras layer of a `hugectr.DenseLayer`: every argument
    its type reads (`DENSE_LAYER_ARGUMENTS`), HugeCTR's defaults included, so a Keras default
    never replaces a HugeCTR one. `lambda` becomes `lambda_`."""
    return {_KERAS_NAMES.get(k, k): v for k, v in dense_layer.arguments().items()}


def from_dense_layer(dense_layer, **layer_kwargs):
    """The Keras layer of a `hugectr.DenseLayer`; `layer_kwargs` (e.g. `name=`) go to Keras."""
    cls = layer_class_for(dense_layer.layer_type)
    return cls(**keras_arguments(dense_layer), **layer_kwargs)


__all__ = [
    "LAYER_CLASSES",
    "from_dense_layer",
    "keras_arguments",
    "layer_class_for",
    "SparseEmbedding",
    *sorted({cls.__name__ for cls in LAYER_CLASSES.values()}),
]
