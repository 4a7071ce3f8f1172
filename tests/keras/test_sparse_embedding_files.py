"""HugeCTR sparse model folders and optimizer-state files, checked byte by byte."""

import json
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

import hugectr_tf
from hugectr_tf.keras.layers import SparseEmbedding

SLOTS = 3
RANGE = 100  # keys of slot s lie in [s * RANGE, (s + 1) * RANGE): their slot is key // RANGE


def keys_batch(rng, batch=40, local=False):
    """local=True: keys of every slot in [0, RANGE) (OneHot input)."""
    rows = [
        [
            list((0 if local else s * RANGE) + rng.integers(0, RANGE, rng.integers(0, 3)))
            for s in range(SLOTS)
        ]
        for _ in range(batch)
    ]
    return tf.ragged.constant(rows, dtype=tf.int64, ragged_rank=2)


def trained_layer(embedding_type, steps=3, **kw):
    # Trained in a bare tape, without a Keras optimizer to follow: a fixed sparse rate.
    kw.setdefault("learning_rate", 0.001)
    layer = SparseEmbedding(
        4, SLOTS, workspace_size_per_gpu_in_mb=2, embedding_type=embedding_type, **kw
    )
    rng = np.random.default_rng(0)
    local = embedding_type == "LocalizedSlotSparseEmbeddingOneHot"
    for _ in range(steps):
        x = keys_batch(rng, local=local)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True) ** 2)
        tape.gradient(loss, layer.trainable_weights)  # applies the sparse update
    return layer, x


