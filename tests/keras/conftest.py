"""Fixtures of the Keras layer tests."""

import keras
import numpy as np
import pytest


@pytest.fixture
def mixed_precision():
    """Runs a test under the mixed_float16 policy and restores the previous policy."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
