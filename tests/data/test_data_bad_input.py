"""Every kind of bad data gives a clean Python exception naming file, record and field."""

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from data_reference import make_input, norm_file, raw_file, write_list
from helpers.isolated import run_python

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


@pytest.mark.parametrize("check_sum", [False, True])
def test_records_beyond_the_header_count_are_an_error(tmp_path, check_sum):
    # The header says 3; the file holds the 4 records of GOOD. Reading only 3 would silently drop
    # data (epoch mode trained fewer iterations than the file holds).
    header = [1 if check_sum else 0, 3, 1, 2, 3, 0, 0, 0]
    path = _norm(tmp_path, header=header, check_sum=check_sum)
    _raises(
        path,
        r"header, field `number_of_records`: is 3 but the file holds 4 records \(\d+ bytes follow",
        check_sum=check_sum,
    )
    # Whole records then a stray byte: "at least".
    Path(path).write_bytes(
        Path(_norm(tmp_path, check_sum=check_sum, name="g.bin")).read_bytes() + b"x"
    )
    _raises(
        path,
        r"is 4 but the file holds at least 4 records and then bytes that do not form a whole",
        check_sum=check_sum,
    )


@pytest.mark.parametrize("check_sum", [False, True])
def test_two_norm_files_joined_with_cat_are_an_error(tmp_path, check_sum):
    first = Path(_norm(tmp_path, GOOD[:2], check_sum=check_sum, name="a.bin")).read_bytes()
    second = Path(_norm(tmp_path, check_sum=check_sum, name="b.bin")).read_bytes()
    joined = tmp_path / "joined.bin"
    joined.write_bytes(first + second)
    _raises(
        str(joined),
        r"number_of_records`: is 2 but the file holds 2 \+ 4 records: a second Norm header",
        check_sum=check_sum,
    )


def test_epoch_over_a_file_with_extra_records_fails_instead_of_dropping_them(tmp_path):
    path = _norm(tmp_path, header=[0, 2, 1, 2, 3, 0, 0, 0])
    params = hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Norm,
        source=[write_list(tmp_path / "list.txt", [path])],
        eval_source="",
        check_type=hugectr.Check_t.Non,
    )
    with pytest.raises(tf.errors.DataLossError, match="is 2 but the file holds 4 records"):
        for _ in dataset_from_params(params, INP, 1, repeat_dataset=False):
            pass


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
    with pytest.raises(
        tf.errors.DataLossError, match=r"1 whole records of 16 bytes, but num_samples=5"
    ):
        list(raw_dataset([p], RAW_INP, 8, num_samples=5))
    with pytest.raises(ValueError, match="`slot_size_array` has 3 entries but the Input has 2"):
        raw_dataset([p], RAW_INP, 8, slot_size_array=[1, 2, 3])
    with pytest.raises(FileNotFoundError, match="Raw data file `.*absent.bin` does not exist"):
        raw_dataset([str(tmp_path / "absent.bin")], RAW_INP, 8)


def test_raw_num_samples_near_2_to_the_63_is_an_error_not_an_oom(tmp_path):
    # Run apart, under a memory cap: before the fix num_samples * record_bytes overflowed, the
    # check passed and planning 2^58 records exhausted memory or never finished.
    path = tmp_path / "r.bin"
    path.write_bytes(raw_file([([1], [3], [0, 1])] * 3, float_label_dense=True))
    code = f"""
    import json
    from data_reference import make_input
    from hugectr_tf.data import raw_dataset
    from hugectr_tf.ops.reader_ops import BinaryReaderDataset

    inp = make_input(1, 1, [("s", 1, True, 2)])
    out = {{}}
    for n in (2**58, 2**61, 2**63 - 1):
        for how in ("raw_dataset", "op"):
            try:
                if how == "op":
                    ds = BinaryReaderDataset([{str(path)!r}], label_dim=1, dense_dim=1,
                        slots_per_input=[2], max_nnz=[1, 1], fixed_length=[True],
                        input_names=["s"], batch_size=2, file_format="raw", num_samples=n)
                else:
                    ds = raw_dataset([{str(path)!r}], inp, 2, num_samples=n)
                list(ds)
                out[f"{{how}} {{n}}"] = "no error"
            except Exception as err:
                out[f"{{how}} {{n}}"] = f"{{type(err).__name__}}: {{err}}"
    print(json.dumps(out))
    """
    result = run_python(
        "import sys; sys.path[:0] = ['tests', 'tests/data']\n" + textwrap.dedent(code)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(out) == 6
    for case, message in out.items():
        n = case.split()[1]
        assert message.startswith("DataLossError"), (case, message)
        assert re.search(
            re.escape(str(path)) + ".*3 whole records of 16 bytes, but num_samples=" + n, message
        ), message
