"""Both parameter servers against a dict reference: push/pull, folders (HugeCTR's and the PS
layout), restart, catch-up on read, and bad input."""

import json

import numpy as np
import pytest
from ps_helpers import Reference, assert_holds, lr_history, make_spec, random_block

from hugectr_tf.embedding import files
from hugectr_tf.ops import ps_ops
from hugectr_tf.ps import (
    HostMemoryParameterServer,
    KeyIndex,
    RowBlock,
    SSDParameterServer,
    read_folder,
)


def _open(kind, spec, folder):
    if kind == "hm":
        return HostMemoryParameterServer(spec)
    return SSDParameterServer(spec, folder, durable=False)


@pytest.mark.parametrize("optimizer", ["Adam", "SGD"])  # SGD: no optimizer state (0 bytes)
@pytest.mark.parametrize("kind", ["hm", "ssd"])
def test_push_and_pull_match_a_dict(kind, optimizer, tmp_path):
    spec = make_spec(optimizer, vec=3)
    ps, ref, rng = _open(kind, spec, tmp_path / "ps"), Reference(), np.random.default_rng(1)
    for step in (2, 5, 9):  # overlapping key ranges: updates and new keys in each push
        block = random_block(spec, rng.choice(400, 150, replace=False), rng, step)
        ps.push(block, step, lr_history(step))
        ref.push(block, step, lr_history(step))
        assert_holds(ps, ref)
    asked = np.array([7, 7, -3, 1000, 399, 0, 12], np.int64)  # repeats, absent, any order
    pulled = ps.pull(asked)
    held = sorted(k for k in set(asked.tolist()) if k in ref.rows)
    np.testing.assert_array_equal(pulled.keys, held)
    for i, key in enumerate(held):
        np.testing.assert_array_equal(pulled.rows[i], ref.rows[key][0])
    rows, found = ps.rows_for(asked)
    np.testing.assert_array_equal(found, [k in ref.rows for k in asked.tolist()])
    np.testing.assert_array_equal(rows[~found], 0)
    assert ps.bytes_written == spec.row_bytes * 450 and ps.bytes_read > 0


def test_ssd_folder_survives_a_restart_and_is_a_hugectr_sparse_model(tmp_path):
    spec, rng, ref = make_spec("Adagrad", vec=5), np.random.default_rng(2), Reference()
    ps = SSDParameterServer(spec, tmp_path / "ps")
    block = random_block(spec, np.arange(0, 300, 3), rng, 4)
    ps.push(block, 4, lr_history(4))
    ref.push(block, 4, lr_history(4))
    ps.close()
    again = SSDParameterServer(spec, tmp_path / "ps")
    assert_holds(again, ref)
    block = random_block(spec, np.arange(150, 450, 2), rng, 7)
    again.push(block, 7, lr_history(7))
    ref.push(block, 7, lr_history(7))
    assert_holds(again, ref)
    # HugeCTR's reader (and this project's) sees key / emb_vector / slot_id of every row.
    keys, rows, slots = files.read_sparse_model(tmp_path / "ps", 5, need_slot_id=True)
    assert sorted(keys.tolist()) == sorted(ref.rows)
    for key, row, slot in zip(keys.tolist(), rows, slots):
        np.testing.assert_array_equal(row, ref.rows[key][0])
        assert slot == ref.rows[key][1]
    manifest = json.loads((tmp_path / "ps" / "ps.json").read_text())
    assert manifest["rows"] == len(ref.rows) and manifest["step"] == 7
    assert manifest["optimizer"] == "Adagrad" and manifest["optimizer_slots"] == 1


def test_host_memory_saves_the_layout_the_ssd_ps_opens(tmp_path):
    spec, rng, ref = make_spec("Adam", vec=2), np.random.default_rng(3), Reference()
    hm = HostMemoryParameterServer(spec)
    block = random_block(spec, rng.choice(1000, 200, replace=False), rng, 3)
    hm.push(block, 3, lr_history(3))
    ref.push(block, 3, lr_history(3))
    hm.save(tmp_path / "model")
    assert_holds(HostMemoryParameterServer(spec, tmp_path / "model"), ref)
    assert_holds(SSDParameterServer(spec, tmp_path / "model"), ref)
    keys = np.fromfile(tmp_path / "model" / "key", "<i8")
    assert np.all(np.diff(keys) > 0)  # saved by ascending key


@pytest.mark.parametrize("kind", ["hm", "ssd", "ssd-readonly"])
def test_a_plain_hugectr_folder_starts_with_new_optimizer_state(kind, tmp_path):
    spec = make_spec("Adagrad", vec=3, kind="LocalizedSlotSparseEmbeddingHash")
    keys = np.array([10, 3, 7], np.int64)
    rows = np.arange(9, dtype=np.float32).reshape(3, 3)
    files.write_sparse_model(tmp_path / "m", keys, rows, slot_ids=np.array([2, 0, 1]))
    if kind == "hm":
        ps = HostMemoryParameterServer(spec, tmp_path / "m")
    else:
        ps = SSDParameterServer(spec, tmp_path / "m", readonly=kind == "ssd-readonly")
    block = ps.pull([3, 7, 10, 11])
    np.testing.assert_array_equal(block.keys, [3, 7, 10])
    np.testing.assert_array_equal(block.rows, rows[[1, 2, 0]])
    np.testing.assert_array_equal(block.slot_ids, [0, 1, 2])
    np.testing.assert_array_equal(block.optimizer_slots, 0.25)  # Adagrad initial_accu_value
    np.testing.assert_array_equal(block.last_step, 0)
    assert ps.step == 0
    adopted = (tmp_path / "m" / "ps.json").exists()
    assert adopted == (kind == "ssd")  # only a writable SSD-PS adds its files
    if kind == "ssd-readonly":
        with pytest.raises(RuntimeError, match="read-only"):
            ps.push(block, 1, lr_history(1))


