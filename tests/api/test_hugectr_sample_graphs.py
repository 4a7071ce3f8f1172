"""HugeCTR 3.1 sample graphs that failed here, at small sizes on generated Parquet data.

- DIN (samples/din/din_parquet.py): `slot_size_array` with zeros, FusedReshapeConcat, Scale
  with `axis=1` ([B, 36] -> [B*10, 36]) and the Reshapes back to one row per sample.
- Wide & Deep from Parquet (samples/wdl/wdl_1gpu.py): several sparse inputs declared with
  `max_nnz > 1`; each batch must hold one row per sample in label, dense and every key input.
"""

import numpy as np
import pytest

import hugectr_tf as hugectr
from hugectr_tf.tools import DataGenerator

D, L = hugectr.DenseLayer, hugectr.Layer_t
# DIN: 1 user slot, 11 good slots (10 history + target), 11 category slots.
DIN_SIZES = [50] + [0] * 10 + [40] + [0] * 10 + [8]


@pytest.fixture(scope="module")
def din_data(tmp_path_factory):
    return DataGenerator(
        tmp_path_factory.mktemp("din"),
        "Parquet",
        num_train_samples=1024,
        num_eval_samples=256,
        num_files=1,
        dense_dim=0,
        slot_size_array=[50] + [40] * 11 + [8] * 11,  # ids of the shared ranges
        seed=6,
    ).generate()


def _solver(batch):
    return hugectr.CreateSolver(
        max_eval_batches=2, batchsize_eval=batch, batchsize=batch, lr=0.001, i64_input_key=True
    )


def test_din_sample_graph_trains(din_data):
    reader = din_data.reader_params(slot_size_array=DIN_SIZES, num_workers=1)
    optimizer = hugectr.CreateOptimizer(optimizer_type=hugectr.Optimizer_t.Adam)
    model = hugectr.Model(_solver(64), reader, optimizer)
    model.add(
        hugectr.Input(
            label_dim=1,
            label_name="label",
            dense_dim=0,
            dense_name="dense",
            data_reader_sparse_param_array=[
                hugectr.DataReaderSparseParam("UserID", 1, True, 1),
                hugectr.DataReaderSparseParam("GoodID", 1, True, 11),
                hugectr.DataReaderSparseParam("CateID", 1, True, 11),
            ],
        )
    )
    for name, bottom in (("user", "UserID"), ("good", "GoodID"), ("cate", "CateID")):
        model.add(
            hugectr.SparseEmbedding(
                embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
                workspace_size_per_gpu_in_mb=2,
                embedding_vec_size=18,
                combiner="sum",
                sparse_embedding_name=f"sparse_embedding_{name}",
                bottom_name=bottom,
                optimizer=optimizer,
            )
        )
    his, item = "FusedReshapeConcat_item_his_em", "FusedReshapeConcat_item"
    add = model.add
    add(D(L.FusedReshapeConcat, ["sparse_embedding_good", "sparse_embedding_cate"], [his, item]))
    add(D(L.Scale, [item], ["Scale_item"], axis=1, factor=10))  # [B*10, 36]
    add(D(L.Sub, ["Scale_item", his], ["sub_ih"]))
    add(D(L.ElementwiseMultiply, ["Scale_item", his], ["ElementwiseMul_i"]))
    add(D(L.Concat, ["Scale_item", his, "sub_ih", "ElementwiseMul_i"], ["concat_i_h"]))
    add(D(L.InnerProduct, ["concat_i_h"], ["fc_att_i2"], num_output=40))
    add(D(L.InnerProduct, ["fc_att_i2"], ["fc_att_i3"], num_output=1))
    add(D(L.Reshape, ["fc_att_i3"], ["reshape_score"], leading_dim=10))  # [B, 10]
    add(D(L.Softmax, ["reshape_score"], ["softmax_att_i"]))
    add(D(L.Scale, ["softmax_att_i"], ["Scale_i"], axis=0, factor=36))
    add(D(L.Reshape, [his], ["reshape_item_his"], leading_dim=360))
    add(D(L.ElementwiseMultiply, ["Scale_i", "reshape_item_his"], ["ElementwiseMul_ih"]))
    add(D(L.ReduceSum, ["ElementwiseMul_ih"], ["reduce_ih"], axis=1))
    add(D(L.Reshape, [his], ["reshape_his"], leading_dim=36, time_step=10))
    add(D(L.ReduceMean, ["reshape_his"], ["reduce_item_his"], axis=1))
    add(D(L.Reshape, ["reduce_item_his"], ["reshape_reduce_item_his"], leading_dim=36))
    add(D(L.Reshape, ["sparse_embedding_user"], ["reshape_user"], leading_dim=18))
    add(
        D(
            L.Concat,
            ["reshape_user", "reshape_reduce_item_his", "reduce_ih", item],
            ["concat_din_i"],
        )
    )
    add(D(L.InnerProduct, ["concat_din_i"], ["fc_din_i1"], num_output=16))
    add(D(L.PReLU_Dice, ["fc_din_i1"], ["dice_1"], elu_alpha=0.2, eps=1e-8))
    add(D(L.InnerProduct, ["dice_1"], ["fc3"], num_output=1))
    add(D(L.BinaryCrossEntropyLoss, ["fc3", "label"], ["loss"]))
    model.compile()
    model.fit(max_iter=4, display=2, eval_interval=4)
    assert np.isfinite(model.get_current_loss())
    assert np.isfinite(dict(model.evaluate())["AUC"])


