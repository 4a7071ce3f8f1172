"""Parquet folders (pyarrow-written in the test), DataReader's epoch mode, eval caching, Keras."""

import json

import keras
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
from data_reference import make_input, norm_file, random_records, write_list

import hugectr_tf as hugectr
from hugectr_tf.data import DataReader, dataset_from_params, split_label

SIZES = [4, 10, 3]
INP = make_input(1, 2, [("x", 1, True, 2), ("y", 1, True, 1)])


def _parquet_folder(folder, rows_per_file, rng, *, shuffle_columns=True, bad=None):
    folder.mkdir()
    stats, files, truth = [], [], []
    for i, n in enumerate(rows_per_file):
        cols = {
            "label": rng.integers(0, 2, n).astype(np.float32),
            "I1": rng.normal(size=n).astype(np.float32),
            "I2": rng.normal(size=n).astype(np.float32),
        }
        for s, size in enumerate(SIZES):
            cols[f"C{s + 1}"] = rng.integers(0, size, n).astype(np.int64)
        truth.append(cols)
        names = list(cols)
        if shuffle_columns:
            names = names[::-1]  # the reader must use the metadata, not the column order
        arrays = {k: pa.array(cols[k]) for k in names}
        if bad == "null" and i == 1:
            arrays["I2"] = pa.array([None] + cols["I2"][1:].tolist(), pa.float32())
        if bad == "range" and i == 1:
            arrays["C2"] = pa.array(np.where(np.arange(n) == 3, 10, cols["C2"]))
        pq.write_table(pa.table(arrays), folder / f"p{i}.parquet")
        files.append(str(folder / f"p{i}.parquet"))
        stats.append({"file_name": f"p{i}.parquet", "num_rows": n + (bad == "rows")})
    meta = {
        "file_stats": stats,
        "labels": [{"col_name": "label", "index": 0}],
        "conts": [{"col_name": "I2", "index": 2}, {"col_name": "I1", "index": 1}],
        "cats": [{"col_name": f"C{s + 1}", "index": 3 + s} for s in range(3)],
    }
    (folder / "_metadata.json").write_text(json.dumps(meta))
    write_list(folder / "_file_list.txt", files)
    return str(folder / "_file_list.txt"), truth


def _params(source, **kw):
    return hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Parquet,
        source=[source],
        eval_source=source,
        check_type=hugectr.Check_t.Non,
        slot_size_array=SIZES,
        **kw,
    )


def test_parquet_round_trip_with_slot_offsets(tmp_path):
    source, truth = _parquet_folder(tmp_path / "pq", [7, 5, 9], np.random.default_rng(0))
    batches = list(dataset_from_params(_params(source), INP, 4, repeat=False))
    assert [int(b["label"].shape[0]) for b in batches] == [4] * 5 + [1]
    cat = {k: np.concatenate([t[k] for t in truth]) for k in truth[0]}
    label = np.concatenate([b["label"].numpy() for b in batches])
    dense = np.concatenate([b["dense"].numpy() for b in batches])
    np.testing.assert_array_equal(label[:, 0], cat["label"])
    np.testing.assert_array_equal(dense, np.stack([cat["I1"], cat["I2"]], axis=1))
    x = np.concatenate([b["x"].to_tensor().numpy() for b in batches])[:, :, 0]
    y = np.concatenate([b["y"].to_tensor().numpy() for b in batches])[:, :, 0]
    np.testing.assert_array_equal(x[:, 0], cat["C1"])
    np.testing.assert_array_equal(x[:, 1], cat["C2"] + 4)  # offset = size of slot 0
    np.testing.assert_array_equal(y[:, 0], cat["C3"] + 14)


@pytest.mark.parametrize(
    "bad, pattern",
    [
        ("null", r"p1.parquet`, record 0, field `I2`: missing value"),
        (
            "range",
            r"p1.parquet`, record 3, field `C2`: key=10 is outside the slot's range \[0, 10\)",
        ),
        ("rows", r"p0.parquet` has 6 rows but .* says num_rows=7"),
    ],
)
def test_parquet_bad_data(tmp_path, bad, pattern):
    source, _ = _parquet_folder(tmp_path / "pq", [6, 6], np.random.default_rng(1), bad=bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
        list(dataset_from_params(_params(source), INP, 4, repeat=False))


def test_parquet_metadata_must_match_input(tmp_path):
    source, _ = _parquet_folder(tmp_path / "pq", [3], np.random.default_rng(2))
    inp = make_input(1, 3, [("x", 1, True, 3)])
    with pytest.raises(ValueError, match="lists 2 `conts` columns but the Input has dense_dim=3"):
        dataset_from_params(_params(source), inp, 4)


@pytest.mark.parametrize(
    "entry, value, pattern",
    [
        ("cats", {"col_nane": "C1", "index": 3}, r"KeyError\('col_name'\)"),
        ("conts", {"col_name": "I1", "index": "1"}, r"index='1' must be a int"),
        ("file_stats", {"file_name": "p0.parquet", "num_rows": -3}, r"num_rows=-3 is negative"),
        ("labels", ["label", 0], r"must be"),
    ],
)
def test_parquet_metadata_entries_are_checked(tmp_path, entry, value, pattern):
    # A damaged metadata entry (e.g. a flipped byte in a key) must name the metadata file, not
    # surface as a bare KeyError from deep inside the reader.
    source, _ = _parquet_folder(tmp_path / "pq", [3], np.random.default_rng(2))
    meta_path = tmp_path / "pq" / "_metadata.json"
    meta = json.loads(meta_path.read_text())
    meta[entry][0] = value
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"Parquet metadata `.*_metadata.json` is not valid: .*"):
        dataset_from_params(_params(source), INP, 4)
    with pytest.raises(ValueError, match=pattern):
        dataset_from_params(_params(source), INP, 4)


