"""The README's Keras example builds a working model (the hugectr example is covered by
tests/api, which run the same calls on generated data)."""

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_keras_example_builds_and_predicts():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    keras_block = next(b for b in blocks if "keras.Model(" in b)
    namespace = {}
    exec(keras_block, namespace)  # noqa: S102 (our own README)
    model = namespace["model"]
    values = tf.constant(np.arange(4 * 26, dtype=np.int64))
    keys = tf.RaggedTensor.from_uniform_row_length(
        tf.RaggedTensor.from_row_lengths(values, tf.ones(4 * 26, tf.int64)), 26
    )
    out = model({"keys": keys, "dense": tf.zeros((4, 13))})
    assert out.shape == (4, 1) and np.all(np.isfinite(out.numpy()))
