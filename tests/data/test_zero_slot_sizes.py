"""`slot_size_array` entries of 0 (HugeCTR's DIN samples): the slot shares the offset, and so the
key range, of the next slot with a positive size. Reference: offsets and ranges by hand."""

import numpy as np
import pytest

import hugectr_tf as hugectr
from hugectr_tf.config import slot_key_limits, slot_offsets
from hugectr_tf.data import dataset_from_params
from hugectr_tf.data.writers import write_parquet_folder

# DIN's layout, shrunk: users (1 slot), goods (3 history slots of size 0 + the target good),
# categories (2 history slots of size 0 + the target category).
SIZES = [10, 0, 0, 0, 6, 0, 0, 3]


def test_offsets_and_limits_by_hand():
    np.testing.assert_array_equal(slot_offsets(SIZES), [0, 10, 10, 10, 10, 16, 16, 16])
    np.testing.assert_array_equal(slot_key_limits(SIZES), [10, 6, 6, 6, 6, 3, 3, 3])
    np.testing.assert_array_equal(slot_key_limits([4, 0]), [4, 0])  # a trailing 0 takes no key


def _input():
    return hugectr.Input(
        label_dim=1,
        label_name="label",
        dense_dim=0,
        dense_name="dense",
        data_reader_sparse_param_array=[
            hugectr.DataReaderSparseParam("UserID", 1, True, 1),
            hugectr.DataReaderSparseParam("GoodID", 1, True, 4),
            hugectr.DataReaderSparseParam("CateID", 1, True, 3),
        ],
    )


def _parquet(tmp_path, keys):
    keys = np.asarray(keys, np.int64)
    n = keys.shape[0]
    label = np.arange(n, dtype=np.float32)[:, None] % 2
    source = write_parquet_folder(
        tmp_path / "din",
        [(label, np.zeros((n, 0), np.float32), keys)],
        label_dim=1,
        dense_dim=0,
        slot_num=len(SIZES),
    )
    return hugectr.DataReaderParams(
        data_reader_type=hugectr.DataReaderType_t.Parquet,
        source=[source],
        eval_source=source,
        check_type=hugectr.Check_t.Non,
        slot_size_array=SIZES,
    )


def test_parquet_history_slots_read_the_item_ids(tmp_path):
    keys = [[9, 5, 5, 0, 2, 1, 2, 0], [0, 1, 2, 3, 4, 0, 1, 2]]
    params = _parquet(tmp_path, keys)
    batch = next(iter(dataset_from_params(params, _input(), 2, repeat=False)))
    goods = batch["GoodID"].flat_values.numpy().reshape(2, 4)
    cates = batch["CateID"].flat_values.numpy().reshape(2, 3)
    np.testing.assert_array_equal(goods, [[15, 15, 10, 12], [11, 12, 13, 14]])  # + offset 10
    np.testing.assert_array_equal(cates, [[17, 18, 16], [16, 17, 18]])  # + offset 16
    np.testing.assert_array_equal(batch["UserID"].flat_values.numpy(), [9, 0])


def test_parquet_key_outside_the_shared_range_names_slot_and_range(tmp_path):
    params = _parquet(tmp_path, [[9, 6, 5, 0, 2, 1, 2, 0]])  # 6 is not an item id (< 6)
    with pytest.raises(Exception, match=r"record 0.*key=6 is outside the slot's range \[0, 6\)"):
        next(iter(dataset_from_params(params, _input(), 1, repeat=False)))


def test_config_accepts_zeros_and_refuses_bad_sizes():
    params = _parquet_params(SIZES)
    assert params.slot_size_array == SIZES
    for bad, message in (
        ([3, -1], "a non-negative integer"),
        ([0, 0], "a list with a positive sum"),
    ):
        with pytest.raises(ValueError, match=rf"`slot_size_array` must be {message}"):
            _parquet_params(bad)


def _parquet_params(sizes):
    return hugectr.DataReaderParams(
        data_reader_type="Parquet",
        source=["list.txt"],
        eval_source="list.txt",
        check_type="Non",
        slot_size_array=sizes,
    )


def test_raw_refuses_zero_sizes_with_a_clear_message(tmp_path):
    params = hugectr.DataReaderParams(
        data_reader_type="Raw",
        source=[str(tmp_path / "x.bin")],
        eval_source=str(tmp_path / "x.bin"),
        check_type="Non",
        slot_size_array=SIZES,
    )
    with pytest.raises(ValueError, match=r"Raw reader needs a positive size.*\[10, 0, 0"):
        dataset_from_params(params, _input(), 2)
