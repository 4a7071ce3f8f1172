"""Round trip of Norm and Raw files written by an independent struct-based writer."""

import numpy as np
import pytest
from data_reference import collect, make_input, norm_file, random_records, raw_file, write_list

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params, norm_dataset, raw_dataset
from hugectr_tf.data.writers import norm_bytes

SPARSE = [("wide", 3, False, 2), ("deep", 2, True, 3)]  # 5 slots: nnz limits 3,3,2,2,2


def _expected(records):
    label = [r[0] for r in records]
    dense = [r[1] for r in records]
    wide = [r[2][:2] for r in records]
    deep = [r[2][2:] for r in records]
    return label, dense, wide, deep


@pytest.mark.parametrize("i64", [False, True])
@pytest.mark.parametrize("check_sum", [False, True])
def test_norm_round_trip_across_files(tmp_path, i64, check_sum):
    rng = np.random.default_rng(1 + i64 + 2 * check_sum)
    records = random_records(rng, 53, label_dim=2, dense_dim=3, max_nnz=[3, 3, 2, 2, 2], i64=i64)
    bounds = [0, 20, 20, 41, 53]  # includes an empty file
    files = []
    for i in range(4):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(
            norm_file(
                records[bounds[i] : bounds[i + 1]],
                label_dim=2,
                dense_dim=3,
                slot_num=5,
                check_sum=check_sum,
                i64=i64,
            )
        )
        files.append(str(path))
    params = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm,
        source=[write_list(tmp_path / "list.txt", files)],
        eval_source="",
        check_type=hugectr.Check_t.Sum if check_sum else hugectr.Check_t.Non,
        num_workers=3,
    )
    inp = make_input(2, 3, SPARSE)
    ds = dataset_from_params(params, inp, 8, repeat=False, i64_input_key=i64)
    assert int(ds.cardinality()) == 7  # from the headers: Keras knows the epoch length
    got = collect(ds, ["wide", "deep"])
    label, dense, wide, deep = _expected(records)
    assert got["sizes"] == [8] * 6 + [5]  # batches span files; only the last is partial
    np.testing.assert_array_equal(got["label"], label)
    np.testing.assert_array_equal(np.float32(got["dense"]), np.float32(dense))
    assert got["wide"] == wide
    assert got["deep"] == deep


def test_package_writer_matches_reference_bytes():
    rng = np.random.default_rng(3)
    for i64 in (False, True):
        for check_sum in (False, True):
            recs = random_records(rng, 9, label_dim=1, dense_dim=2, max_nnz=[2, 0, 3], i64=i64)
            ref = norm_file(
                recs, label_dim=1, dense_dim=2, slot_num=3, check_sum=check_sum, i64=i64
            )
            nnz = [[len(k) for k in r[2]] for r in recs]
            keys = [k for r in recs for s in r[2] for k in s]
            got = norm_bytes(
                [r[0] for r in recs],
                [r[1] for r in recs],
                nnz,
                keys,
                check_sum=check_sum,
                i64_input_key=i64,
            )
            assert got == ref


def test_norm_repeat_cycles_in_order(tmp_path):
    rng = np.random.default_rng(5)
    records = random_records(rng, 7, label_dim=1, dense_dim=1, max_nnz=[1], i64=False)
    path = tmp_path / "a.bin"
    path.write_bytes(
        norm_file(records, label_dim=1, dense_dim=1, slot_num=1, check_sum=False, i64=False)
    )
    inp = make_input(1, 1, [("s", 1, False, 1)])
    ds = norm_dataset([str(path)], inp, 5, check_sum=False, repeat=True, num_workers=2)
    dense = [v for b in ds.take(6) for v in b["dense"].numpy().ravel().tolist()]
    assert dense == [r[1][0] for r in records * 5][:30]


@pytest.mark.parametrize("float_label_dense", [True, False])
def test_raw_round_trip(tmp_path, float_label_dense):
    rng = np.random.default_rng(11)
    sizes = [5, 1000, 3, 70000]
    records = []
    for _ in range(300):
        label = [float(rng.integers(0, 2))]
        dense = [float(v) for v in rng.integers(0, 500, 2)]
        if float_label_dense:
            dense = [float(np.float32(v / 7)) for v in dense]
        records.append((label, dense, [int(rng.integers(0, s)) for s in sizes]))
    path = tmp_path / "train.bin"
    path.write_bytes(raw_file(records, float_label_dense=float_label_dense))
    params = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Raw,
        source=[str(path)],
        eval_source=str(path),
        check_type=hugectr.Check_t.Non,
        float_label_dense=float_label_dense,
        slot_size_array=sizes,
        num_workers=2,
    )
    inp = make_input(1, 2, [("a", 1, True, 3), ("b", 1, True, 1)])
    ds = dataset_from_params(params, inp, 64, train=False, repeat=False)
    assert int(ds.cardinality()) == 5
    got = collect(ds, ["a", "b"])
    assert got["sizes"] == [64] * 4 + [44]
    want_dense = np.float32([r[1] for r in records])
    if not float_label_dense:
        want_dense = np.log(want_dense + np.float32(1))
    np.testing.assert_allclose(got["dense"], want_dense, rtol=1e-6)
    offsets = [0, 5, 1005, 1008]  # HugeCTR's Raw reader adds the slot offsets
    assert got["a"] == [[[k + o] for k, o in zip(r[2][:3], offsets)] for r in records]
    assert got["b"] == [[[r[2][3] + 1008]] for r in records]


def test_raw_num_samples_reads_a_prefix(tmp_path):
    records = [([1.0], [2.0], [i]) for i in range(10)]
    path = tmp_path / "r.bin"
    path.write_bytes(raw_file(records, float_label_dense=True))
    inp = make_input(1, 1, [("s", 1, True, 1)])
    ds = raw_dataset([str(path)], inp, 4, num_samples=6)
    assert [k[0][0] for b in ds for k in b["s"].to_list()] == list(range(6))


def test_norm_records_crossing_read_windows(tmp_path):
    # Unframed files are parsed from 1 MiB windows: records straddle window ends, and one record
    # (300,000 keys, 1.2 MB) is larger than a window.
    rng = np.random.default_rng(9)
    records = random_records(rng, 3000, label_dim=1, dense_dim=40, max_nnz=[60], i64=False)
    big = rng.integers(0, 2**32, 300_000).tolist()
    records[1500] = ([1.0], [0.5] * 40, [big])
    path = tmp_path / "big.bin"
    path.write_bytes(
        norm_file(records, label_dim=1, dense_dim=40, slot_num=1, check_sum=False, i64=False)
    )
    assert path.stat().st_size > 2**21 - 2**18  # about two windows
    inp = make_input(1, 40, [("s", 300_000, False, 1)])
    got = collect(norm_dataset([str(path)], inp, 512, check_sum=False, num_workers=2), ["s"])
    assert got["s"] == [r[2] for r in records]
    np.testing.assert_array_equal(np.float32(got["dense"]), np.float32([r[1] for r in records]))