@pytest.mark.parametrize("kind", ["hm", "ssd", "ssd-readonly"])
def test_a_folder_of_another_embedding_size_is_refused(kind, tmp_path):
    files.write_sparse_model(tmp_path / "m", np.arange(4), np.zeros((4, 8), np.float32))
    spec = make_spec(vec=4)
    with pytest.raises(ValueError, match="embedding_vec_size=4 need 64.*embedding_vec_size=8"):
        if kind == "hm":
            HostMemoryParameterServer(spec, tmp_path / "m")
        else:
            SSDParameterServer(spec, tmp_path / "m", readonly=kind == "ssd-readonly")
    assert not (tmp_path / "m" / "ps.json").exists()
    # A PS folder says which size and optimizer it holds.
    SSDParameterServer(make_spec("Adam", vec=6), tmp_path / "p").close()
    with pytest.raises(ValueError, match="embedding_vec_size=6 but the table has .*=4"):
        SSDParameterServer(make_spec("Adam", vec=4), tmp_path / "p")
    with pytest.raises(ValueError, match="optimizer state of Adam .* the table's .* is SGD"):
        HostMemoryParameterServer(make_spec("SGD", vec=6), tmp_path / "p")


def test_global_rows_are_read_caught_up(tmp_path):
    spec = make_spec("Adam", update="Global", vec=4)
    ps, rng = SSDParameterServer(spec, tmp_path / "ps", durable=False), np.random.default_rng(4)
    old = random_block(spec, np.arange(10), rng, 2)
    old.last_step[:] = 2
    ps.push(old, 2, lr_history(2))
    ps.push(random_block(spec, [0], rng, 6), 6, lr_history(6))  # the PS is at step 6 now
    pulled = ps.pull(np.arange(1, 10))
    want = ps_ops.catch_up(old.rows[1:], old.optimizer_slots[1:], old.last_step[1:], 6,
                           lr_history(6), spec.optimizer)  # fmt: skip
    np.testing.assert_array_equal(pulled.rows, want[0])
    np.testing.assert_array_equal(pulled.last_step, 6)
    assert not np.array_equal(pulled.rows, old.rows[1:])
    # Local rows are read as stored.
    local = HostMemoryParameterServer(make_spec("Adam", update="Local", vec=4))
    local.push(old, 2, lr_history(2))
    local.push(random_block(local.spec, [0], rng, 6), 6, lr_history(6))
    np.testing.assert_array_equal(local.pull(np.arange(1, 10)).rows, old.rows[1:])


@pytest.mark.parametrize("kind", ["hm", "ssd"])
def test_bad_pushes_are_refused_and_change_nothing(kind, tmp_path):
    spec, rng, ref = make_spec("Adam", vec=3), np.random.default_rng(5), Reference()
    ps = _open(kind, spec, tmp_path / "ps")
    block = random_block(spec, np.arange(20), rng, 4)
    ps.push(block, 4, lr_history(4))
    ref.push(block, 4, lr_history(4))
    wrong = random_block(make_spec("Adam", vec=2), np.arange(5), rng, 4)
    with pytest.raises(ValueError, match=r"`rows` has shape \(5, 2\) .* needs \(5, 3\)"):
        ps.push(wrong, 5, lr_history(5))
    with pytest.raises(ValueError, match="behind the PS's step 4"):
        ps.push(random_block(spec, [1], rng, 3), 3, lr_history(3))
    with pytest.raises(ValueError, match="one rate per step"):
        ps.push(random_block(spec, [1], rng, 5), 5, lr_history(4))
    twice = random_block(spec, [1, 2], rng, 5)
    twice.keys[:] = 1
    with pytest.raises(ValueError, match="keys repeat"):
        ps.push(twice, 5, lr_history(5))
    assert_holds(ps, ref)


def test_ssd_folder_is_written_by_one_ps_at_a_time(tmp_path):
    spec = make_spec()
    first = SSDParameterServer(spec, tmp_path / "ps")
    with pytest.raises(RuntimeError, match="open for writing by another"):
        SSDParameterServer(spec, tmp_path / "ps")
    SSDParameterServer(spec, tmp_path / "ps", readonly=True)  # readers are fine
    first.close()
    SSDParameterServer(spec, tmp_path / "ps").close()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SSDParameterServer(spec, tmp_path / "none", create=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_folder(tmp_path / "none", spec)


def test_key_index_against_a_dict():
    rng = np.random.default_rng(6)
    keys = rng.choice(10**12, 500, replace=False)
    index = KeyIndex(keys)
    more = np.setdiff1d(rng.choice(10**12, 300, replace=False), keys)
    index.add(more, 500 + np.arange(len(more)))
    where = {int(k): i for i, k in enumerate(np.concatenate([keys, more]))}
    asked = np.concatenate([keys[:50], more[:50], [-1, 10**13]])
    np.testing.assert_array_equal(index.find(asked), [where.get(int(k), -1) for k in asked])
    with pytest.raises(ValueError, match="holds key 3 twice"):
        KeyIndex([1, 3, 3])
    assert len(RowBlock.empty(make_spec())) == 0
