"""The Norm header has one parser, the C++ reader's (cc/core/data/norm_codec.h): the dataset's
cardinality and Python's `read_norm_header` (keysets) get its result. Reference: the fields the
independent writer (data_reference.py) put in the files."""

import re
from pathlib import Path

import pytest
import tensorflow as tf
from data_reference import make_input, norm_file, write_list

from hugectr_tf.data import keys_of_source, norm_dataset
from hugectr_tf.ops.reader_ops import NormHeader, read_norm_header

INP = make_input(1, 2, [("fixed", 2, True, 2), ("var", 2, False, 1)])
RECORD = ([1.0], [0.5, 1.5], [[1, 2], [3], [4, 5]])


def _norm(tmp_path, n=4, *, check_sum=False, header=None, name="f.bin"):
    data = norm_file(
        [RECORD] * n, label_dim=1, dense_dim=2, slot_num=3, check_sum=check_sum, i64=False,
        header=header,
    )  # fmt: skip
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("check_sum", [False, True])
def test_fields_and_framing_as_written(tmp_path, check_sum):
    path = _norm(tmp_path, 5, check_sum=check_sum)
    assert read_norm_header(path) == NormHeader(check_sum, 5, 1, 2, 3)


@pytest.mark.parametrize(
    "data, field, what",
    [
        (b"\0" * 10, "header", "file has 10 bytes, fewer than the 64-byte header"),
        (None, "checksum", r"stored .*, computed .* \(corrupt header\)"),
        ("1,4,1,2,3", "error_check", r"is 1 but the header is unframed .*: not a Norm file"),
        ("0,-1,1,2,3", "number_of_records", "is negative: -1"),
        ("0,4,0,2,3", "label_dim", "is 0, less than 1: not a Norm file"),
        ("0,4,1,-2,3", "dense_dim", "is -2, less than 0: not a Norm file"),
    ],
)
def test_corrupt_headers_name_file_and_field(tmp_path, data, field, what):
    path = tmp_path / "bad.bin"
    if data is None:  # a framed header whose checksum byte is wrong
        good = bytearray(Path(_norm(tmp_path, check_sum=True)).read_bytes())
        good[4 + 64] ^= 0x01
        data = bytes(good)
    elif isinstance(data, str):
        fields = [int(v) for v in data.split(",")] + [0, 0, 0]
        data = Path(_norm(tmp_path, header=fields)).read_bytes()
    path.write_bytes(data)
    pattern = "^" + re.escape(f"Norm file `{path}`, header, field `{field}`: ") + what
    with pytest.raises(tf.errors.DataLossError, match=pattern):
        read_norm_header(path)


@pytest.mark.parametrize("check_sum", [False, True])
def test_cardinality_counts_the_headers_records(tmp_path, check_sum):
    files = [_norm(tmp_path, n, check_sum=check_sum, name=f"{n}.bin") for n in (4, 3)]
    ds = norm_dataset(files, INP, 2, check_sum=check_sum)
    assert int(ds.cardinality()) == 4  # ceil(7 / 2)
    assert sum(1 for _ in ds) == 4
    assert norm_dataset(files, INP, 2, check_sum=check_sum, repeat=True).cardinality() == (
        tf.data.INFINITE_CARDINALITY
    )


@pytest.mark.parametrize(
    "header, error",
    [
        # More records than the file can hold: never a wild epoch length.
        ([0, 10**12, 1, 2, 3, 0, 0, 0], r"record 4, field `label`.*truncated"),
        ([0, 4, 1, 2, 7, 0, 0, 0], r"header, field `slot_num`: is 7"),
    ],
)
def test_a_header_the_reader_rejects_leaves_the_cardinality_unknown(tmp_path, header, error):
    files = [_norm(tmp_path, name="good.bin"), _norm(tmp_path, header=header, name="bad.bin")]
    ds = norm_dataset(files, INP, 2, check_sum=False)
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(tf.errors.DataLossError, match=re.escape(files[1]) + ".*" + error):
        for _ in ds:
            pass


def test_keyset_of_a_file_list_with_a_short_header(tmp_path):
    short = tmp_path / "short.bin"
    short.write_bytes(b"\0" * 20)
    source = write_list(tmp_path / "list.txt", [str(short)])
    with pytest.raises(ValueError, match="header, field `header`: file has 20 bytes, fewer than"):
        keys_of_source("Norm", source)
