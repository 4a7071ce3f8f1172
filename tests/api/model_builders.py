"""HugeCTR sample networks written with the hugectr API, shared by the Model tests.

Each builder follows HugeCTR 3.1's sample scripts (DCN, Wide&Deep, DeepFM, DLRM) at small sizes.
"""

import hugectr_tf as hugectr

L = hugectr.Layer_t
D = hugectr.DenseLayer

SLOT_SIZES = [60, 40, 120, 30, 80, 20, 100, 50]
VEC = 8


def make_model(gen, batchsize=256, lr=0.005, repeat=True, optimizer=None, **solver_kwargs):
    eval_batches = -(-gen.num_eval_samples // batchsize)
    solver = hugectr.CreateSolver(
        batchsize=batchsize,
        batchsize_eval=batchsize,
        max_eval_batches=eval_batches,
        lr=lr,
        repeat_dataset=repeat,
        i64_input_key=gen.i64_input_key,
        **solver_kwargs,
    )
    opt = optimizer or hugectr.CreateOptimizer(
        optimizer_type=hugectr.Optimizer_t.Adam, update_type=hugectr.Update_t.Local
    )
    return hugectr.Model(solver, gen.reader_params(num_workers=2), opt), opt


def _embedding(name, bottom, opt, vec=VEC, kind=None, slot_sizes=()):
    return hugectr.SparseEmbedding(
        embedding_type=kind or hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
        workspace_size_per_gpu_in_mb=8,
        embedding_vec_size=vec,
        combiner="sum",
        sparse_embedding_name=name,
        bottom_name=bottom,
        slot_size_array=list(slot_sizes),
        optimizer=opt,
    )


def add_dcn(model, opt, gen, embedding_type=None, dropout_rate=0.1):
    """Reshape, Concat, Slice, MultiCross, InnerProduct, ReLU, Dropout, BCE."""
    slots = len(gen.slot_size_array)
    width = slots * VEC + gen.dense_dim
    onehot = embedding_type == hugectr.Embedding_t.LocalizedSlotSparseEmbeddingOneHot
    sizes = gen.slot_size_array if onehot else ()
    model.add(gen.input())
    model.add(_embedding("sparse_embedding1", "data1", opt, kind=embedding_type, slot_sizes=sizes))
    model.add(D(L.Reshape, ["sparse_embedding1"], ["reshape1"], leading_dim=slots * VEC))
    model.add(D(L.Concat, ["reshape1", "dense"], ["concat1"]))
    model.add(D(L.Slice, ["concat1"], ["slice11", "slice12"], ranges=[(0, width), (0, width)]))
    model.add(D(L.MultiCross, ["slice11"], ["multicross1"], num_layers=2))
    model.add(D(L.InnerProduct, ["slice12"], ["fc1"], num_output=64))
    model.add(D(L.ReLU, ["fc1"], ["relu1"]))
    model.add(D(L.Dropout, ["relu1"], ["dropout1"], dropout_rate=dropout_rate))
    model.add(D(L.Concat, ["dropout1", "multicross1"], ["concat2"]))
    model.add(D(L.InnerProduct, ["concat2"], ["fc2"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc2", "label"], ["loss"]))
    return model


def add_wide_and_deep(model, opt, gen):
    """Two sparse inputs (wide: 2 slots, deep: the rest), two embeddings, Add."""
    slots = len(gen.slot_size_array)
    model.add(
        hugectr.Input(
            label_dim=1,
            label_name="label",
            dense_dim=gen.dense_dim,
            dense_name="dense",
            data_reader_sparse_param_array=[
                hugectr.DataReaderSparseParam("wide_data", 1, True, 2),
                hugectr.DataReaderSparseParam("deep_data", 1, True, slots - 2),
            ],
        )
    )
    model.add(_embedding("sparse_embedding2", "wide_data", opt, vec=1))
    model.add(_embedding("sparse_embedding1", "deep_data", opt))
    model.add(D(L.Reshape, ["sparse_embedding1"], ["reshape1"], leading_dim=(slots - 2) * VEC))
    model.add(D(L.Reshape, ["sparse_embedding2"], ["reshape2"], leading_dim=2))
    model.add(D(L.ReduceSum, ["reshape2"], ["wide_redn"], axis=1))
    model.add(D(L.Concat, ["reshape1", "dense"], ["concat1"]))
    model.add(D(L.InnerProduct, ["concat1"], ["fc1"], num_output=64))
    model.add(D(L.ReLU, ["fc1"], ["relu1"]))
    model.add(D(L.InnerProduct, ["relu1"], ["fc2"], num_output=1))
    model.add(D(L.Add, ["fc2", "wide_redn"], ["add1"]))
    model.add(D(L.BinaryCrossEntropyLoss, ["add1", "label"], ["loss"]))
    return model


def add_deepfm(model, opt, gen):
    """First-order weights, FmOrder2 over the factors, and a deep tower (DeepFM)."""
    slots = len(gen.slot_size_array)
    model.add(gen.input())
    model.add(_embedding("sparse_embedding1", "data1", opt, vec=VEC + 1))
    model.add(D(L.Reshape, ["sparse_embedding1"], ["reshape1"], leading_dim=slots * (VEC + 1)))
    model.add(
        D(
            L.Slice,
            ["reshape1"],
            ["slice1", "slice2"],
            ranges=[(0, slots * VEC), (slots * VEC, slots * (VEC + 1))],
        )
    )
    model.add(D(L.FmOrder2, ["slice1"], ["fmorder2"], out_dim=VEC))
    model.add(D(L.ReduceSum, ["fmorder2"], ["fm_sum"], axis=1))
    model.add(D(L.ReduceSum, ["slice2"], ["first_order"], axis=1))
    model.add(D(L.Concat, ["slice1", "dense"], ["concat1"]))
    model.add(D(L.InnerProduct, ["concat1"], ["fc1"], num_output=64))
    model.add(D(L.ReLU, ["fc1"], ["relu1"]))
    model.add(D(L.InnerProduct, ["relu1"], ["fc2"], num_output=1))
    model.add(D(L.Add, ["fc2", "fm_sum", "first_order"], ["add1"]))
    model.add(D(L.BinaryCrossEntropyLoss, ["add1", "label"], ["loss"]))
    return model


def add_dlrm(model, opt, gen):
    """Bottom MLP to the embedding width, Interaction, top MLP (DLRM)."""
    model.add(gen.input())
    model.add(_embedding("sparse_embedding1", "data1", opt))
    model.add(D(L.InnerProduct, ["dense"], ["fc1"], num_output=32))
    model.add(D(L.ReLU, ["fc1"], ["relu1"]))
    model.add(D(L.InnerProduct, ["relu1"], ["fc2"], num_output=VEC))
    model.add(D(L.ReLU, ["fc2"], ["relu2"]))
    model.add(D(L.Interaction, ["relu2", "sparse_embedding1"], ["interaction1"]))
    model.add(D(L.InnerProduct, ["interaction1"], ["fc3"], num_output=64))
    model.add(D(L.ReLU, ["fc3"], ["relu3"]))
    model.add(D(L.InnerProduct, ["relu3"], ["fc4"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc4", "label"], ["loss"]))
    return model
