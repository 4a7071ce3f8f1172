"""The examples in the layer docstrings run and print what they claim."""

import doctest
import importlib
import pkgutil

import keras
import pytest

import hugectr_tf.keras.layers as layers_pkg

MODULES = [m.name for m in pkgutil.iter_modules(layers_pkg.__path__) if not m.name.startswith("_")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"hugectr_tf.keras.layers.{name}")
    result = doctest.testmod(module, extraglobs={"keras": keras}, verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