def _norm_list(tmp_path, name, records):
    path = tmp_path / f"{name}.bin"
    path.write_bytes(
        norm_file(records, label_dim=1, dense_dim=2, slot_num=3, check_sum=False, i64=False)
    )
    return write_list(tmp_path / f"{name}.txt", [str(path)])


def test_data_reader_epoch_mode_and_set_source(tmp_path):
    rng = np.random.default_rng(3)
    first = random_records(rng, 5, label_dim=1, dense_dim=2, max_nnz=[1, 1, 1], i64=False)
    second = random_records(rng, 3, label_dim=1, dense_dim=2, max_nnz=[1, 1, 1], i64=False)
    a, b = _norm_list(tmp_path, "a", first), _norm_list(tmp_path, "b", second)
    params = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm, source=[a], eval_source=b, check_type="None"
    )
    reader = DataReader(params, INP, 2, train=True, repeat_dataset=False)
    sizes = []
    while (batch := reader.next_batch()) is not None:
        sizes.append(int(batch["label"].shape[0]))
    assert sizes == [2, 2, 1] and reader.is_eof()
    reader.set_source()
    assert not reader.is_eof()
    assert reader.next_batch()["dense"].numpy()[0].tolist() == pytest.approx(first[0][1])
    reader.set_source(b)
    assert [int(x["label"].shape[0]) for x in reader] == [2, 1] and reader.is_eof()
    evaluation = DataReader(params, INP, 2, train=False, repeat_dataset=False)
    assert sum(int(x["label"].shape[0]) for x in evaluation) == 3


def test_cache_eval_data_replays_first_batches(tmp_path):
    rng = np.random.default_rng(4)
    recs = random_records(rng, 10, label_dim=1, dense_dim=2, max_nnz=[1, 1, 1], i64=False)
    src = _norm_list(tmp_path, "e", recs)
    params = hugectr.DataReaderParams(
        data_reader_type="Norm", source=[src], eval_source=src, check_type="None", cache_eval_data=2
    )
    ds = dataset_from_params(params, INP, 3, train=False, repeat=True)
    dense = [b["dense"].numpy()[0, 0] for b in ds.take(5)]
    assert dense == pytest.approx([recs[i][1][0] for i in (0, 3, 0, 3, 0)])


def test_batches_feed_keras_fit(tmp_path):
    rng = np.random.default_rng(5)
    recs = random_records(rng, 40, label_dim=1, dense_dim=2, max_nnz=[2, 1, 1], i64=False)
    recs = [(r[0], r[1], [[k % 50 for k in s] for s in r[2]]) for r in recs]
    inp = make_input(1, 2, [("x", 2, False, 2), ("y", 1, True, 1)])
    src = _norm_list(tmp_path, "k", recs)
    params = hugectr.DataReaderParams(
        data_reader_type="Norm", source=[src], eval_source=src, check_type="None"
    )
    ds = split_label(dataset_from_params(params, inp, 16, repeat=False), inp)
    dense_in = keras.Input(shape=(2,), name="dense")
    x_in = keras.Input(shape=(2, None), name="x", dtype="int64", ragged=True)
    y_in = keras.Input(shape=(1, None), name="y", dtype="int64", ragged=True)

    def pooled(t):
        return tf.cast(tf.reduce_sum(t, axis=[1, 2]), tf.float32)[:, None] / 100.0

    feats = keras.layers.Concatenate()(
        [dense_in, keras.layers.Lambda(pooled)(x_in), keras.layers.Lambda(pooled)(y_in)]
    )
    model = keras.Model(
        [dense_in, x_in, y_in], keras.layers.Dense(1, activation="sigmoid", name="out")(feats)
    )
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    history = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
