"""Reshape and Scale: HugeCTR's layout changes of one tensor."""

import math

import keras

from hugectr_tf.keras.layers._base import (
    check_rank,
    int_list,
    layer_error,
    positive_int,
    serializable,
)


@serializable
class Reshape(keras.layers.Layer):
    """HugeCTR's Reshape: regroups all elements of the batch, or selects slots.

    - Default: the `B * C` elements (C = elements per sample) become
      `[B * C / leading_dim, leading_dim]`; with the usual `leading_dim = C` that is `[B, C]`.
    - `time_step > 0`: `[B * C / (time_step * leading_dim), time_step, leading_dim]`.
    - `selected=True`: input `[B, S, E]`; keeps `selected_slots` in the listed order (repeats
      allowed) and gives `[B, len(selected_slots) * E]`.

    The row count may change: DeepFM reshapes a `[B, 26, 11]` embedding to `[B * 26, 11]` and,
    after a slice, `[B * 26, 10]` back to `[B, 260]`. `leading_dim` (times `time_step`) must
    divide the element count of the input; with the batch size unknown at build time that is
    checked when the shape is known (TensorFlow's reshape at run time, or `compute_output_shape`
    with a known batch, which the hugectr `Model` uses to follow rows per sample).

    Args:
        leading_dim: Integer. Innermost output dimension.
        selected: Boolean. Selected-slots mode.
        selected_slots: List of integers. Slots to keep when `selected`.
        time_step: Integer. 0 for a 2-D output; otherwise the middle output dimension.

    Input shape:
        `(batch, ...)`; `(batch, S, E)` when `selected`.

    Output shape:
        As above.

    Example:
    >>> tuple(Reshape(leading_dim=12)(keras.ops.ones((2, 3, 4))).shape)
    (2, 12)
    """

    def __init__(self, leading_dim=1, selected=False, selected_slots=(), time_step=0, **kwargs):
        super().__init__(**kwargs)
        self.selected = bool(selected)
        if self.selected:
            self.selected_slots = int_list(selected_slots, "selected_slots")
            self.leading_dim = int(leading_dim)
            self.time_step = 0
        else:
            self.selected_slots = list(selected_slots)
            self.leading_dim = positive_int(leading_dim, "leading_dim")
            if isinstance(time_step, bool) or not isinstance(time_step, int) or time_step < 0:
                raise ValueError(
                    f"`time_step` must be a non-negative integer. Received: time_step={time_step!r}"
                )
            self.time_step = time_step

    def _row(self):
        return self.leading_dim * max(self.time_step, 1)

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.selected:
            check_rank(self, shape, (3,))
            bad = [s for s in self.selected_slots if shape[1] is not None and s >= shape[1]]
            if bad:
                raise layer_error(
                    self,
                    f"selected_slots {bad} are out of range for {shape[1]} slots "
                    f"(input shape {shape})",
                )
            return
        if len(shape) < 2 or any(d is None for d in shape[1:]):
            raise layer_error(self, f"input needs known non-batch dimensions, received {shape}")
        self._check_divides(shape)

    def _check_divides(self, shape):
        """`leading_dim` (times `time_step`) divides the elements, when the row count is known."""
        if shape[0] is None:
            return  # the input may hold several rows per sample (HugeCTR's DeepFM)
        total = math.prod(shape)
        row = self._row()
        if total % row:
            what = "leading_dim" if self.time_step == 0 else "leading_dim * time_step"
            raise layer_error(
                self, f"{what}={row} does not divide the {total} elements of input shape {shape}"
            )

    def call(self, inputs):
        if self.selected:
            picked = keras.ops.take(inputs, self.selected_slots, axis=1)
            return keras.ops.reshape(picked, (-1, len(self.selected_slots) * inputs.shape[2]))
        if self.time_step:
            return keras.ops.reshape(inputs, (-1, self.time_step, self.leading_dim))
        return keras.ops.reshape(inputs, (-1, self.leading_dim))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.selected:
            e = shape[2]
            return (shape[0], None if e is None else len(self.selected_slots) * e)
        rows = None
        if shape[0] is not None:
            self._check_divides(shape)
            rows = math.prod(shape) // self._row()
        if self.time_step:
            return (rows, self.time_step, self.leading_dim)
        return (rows, self.leading_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "leading_dim": self.leading_dim,
            "selected": self.selected,
            "selected_slots": list(self.selected_slots),
            "time_step": self.time_step,
        }


@serializable
class Scale(keras.layers.Layer):
    """Repeats a 2-D input `factor` times, as HugeCTR's Scale (used by DIN's attention).

    `axis=0` repeats each element in place: `[B, N] -> [B, N * factor]` with
    `out[b, i * factor + k] = x[b, i]`. `axis=1` repeats each row in place:
    `[B, N] -> [B * factor, N]` with `out[b * factor + k] = x[b]`.
    The gradient sums over the copies. (HugeCTR's backward pass takes the first copy only.)

    Args:
        axis: 0 or 1.
        factor: Integer (or integral float, as HugeCTR's DenseLayer passes it) >= 1.

    Input shape: `(batch, N)`. Output shape: as above.

    Example:
    >>> Scale(axis=0, factor=2)(keras.ops.convert_to_tensor([[1.0, 2.0]])).numpy().tolist()
    [[1.0, 1.0, 2.0, 2.0]]
    """

    def __init__(self, axis=0, factor=1, **kwargs):
        super().__init__(**kwargs)
        if axis not in (0, 1) or isinstance(axis, bool):
            raise ValueError(f"`axis` must be 0 or 1. Received: axis={axis!r}")
        if isinstance(factor, float) and factor.is_integer():
            factor = int(factor)
        self.axis = axis
        self.factor = positive_int(factor, "factor")

    def build(self, input_shape):
        check_rank(self, tuple(input_shape), (2,))

    def call(self, inputs):
        return keras.ops.repeat(inputs, self.factor, axis=1 if self.axis == 0 else 0)

    def compute_output_shape(self, input_shape):
        b, n = input_shape
        if self.axis == 0:
            return (b, None if n is None else n * self.factor)
        return (None if b is None else b * self.factor, n)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "factor": self.factor}
