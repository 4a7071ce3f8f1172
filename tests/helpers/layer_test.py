"""One shared check for Keras layers: build, output shape, a training step, config and saving.

Every layer test calls `check_layer`; it returns the layer's eager output so the test can compare
it with its own numpy reference.
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _to_numpy_list(x):
    return [keras.ops.convert_to_numpy(o) for o in _as_list(x)]


def _eager_arg(inputs, arrays):
    tensors = [tf.constant(a) for a in arrays]
    return tensors if isinstance(inputs, (list, tuple)) else tensors[0]


def _symbolic_inputs(arrays):
    return [
        keras.Input(shape=a.shape[1:], batch_size=a.shape[0], dtype=str(a.dtype)) for a in arrays
    ]


def check_layer(
    layer_cls,
    init_kwargs,
    inputs,
    expected_output_shape=None,
    train=True,
    expect_trainable_change=None,
    rtol=1e-6,
    atol=1e-6,
):
    """Runs the standard layer checks and returns the eager output(s) for the caller's reference.

    Args:
        layer_cls: Layer class. Must be registered as Keras-serializable.
        init_kwargs: Dict. Constructor arguments.
        inputs: numpy array or list of arrays (batch first).
        expected_output_shape: tuple or list of tuples. Checked on the eager output.
        train: Boolean or "tape". True: run one `model.fit` step on a functional model holding
            the layer. "tape": for layers whose outputs `fit` cannot pair with targets (a
            scalar loss, or a batch dimension other than the input's), run one step by hand:
            the gradient of a squared-output loss must reach the first input (other inputs,
            such as labels, may get none), every gradient must be finite, and SGD applies them
            to the layer's trainable weights.
        expect_trainable_change: Boolean or None. If None: True when the layer has trainable
            weights. When True, the step must move at least one trainable weight.
    """
    arrays = [np.asarray(a) for a in _as_list(inputs)]

    # 1. Build and call eagerly; check shape.
    layer = layer_cls(**init_kwargs)
    eager = layer(_eager_arg(inputs, arrays))
    outputs = _to_numpy_list(eager)
    if expected_output_shape is not None:
        shapes = (
            expected_output_shape
            if isinstance(expected_output_shape, list)
            else [expected_output_shape]
        )
        got = [tuple(o.shape) for o in outputs]
        assert got == [tuple(s) for s in shapes], f"output shapes {got} != expected {shapes}"
    for o in outputs:
        assert np.all(np.isfinite(o)) or o.dtype.kind not in "fc", "non-finite layer output"

    # 2. Config round trip.
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config, "from_config(get_config()) changed the config"
    clone_out = _to_numpy_list(clone(_eager_arg(inputs, arrays)))
    assert [o.shape for o in clone_out] == [o.shape for o in outputs], (
        "a layer rebuilt from get_config() gives other output shapes: the config misses arguments"
    )
    name = keras.saving.get_registered_name(layer_cls)
    assert keras.saving.get_registered_object(name) is layer_cls, f"{name} is not registered"

    # 3. A functional model holding the layer, one training step through plain fit.
    sym = _symbolic_inputs(arrays)
    model_layer = layer_cls(**init_kwargs)
    sym_out = model_layer(sym if isinstance(inputs, (list, tuple)) else sym[0])
    model = keras.Model(sym if isinstance(inputs, (list, tuple)) else sym[0], sym_out)
    model_inputs = arrays if isinstance(inputs, (list, tuple)) else arrays[0]
    if train == "tape":
        _tape_step(model, model_layer, arrays, expect_trainable_change)
    elif train:
        float_outputs = all(np.issubdtype(o.dtype, np.floating) for o in outputs)
        assert float_outputs, "train=True needs floating outputs"
        before = [keras.ops.convert_to_numpy(w) for w in model_layer.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        targets = [np.random.default_rng(0).normal(size=o.shape).astype(o.dtype) for o in outputs]
        history = model.fit(
            model_inputs,
            targets if len(targets) > 1 else targets[0],
            batch_size=arrays[0].shape[0],
            epochs=1,
            verbose=0,
        )
        assert np.isfinite(history.history["loss"][0]), "training loss is not finite"
        changes = expect_trainable_change
        if changes is None:
            changes = bool(before)
        if changes:
            after = [keras.ops.convert_to_numpy(w) for w in model_layer.trainable_weights]
            moved = any(not np.array_equal(b, a) for b, a in zip(before, after))
            assert moved, "one training step did not change any trainable weight"

    # 4. Save / load round trip of the whole model gives identical predictions.
    expected = _to_numpy_list(model(model_inputs, training=False))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    again = _to_numpy_list(loaded(model_inputs, training=False))
    for a, b in zip(expected, again):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    return eager


def _tape_step(model, layer, arrays, expect_trainable_change):
    inputs = [tf.Variable(a) for a in arrays if np.issubdtype(a.dtype, np.floating)]
    feed_iter = iter(inputs)
    feed = [next(feed_iter) if np.issubdtype(a.dtype, np.floating) else a for a in arrays]
    weights = list(layer.trainable_weights)
    before = [keras.ops.convert_to_numpy(w) for w in weights]
    with tf.GradientTape() as tape:
        outs = _as_list(model(feed if len(feed) > 1 else feed[0], training=True))
        loss = sum(tf.reduce_mean(tf.square(tf.cast(o, tf.float32))) for o in outs)
    grads = tape.gradient(loss, inputs + weights)
    assert np.isfinite(float(loss)), "training loss is not finite"
    assert inputs and grads[0] is not None, "no gradient reaches the first input"
    for g in grads:
        if g is not None:
            assert np.all(np.isfinite(np.asarray(g))), "non-finite gradient"
    if weights:
        keras.optimizers.SGD(0.1).apply(grads[len(inputs) :], weights)
    changes = bool(weights) if expect_trainable_change is None else expect_trainable_change
    if changes:
        after = [keras.ops.convert_to_numpy(w) for w in weights]
        moved = any(not np.array_equal(b, a) for b, a in zip(before, after))
        assert moved, "one training step did not change any trainable weight"
