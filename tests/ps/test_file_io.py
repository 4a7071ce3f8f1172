"""The SSD-PS's file I/O (hugectr_tf/ps/file_io.py) against plain numpy file reads, and its
hand-over of aligned buffers to TensorFlow."""

import numpy as np
import pytest
import tensorflow as tf
from ps_helpers import Reference, assert_holds, lr_history, make_spec, random_block

from hugectr_tf import CreateOptimizer
from hugectr_tf.ops import embedding_ops as E
from hugectr_tf.ps import SSDParameterServer, file_io
from hugectr_tf.ps import ssd as ssd_module


def test_write_then_read_round_trip_at_offsets(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(1000, 7)).astype(np.float32)
    b = rng.integers(0, 1 << 60, 3001).astype(np.int64)
    path = tmp_path / "f"
    path.write_bytes(b"\0" * 13)
    with open(path, "r+b") as f:
        file_io.write_many([(f.fileno(), 13, a), (f.fileno(), 13 + a.nbytes, b)])
        file_io.write_from(f.fileno(), 0, np.arange(3, dtype=np.int32))
    data = path.read_bytes()
    assert data[:12] == np.arange(3, dtype=np.int32).tobytes() and data[12] == 0
    np.testing.assert_array_equal(np.frombuffer(data, np.float32, a.size, 13).reshape(a.shape), a)
    np.testing.assert_array_equal(np.frombuffer(data, np.int64, b.size, 13 + a.nbytes), b)
    with open(path, "rb") as f:
        got = np.empty_like(a)
        file_io.read_into(f.fileno(), 13, got, path)
        np.testing.assert_array_equal(got, a)
        again = np.empty_like(b)
        file_io.read_into(f.fileno(), 13 + a.nbytes, again, path)
        np.testing.assert_array_equal(again, b)
        with pytest.raises(ValueError, match=r"`.*f` ends at byte \d+, before the \d+ bytes"):
            file_io.read_into(f.fileno(), 13 + a.nbytes, np.empty(b.size + 1, np.int64), path)
        with pytest.raises(ValueError, match="C-contiguous"):
            file_io.read_into(f.fileno(), 0, np.empty((4, 4), np.float32)[:, :2], path)


def test_empty_arrays_read_and_write_nothing(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    with open(path, "r+b") as f:
        file_io.write_from(f.fileno(), 1, np.zeros((0, 5), np.float32))
        file_io.read_into(f.fileno(), 3, np.zeros((0, 2), np.float32), path)
    assert path.read_bytes() == b"abc"


@pytest.mark.parametrize("gap", [0, 1 << 20])
def test_ssd_reads_of_scattered_and_adjacent_rows_match_the_reference(tmp_path, monkeypatch, gap):
    # gap 0: every scattered row is a segment of its own.
    monkeypatch.setattr(ssd_module, "_MAX_GAP", gap)
    spec, ref, rng = make_spec("Adam", vec=8), Reference(), np.random.default_rng(1)
    ps = SSDParameterServer(spec, tmp_path / "ps")
    for step, keys in enumerate([np.arange(0, 3000), np.arange(2000, 5000, 3)], start=1):
        block = random_block(spec, keys, rng, step)
        ps.push(block, step, lr_history(step))
        ref.push(block, step, lr_history(step))
    assert_holds(ps, ref)
    for keys in (rng.choice(5000, 700, replace=False), np.arange(1200, 2900)):
        got = ps.pull(keys)
        want = np.sort([k for k in keys if k in ref.rows])
        np.testing.assert_array_equal(got.keys, want)
        np.testing.assert_array_equal(got.rows, np.stack([ref.rows[k][0] for k in want]))
        np.testing.assert_array_equal(got.optimizer_slots, np.stack([ref.rows[k][2] for k in want]))
    ps.close()
    reopened = SSDParameterServer(spec, tmp_path / "ps", readonly=True)
    assert_holds(reopened, ref)


def test_aligned_arrays_reach_tensorflow_without_a_copy():
    a = file_io.aligned_empty((1000, 3), np.float32)
    a[:] = np.arange(3000, dtype=np.float32).reshape(1000, 3)
    assert a.ctypes.data % file_io.TENSOR_ALIGNMENT == 0 and a.flags.c_contiguous
    shared = file_io.as_tensor(a, tf.float32)
    assert np.shares_memory(np.asarray(shared), a)
    assert float(tf.reduce_sum(shared)) == float(a.sum())  # TF kernels take the buffer
    for other in (a[1:], a.astype(np.float64), np.zeros((0, 3), np.float32)):
        copied = file_io.as_tensor(other, tf.float32)
        assert copied.dtype == tf.float32 and not np.shares_memory(np.asarray(copied), a)
        np.testing.assert_array_equal(copied.numpy(), other.astype(np.float32))


def test_a_pulled_block_restores_the_table_it_was_pushed_from(tmp_path):
    spec, rng = make_spec("Adam", vec=8), np.random.default_rng(2)
    ps = SSDParameterServer(spec, tmp_path / "ps")
    block = random_block(spec, np.arange(100, 1100), rng, 3)
    ps.push(block, 3, lr_history(3))
    table = E.create_table(8, 4, optimizer=CreateOptimizer(optimizer_type="Adam"))
    state = ps.pull(np.arange(0, 2000)).table_state(ps.step, ps.lr_history)
    E.import_rows(table, state["keys"], state["rows"], state["slot_ids"])
    E.import_optimizer_state(table, state["keys"], state["optimizer_slots"],
                             state["last_step"], state["step"], state["lr_history"])  # fmt: skip
    got = {k: v.numpy() for k, v in E.export_table(table).items()}
    for name in ("keys", "rows", "slot_ids", "optimizer_slots", "last_step"):
        np.testing.assert_array_equal(got[name], getattr(block, name), err_msg=name)
    assert int(got["step"]) == 3
    np.testing.assert_array_equal(got["lr_history"], lr_history(3))
