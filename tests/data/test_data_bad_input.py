"""Every kind of bad data gives a clean Python exception naming file, record and field."""

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from data_reference import make_input, norm_file, raw_file, write_list

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params, norm_dataset, raw_dataset

INP = make_input(1, 2, [("fixed", 2, True, 2), ("var", 2, False, 1)])
GOOD = [([1.0], [0.5, 1.5], [[1, 2], [3], [4, 5]]) for _ in range(4)]


def _norm(tmp_path, records=GOOD, *, check_sum=False, header=None, name="f.bin", cut=0):
    data = norm_file(
        records, label_dim=1, dense_dim=2, slot_num=3, check_sum=check_sum, i64=False, header=header
    )
    path = tmp_path / name
    path.write_bytes(data[: len(data) - cut] if cut else data)
    return str(path)


def _read(path, *, check_sum=False, inp=INP):
    for _ in norm_dataset([path], inp, 3, check_sum=check_sum):
        pass


def _raises(path, pattern, **kwargs):
    with pytest.raises(tf.errors.DataLossError, match=re.escape(path) + ".*" + pattern):
        _read(path, **kwargs)


def test_checksum_mismatch(tmp_path):
    path = _norm(tmp_path, check_sum=True)
    data = bytearray(Path(path).read_bytes())
    record_start = 4 + 64 + 1
    unit = 4 + 4 * 3 + 3 * 4 + 5 * 4 + 1
    data[record_start + 2 * unit + 6] ^= 0x10  # a dense byte of record 2
    Path(path).write_bytes(bytes(data))
    _raises(path, r"record 2, field `checksum`: stored .*, computed", check_sum=True)


def test_truncated_file(tmp_path):
    _raises(_norm(tmp_path, cut=3), r"record 3, field `slot 2 keys`.*truncated")
    _raises(
        _norm(tmp_path, check_sum=True, cut=3, name="s.bin"),
        r"record 3, field `length`",
        check_sum=True,
    )


def test_check_type_disagrees_with_header(tmp_path):
    plain = _norm(tmp_path, name="plain.bin")
    _raises(plain, r"header, field `length`.*unframed", check_sum=True)
    framed = _norm(tmp_path, check_sum=True, name="framed.bin")
    _raises(framed, r"header, field `error_check`: is .* but check_type is Non")
    lying = _norm(tmp_path, header=[1, 4, 1, 2, 3, 0, 0, 0], name="lying.bin")
    _raises(lying, r"header, field `error_check`: is 1 but check_type is Non")


@pytest.mark.parametrize(
    "header, field",
    [
        ([0, 4, 2, 2, 3, 0, 0, 0], "label_dim"),
        ([0, 4, 1, 5, 3, 0, 0, 0], "dense_dim"),
        ([0, 4, 1, 2, 4, 0, 0, 0], "slot_num"),
        ([0, -4, 1, 2, 3, 0, 0, 0], "number_of_records"),
    ],
)
def test_header_disagrees_with_input(tmp_path, header, field):
    _raises(_norm(tmp_path, header=header), rf"header, field `{field}`")


def test_negative_nnz(tmp_path):
    records = list(GOOD)
    path = _norm(tmp_path, records)
    data = bytearray(Path(path).read_bytes())
    rec = 4 * 3 + 4 * 3 + 5 * 4
    at = 64 + rec + 12 + 4 + 8  # record 1, slot 1 nnz
    data[at : at + 4] = np.int32(-7).tobytes()
    Path(path).write_bytes(bytes(data))
    _raises(path, r"record 1, field `slot 1 nnz`: nnz=-7 is negative")


def test_nnz_above_fixed_length_limit(tmp_path):
    records = GOOD[:2] + [([0.0], [0.0, 0.0], [[1], [2, 3, 4], [5]])]
    _raises(_norm(tmp_path, records), r"record 2, field `slot 1 nnz`: nnz=3 exceeds nnz_per_slot=2")


