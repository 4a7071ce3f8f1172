"""HugeCTR 3.1's MLPerf DLRM API: RawAsync + AsyncParam, HybridSparseEmbedding +
HybridEmbeddingParam, FusedInnerProduct chains (pos_type Head/Body/Tail, act_type) and the
two-top Interaction, written as HugeCTR's samples/dlrm/dgx_a100.py at small sizes.

The reference for the fused chain is numpy: the same MLP (ReLU after every layer but the last,
`act_type=Non`) computed from the layers' weights.
"""

import json

import keras
import numpy as np
import pytest

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params
from hugectr_tf.tools import DataGenerator

L = hugectr.Layer_t
D = hugectr.DenseLayer
P = hugectr.FcPosition_t
SLOT_SIZES = [40, 7, 0, 25, 3, 60, 0, 12]  # zeros: slots sharing the next slot's range
VEC = 8


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    # Raw files hold per-slot ids; generate with positive sizes, then share ranges in the model.
    sizes = [s or 12 for s in SLOT_SIZES]
    return DataGenerator(
        tmp_path_factory.mktemp("dlrm"),
        "Raw",
        num_train_samples=4096,
        num_eval_samples=1024,
        slot_size_array=sizes,
        seed=3,
    ).generate()


def _async_param(shuffle=False):
    return hugectr.AsyncParam(4, 2, 552960, 2, 512, shuffle, hugectr.Alignment_t.Auto)


def _hybrid_param():
    return hugectr.HybridEmbeddingParam(
        2,
        -1,
        0.03,
        1.3e11,
        2.6e11,
        1.0,
        hugectr.CommunicationType.NVLink_SingleNode,
        hugectr.HybridEmbeddingType.Distributed,
    )


def _dlrm(gen, sizes=None, shuffle=False):
    """samples/dlrm/dgx_a100.py of HugeCTR 3.1, scaled down (4 dense features kept at 13)."""
    sizes = sizes or [s or 12 for s in SLOT_SIZES]
    solver = hugectr.CreateSolver(
        max_eval_batches=4,
        batchsize_eval=256,
        batchsize=256,
        lr=0.5,
        warmup_steps=2,
        vvgpu=[[0]],
        repeat_dataset=True,
        use_cuda_graph=False,
        async_mlp_wgrad=True,
        overlap_lr=True,
        overlap_init_wgrad=True,
        overlap_ar_a2a=True,
        use_holistic_cuda_graph=True,
        use_overlapped_pipeline=True,
        all_reduce_algo=hugectr.AllReduceAlgo.OneShot,
        grouped_all_reduce=False,
        num_iterations_statistics=20,
        metrics_spec={hugectr.MetricsType.AUC: 0.8025},
        is_dlrm=True,
    )
    reader = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.RawAsync,
        source=[gen.train_source],
        eval_source=gen.eval_source,
        check_type=hugectr.Check_t.Non,
        num_samples=gen.num_train_samples,
        eval_num_samples=gen.num_eval_samples,
        cache_eval_data=4,
        slot_size_array=[s or 12 for s in SLOT_SIZES],
        async_param=_async_param(shuffle),
    )
    optimizer = hugectr.CreateOptimizer(
        optimizer_type=hugectr.Optimizer_t.SGD, update_type=hugectr.Update_t.Local
    )
    model = hugectr.Model(solver, reader, optimizer)
    model.add(
        hugectr.Input(
            label_dim=1,
            label_name="label",
            dense_dim=13,
            dense_name="dense",
            data_reader_sparse_param_array=[
                hugectr.DataReaderSparseParam("data1", 1, True, len(SLOT_SIZES))
            ],
        )
    )
    model.add(
        hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.HybridSparseEmbedding,
            workspace_size_per_gpu_in_mb=1,
            slot_size_array=sizes,
            embedding_vec_size=VEC,
            combiner="sum",
            sparse_embedding_name="sparse_embedding1",
            bottom_name="data1",
            optimizer=optimizer,
            hybrid_embedding_param=_hybrid_param(),
        )
    )
    fc = lambda n: [f"fc{n}{i}" for i in range(1, 5)]  # noqa: E731
    model.add(D(L.FusedInnerProduct, ["dense"], fc(1), pos_type=P.Head, num_output=16))
    model.add(D(L.FusedInnerProduct, fc(1), fc(2), pos_type=P.Body, num_output=12))
    model.add(D(L.FusedInnerProduct, fc(2), ["fc3"], pos_type=P.Tail, num_output=VEC))
    model.add(D(L.Interaction, ["fc3", "sparse_embedding1"], ["interaction1", "interaction_grad"]))
    model.add(
        D(
            L.FusedInnerProduct,
            ["interaction1", "interaction_grad"],
            fc(4),
            pos_type=P.Head,
            num_output=16,
        )
    )
    model.add(
        D(
            L.FusedInnerProduct,
            fc(4),
            ["fc8"],
            pos_type=P.Tail,
            act_type=hugectr.Activation_t.Non,
            num_output=1,
        )
    )
    model.add(D(L.BinaryCrossEntropyLoss, ["fc8", "label"], ["loss"]))
    return model


def _weights(net, name):
    return [np.asarray(w) for w in net.get_layer(name).trainable_weights]


