"""DataGenerator: files read back match its label model; Bayes AUC is what sklearn says; the
planted signal is learnable."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from hugectr_tf.data import dataset_from_params
from hugectr_tf.tools import DataGenerator
from hugectr_tf_cli import main

SIZES = [40, 25, 60, 7, 300]


def _read_all(gen, train):
    batches = list(dataset_from_params(gen.reader_params(), gen.input(), 512, train, repeat=False))
    label = np.concatenate([b["label"].numpy()[:, 0] for b in batches])
    dense = np.concatenate([b["dense"].numpy() for b in batches])
    keys = [row for b in batches for row in b["data1"].to_list()]
    return label, dense, keys


def _true_probability(gen, dense, keys, offsets):
    """The documented label model, recomputed from the data as read back."""
    logit = np.full(len(dense), gen.bias) + ((dense - gen.dense_mu) @ gen.dense_weights)
    for r, slots in enumerate(keys):
        local = [np.asarray(k, np.int64) - offsets[s] for s, k in enumerate(slots)]
        logit[r] += sum(gen.key_weights[s][k].sum() for s, k in enumerate(local))
        logit[r] += gen.cross * gen.cross_u[0][local[0]].sum() * gen.cross_u[1][local[1]].sum()
    return 1 / (1 + np.exp(-logit))


@pytest.mark.parametrize("fmt", ["Norm", "Raw", "Parquet"])
def test_written_data_follows_the_label_model(tmp_path, fmt):
    nnz = [1, 1, 2, 1, 3]
    gen = DataGenerator(
        tmp_path, fmt, num_train_samples=1500, num_eval_samples=1200, num_files=3,
        dense_dim=4, slot_size_array=SIZES, nnz_per_slot=nnz, seed=3,
    ).generate()  # fmt: skip
    label, dense, keys = _read_all(gen, train=False)
    np.testing.assert_array_equal(label, gen.eval_labels)
    # Bayes AUC is sklearn's AUC of the true probabilities against the labels as written.
    assert gen.bayes_auc == pytest.approx(roc_auc_score(label, gen.eval_probabilities), abs=1e-12)
    assert 0.65 < gen.bayes_auc < 0.99
    # Norm files carry per-slot offsets; the Raw and Parquet readers add them.
    offsets = np.concatenate([[0], np.cumsum(SIZES)[:-1]])
    for slots in keys[:300]:
        for s, k in enumerate(slots):
            assert all(offsets[s] <= v < offsets[s] + SIZES[s] for v in k)
    prob = _true_probability(gen, dense, keys, offsets)
    np.testing.assert_allclose(prob, gen.eval_probabilities, rtol=1e-4, atol=1e-6)
    counts = [len(slots[4]) for slots in keys]
    if fmt == "Norm":
        assert min(counts) == 0 and max(counts) == 3  # multi-hot, empty slots included
    else:
        assert set(counts) == {1}
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["slot_size_array"] == SIZES and info["bayes_auc"] == gen.bayes_auc
    train_label, _, _ = _read_all(gen, train=True)
    assert len(train_label) == 1500 and 0.1 < train_label.mean() < 0.45


def test_signal_is_learnable_by_a_linear_model(tmp_path):
    sizes = [30, 20, 50, 10, 5]
    gen = DataGenerator(
        tmp_path, "Raw", num_train_samples=8000, num_eval_samples=3000, dense_dim=3,
        slot_size_array=sizes, seed=4,
    ).generate()  # fmt: skip

    def features(train):
        params, inp = gen.reader_params(), gen.input()
        batches = list(dataset_from_params(params, inp, 1024, train, repeat=False))
        label = np.concatenate([b["label"].numpy()[:, 0] for b in batches])
        dense = np.concatenate([b["dense"].numpy() for b in batches])
        ids = np.concatenate([b["data1"].flat_values.numpy().reshape(-1, 5) for b in batches])
        rows = np.repeat(np.arange(len(ids)), ids.shape[1])
        onehot = sp.csr_matrix((np.ones(ids.size), (rows, ids.ravel())), (len(ids), sum(sizes)))
        return sp.hstack([onehot, sp.csr_matrix(dense)]).tocsr(), label

    x, y = features(True)
    xe, ye = features(False)
    auc = roc_auc_score(ye, LogisticRegression(max_iter=500).fit(x, y).predict_proba(xe)[:, 1])
    assert gen.bayes_auc - 0.05 < auc <= gen.bayes_auc + 0.01


def test_generate_command(tmp_path, capsys):
    out = tmp_path / "gen"
    argv = ["generate", "--output", str(out), "--format", "Parquet", "--num-train", "300"]
    argv += ["--num-eval", "200", "--slot-size-array", "5,6,7", "--dense-dim", "2"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["slot_size_array"] == [5, 6, 7] and info["source"].endswith("_file_list.txt")
    assert (out / "eval" / "_metadata.json").is_file()


def test_generator_rejects_bad_arguments(tmp_path):
    with pytest.raises(
        ValueError, match="`num_files` must be a positive integer. Received: num_files=0"
    ):
        DataGenerator(tmp_path, num_files=0)
    with pytest.raises(ValueError, match="`nnz_per_slot` needs 2 entries"):
        DataGenerator(tmp_path, slot_size_array=[3, 4], nnz_per_slot=[1])
