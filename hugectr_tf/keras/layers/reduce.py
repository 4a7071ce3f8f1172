"""ReduceSum and ReduceMean: reduce one axis, keeping it with size 1, as HugeCTR does."""

import keras

from hugectr_tf.keras.layers._base import check_rank, layer_error, serializable


class _Reduce(keras.layers.Layer):
    def __init__(self, axis=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis < 0:
            raise ValueError(f"`axis` must be a non-negative integer. Received: axis={axis!r}")
        self.axis = axis

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2, 3))
        if self.axis >= len(input_shape):
            raise layer_error(
                self,
                f"axis={self.axis} is out of range for an input of shape {tuple(input_shape)} "
                f"(0 <= axis < {len(input_shape)})",
            )

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[self.axis] = 1
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@serializable
class ReduceSum(_Reduce):
    """Sums over `axis`; that dimension becomes 1.

    Args:
        axis: Integer. 0 <= axis < rank (axis 0 is the batch, as HugeCTR allows).

    Input shape: 2-D or 3-D. Output shape: the input's with `shape[axis] = 1`.

    Example:
    >>> tuple(ReduceSum(axis=1)(keras.ops.ones((2, 3, 4))).shape)
    (2, 1, 4)
    """

    def call(self, inputs):
        return keras.ops.sum(inputs, axis=self.axis, keepdims=True)


@serializable
class ReduceMean(_Reduce):
    """Averages over `axis`; that dimension becomes 1.

    Args:
        axis: Integer. 0 <= axis < rank.

    Input shape: 2-D or 3-D. Output shape: the input's with `shape[axis] = 1`.
    """

    def call(self, inputs):
        return keras.ops.mean(inputs, axis=self.axis, keepdims=True)
