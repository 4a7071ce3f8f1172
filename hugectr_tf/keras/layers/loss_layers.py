"""HugeCTR's loss layers: `[logits, label]` in, the scalar batch loss out (float32)."""

import keras

from hugectr_tf.config import Regularizer_t
from hugectr_tf.keras import losses
from hugectr_tf.keras.layers._base import (
    as_shape_list,
    check_num_inputs,
    layer_error,
    serializable,
)
from hugectr_tf.keras.regularizers import regularization_term


class _LossLayer(keras.layers.Layer):
    """Common part: two bottoms `[logits, label]`, float32 compute, HugeCTR's regularizer args.

    The regularizer term applies to the model's dense weights, which a layer does not see:
    `regularization(weights, batch_size)` returns HugeCTR's term for this loss's settings (0 when
    `use_regularizer` is False) and the model adds it to the loss. `lambda` may be passed as
    `lambda_=` or, as in HugeCTR's DenseLayer, `**{"lambda": value}`.
    """

    def __init__(
        self, use_regularizer=False, regularizer_type=Regularizer_t.L1, lambda_=0.0, **kwargs
    ):
        if "lambda" in kwargs:
            lambda_ = kwargs.pop("lambda")
        # Losses compute in float32 whatever the global policy (HugeCTR keeps losses in float).
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.use_regularizer = bool(use_regularizer)
        self.regularizer_type = Regularizer_t.parse(regularizer_type, "regularizer_type")
        if float(lambda_) < 0:
            raise ValueError(f"`lambda` must be non-negative. Received: lambda={lambda_!r}")
        self.lambda_ = float(lambda_)

    def regularization(self, weights, batch_size):
        """HugeCTR's L1/L2 term over `weights` for this loss's settings; 0.0 when disabled."""
        if not self.use_regularizer:
            return keras.ops.convert_to_tensor(0.0, "float32")
        return regularization_term(weights, self.regularizer_type, self.lambda_, batch_size)

    def build(self, input_shape):
        shapes = as_shape_list(input_shape)
        check_num_inputs(self, shapes, expected=2)
        for s in shapes:
            if len(s) != 2:
                raise layer_error(self, f"logits and label must be 2-D, received shapes {shapes}")
        if shapes[0][0] is not None and shapes[1][0] is not None and shapes[0][0] != shapes[1][0]:
            raise layer_error(
                self, f"logits and label must have the same batch size, received {shapes}"
            )
        self._check_widths(shapes[0][1], shapes[1][1], shapes)

    def call(self, inputs):
        logits, label = inputs
        return keras.ops.mean(self._per_sample(label, logits))

    def compute_output_shape(self, input_shape):
        return ()

    def get_config(self):
        return {
            **super().get_config(),
            "use_regularizer": self.use_regularizer,
            "regularizer_type": self.regularizer_type.name,
            "lambda_": self.lambda_,
        }


@serializable
class BinaryCrossEntropyLoss(_LossLayer):
    """Sigmoid cross entropy of `[B, 1]` logits with `[B, 1]` labels, averaged over the batch.

    The sigmoid is fused into the loss (the logits are the last InnerProduct's output), with the
    stable form `max(x, 0) - x*y + log(1 + exp(-|x|))`.

    Args:
        use_regularizer: Boolean. Whether `regularization()` returns a term.
        regularizer_type: `Regularizer_t` or its name.
        lambda_: Float. HugeCTR's `lambda`.

    Input shape: `[logits (batch, 1), label (batch, 1)]`. Output shape: `()`.

    Example:
    >>> loss = BinaryCrossEntropyLoss()([keras.ops.zeros((4, 1)), keras.ops.ones((4, 1))])
    >>> round(float(loss), 6)  # log(2)
    0.693147
    """

    def _check_widths(self, logits_w, label_w, shapes):
        if logits_w != 1 or label_w != 1:
            raise layer_error(
                self, f"logits and label must both be (batch, 1), received shapes {shapes}"
            )

    def _per_sample(self, label, logits):
        return losses.binary_cross_entropy(label, logits)


@serializable
class CrossEntropyLoss(_LossLayer):
    """Softmax cross entropy of `[B, 2]` logits with `[B, 1]` 0/1 labels, averaged.

    Args: as `BinaryCrossEntropyLoss`.

    Input shape: `[logits (batch, 2), label (batch, 1)]`. Output shape: `()`.
    """

    def _check_widths(self, logits_w, label_w, shapes):
        if logits_w != 2 or label_w != 1:
            raise layer_error(
                self, f"logits must be (batch, 2) and label (batch, 1), received shapes {shapes}"
            )

    def _per_sample(self, label, logits):
        return losses.cross_entropy(label, logits)


@serializable
class MultiCrossEntropyLoss(_LossLayer):
    """Weighted multi-label sigmoid cross entropy; labels of -1 are masked out.

    `loss = sum_{b,j} w_j * bce(x_bj, y_bj) * [y_bj >= -0.5] / (B * L)`.

    Args:
        target_weight_vec: List of L floats.
        use_regularizer, regularizer_type, lambda_: as `BinaryCrossEntropyLoss`.

    Input shape: `[logits (batch, L), label (batch, L)]`. Output shape: `()`.
    """

    def __init__(
        self,
        target_weight_vec=(),
        use_regularizer=False,
        regularizer_type=Regularizer_t.L1,
        lambda_=0.0,
        **kwargs,
    ):
        super().__init__(
            use_regularizer=use_regularizer,
            regularizer_type=regularizer_type,
            lambda_=lambda_,
            **kwargs,
        )
        self.target_weight_vec = losses.check_target_weight_vec(target_weight_vec)

    def _check_widths(self, logits_w, label_w, shapes):
        n = len(self.target_weight_vec)
        if logits_w != label_w or logits_w != n:
            raise layer_error(
                self,
                f"logits and label must both be (batch, len(target_weight_vec)={n}), "
                f"received shapes {shapes}",
            )

    def _per_sample(self, label, logits):
        return losses.multi_cross_entropy(label, logits, self.target_weight_vec)

    def get_config(self):
        return {**super().get_config(), "target_weight_vec": list(self.target_weight_vec)}
