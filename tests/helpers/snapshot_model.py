"""A small hugectr Model holding every kind of saved state, and reader-style batches for it.

Two sparse inputs with one embedding each (a Distributed hash table and a Localized one, so
sparse model folders with and without `slot_id`), BatchNorm (non-trainable statistics: the dense
file's `.non_trainable` sidecar) and Adam everywhere (dense and sparse optimizer state, with a
step count). No dropout, so training is deterministic and a resumed run can be compared exactly.
"""

import numpy as np
import tensorflow as tf

import hugectr_tf as hugectr

L = hugectr.Layer_t
D = hugectr.DenseLayer
SLOTS = (3, 2)  # slots of data1, data2
VEC = 4
DENSE_DIM = 3


def build(workspace_mb=(1, 1), seed=0, lr=0.01):
    """A compiled Model; `workspace_mb` sizes the two tables."""
    solver = hugectr.CreateSolver(
        batchsize=16, batchsize_eval=16, lr=lr, seed=seed, i64_input_key=True
    )
    reader = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm,
        source=["unused.txt"],
        eval_source="unused.txt",
        check_type=hugectr.Check_t.Non,
    )
    adam = hugectr.CreateOptimizer(optimizer_type=hugectr.Optimizer_t.Adam)
    model = hugectr.Model(solver, reader, adam)
    model.add(
        hugectr.Input(
            label_dim=1,
            label_name="label",
            dense_dim=DENSE_DIM,
            dense_name="dense",
            data_reader_sparse_param_array=[
                hugectr.DataReaderSparseParam("data1", 2, False, SLOTS[0]),
                hugectr.DataReaderSparseParam("data2", 1, True, SLOTS[1]),
            ],
        )
    )
    kinds = (
        hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
        hugectr.Embedding_t.LocalizedSlotSparseEmbeddingHash,
    )
    for i, (kind, mb) in enumerate(zip(kinds, workspace_mb)):
        model.add(
            hugectr.SparseEmbedding(
                embedding_type=kind,
                workspace_size_per_gpu_in_mb=mb,
                embedding_vec_size=VEC,
                combiner="sum",
                sparse_embedding_name=f"emb{i + 1}",
                bottom_name=f"data{i + 1}",
                optimizer=adam,
            )
        )
    model.add(D(L.Reshape, ["emb1"], ["flat1"], leading_dim=SLOTS[0] * VEC))
    model.add(D(L.Reshape, ["emb2"], ["flat2"], leading_dim=SLOTS[1] * VEC))
    model.add(D(L.Concat, ["flat1", "flat2", "dense"], ["cat"]))
    model.add(D(L.InnerProduct, ["cat"], ["fc1"], num_output=8))
    model.add(D(L.BatchNorm, ["fc1"], ["bn1"], factor=0.9, eps=1e-5))
    model.add(D(L.ReLU, ["bn1"], ["relu1"]))
    model.add(D(L.InnerProduct, ["relu1"], ["fc2"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc2", "label"], ["loss"]))
    model.compile()
    return model


def batches(count, seed=0, vocab=200, size=16):
    """`count` reader-style batch dicts with keys drawn from [0, vocab)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        batch = {
            "label": tf.constant(rng.integers(0, 2, (size, 1)).astype(np.float32)),
            "dense": tf.constant(rng.normal(size=(size, DENSE_DIM)).astype(np.float32)),
        }
        for name, slots, nnz in (("data1", SLOTS[0], 2), ("data2", SLOTS[1], 1)):
            lengths = rng.integers(1, nnz + 1, size * slots)
            values = rng.integers(0, vocab, int(lengths.sum()))
            inner = tf.RaggedTensor.from_row_lengths(tf.constant(values, tf.int64), lengths)
            batch[name] = tf.RaggedTensor.from_uniform_row_length(inner, slots)
        out.append(batch)
    return out


def state(model):
    """Everything a snapshot holds, as numpy: dense weights and statistics, dense optimizer
    slots and step, and every table's export."""
    net = model.network
    out = {f"dense{i}": w.numpy() for i, w in enumerate(net.dense_weights)}
    out.update({f"stat{i}": w.numpy() for i, w in enumerate(net.dense_non_trainable)})
    out["iterations"] = np.asarray(net.dense_optimizer.iterations.numpy())
    for i, v in enumerate(net.dense_optimizer.variables):
        out[f"opt{i}"] = np.asarray(v.numpy())
    for i, layer in enumerate(model.embedding_layers):
        for name, value in layer.table.export().items():
            # HugeCTR's folder of a Distributed table keeps no slot ids (nothing reads them).
            if name != "slot_ids" or layer.table.localized:
                out[f"table{i}.{name}"] = value.numpy()
    return out


def load_all(model, names):
    """Loads a whole snapshot (as `save_params_to_files` names it) into `model`."""
    model.load_dense_weights(names["dense"])
    model.load_dense_optimizer_states(names["opt_dense"])
    model.load_sparse_weights(names["sparse"])
    model.load_sparse_optimizer_states(names["opt_sparse"])


def assert_same_state(a, b, exact=True):
    assert sorted(a) == sorted(b)
    for name in a:
        if exact:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        else:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)
