"""Layers that change the row count (HugeCTR's DeepFM Reshape, DIN's Scale), followed per sample.

HugeCTR's Reshape regroups the whole batch: its DeepFM sample turns the `[B, 26, 11]` embedding
into `[B*26, 11]`, slices it and reshapes the slices back to `[B, 260]` and `[B, 26]`. The
reference for the values is numpy's reshape of the embedding output.
"""

import keras
import numpy as np
import pytest
from model_builders import SLOT_SIZES, make_model

import hugectr_tf as hugectr
from hugectr_tf.tools import DataGenerator

L = hugectr.Layer_t
D = hugectr.DenseLayer
SLOTS = len(SLOT_SIZES)


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return DataGenerator(
        tmp_path_factory.mktemp("rows"),
        "Norm",
        num_train_samples=2048,
        num_eval_samples=512,
        num_files=1,
        dense_dim=13,
        slot_size_array=SLOT_SIZES,
        seed=5,
    ).generate()


def _deepfm_sample(model, opt, gen):
    """HugeCTR 3.1's samples/deepfm/deepfm.py graph, with 8 slots instead of 26."""
    model.add(gen.input())
    model.add(
        hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
            workspace_size_per_gpu_in_mb=2,
            embedding_vec_size=11,
            combiner="sum",
            sparse_embedding_name="sparse_embedding1",
            bottom_name="data1",
            optimizer=opt,
        )
    )
    model.add(D(L.Reshape, ["sparse_embedding1"], ["reshape1"], leading_dim=11))
    model.add(D(L.Slice, ["reshape1"], ["slice11", "slice12"], ranges=[(0, 10), (10, 11)]))
    model.add(D(L.Reshape, ["slice11"], ["reshape2"], leading_dim=SLOTS * 10))
    model.add(D(L.Reshape, ["slice12"], ["reshape3"], leading_dim=SLOTS))
    model.add(D(L.Slice, ["dense"], ["slice21", "slice22"], ranges=[(0, 13), (0, 13)]))
    model.add(D(L.WeightMultiply, ["slice21"], ["weight_multiply1"], weight_dims=[13, 10]))
    model.add(D(L.WeightMultiply, ["slice22"], ["weight_multiply2"], weight_dims=[13, 1]))
    model.add(D(L.Concat, ["reshape2", "weight_multiply1"], ["concat1"]))
    width = (SLOTS + 13) * 10
    model.add(D(L.Slice, ["concat1"], ["slice31", "slice32"], ranges=[(0, width), (0, width)]))
    model.add(D(L.InnerProduct, ["slice31"], ["fc1"], num_output=32))
    model.add(D(L.ReLU, ["fc1"], ["relu1"]))
    model.add(D(L.InnerProduct, ["relu1"], ["fc4"], num_output=1))
    model.add(D(L.FmOrder2, ["slice32"], ["fmorder2"], out_dim=10))
    model.add(D(L.ReduceSum, ["fmorder2"], ["reducesum1"], axis=1))
    model.add(D(L.Concat, ["reshape3", "weight_multiply2"], ["concat2"]))
    model.add(D(L.ReduceSum, ["concat2"], ["reducesum2"], axis=1))
    model.add(D(L.Add, ["fc4", "reducesum1", "reducesum2"], ["add"]))
    model.add(D(L.BinaryCrossEntropyLoss, ["add", "label"], ["loss"]))
    return model


def test_deepfm_sample_graph_builds_trains_and_regroups_rows(gen):
    model, opt = make_model(gen, batchsize=64)
    _deepfm_sample(model, opt, gen)
    model.compile()
    batch = next(iter(model.get_data_reader_train()))
    assert np.isfinite(model.train_on_batch(batch))
    net = model.keras_model
    probe = keras.Model(
        net.inputs,
        [net.get_layer(n).output for n in ("sparse_embedding1", "reshape2", "reshape3")],
    )
    features, _ = model.network.split(batch)
    emb, reshape2, reshape3 = (np.asarray(t) for t in probe(features))
    assert emb.shape == (64, SLOTS, 11)
    np.testing.assert_array_equal(reshape2, emb[:, :, :10].reshape(64, SLOTS * 10))
    np.testing.assert_array_equal(reshape3, emb[:, :, 10])


def _embedding_rows(model, opt, gen):
    model.add(gen.input())
    model.add(
        hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
            workspace_size_per_gpu_in_mb=2,
            embedding_vec_size=4,
            combiner="sum",
            sparse_embedding_name="emb",
            bottom_name="data1",
            optimizer=opt,
        )
    )
    model.add(D(L.Reshape, ["emb"], ["rows"], leading_dim=4))  # [B*8, 4]


def test_loss_seeing_more_rows_than_labels_is_refused_at_add(gen):
    model, opt = make_model(gen, batchsize=64)
    _embedding_rows(model, opt, gen)
    model.add(D(L.InnerProduct, ["rows"], ["fc1"], num_output=1))  # [B*8, 1]
    with pytest.raises(
        ValueError,
        match=r"BinaryCrossEntropyLoss layer \(bottom \['fc1', 'label'\].*more rows than labels.*"
        r"'fc1' has shape \(B\*8, 1\) \(8 rows per sample\).*'label' has shape \(B, 1\)",
    ):
        model.add(D(L.BinaryCrossEntropyLoss, ["fc1", "label"], ["loss"]))


def test_layers_mixing_row_counts_are_refused_at_add(gen):
    model, opt = make_model(gen, batchsize=64)
    _embedding_rows(model, opt, gen)
    with pytest.raises(
        ValueError,
        match=r"Concat layer .*different numbers of rows per sample: 'rows' \(B\*8, 4\), "
        r"'dense' \(B, 13\)",
    ):
        model.add(D(L.Concat, ["rows", "dense"], ["concat1"]))


def test_reshape_that_would_mix_samples_is_refused_at_add(gen):
    model, opt = make_model(gen, batchsize=64)
    _embedding_rows(model, opt, gen)
    # 8 rows of 4 per sample = 32 elements; rows of 12 would straddle samples.
    with pytest.raises(ValueError, match=r"Reshape layer .*per sample.*leading_dim=12 does not"):
        model.add(D(L.Reshape, ["rows"], ["bad"], leading_dim=12))


def test_scale_axis_1_repeats_rows_and_reshape_brings_them_back(gen):
    # DIN's attention: Scale [B, 4] -> [B*3, 4]; Reshape leading_dim=12 -> [B, 12].
    model, opt = make_model(gen, batchsize=64)
    _embedding_rows(model, opt, gen)
    model.add(D(L.Reshape, ["rows"], ["flat"], leading_dim=SLOTS * 4))
    model.add(D(L.InnerProduct, ["flat"], ["fc1"], num_output=4))
    model.add(D(L.Scale, ["fc1"], ["scaled"], axis=1, factor=3))
    model.add(D(L.Reshape, ["scaled"], ["back"], leading_dim=12))
    model.add(D(L.InnerProduct, ["back"], ["fc2"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc2", "label"], ["loss"]))
    model.compile()
    batch = next(iter(model.get_data_reader_train()))
    assert np.isfinite(model.train_on_batch(batch))
