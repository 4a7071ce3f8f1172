"""Keysets: HugeCTR's raw-key format; the generator's, the converter's and `hugectr-tf keyset`'s
keysets hold exactly the keys the readers yield for their sources."""

import json
from pathlib import Path

import numpy as np
import pytest

from hugectr_tf.data import dataset_from_params
from hugectr_tf.data.keyset import default_keyset_path, keys_of_source, read_keyset, write_keyset
from hugectr_tf.tools import DataGenerator, convert_criteo, write_source_keyset
from hugectr_tf_cli import main


def _reader_keys(gen, source):
    """The keys the project's reader yields for `source` (an independent path to them)."""
    params = gen.reader_params(source=[source])
    ds = dataset_from_params(params, gen.input(), 1000, repeat=False,
                             i64_input_key=gen.i64_input_key)  # fmt: skip
    return np.unique(np.concatenate([b["data1"].flat_values.numpy() for b in ds]))


def test_format_is_raw_little_endian_keys(tmp_path):
    assert write_keyset(tmp_path / "a.keyset", [5, 1, 5, 2**40]) == 3
    assert (tmp_path / "a.keyset").read_bytes() == np.array([1, 5, 2**40], "<i8").tobytes()
    write_keyset(tmp_path / "b.keyset", [7, 3], i64_input_key=False)
    assert (tmp_path / "b.keyset").read_bytes() == np.array([3, 7], "<u4").tobytes()
    np.testing.assert_array_equal(read_keyset(tmp_path / "b.keyset", i64_input_key=False), [3, 7])
    # HugeCTR writes keys in any order, repeats included: read gives them distinct, ascending.
    np.array([9, 2, 9], "<i8").tofile(tmp_path / "c.keyset")
    np.testing.assert_array_equal(read_keyset(tmp_path / "c.keyset"), [2, 9])
    with pytest.raises(ValueError, match="does not fit a uint32 keyset"):
        write_keyset(tmp_path / "d.keyset", [2**33], i64_input_key=False)
    (tmp_path / "e.keyset").write_bytes(b"\0" * 6)
    with pytest.raises(ValueError, match="6 bytes, not a multiple of 4 .*uint32"):
        read_keyset(tmp_path / "e.keyset", i64_input_key=False)
    assert default_keyset_path("x/file_list.3.txt") == "x/file_list.3.keyset"
    assert default_keyset_path("x/train.bin") == "x/train.bin.keyset"


@pytest.mark.parametrize("i64", [True, False])
def test_generator_keysets_hold_the_keys_of_their_file_lists(tmp_path, i64):
    gen = DataGenerator(tmp_path, "Norm", num_train_samples=900, num_eval_samples=100,
                        num_files=3, dense_dim=2, slot_size_array=[500, 40, 900],
                        nnz_per_slot=[1, 3, 2], i64_input_key=i64, num_file_lists=3,
                        keyset=True, seed=5).generate()  # fmt: skip
    assert len(gen.train_sources) == len(gen.train_keysets) == 3
    union = []
    for source, keyset in zip(gen.train_sources, gen.train_keysets):
        want = _reader_keys(gen, source)
        np.testing.assert_array_equal(read_keyset(keyset, i64), want)
        # The tool reads the same keys back from the files (check type from the header).
        np.testing.assert_array_equal(keys_of_source("Norm", source, i64_input_key=i64), want)
        union.append(want)
    np.testing.assert_array_equal(
        read_keyset(gen.train_keyset, i64), np.unique(np.concatenate(union))
    )
    with pytest.raises(ValueError, match="num_file_lists` > 1 splits Norm file lists"):
        DataGenerator(tmp_path, "Raw", num_file_lists=2)
    with pytest.raises(ValueError, match=r"num_file_lists` must be an integer in \[1, num_files=4"):
        DataGenerator(tmp_path, "Norm", num_file_lists=5)


def test_parquet_keyset_has_the_readers_slot_offsets(tmp_path):
    gen = DataGenerator(tmp_path, "Parquet", num_train_samples=600, num_eval_samples=100,
                        num_files=2, dense_dim=2, slot_size_array=[30, 50, 20], keyset=True,
                        i64_input_key=True, seed=6).generate()  # fmt: skip
    want = _reader_keys(gen, gen.train_source)
    assert want.max() >= 30  # slots 1 and 2 carry offsets 30 and 80
    np.testing.assert_array_equal(read_keyset(gen.train_keyset), want)
    out = write_source_keyset("Parquet", gen.train_source, tmp_path / "p.keyset",
                              i64_input_key=True, slot_size_array=gen.slot_size_array)  # fmt: skip
    assert out["keys"] == len(want)
    np.testing.assert_array_equal(read_keyset(tmp_path / "p.keyset"), want)


def test_cli_keyset_and_converter_keyset(tmp_path, criteo_dir, capsys):
    gen = DataGenerator(tmp_path / "g", "Norm", num_train_samples=300, num_eval_samples=50,
                        num_files=2, dense_dim=2, slot_size_array=[100, 30], num_file_lists=2,
                        seed=7).generate()  # fmt: skip
    assert main(["keyset", *gen.train_sources]) == 0
    printed = json.loads(capsys.readouterr().out)
    for source, entry in zip(gen.train_sources, printed):
        assert entry["keyset"] == default_keyset_path(source)
        np.testing.assert_array_equal(
            read_keyset(entry["keyset"], i64_input_key=False), _reader_keys(gen, source)
        )
    assert main(["keyset", *gen.train_sources, "--output", "one.keyset"]) == 2
    assert "one source" in capsys.readouterr().err
    assert main(["keyset", gen.train_source, "--format", "Parquet"]) == 2
    assert "Parquet metadata" in capsys.readouterr().err
    # A corrupt record (not the header) is one line naming the file, not a traceback.
    data_file = Path(Path(gen.train_sources[0]).read_text().split()[1])
    raw = bytearray(data_file.read_bytes())
    raw[-3] ^= 0xFF  # inside the last record: its checksum no longer matches
    data_file.write_bytes(bytes(raw))
    assert main(["keyset", gen.train_sources[0], "--output", str(tmp_path / "k.keyset")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hugectr-tf keyset: error: ") and str(data_file) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    info = convert_criteo(criteo_dir / "criteo_sample200.csv", tmp_path / "c", "Norm",
                          eval_fraction=0.25, keyset=True)  # fmt: skip
    for name in ("source", "eval_source"):
        keys = keys_of_source("Norm", info[name])
        np.testing.assert_array_equal(read_keyset(info[name + "_keyset"], False), keys)
    assert main(["convert-criteo", str(criteo_dir / "criteo_sample200.csv"), "--output",
                 str(tmp_path / "r"), "--format", "Raw", "--keyset"]) == 0  # fmt: skip
    raw = json.loads(capsys.readouterr().out)
    sizes = np.asarray(raw["slot_size_array"])
    keys = read_keyset(raw["source_keyset"], False)
    assert keys.max() < sizes.sum() and len(keys) <= sizes.sum()
