"""Run by test_sharded_training.py in a process of its own: 2 replicas under a MirroredStrategy
with TensorFlow's default collectives (`CollectiveAllReduce`) reproduce one replica.

TensorFlow allows one such strategy per process when collective shapes vary between steps
(docs/distributed.md, "One strategy per process"), hence the separate process. Prints the
largest prediction difference; exits non-zero when the replicas do not reproduce one replica.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration() for _ in range(2)],
)

from distributed_models import (  # noqa: E402
    assert_same_table,
    build,
    labels,
    mirrored,
    ragged_keys,
    table_state,
    train_custom_loop,
)


def main():
    one = build(True, "mean")
    train_custom_loop(one, ragged_keys(), labels())
    strategy = mirrored(2, collective=True)
    with strategy.scope():
        two = build(True, "mean")
    train_custom_loop(two, ragged_keys(), labels())
    want, got = one(ragged_keys(), training=False), two(ragged_keys(), training=False)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert_same_table(table_state(two), table_state(one))
    print(f"largest difference {np.abs(got - want).max():.3g}")


if __name__ == "__main__":
    main()
