"""Wrong calls to Model.fit and InferenceSession.predict are refused with a clear error instead of
being coerced (issue 13)."""

import numpy as np
import pytest
import tensorflow as tf

import hugectr_tf as hugectr

L = hugectr.Layer_t
SLOTS = 2


def _model():
    solver = hugectr.CreateSolver(batchsize=4, batchsize_eval=4, lr=0.01, i64_input_key=True)
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
            dense_dim=3,
            dense_name="dense",
            data_reader_sparse_param_array=[
                hugectr.DataReaderSparseParam("data1", 2, False, SLOTS)
            ],
        )
    )
    model.add(
        hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
            workspace_size_per_gpu_in_mb=1,
            embedding_vec_size=4,
            combiner="sum",
            sparse_embedding_name="emb",
            bottom_name="data1",
            optimizer=hugectr.CreateOptimizer(),
        )
    )
    model.add(hugectr.DenseLayer(L.Reshape, ["emb"], ["flat"], leading_dim=SLOTS * 4))
    model.add(hugectr.DenseLayer(L.Concat, ["flat", "dense"], ["cat"]))
    model.add(hugectr.DenseLayer(L.InnerProduct, ["cat"], ["fc"], num_output=1))
    model.add(hugectr.DenseLayer(L.BinaryCrossEntropyLoss, ["fc", "label"], ["loss"]))
    model.compile()
    return model


def _batch(keys):
    """A reader-style batch of 2 samples, one key per slot."""
    inner = tf.RaggedTensor.from_row_lengths(tf.constant(keys, tf.int64), [1] * len(keys))
    return {
        "label": tf.constant([[1.0], [0.0]]),
        "dense": tf.zeros((2, 3)),
        "data1": tf.RaggedTensor.from_uniform_row_length(inner, SLOTS),
    }


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("session")
    model = _model()
    for _ in range(3):
        model.train_on_batch(_batch([1, 2, 3, 4]))
    model.graph_to_json(str(folder / "g.json"))
    names = model.save_params_to_files(str(folder / "m"), 3)
    params = hugectr.inference.InferenceParams(
        model_name="m",
        max_batchsize=2,
        hit_rate_threshold=1.0,
        dense_model_file=names["dense"],
        sparse_model_files=names["sparse"],
        device_id=0,
        use_gpu_embedding_cache=False,
        cache_size_percentage=0.5,
        i64_input_key=True,
    )
    session = hugectr.inference.CreateInferenceSession(str(folder / "g.json"), params)
    return session, model


@pytest.mark.parametrize("snapshot", [-1, -100, 1.5, True])
def test_fit_refuses_a_snapshot_interval_that_is_not_a_count(snapshot):
    with pytest.raises(ValueError, match=r"`snapshot` must be a non-negative integer"):
        _model().fit(max_iter=1, display=1, eval_interval=1, snapshot=snapshot)


def test_predict_matches_the_model_on_good_input(session):
    session, model = session
    dense = [0.0] * 6
    got = session.predict(dense, [1, 2, 3, 4], [0, 1, 2, 3, 4])
    features = {k: v for k, v in _batch([1, 2, 3, 4]).items() if k != "label"}
    want = tf.sigmoid(model.keras_model(features, training=False)).numpy().ravel()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # uint64 keys keep their bits: key 2^64 - 1 is the int64 key -1 (not in the table).
    unsigned = session.predict(dense, np.array([1, 2, 3, 2**64 - 1], np.uint64), [0, 1, 2, 3, 4])
    signed = session.predict(dense, [1, 2, 3, -1], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(unsigned, signed)


@pytest.mark.parametrize(
    "keys, row_ptrs, message",
    [
        ([1.0, 2.0, 3.0, 4.0], [0, 1, 2, 3, 4], "floating-point keys are refused"),
        (np.array([1.5, 2, 3, 4]), [0, 1, 2, 3, 4], "floating-point keys are refused"),
        ([1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4], "holds 6 keys but row_ptrs use 4: 2 keys"),
        ([1, 2, 3, 2**64], [0, 1, 2, 3, 4], r"key 18446744073709551616 does not fit in 64 bits"),
        ([1, 2, 3, 4], [0, 1, 2, 3.5, 4], "row_ptrs must be integers"),
    ],
)
def test_predict_refuses_keys_it_would_coerce_or_ignore(session, keys, row_ptrs, message):
    session, _ = session
    with pytest.raises(ValueError, match=message):
        session.predict([0.0] * 6, keys, row_ptrs)


def test_predict_refuses_more_samples_than_max_batchsize(session):
    session, _ = session
    with pytest.raises(ValueError, match="predict got 3 samples but the session's max_batchsize"):
        session.predict([0.0] * 9, [1, 2, 3, 4, 5, 6], list(range(7)))


def test_predict_keys_beyond_uint32_need_i64_input_key(session):
    session, _ = session
    with pytest.raises(ValueError, match=r"i64_input_key=False keys are uint32.*key 4294967296"):
        session.predict([0.0] * 6, [1, 2, 3, 2**32], [0, 1, 2, 3, 4], i64_input_key=False)
    assert session.predict([0.0] * 6, [1, 2, 3, 2**32], [0, 1, 2, 3, 4]).shape == (2,)