def test_localized_folder_bytes_and_reimport(tmp_path):
    layer, x = trained_layer("LocalizedSlotSparseEmbeddingHash")
    state = layer.table.export()
    keys, rows = state["keys"].numpy(), state["rows"].numpy()
    folder = tmp_path / "sparse0.model"
    layer.export_sparse_model(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "emb_vector",
        "hugectr_tf_manifest.json",
        "key",
        "slot_id",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["sparse0.model"], "temp folder left behind"
    raw_key = (folder / "key").read_bytes()
    raw_emb = (folder / "emb_vector").read_bytes()
    raw_slot = (folder / "slot_id").read_bytes()
    listed = json.loads((folder / "hugectr_tf_manifest.json").read_text())["files"]
    assert listed == {
        name: {"bytes": len(raw), "crc32": zlib.crc32(raw)}
        for name, raw in (("key", raw_key), ("emb_vector", raw_emb), ("slot_id", raw_slot))
    }
    n = len(keys)
    assert len(raw_key) == 8 * n and len(raw_emb) == 4 * 4 * n and len(raw_slot) == 8 * n
    assert list(struct.unpack(f"<{n}q", raw_key)) == keys.tolist()
    np.testing.assert_array_equal(
        np.array(struct.unpack(f"<{4 * n}f", raw_emb), np.float32).reshape(n, 4), rows
    )
    assert list(struct.unpack(f"<{n}Q", raw_slot)) == (keys // RANGE).tolist()

    fresh = SparseEmbedding(
        4, SLOTS, workspace_size_per_gpu_in_mb=2, embedding_type="LocalizedSlotSparseEmbeddingHash"
    )
    fresh(x)  # build
    fresh.import_sparse_model(folder)
    np.testing.assert_array_equal(fresh(x).numpy(), layer(x).numpy())
    assert fresh.size() == layer.size() == n
    np.testing.assert_array_equal(fresh.table.export()["slot_ids"].numpy(), keys // RANGE)


def test_distributed_folder_has_no_slot_id_and_replaces_old_folder(tmp_path):
    layer, _ = trained_layer("DistributedSlotSparseEmbeddingHash")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "stale").write_bytes(b"x")
    layer.export_sparse_model(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "emb_vector",
        "hugectr_tf_manifest.json",
        "key",
    ]
    assert (
        np.fromfile(folder / "key", "<i8").tolist() == layer.table.export()["keys"].numpy().tolist()
    )


def test_one_hot_folder_uses_offset_keys(tmp_path):
    layer, _ = trained_layer("LocalizedSlotSparseEmbeddingOneHot", slot_size_array=[RANGE] * SLOTS)
    layer.export_sparse_model(tmp_path / "oh")
    keys = np.fromfile(tmp_path / "oh" / "key", "<i8")
    # key k of slot s is stored as k + s * RANGE (the slot offset of slot_size_array).
    np.testing.assert_array_equal(np.fromfile(tmp_path / "oh" / "slot_id", "<u8"), keys // RANGE)
    local = layer.table.export()
    assert len(keys) == len(local["keys"]) and keys.max() >= RANGE
    fresh = SparseEmbedding(
        4,
        SLOTS,
        workspace_size_per_gpu_in_mb=2,
        embedding_type="LocalizedSlotSparseEmbeddingOneHot",
        slot_size_array=[RANGE] * SLOTS,
    )
    x = keys_batch(np.random.default_rng(0), local=True)
    fresh(x)
    fresh.import_sparse_model(tmp_path / "oh")
    np.testing.assert_array_equal(fresh(x).numpy(), layer(x).numpy())


def test_bad_folder_names_the_file(tmp_path):
    layer, _ = trained_layer("DistributedSlotSparseEmbeddingHash", steps=1)
    before = layer.table.export()["rows"].numpy()
    layer.export_sparse_model(tmp_path / "m")
    emb = tmp_path / "m" / "emb_vector"
    with open(emb, "ab") as f:
        f.write(b"\0\0\0\0")
    with pytest.raises(ValueError, match=r"emb_vector` holds \d+ bytes but manifest .* lists"):
        layer.import_sparse_model(tmp_path / "m")
    # Same size, one flipped byte: only the manifest's checksum can tell.
    raw = bytearray(emb.read_bytes()[:-4])
    raw[5] ^= 0x40
    emb.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"emb_vector` fails its checksum"):
        layer.import_sparse_model(tmp_path / "m")
    # A HugeCTR folder (no manifest) is checked for consistent sizes.
    (tmp_path / "m" / "hugectr_tf_manifest.json").unlink()
    emb.write_bytes(bytes(raw) + b"\0\0\0\0")
    with pytest.raises(ValueError, match=r"emb_vector` holds \d+ bytes but \d+ keys"):
        layer.import_sparse_model(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        layer.import_sparse_model(tmp_path / "missing")
    np.testing.assert_array_equal(layer.table.export()["rows"].numpy(), before)


def test_optimizer_state_file_layout_and_round_trip(tmp_path):
    opt = hugectr_tf.CreateOptimizer(update_type="LazyGlobal")
    layer, x = trained_layer("DistributedSlotSparseEmbeddingHash", optimizer=opt)
    state = {k: v.numpy() for k, v in layer.table.export().items()}
    n = len(state["keys"])
    path = tmp_path / "opt_states"
    layer.save_optimizer_states(path)
    raw = path.read_bytes()
    magic, version, code, vec, k, count, step = struct.unpack_from("<8sIIqqqq", raw)
    assert (magic, version, code, vec, k, count, step) == (b"HCTREOPT", 2, 0, 4, 2, n, 3)
    assert len(raw) == 48 + 8 * n + 4 * 2 * 4 * n + 8 * n + 4 * 3 + 4
    np.testing.assert_array_equal(np.frombuffer(raw, "<i8", n, 48), state["keys"])
    assert struct.unpack("<I", raw[-4:])[0] == zlib.crc32(raw[:-4])

    fresh = SparseEmbedding(4, SLOTS, workspace_size_per_gpu_in_mb=2, optimizer=opt)
    fresh(x)
    layer.export_sparse_model(tmp_path / "m")
    fresh.import_sparse_model(tmp_path / "m")
    fresh.load_optimizer_states(path)
    again = {k: v.numpy() for k, v in fresh.table.export().items()}
    for name in ("keys", "rows", "optimizer_slots", "last_step", "step", "lr_history"):
        np.testing.assert_array_equal(again[name], state[name], err_msg=name)

    sgd = SparseEmbedding(4, SLOTS, workspace_size_per_gpu_in_mb=2, optimizer="SGD")
    sgd(x)
    with pytest.raises(ValueError, match="optimizer code 0 but the table uses 4"):
        sgd.load_optimizer_states(path)
    path.write_bytes(raw[:-4])
    with pytest.raises(ValueError, match="fails its checksum"):
        fresh.load_optimizer_states(path)
    # Version 1 (no checksum) is still read; its size must match the header.
    v1 = struct.pack("<8sIIqqqq", b"HCTREOPT", 1, 0, 4, 2, n, 3) + raw[48:-4]
    path.write_bytes(v1)
    fresh.load_optimizer_states(path)
    path.write_bytes(v1[:-4])
    with pytest.raises(ValueError, match="header describes"):
        fresh.load_optimizer_states(path)
