"""The Criteo converter on the two real samples, checked against an independent csv parse."""

import csv
import json
import math
from collections import Counter

import numpy as np
import pytest

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params
from hugectr_tf.tools import convert_criteo
from hugectr_tf_cli import main

SAMPLES = {"criteo_kaggle_head999.tsv": "\t", "criteo_sample200.csv": ","}


def _reference(path, sep, threshold):
    """Rows parsed with the csv module; labels, transformed dense and slot sizes."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f, delimiter=sep) if r]
    if rows[0][0] == "label":
        rows = rows[1:]
    rows = [r + [""] * (40 - len(r)) for r in rows]
    label = [float(r[0]) for r in rows]
    dense = [[math.log1p(max(float(v or 0), 0.0)) for v in r[1:14]] for r in rows]
    sizes = []
    for s in range(26):
        counts = Counter(r[14 + s] for r in rows)
        sizes.append(1 + sum(1 for v, n in counts.items() if v and n >= threshold))
    return label, dense, sizes


def _input():
    return hugectr.Input(
        label_dim=1, label_name="label", dense_dim=13, dense_name="dense",
        data_reader_sparse_param_array=[hugectr.DataReaderSparseParam("data1", 1, True, 26)],
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["Norm", "Raw", "Parquet"])
@pytest.mark.parametrize("sample", list(SAMPLES))
def test_converted_samples_read_back(criteo_dir, tmp_path, sample, fmt):
    label, dense, sizes = _reference(criteo_dir / sample, SAMPLES[sample], threshold=2)
    info = convert_criteo(criteo_dir / sample, tmp_path, fmt, num_files=3, freq_threshold=2)
    assert info["num_train_samples"] == len(label)
    assert info["slot_size_array"] == sizes
    assert json.loads((tmp_path / "dataset_info.json").read_text())["slot_size_array"] == sizes
    params = hugectr.DataReaderParams(
        data_reader_type=fmt, source=[info["source"]], eval_source="",
        check_type="Sum", slot_size_array=sizes,
    )  # fmt: skip
    batches = list(dataset_from_params(params, _input(), 128, repeat=False))
    got_label = np.concatenate([b["label"].numpy()[:, 0] for b in batches])
    got_dense = np.concatenate([b["dense"].numpy() for b in batches])
    keys = np.concatenate([b["data1"].flat_values.numpy().reshape(-1, 26) for b in batches])
    np.testing.assert_array_equal(got_label, label)
    np.testing.assert_allclose(got_dense, dense, rtol=1e-6)
    assert got_dense.min() >= 0
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    local = keys - offsets  # written (Norm) or added by the reader (Raw, Parquet)
    assert (local >= 0).all() and (local < np.array(sizes)).all()
    assert (local == 0).any()  # rare and missing values share the OOV id 0


def test_eval_split_and_threshold(criteo_dir, tmp_path):
    path = criteo_dir / "criteo_sample200.csv"
    info = convert_criteo(path, tmp_path, "Norm", eval_fraction=0.25, freq_threshold=1)
    assert (info["num_train_samples"], info["num_eval_samples"]) == (150, 50)
    params = hugectr.DataReaderParams(
        data_reader_type="Norm", source=[info["source"]], eval_source=info["eval_source"],
        check_type="Sum",
    )  # fmt: skip
    n = sum(
        int(b["label"].shape[0]) for b in dataset_from_params(params, _input(), 64, False, False)
    )
    assert n == 50
    # With threshold 1 every value seen in the 150 training rows gets an id.
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:151]
    assert info["slot_size_array"][0] == 1 + len({r[14] for r in rows if r[14]})


def test_convert_command_and_bad_input(criteo_dir, tmp_path, capsys):
    argv = ["convert-criteo", str(criteo_dir / "criteo_sample200.csv"), "--output", str(tmp_path)]
    assert main(argv + ["--format", "Raw"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert len(info["slot_size_array"]) == 26 and info["source"].endswith("train_data.bin")
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\t2\n0\t" + "\t".join(["1"] * 41) + "\n")
    with pytest.raises(ValueError, match=r"bad.tsv`, line 2: 42 fields, at most 40"):
        convert_criteo(bad, tmp_path / "o", "Norm")
    bad.write_text("1\tx7\n")
    with pytest.raises(ValueError, match=r"line 1: dense field 1 is 'x7', not a number"):
        convert_criteo(bad, tmp_path / "o", "Norm")
    assert main(["convert-criteo", str(tmp_path / "none.tsv"), "--output", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
