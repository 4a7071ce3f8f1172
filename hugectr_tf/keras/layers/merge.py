"""Element-wise merges of several same-shaped bottoms: Add, Sub, ElementwiseMultiply, DotProduct."""

import functools
import operator

import keras

from hugectr_tf.keras.layers._base import (
    as_shape_list,
    check_num_inputs,
    layer_error,
    serializable,
)


class _Merge(keras.layers.Layer):
    """Takes a list of inputs of one shape in HugeCTR's bottom order; returns that shape."""

    num_inputs = None  # exact count, or None for "two or more"

    def build(self, input_shape):
        shapes = as_shape_list(input_shape)
        if self.num_inputs is None:
            check_num_inputs(self, shapes, minimum=2)
        else:
            check_num_inputs(self, shapes, expected=self.num_inputs)
        for s in shapes[1:]:
            if s[1:] != shapes[0][1:]:
                raise layer_error(self, f"all inputs must have the same shape, received {shapes}")

    def compute_output_shape(self, input_shape):
        return as_shape_list(input_shape)[0]

    def call(self, inputs):
        return functools.reduce(self.op, inputs)


@serializable
class Add(_Merge):
    """Element-wise sum of two or more inputs: `y = x_0 + x_1 + ...`.

    Example:
    >>> Add()([keras.ops.ones((2, 3)), keras.ops.ones((2, 3))]).numpy().tolist()
    [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]"""

    op = staticmethod(operator.add)


@serializable
class Sub(_Merge):
    """Element-wise difference of exactly two inputs: `y = x_0 - x_1`."""

    num_inputs = 2
    op = staticmethod(operator.sub)


@serializable
class ElementwiseMultiply(_Merge):
    """Element-wise product of two or more inputs: `y = x_0 * x_1 * ...`."""

    op = staticmethod(operator.mul)


@serializable
class DotProduct(_Merge):
    """HugeCTR's `DotProduct`: despite its name, the element-wise product of its inputs.

    `y = x_0 * x_1 * ...`, same shape as each input (HugeCTR's DotProduct layer multiplies
    element by element and does not sum).
    """

    op = staticmethod(operator.mul)
