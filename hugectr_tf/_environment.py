"""Import-time checks: a supported TensorFlow, Keras 3, and the TensorFlow Keras backend.

Keras 3 picks its backend once per process from KERAS_BACKEND (or ~/.keras/keras.json). The
plugin's layers and ops are TensorFlow ops, so any other backend would fail later in obscure ways;
we refuse at import instead, naming the value we found.
"""

import os

TF_MIN = (2, 16)
TF_MAX_EXCLUSIVE = (2, 22)
KERAS_MIN_MAJOR = 3


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_keras_backend_variable():
    backend = os.environ.get("KERAS_BACKEND")
    if backend is not None and backend != "tensorflow":
        raise ImportError(
            "hugectr_tf runs on Keras' TensorFlow backend, but KERAS_BACKEND="
            f"{backend!r}. Unset it or set KERAS_BACKEND=tensorflow before importing keras."
        )


def check_versions(tf_version, keras_version, keras_backend):
    """Raises ImportError when the running TensorFlow/Keras cannot host the plugin."""
    tf_v = _version_tuple(tf_version)
    if not (TF_MIN <= tf_v < TF_MAX_EXCLUSIVE):
        raise ImportError(
            f"hugectr_tf supports TensorFlow >= {TF_MIN[0]}.{TF_MIN[1]} and < "
            f"{TF_MAX_EXCLUSIVE[0]}.{TF_MAX_EXCLUSIVE[1]}; found TensorFlow {tf_version}. "
            "Install a supported release, e.g. pip install 'tensorflow-cpu>=2.16,<2.22'."
        )
    if _version_tuple(keras_version)[0] < KERAS_MIN_MAJOR:
        raise ImportError(
            f"hugectr_tf needs Keras 3 (found Keras {keras_version}). TensorFlow >= 2.16 ships "
            "with Keras 3; do not set TF_USE_LEGACY_KERAS."
        )
    if keras_backend != "tensorflow":
        raise ImportError(
            f"hugectr_tf needs Keras' TensorFlow backend, but Keras is using {keras_backend!r} "
            "(from KERAS_BACKEND or ~/.keras/keras.json). Set KERAS_BACKEND=tensorflow."
        )


def check_environment():
    check_keras_backend_variable()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    import keras
    import tensorflow as tf

    check_versions(tf.__version__, keras.__version__, keras.backend.backend())
