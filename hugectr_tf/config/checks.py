"""Argument checks shared by the configuration objects: each names the argument and the value."""

import numbers


def require(cond, argument, value, what):
    """Raises ValueError "`argument` must be <what>. Received: argument=<value>" unless `cond`."""
    if not cond:
        raise ValueError(f"`{argument}` must be {what}. Received: {argument}={value!r}")


def is_int(value):
    """True for Python and numpy integers, False for bools (which are ints in Python)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value, argument):
    require(is_int(value) and value > 0, argument, value, "a positive integer")
    return int(value)


def non_negative_int(value, argument):
    require(is_int(value) and value >= 0, argument, value, "a non-negative integer")
    return int(value)


def non_empty_str(value, argument):
    require(isinstance(value, str) and value, argument, value, "a non-empty string")
    return value