def test_dgx_a100_script_builds_trains_and_the_fused_chain_is_the_plain_mlp(gen):
    model = _dlrm(gen)
    model.compile()
    model.fit(max_iter=8, display=4, eval_interval=8)
    assert np.isfinite(model.get_current_loss())
    net = model.keras_model
    probe = keras.Model(net.inputs, [net.get_layer("fc3").output, net.get_layer("fc8").output])
    batch = next(iter(model.get_data_reader_train()))
    features, _ = model.network.split(batch)
    fc3, fc8 = (np.asarray(t) for t in probe(features))
    x = np.asarray(features["dense"], np.float64)
    for name, relu in (("fc11", True), ("fc21", True), ("fc3", True)):
        w, b = _weights(net, name)
        x = x @ w + b
        x = np.maximum(x, 0) if relu else x
    np.testing.assert_allclose(fc3, x, rtol=1e-4, atol=1e-5)
    # The Tail with act_type=Non has no ReLU: logits take both signs.
    w, b = _weights(net, "fc8")
    h = np.asarray(keras.Model(net.inputs, net.get_layer("fc41").output)(features), np.float64)
    np.testing.assert_allclose(fc8, h @ w + b, rtol=1e-4, atol=1e-5)


def test_hybrid_embedding_is_one_table_over_slot_size_array_with_shared_ranges(gen):
    model = _dlrm(gen, sizes=SLOT_SIZES)
    model.compile()
    table = model.embedding_layers[0]
    assert table.embedding_type == hugectr.Embedding_t.LocalizedSlotSparseEmbeddingOneHot
    assert table.slot_size_array == SLOT_SIZES


def test_the_ignored_settings_say_so_once(gen, capsys):
    _dlrm(gen)
    _dlrm(gen)
    out = capsys.readouterr().out
    # Each note is printed once per process; earlier tests may have printed it already.
    assert out.count("HybridEmbeddingParam") <= 1 and out.count("AsyncParam io_block_size") <= 1
    from hugectr_tf.api import no_counterpart

    no_counterpart._said.clear()
    _dlrm(gen)
    out = capsys.readouterr().out
    hybrid = [line for line in out.splitlines() if "HybridEmbeddingParam" in line]
    raw_async = [line for line in out.splitlines() if "AsyncParam io_block_size" in line]
    assert len(hybrid) == 1 and "no TensorFlow counterpart, ignored" in hybrid[0]
    assert len(raw_async) == 1 and "read as Raw with 4 threads and 8 batches" in raw_async[0]


def test_raw_async_reads_the_raw_batches_shuffled_only_when_asked(gen):
    inp = hugectr.Input(
        label_dim=1,
        label_name="label",
        dense_dim=13,
        dense_name="dense",
        data_reader_sparse_param_array=[
            hugectr.DataReaderSparseParam("data1", 1, True, len(SLOT_SIZES))
        ],
    )

    def labels(kind, shuffle=False):
        params = gen.reader_params(data_reader_type=kind, async_param=_async_param(shuffle))
        ds = dataset_from_params(params, inp, 256, repeat=False)
        return [np.asarray(b["label"]).ravel() for b in ds]

    raw = labels(hugectr.DataReaderType_t.Raw)
    assert all(np.array_equal(a, b) for a, b in zip(raw, labels("RawAsync"))) and len(raw) == 16
    shuffled = labels("RawAsync", shuffle=True)
    assert not all(np.array_equal(a, b) for a, b in zip(raw, shuffled))
    np.testing.assert_array_equal(np.sort(np.concatenate(raw)), np.sort(np.concatenate(shuffled)))


def test_graph_json_keeps_position_activation_and_hybrid_fields(gen, tmp_path):
    model = _dlrm(gen)
    path = tmp_path / "dlrm.json"
    model.graph_to_json(str(path))
    layers = json.loads(path.read_text())["layers"]
    hybrid = layers[1]["sparse_embedding_hparam"]
    assert layers[1]["type"] == "HybridSparseEmbedding"
    assert hybrid["communication_type"] == "NVLink_SingleNode" and hybrid["p_dup_max"] == 0.03
    fused = [entry for entry in layers if entry["type"] == "FusedInnerProduct"]
    assert [(f["position"], f["activation"]) for f in fused] == [
        ("Head", "Relu"),
        ("Body", "Relu"),
        ("Tail", "Relu"),
        ("Head", "Relu"),
        ("Tail", "None"),
    ]
    again = _dlrm(gen)  # a fresh model with the same solver/reader, graph from the file
    rebuilt = hugectr.Model(again.solver, again.reader_params, again.opt_params)
    rebuilt.construct_from_json(str(path), include_dense_network=True)
    rebuilt.graph_to_json(str(tmp_path / "again.json"))
    assert json.loads((tmp_path / "again.json").read_text()) == json.loads(path.read_text())


@pytest.mark.parametrize(
    "bottoms, tops, pos, message",
    [
        (["dense"], ["a"], P.Head, r"pos_type=Head takes 1 or 2 bottoms and 4 tops"),
        (["dense"], ["a", "b", "c", "d"], P.Body, r"pos_type=Body takes 4 bottoms"),
        (["dense"], ["a", "b"], P.Non, r"pos_type=Non takes 1 bottoms and 1 tops"),
    ],
)
def test_fused_chain_counts_are_checked_at_add(gen, bottoms, tops, pos, message):
    solver = hugectr.CreateSolver(batchsize=16)
    reader = gen.reader_params()
    model = hugectr.Model(solver, reader, hugectr.CreateOptimizer())
    model.add(gen.input())
    with pytest.raises(ValueError, match=message):
        model.add(D(L.FusedInnerProduct, bottoms, tops, pos_type=pos, num_output=4))
