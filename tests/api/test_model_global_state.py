"""A hugectr Model (and an inference session, which builds one) leaves the user's Keras dtype
policy and global random streams alone, yet its own initial weights depend on `solver.seed` only
(issue 13)."""

import random

import keras
import numpy as np
import pytest
import tensorflow as tf

import hugectr_tf as hugectr

L = hugectr.Layer_t


def _build(seed=3, mixed=False):
    solver = hugectr.CreateSolver(
        batchsize=16, lr=0.01, seed=seed, use_mixed_precision=mixed, scaler=128
    )
    reader = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm,
        source=["unused.txt"],
        eval_source="unused.txt",
        check_type=hugectr.Check_t.Non,
    )
    model = hugectr.Model(solver, reader, hugectr.CreateOptimizer())
    model.add(
        hugectr.Input(
            label_dim=1,
            label_name="label",
            dense_dim=4,
            dense_name="dense",
            data_reader_sparse_param_array=[hugectr.DataReaderSparseParam("data1", 1, True, 2)],
        )
    )
    # User code between the Model's calls draws from the global streams.
    random.random(), np.random.rand()
    model.add(hugectr.DenseLayer(L.InnerProduct, ["dense"], ["fc1"], num_output=8))
    model.add(hugectr.DenseLayer(L.Dropout, ["fc1"], ["drop1"], dropout_rate=0.5))
    model.add(hugectr.DenseLayer(L.InnerProduct, ["drop1"], ["fc2"], num_output=1))
    model.add(hugectr.DenseLayer(L.BinaryCrossEntropyLoss, ["fc2", "label"], ["loss"]))
    model.compile()
    return model


def _draws():
    return (
        random.random(),
        float(np.random.rand()),
        float(keras.random.uniform(()).numpy()),
        tf.random.uniform([2]).numpy().tolist(),
    )


def _seed_everything(seed):
    keras.utils.set_random_seed(seed)


@pytest.fixture
def user_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")  # the user's own choice, not the Model's
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("mixed", [False, True])
def test_building_a_model_leaves_the_users_policy_and_random_streams(user_policy, mixed):
    _seed_everything(42)
    random.random(), np.random.rand()  # the same user draws _build makes
    want = _draws()
    _seed_everything(42)
    model = _build(mixed=mixed)
    assert _draws() == want
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    expected = "mixed_float16" if mixed else "float32"
    assert {layer.dtype_policy.name for layer in model.network.dense_layers} == {expected}


def test_initial_weights_depend_on_the_solver_seed_only():
    _seed_everything(1)
    a = [w.numpy() for w in _build(seed=3).network.dense_weights]
    _seed_everything(2)
    random.random()
    b = [w.numpy() for w in _build(seed=3).network.dense_weights]
    c = [w.numpy() for w in _build(seed=4).network.dense_weights]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))


def test_inference_session_leaves_the_users_state(user_policy, tmp_path):
    model = _build()
    model.graph_to_json(str(tmp_path / "g.json"))
    names = model.save_params_to_files(str(tmp_path / "m"), 0)
    params = hugectr.inference.InferenceParams(
        model_name="m",
        max_batchsize=4,
        hit_rate_threshold=1.0,
        dense_model_file=names["dense"],
        sparse_model_files=[],
        device_id=0,
        use_gpu_embedding_cache=False,
        cache_size_percentage=0.5,
        i64_input_key=True,
        use_mixed_precision=True,
        scaler=128,
    )
    _seed_everything(7)
    want = _draws()
    _seed_everything(7)
    hugectr.inference.CreateInferenceSession(str(tmp_path / "g.json"), params)
    assert _draws() == want
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
