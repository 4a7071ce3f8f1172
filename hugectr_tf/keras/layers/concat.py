"""Concat and the fused reshape-concat layers of DIN."""

import keras

from hugectr_tf.keras.layers._base import (
    as_shape_list,
    check_num_inputs,
    check_rank,
    layer_error,
    serializable,
)


def _check_same_leading(layer, shapes):
    lead = shapes[0][:-1]
    if any(s[:-1] != lead for s in shapes[1:]):
        raise layer_error(
            layer, f"inputs must agree in all but the last dimension, received shapes {shapes}"
        )


@serializable
class Concat(keras.layers.Layer):
    """Concatenates two or more inputs on the last dimension, in bottom order.

    Input shape: a list of `(batch, ..., w_k)` with equal leading dimensions.
    Output shape: `(batch, ..., sum_k w_k)`.

    Example:
    >>> tuple(Concat()([keras.ops.ones((2, 3)), keras.ops.ones((2, 1))]).shape)
    (2, 4)
    """

    def build(self, input_shape):
        shapes = as_shape_list(input_shape)
        check_num_inputs(self, shapes, minimum=2)
        for s in shapes:
            check_rank(self, s, (2, 3), "every input")
        _check_same_leading(self, shapes)

    def call(self, inputs):
        return keras.ops.concatenate(list(inputs), axis=-1)

    def compute_output_shape(self, input_shape):
        shapes = as_shape_list(input_shape)
        return (*shapes[0][:-1], sum(s[-1] for s in shapes))


class _FusedReshapeConcatBase(keras.layers.Layer):
    def build(self, input_shape):
        shapes = as_shape_list(input_shape)
        check_num_inputs(self, shapes, minimum=1)
        for s in shapes:
            check_rank(self, s, (3,), "every input")
        _check_same_leading(self, shapes)

    @staticmethod
    def _concat(inputs):
        if not isinstance(inputs, (list, tuple)):
            return inputs
        return keras.ops.concatenate(list(inputs), axis=-1)  # [B, S, W]


@serializable
class FusedReshapeConcat(_FusedReshapeConcatBase):
    """DIN's fused reshape + concat with two outputs (HugeCTR's `FusedReshapeConcat`).

    The inputs `[B, S, w_k]` are concatenated on the last axis to `[B, S, W]`. The first output
    holds the first S - 1 slots of every sample as rows, `[B * (S - 1), W]` (row
    `b * (S - 1) + s`); the second output holds the last slot, `[B, W]`.

    Input shape: a list of `(batch, S, w_k)`, S >= 2.
    Output shape: `[(batch * (S - 1), W), (batch, W)]`.

    Example:
    >>> x = [keras.ops.ones((2, 4, 3)), keras.ops.ones((2, 4, 1))]
    >>> [tuple(t.shape) for t in FusedReshapeConcat()(x)]
    [(6, 4), (2, 4)]
    """

    def build(self, input_shape):
        super().build(input_shape)
        s = as_shape_list(input_shape)[0][1]
        if s is not None and s < 2:
            raise layer_error(self, f"needs at least 2 slots, received shapes {input_shape}")

    def call(self, inputs):
        x = self._concat(inputs)
        s, w = x.shape[1], x.shape[2]
        return [keras.ops.reshape(x[:, : s - 1, :], (-1, w)), x[:, s - 1, :]]

    def compute_output_shape(self, input_shape):
        shapes = as_shape_list(input_shape)
        b, s = shapes[0][0], shapes[0][1]
        w = sum(x[-1] for x in shapes)
        return [(None if b is None else b * (s - 1), w), (b, w)]


@serializable
class FusedReshapeConcatGeneral(_FusedReshapeConcatBase):
    """Concatenates `[B, S, w_k]` inputs on the last axis and flattens to rows: `[B * S, W]`.

    Input shape: a list of `(batch, S, w_k)`.
    Output shape: `(batch * S, W)`, row `b * S + s`.
    """

    def call(self, inputs):
        x = self._concat(inputs)
        return keras.ops.reshape(x, (-1, x.shape[2]))

    def compute_output_shape(self, input_shape):
        shapes = as_shape_list(input_shape)
        b, s = shapes[0][0], shapes[0][1]
        return (None if b is None else b * s, sum(x[-1] for x in shapes))
