"""Cast: HugeCTR's float32 <-> float16 conversion layer."""

import keras

from hugectr_tf.keras.layers._base import layer_error, serializable

_FLIP = {"float32": "float16", "float16": "float32"}


@serializable
class Cast(keras.layers.Layer):
    """Converts float32 to float16 or float16 to float32, as HugeCTR's `Cast`.

    HugeCTR's Cast has no argument: it flips the input's precision (its models cast the float32
    dense input to float16 in mixed precision). `out_dtype=None` does that; a dtype name fixes
    the output type instead. The layer never autocasts its input.

    Args:
        out_dtype: None, "float16" or "float32".

    Input shape: any float tensor. Output shape: same as input.

    Example:
    >>> Cast()(keras.ops.ones((2, 2), "float32")).dtype.name
    'float16'
    """

    def __init__(self, out_dtype=None, **kwargs):
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if out_dtype not in (None, "float16", "float32"):
            raise ValueError(
                f'`out_dtype` must be None, "float16" or "float32". Received: '
                f"out_dtype={out_dtype!r}"
            )
        self.out_dtype = out_dtype

    def _target(self, in_dtype):
        in_dtype = keras.backend.standardize_dtype(in_dtype)
        if self.out_dtype is not None:
            return self.out_dtype
        if in_dtype not in _FLIP:
            raise layer_error(self, f"input must be float32 or float16, received {in_dtype}")
        return _FLIP[in_dtype]

    def call(self, inputs):
        return keras.ops.cast(inputs, self._target(inputs.dtype))

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype=self._target(inputs.dtype))

    def get_config(self):
        return {**super().get_config(), "out_dtype": self.out_dtype}
