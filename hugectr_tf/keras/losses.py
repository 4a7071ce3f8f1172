"""HugeCTR's losses as functions and as serializable Keras losses.

All compute in float32 from logits (HugeCTR fuses the final sigmoid / softmax into the loss)
and average as HugeCTR does (`loss.cu`):

- BinaryCrossEntropy: mean over the batch of `max(x, 0) - x*y + log(1 + exp(-|x|))`.
- CrossEntropy: two logits per sample, class 1 where the label is >= 0.5; mean of
  `-log softmax(x)[class]`.
- MultiCrossEntropy: per-label binary cross entropy weighted by `target_weight_vec`; labels
  below -0.5 are masked out (contribute 0); the sum is divided by `batch * num_labels`, masked
  entries included, as HugeCTR divides.
"""

import keras

_F32 = "float32"


def _sigmoid_bce(labels, logits):
    """Element-wise sigmoid cross entropy, stable for large |logits|."""
    x = keras.ops.cast(logits, _F32)
    y = keras.ops.cast(labels, _F32)
    return keras.ops.relu(x) - x * y + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(x)))


def binary_cross_entropy(labels, logits):
    """Per-sample sigmoid cross entropy `[B]` of `[B, 1]` logits (summed over the last axis)."""
    return keras.ops.sum(_sigmoid_bce(labels, logits), axis=-1)


def cross_entropy(labels, logits):
    """Per-sample softmax cross entropy `[B]` of `[B, 2]` logits and `[B, 1]` 0/1 labels."""
    x = keras.ops.cast(logits, _F32)
    y = keras.ops.reshape(keras.ops.cast(labels, _F32), (-1,))
    log_p = keras.ops.log_softmax(x, axis=-1)
    click = keras.ops.cast(y >= 0.5, _F32)
    return -(click * log_p[:, 1] + (1.0 - click) * log_p[:, 0])


def multi_cross_entropy(labels, logits, target_weight_vec):
    """Per-sample weighted, masked multi-label cross entropy `[B]`: sum_j / num_labels."""
    y = keras.ops.cast(labels, _F32)
    weights = keras.ops.convert_to_tensor(list(target_weight_vec), _F32)
    mask = keras.ops.cast(y >= -0.5, _F32)
    per = _sigmoid_bce(keras.ops.maximum(y, 0.0), logits) * weights * mask
    return keras.ops.sum(per, axis=-1) / float(len(target_weight_vec))


@keras.saving.register_keras_serializable(package="hugectr_tf")
class BinaryCrossEntropy(keras.losses.Loss):
    """HugeCTR's BinaryCrossEntropyLoss: sigmoid fused, `y_pred` are logits `[B, 1]`."""

    def __init__(self, reduction="sum_over_batch_size", name="binary_cross_entropy", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)

    def call(self, y_true, y_pred):
        return binary_cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="hugectr_tf")
class CrossEntropy(keras.losses.Loss):
    """HugeCTR's CrossEntropyLoss: softmax fused, `y_pred` are logits `[B, 2]`, `y_true` 0/1."""

    def __init__(self, reduction="sum_over_batch_size", name="cross_entropy", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)

    def call(self, y_true, y_pred):
        return cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="hugectr_tf")
class MultiCrossEntropy(keras.losses.Loss):
    """HugeCTR's MultiCrossEntropyLoss: per-label sigmoid cross entropy, weighted and masked.

    Args:
        target_weight_vec: List of floats, one weight per label column.
    """

    def __init__(
        self,
        target_weight_vec=(),
        reduction="sum_over_batch_size",
        name="multi_cross_entropy",
        **kwargs,
    ):
        super().__init__(reduction=reduction, name=name, **kwargs)
        self.target_weight_vec = check_target_weight_vec(target_weight_vec)

    def call(self, y_true, y_pred):
        return multi_cross_entropy(y_true, y_pred, self.target_weight_vec)

    def get_config(self):
        return {**super().get_config(), "target_weight_vec": list(self.target_weight_vec)}


def check_target_weight_vec(target_weight_vec):
    try:
        values = [float(v) for v in target_weight_vec]
    except (TypeError, ValueError) as err:
        raise ValueError(
            "`target_weight_vec` must be a non-empty list of floats. "
            f"Received: target_weight_vec={target_weight_vec!r}"
        ) from err
    if not values:
        raise ValueError(
            "`target_weight_vec` must be a non-empty list of floats. "
            f"Received: target_weight_vec={target_weight_vec!r}"
        )
    return values
