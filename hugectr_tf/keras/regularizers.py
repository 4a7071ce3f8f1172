"""HugeCTR's L1 / L2 weight regularization (`Regularizer_t`), scaled by the batch size.

HugeCTR adds one term to the loss, computed over all dense weights of the model
(`regularizers/l1_regularizer.cu`, `l2_regularizer.cu`):

- L1: `lambda / batch_size * sum |w|`, gradient `sign(w) * lambda / batch_size`.
- L2: `lambda / (2 * batch_size) * sum w^2`, gradient `w * lambda / batch_size`.

`regularization_term` is the function the hugectr-compatible Model calls with the dense
trainable weights; `L1` / `L2` are the same per-weight formulas as Keras regularizers, for Keras
users who attach them to their own layers.
"""

import keras

from hugectr_tf.config import Regularizer_t


def _check(lambda_, batch_size):
    if float(lambda_) < 0:
        raise ValueError(f"`lambda` must be non-negative. Received: lambda={lambda_!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )


def _l1(w):
    return keras.ops.sum(keras.ops.abs(keras.ops.cast(w, "float32")))


def _l2(w):
    return keras.ops.sum(keras.ops.square(keras.ops.cast(w, "float32")))


def regularization_term(weights, regularizer_type, lambda_, batch_size):
    """HugeCTR's regularization term over `weights`, a float32 scalar.

    Args:
        weights: Iterable of variables or tensors (the model's dense weights).
        regularizer_type: `Regularizer_t` member or its name ("L1", "L2").
        lambda_: Float >= 0. HugeCTR's `lambda`.
        batch_size: Integer. The global batch size HugeCTR divides by.
    """
    kind = Regularizer_t.parse(regularizer_type, "regularizer_type")
    _check(lambda_, batch_size)
    norm = _l1 if kind is Regularizer_t.L1 else _l2
    total = keras.ops.convert_to_tensor(0.0, "float32")
    for w in weights:
        total = total + norm(w)
    scale = float(lambda_) / batch_size
    return total * (scale if kind is Regularizer_t.L1 else scale / 2.0)


@keras.saving.register_keras_serializable(package="hugectr_tf")
class L1(keras.regularizers.Regularizer):
    """`lambda_ / batch_size * sum |w|` for one weight (HugeCTR's L1, applied per weight)."""

    def __init__(self, lambda_=0.0, batch_size=1):
        _check(lambda_, batch_size)
        self.lambda_ = float(lambda_)
        self.batch_size = batch_size

    def __call__(self, x):
        return regularization_term([x], Regularizer_t.L1, self.lambda_, self.batch_size)

    def get_config(self):
        return {"lambda_": self.lambda_, "batch_size": self.batch_size}


@keras.saving.register_keras_serializable(package="hugectr_tf")
class L2(L1):
    """`lambda_ / (2 * batch_size) * sum w^2` for one weight (HugeCTR's L2, per weight)."""

    def __call__(self, x):
        return regularization_term([x], Regularizer_t.L2, self.lambda_, self.batch_size)