@pytest.fixture(scope="module")
def wdl_data(tmp_path_factory):
    return DataGenerator(
        tmp_path_factory.mktemp("wdl"),
        "Parquet",
        num_train_samples=2048,
        num_eval_samples=1024,
        num_files=2,
        slot_size_array=[30] * 28,
        seed=8,
    ).generate()


def test_parquet_with_several_multi_hot_inputs_gives_one_row_per_sample(wdl_data):
    inp = hugectr.Input(
        label_dim=1,
        label_name="label",
        dense_dim=13,
        dense_name="dense",
        data_reader_sparse_param_array=[
            hugectr.DataReaderSparseParam("wide_data", 2, False, 2),
            hugectr.DataReaderSparseParam("deep_data", 2, False, 26),
        ],
    )
    model = hugectr.Model(_solver(512), wdl_data.reader_params(), hugectr.CreateOptimizer())
    model.add(inp)
    for name, bottom, vec in (("e2", "wide_data", 1), ("e1", "deep_data", 16)):
        model.add(
            hugectr.SparseEmbedding(
                embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
                workspace_size_per_gpu_in_mb=4,
                embedding_vec_size=vec,
                combiner="sum",
                sparse_embedding_name=name,
                bottom_name=bottom,
            )
        )
    model.add(D(L.Reshape, ["e1"], ["reshape1"], leading_dim=416))
    model.add(D(L.Reshape, ["e2"], ["reshape2"], leading_dim=2))
    model.add(D(L.ReduceSum, ["reshape2"], ["wide_redn"], axis=1))
    model.add(D(L.Concat, ["reshape1", "dense"], ["concat1"]))
    model.add(D(L.InnerProduct, ["concat1"], ["fc1"], num_output=1))
    model.add(D(L.Add, ["fc1", "wide_redn"], ["add1"]))
    model.add(D(L.BinaryCrossEntropyLoss, ["add1", "label"], ["loss"]))
    model.compile()
    batch = model.get_data_reader_train().next_batch()
    assert batch["label"].shape == (512, 1) and batch["dense"].shape == (512, 13)
    assert batch["wide_data"].shape[:2] == (512, 2) and batch["deep_data"].shape[:2] == (512, 26)
    assert batch["deep_data"].values.row_lengths().numpy().tolist() == [1] * 512 * 26
    model.fit(max_iter=4, display=2, eval_interval=4)
    assert np.isfinite(model.get_current_loss())
    # WDL's 3.0-style wide Reshape(leading_dim=1) over 2 slots gives [B*2, 1] rows: refused.
    bad = hugectr.Model(_solver(512), wdl_data.reader_params(), hugectr.CreateOptimizer())
    bad.add(inp)
    bad.add(model.graph.embedding_params[0])
    bad.add(D(L.Reshape, ["e2"], ["reshape2"], leading_dim=1))
    with pytest.raises(ValueError, match=r"more rows than labels.*\(B\*2, 1\)"):
        bad.add(D(L.BinaryCrossEntropyLoss, ["reshape2", "label"], ["loss"]))
