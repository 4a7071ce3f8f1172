"""Shared plumbing of the HugeCTR layers: argument checks and errors that name the layer."""

import keras


def layer_error(layer, message):
    """A ValueError that starts with the layer's name and class, as every shape error does."""
    return ValueError(f"Layer '{layer.name}' ({type(layer).__name__}): {message}")


def as_shape_list(input_shape):
    """Input shapes of a multi-input layer as a list of tuples (Keras passes lists or tuples)."""
    if (
        isinstance(input_shape, (list, tuple))
        and input_shape
        and isinstance(input_shape[0], (list, tuple))
    ):
        return [tuple(s) for s in input_shape]
    return [tuple(input_shape)]


def check_num_inputs(layer, shapes, expected=None, minimum=None):
    """Raises naming the layer when the number of bottoms is wrong."""
    n = len(shapes)
    if expected is not None and n != expected:
        raise layer_error(
            layer, f"expects {expected} input tensor(s) (bottom_names), received {n}: {shapes}"
        )
    if minimum is not None and n < minimum:
        raise layer_error(
            layer,
            f"expects at least {minimum} input tensors (bottom_names), received {n}: {shapes}",
        )


def check_rank(layer, shape, ranks, what="input"):
    if len(shape) not in ranks:
        want = " or ".join(f"{r}-D" for r in ranks)
        raise layer_error(layer, f"{what} must be {want}, received shape {shape}")


def positive_int(value, argument):
    """Validates a positive integer constructor argument; the message echoes the value."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{argument}` must be a positive integer. Received: {argument}={value!r}")
    return value


def int_list(value, argument, allow_empty=False):
    """Validates a list of non-negative integers."""
    try:
        items = [int(v) for v in value]
        ok = all(int(v) == v and not isinstance(v, bool) for v in value)
    except (TypeError, ValueError):
        ok = False
    if not ok or (not allow_empty and not items) or any(i < 0 for i in items):
        raise ValueError(
            f"`{argument}` must be a {'' if allow_empty else 'non-empty '}list of non-negative "
            f"integers. Received: {argument}={value!r}"
        )
    return items


def serializable(cls):
    """Registers a layer class under the package name used by `.keras` files."""
    return keras.saving.register_keras_serializable(package="hugectr_tf")(cls)
