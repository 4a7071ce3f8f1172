"""Slice and Gather: pieces of a 2-D tensor."""

import keras

from hugectr_tf.keras.layers._base import (
    check_rank,
    int_list,
    layer_error,
    serializable,
)


def _parse_ranges(ranges):
    try:
        parsed = [(int(a), int(b)) for a, b in ranges]
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"`ranges` must be a non-empty list of (begin, end) integer pairs. "
            f"Received: ranges={ranges!r}"
        ) from err
    if not parsed or any(a < 0 or b <= a for a, b in parsed):
        raise ValueError(
            "`ranges` must be a non-empty list of (begin, end) pairs with 0 <= begin < end. "
            f"Received: ranges={ranges!r}"
        )
    return parsed


@serializable
class Slice(keras.layers.Layer):
    """One output per half-open range `[begin, end)` of the last dimension; ranges may overlap.

    Args:
        ranges: List of `(begin, end)` integer pairs.

    Input shape:
        `(batch, N)`.

    Output shape:
        A list with one `(batch, end - begin)` tensor per range, in the order of `ranges`
        (HugeCTR's top order).

    Example:
    >>> [tuple(t.shape) for t in Slice(ranges=[(0, 2), (1, 4)])(keras.ops.ones((3, 4)))]
    [(3, 2), (3, 3)]
    """

    def __init__(self, ranges=(), **kwargs):
        super().__init__(**kwargs)
        self.ranges = _parse_ranges(ranges)

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))
        n = input_shape[-1]
        past = [r for r in self.ranges if n is not None and r[1] > n]
        if past:
            raise layer_error(
                self,
                f"ranges {past} end past the input width {n} (input shape {tuple(input_shape)})",
            )

    def call(self, inputs):
        # A range over the whole width (HugeCTR's DCN feeds both towers that way) is the input
        # itself: no copy forward, no zero-padded StridedSliceGrad backward.
        width = inputs.shape[-1]
        return [inputs if (a, b) == (0, width) else inputs[:, a:b] for a, b in self.ranges]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], b - a) for a, b in self.ranges]

    def get_config(self):
        return {**super().get_config(), "ranges": [list(r) for r in self.ranges]}


@serializable
class Gather(keras.layers.Layer):
    """Rows `indices` of a 2-D input, in the listed order: `[N, W] -> [len(indices), W]`.

    The rows are along the first (batch) dimension, as in HugeCTR.

    Args:
        indices: List of non-negative integers, each below N.

    Input shape: `(N, W)`. Output shape: `(len(indices), W)`.

    Example:
    >>> Gather(indices=[2, 0])(keras.ops.convert_to_tensor([[0.0], [1.0], [2.0]])).numpy().tolist()
    [[2.0], [0.0]]
    """

    def __init__(self, indices=(), **kwargs):
        super().__init__(**kwargs)
        self.indices = int_list(indices, "indices")

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))
        n = input_shape[0]
        bad = [i for i in self.indices if n is not None and i >= n]
        if bad:
            raise layer_error(
                self, f"indices {bad} are out of range for {n} rows (input shape {input_shape})"
            )

    def call(self, inputs):
        return keras.ops.take(inputs, self.indices, axis=0)

    def compute_output_shape(self, input_shape):
        return (len(self.indices), input_shape[1])

    def get_config(self):
        return {**super().get_config(), "indices": list(self.indices)}
