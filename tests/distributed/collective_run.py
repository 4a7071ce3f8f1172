"""Run by test_sharded_training.py in a process of its own: the issue's new user, with
`tf.distribute.MirroredStrategy(devices)` over 2 logical CPU devices and TensorFlow's default
collectives (`CollectiveAllReduce`), reproduces one replica.

- ragged keys in a custom loop (once `AttributeError: 'RaggedTensor' object has no attribute
  'device'`);
- dense keys with `model.fit` for 8 global steps: the table's step counter is 8 (once 16, one
  optimizer step per replica) and the predictions are the one-replica model's.

TensorFlow allows one such strategy per process when collective shapes vary between steps
(docs/distributed.md, "One strategy per process"), hence the separate process; both models are
built under the same strategy. Prints the largest prediction differences; exits non-zero when
the replicas do not reproduce one replica.
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
    GLOBAL_BATCH,
    assert_same_table,
    build,
    dense_keys,
    labels,
    mirrored,
    ragged_keys,
    table_state,
    train_custom_loop,
)

FIT_STEPS = 8


def ragged_custom_loop(strategy):
    one = build(True, "mean")
    train_custom_loop(one, ragged_keys(), labels())
    with strategy.scope():
        two = build(True, "mean")
    train_custom_loop(two, ragged_keys(), labels())
    want, got = one(ragged_keys(), training=False), two(ragged_keys(), training=False)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert_same_table(table_state(two), table_state(one))
    print(f"ragged custom loop: largest difference {np.abs(got - want).max():.3g}")


def dense_fit_steps(strategy):
    samples = FIT_STEPS * GLOBAL_BATCH
    keys, y = dense_keys(samples=samples), labels(samples=samples)

    def fit(model):
        with model.distribute_strategy.scope():  # the scope the model was built in
            model.compile(optimizer="adam", loss="mse")
        model.fit(keys, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
        return int(model.get_layer("emb").table.stats()["step"])

    one = build(False)
    one_steps = fit(one)
    with strategy.scope():
        two = build(False)
    two_steps = fit(two)
    assert one_steps == two_steps == FIT_STEPS, (one_steps, two_steps)
    want, got = one(keys, training=False), two(keys, training=False)
    np.testing.assert_allclose(got, want, atol=1e-4)
    print(f"dense fit: step counter {two_steps} after {FIT_STEPS} steps")
    print(f"dense fit: largest difference {np.abs(got - want).max():.3g}")


def main():
    strategy = mirrored(2, collective=True)
    ragged_custom_loop(strategy)
    dense_fit_steps(strategy)


if __name__ == "__main__":
    main()