def test_variable_length_limit(tmp_path):
    records = [([0.0], [0.0, 0.0], [[1], [2], [5, 6, 7]])]
    _raises(_norm(tmp_path, records), r"record 0, field `slot 2 nnz`.*max_feature_num=2")


def test_missing_files_and_bad_lists(tmp_path):
    params = dict(data_reader_type=hugectr.DataReaderType_t.Norm, eval_source="", check_type="None")
    missing = hugectr.DataReaderParams(source=[str(tmp_path / "nope.txt")], **params)
    with pytest.raises(FileNotFoundError, match="file list `.*nope.txt` does not exist"):
        dataset_from_params(missing, INP, 4)
    good = _norm(tmp_path)
    wrong_count = tmp_path / "count.txt"
    wrong_count.write_text(f"3\n{good}\n{good}\n")
    p = hugectr.DataReaderParams(source=[str(wrong_count)], **params)
    with pytest.raises(ValueError, match="says 3 files but lists 2; fix the first line"):
        dataset_from_params(p, INP, 4)
    gone = write_list(tmp_path / "gone.txt", [good, str(tmp_path / "missing.bin")])
    p = hugectr.DataReaderParams(source=[gone], **params)
    with pytest.raises(FileNotFoundError, match="line 3: data file `.*missing.bin` does not exist"):
        dataset_from_params(p, INP, 4)
    with pytest.raises(ValueError, match="`eval_source` is empty"):
        dataset_from_params(p, INP, 4, train=False)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer.*0"):
        norm_dataset([good], INP, 0, check_sum=False)


def test_error_is_sticky_and_never_hangs(tmp_path):
    path = _norm(tmp_path, cut=1)
    it = iter(norm_dataset([path], INP, 1, check_sum=False, repeat=True))
    for _ in range(3):
        next(it)
    for _ in range(2):
        with pytest.raises(tf.errors.DataLossError, match="record 3"):
            next(it)


def test_repeat_over_empty_files_fails_instead_of_spinning(tmp_path):
    path = _norm(tmp_path, [])
    with pytest.raises(tf.errors.DataLossError, match="0 records"):
        next(iter(norm_dataset([path], INP, 2, check_sum=False, repeat=True)))


RAW_INP = make_input(1, 1, [("s", 1, True, 2)])


def test_raw_bad_data(tmp_path):
    path = tmp_path / "r.bin"
    recs = [([1], [3], [0, 1]), ([0], [2], [1, 7]), ([1], [-2], [0, 0])]
    path.write_bytes(raw_file(recs, float_label_dense=False))
    p = str(path)
    with pytest.raises(
        tf.errors.DataLossError,
        match=re.escape(p)
        + r"`, record 1, field `slot 1 key`: key=7 is outside the slot's range \[0, 5\)",
    ):
        list(raw_dataset([p], RAW_INP, 8, float_label_dense=False, slot_size_array=[2, 5]))
    with pytest.raises(
        tf.errors.DataLossError, match=r"record 2, field `dense 0`: value -2 is negative"
    ):
        list(raw_dataset([p], RAW_INP, 8, float_label_dense=False))
    path.write_bytes(raw_file(recs[:2], float_label_dense=False)[:-2])
    with pytest.raises(tf.errors.DataLossError, match=r"record 1, field `label`.*not a multiple"):
        list(raw_dataset([p], RAW_INP, 8, float_label_dense=False))
    with pytest.raises(tf.errors.DataLossError, match=r"num_samples=5 records"):
        list(raw_dataset([p], RAW_INP, 8, num_samples=5))
    with pytest.raises(ValueError, match="`slot_size_array` has 3 entries but the Input has 2"):
        raw_dataset([p], RAW_INP, 8, slot_size_array=[1, 2, 3])
    with pytest.raises(FileNotFoundError, match="Raw data file `.*absent.bin` does not exist"):
        raw_dataset([str(tmp_path / "absent.bin")], RAW_INP, 8)
