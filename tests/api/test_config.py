"""HugeCTR config objects: defaults from the spec and errors that name the argument."""

import pytest

import hugectr_tf as hugectr


def test_solver_defaults_match_the_spec():
    s = hugectr.CreateSolver()
    assert (s.seed, s.lr, s.warmup_steps, s.decay_start, s.decay_steps) == (0, 0.001, 1, 0, 1)
    assert (s.decay_power, s.end_lr, s.max_eval_batches) == (2.0, 0.0, 100)
    assert (s.batchsize_eval, s.batchsize, s.vvgpu, s.repeat_dataset) == (2048, 2048, [[0]], True)
    assert s.metrics_spec == {hugectr.MetricsType.AUC: 1.0}
    assert not s.use_mixed_precision and s.scaler == 1.0 and not s.i64_input_key
    assert s.use_algorithm_search and s.use_cuda_graph and not s.enable_tf32_compute


def test_optimizer_and_reader_defaults():
    o = hugectr.CreateOptimizer()
    assert o.optimizer_type == hugectr.Optimizer_t.Adam
    assert o.update_type == hugectr.Update_t.Global
    hyper = (o.beta1, o.beta2, o.epsilon, o.momentum_factor, o.atomic_update)
    assert hyper == (0.9, 0.999, 1e-7, 0.0, True)
    r = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm,
        source="train.txt",
        eval_source="eval.txt",
        check_type=hugectr.Check_t.Sum,
    )
    assert r.source == ["train.txt"] and r.num_workers == 12 and r.float_label_dense


def test_dense_layer_lambda_keyword_and_defaults():
    d = hugectr.DenseLayer(
        layer_type=hugectr.Layer_t.BinaryCrossEntropyLoss,
        bottom_names=["fc", "label"],
        top_names=["loss"],
        use_regularizer=True,
        regularizer_type=hugectr.Regularizer_t.L2,
        **{"lambda": 0.25},
    )
    assert d.lambda_ == 0.25 and d.dropout_rate == 0.5 and d.num_output == 1
    assert d.params() == {
        "use_regularizer": True,
        "regularizer_type": hugectr.Regularizer_t.L2,
        "lambda": 0.25,
    }


def _bad_embedding():
    return hugectr.SparseEmbedding(
        embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
        workspace_size_per_gpu_in_mb=10,
        embedding_vec_size=8,
        combiner="max",
        sparse_embedding_name="e",
        bottom_name="d",
    )


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: hugectr.CreateSolver(batchsize=0), "batchsize"),
        (lambda: hugectr.CreateSolver(vvgpu=[]), "vvgpu"),
        (lambda: hugectr.CreateSolver(use_mixed_precision=True, scaler=3), "scaler"),
        (lambda: hugectr.CreateOptimizer(beta1=1.5), "beta1"),
        (lambda: hugectr.CreateOptimizer(optimizer_type="Rmsprop"), "optimizer_type"),
        (lambda: hugectr.DataReaderSparseParam("d", [1, 2], True, 3), "nnz_per_slot"),
        (lambda: hugectr.DataReaderSparseParam("d", 1, True, 0), "slot_num"),
        (_bad_embedding, "combiner"),
        (lambda: hugectr.DenseLayer("Nope", ["a"], ["b"]), "layer_type"),
        (lambda: hugectr.DenseLayer(hugectr.Layer_t.ReLU, [], ["b"]), "bottom_names"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(make, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received"):
        make()


def test_unknown_dense_argument_is_a_type_error():
    with pytest.raises(TypeError, match="num_outputs"):
        hugectr.DenseLayer(hugectr.Layer_t.InnerProduct, ["a"], ["b"], num_outputs=3)
