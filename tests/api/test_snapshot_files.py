"""Snapshots of save_params_to_files are atomic as a set and loads are all-or-nothing (issue 13):
a manifest listing every file with its size and CRC-32 is written last; a set that does not match
it is refused naming the file; a failed load leaves the model exactly as it was; HugeCTR's own
files (no manifest, no sidecars) still load."""

import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from helpers import snapshot_model as sm

from hugectr_tf.api import persistence
from hugectr_tf.api.snapshot import Member
from hugectr_tf.embedding.manifest import ManifestError

LOADS = {
    "dense": "load_dense_weights",
    "opt_dense": "load_dense_optimizer_states",
    "sparse": "load_sparse_weights",
    "opt_sparse": "load_sparse_optimizer_states",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained 3 steps, its snapshot at iteration 3, and its state."""
    folder = tmp_path_factory.mktemp("snap")
    model = sm.build()
    for batch in sm.batches(3):
        model.train_on_batch(batch)
    names = model.save_params_to_files(str(folder / "run"), 3)
    return model, names, sm.state(model)


@pytest.fixture
def snapshot(trained, tmp_path):
    """A private copy of the snapshot's files (tests damage them)."""
    _, names, _ = trained
    src = Path(names["manifest"]).parent
    for item in src.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, tmp_path / item.name)
    return persistence.snapshot_names(str(tmp_path / "run"), 3, 2)


@pytest.fixture(scope="module")
def fresh():
    return sm.build(seed=9)


def _reset(model):
    """Gives `model` a known state different from the snapshot's: train one step elsewhere."""
    model.train_on_batch(sm.batches(1, seed=99)[0])
    return sm.state(model)


def test_manifest_lists_every_file_with_size_and_crc(snapshot):
    manifest = json.loads(Path(snapshot["manifest"]).read_text())
    assert manifest["complete"] is True and manifest["step"] == 3
    folder = Path(snapshot["manifest"]).parent
    on_disk = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != Path(snapshot["manifest"]).name
    )
    assert sorted(manifest["files"]) == on_disk
    assert "run_dense_3.model.non_trainable" in on_disk and "run_opt_dense_3.model.json" in on_disk
    assert "run1_sparse_3.model/slot_id" in on_disk
    for name, entry in manifest["files"].items():
        raw = (folder / name).read_bytes()
        assert entry == {"bytes": len(raw), "crc32": zlib.crc32(raw)}, name
    body = {k: v for k, v in manifest.items() if k != "manifest_crc32"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert manifest["manifest_crc32"] == zlib.crc32(canonical)


def test_whole_snapshot_round_trip(trained, snapshot, fresh):
    _, _, want = trained
    sm.load_all(fresh, snapshot)
    sm.assert_same_state(sm.state(fresh), want)


@pytest.mark.parametrize(
    "kind, suffix, message",
    [
        # Deleting the sidecars used to load the Adam step / BatchNorm statistics as 0.
        ("opt_dense", ".json", r"run_opt_dense_3.model.json` is missing but manifest"),
        ("dense", ".non_trainable", r"run_dense_3.model.non_trainable` is missing but manifest"),
        ("sparse", "/emb_vector", r"run1_sparse_3.model/emb_vector` is missing but manifest"),
        ("opt_sparse", "", r"run1_opt_sparse_3.model` is missing but manifest"),
    ],
)
def test_a_deleted_file_is_refused_by_name(snapshot, fresh, kind, suffix, message):
    target = snapshot[kind][1] if isinstance(snapshot[kind], list) else snapshot[kind]
    Path(target + suffix).unlink()
    load = getattr(fresh, LOADS[kind])
    before = _reset(fresh)
    with pytest.raises(ManifestError, match=message):
        load(snapshot[kind])
    sm.assert_same_state(sm.state(fresh), before)


def test_a_file_from_another_save_is_refused(trained, snapshot, fresh, tmp_path):
    # Two saves to the same names; the first one's dense file comes back (a mixed set).
    model, _, _ = trained
    other = persistence.snapshot_names(str(tmp_path / "other" / "run"), 3, 2)
    Path(other["dense"]).parent.mkdir()
    model.save_params_to_files(str(tmp_path / "other" / "run"), 3)
    fresh.train_on_batch(sm.batches(1, seed=5)[0])
    fresh.save_params_to_files(str(tmp_path / "run"), 3)  # rewrites `snapshot`
    shutil.copy(other["dense"], snapshot["dense"])
    before = _reset(fresh)
    with pytest.raises(ManifestError, match=r"run_dense_3.model` fails its checksum in manifest"):
        fresh.load_dense_weights(snapshot["dense"])
    sm.assert_same_state(sm.state(fresh), before)


def test_an_interrupted_save_leaves_a_snapshot_that_is_refused(trained, tmp_path, monkeypatch):
    model, _, _ = trained
    names = model.save_params_to_files(str(tmp_path / "run"), 3)
    table = model.embedding_layers[1].table

    def dies(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(table, "write_sparse_model", dies)
    with pytest.raises(KeyboardInterrupt):
        model.save_params_to_files(str(tmp_path / "run"), 3)
    monkeypatch.undo()
    fresh = sm.build(seed=9)
    for load, arg in (
        (fresh.load_dense_weights, names["dense"]),
        (fresh.load_dense_optimizer_states, names["opt_dense"]),
        (fresh.load_sparse_weights, names["sparse"]),
        (fresh.load_sparse_optimizer_states, names["opt_sparse"]),
    ):
        with pytest.raises(
            ManifestError, match=r"run_manifest_3.json` says its save did not finish"
        ):
            load(arg)


def test_a_damaged_manifest_is_refused(snapshot, fresh):
    path = Path(snapshot["manifest"])
    text = path.read_text().replace('"step": 3', '"step": 4')
    path.write_text(text)
    with pytest.raises(ManifestError, match="fails its own checksum"):
        fresh.load_dense_weights(snapshot["dense"])


def test_failed_sparse_load_restores_the_tables_already_replaced(snapshot, fresh):
    # A HugeCTR-style set (no manifests) whose second folder repeats a key: table 0 takes its
    # rows, table 1 refuses them, and table 0 must get its previous content back.
    Path(snapshot["manifest"]).unlink()
    folder = Path(snapshot["sparse"][1])
    (folder / "hugectr_tf_manifest.json").unlink()
    keys = np.fromfile(folder / "key", "<i8")
    keys[1] = keys[0]
    keys.tofile(folder / "key")
    before = _reset(fresh)
    message = f"run1_sparse_3.model`: .*imported keys must be distinct. Received: key {keys[0]}"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fresh.load_sparse_weights(snapshot["sparse"])
    sm.assert_same_state(sm.state(fresh), before)


def test_hugectr_files_without_manifest_or_sidecars_still_load(trained, snapshot, fresh):
    # What HugeCTR writes: the dense file and sparse folders, no manifest, no sidecars.
    _, _, want = trained
    folder = Path(snapshot["manifest"]).parent
    Path(snapshot["manifest"]).unlink()
    Path(snapshot["dense"] + ".non_trainable").unlink()
    for sparse in snapshot["sparse"]:
        (Path(sparse) / "hugectr_tf_manifest.json").unlink()
    before = _reset(fresh)
    fresh.load_dense_weights(snapshot["dense"])
    fresh.load_sparse_weights(snapshot["sparse"])
    got = sm.state(fresh)
    for name, value in want.items():
        if name.startswith("dense") or name.endswith((".keys", ".rows", ".slot_ids")):
            np.testing.assert_array_equal(got[name], value, err_msg=name)
        if name.startswith("stat"):  # a HugeCTR file has no BatchNorm statistics: kept
            np.testing.assert_array_equal(got[name], before[name], err_msg=name)
    assert folder.is_dir()


def test_our_sidecar_without_a_manifest_is_refused(snapshot, fresh):
    Path(snapshot["manifest"]).unlink()
    before = _reset(fresh)
    with pytest.raises(ManifestError, match=r"has this project's sidecar .*non_trainable"):
        fresh.load_dense_weights(snapshot["dense"])
    with pytest.raises(ManifestError, match=r"has this project's sidecar .*opt_dense_3.model.json"):
        fresh.load_dense_optimizer_states(snapshot["opt_dense"])
    sm.assert_same_state(sm.state(fresh), before)


@pytest.mark.parametrize(
    "prefix", ["run", "run1", "run12_", "", "dir.v2/run7"], ids=lambda p: p or "empty"
)
def test_the_manifest_is_found_from_any_member_name(trained, tmp_path, prefix):
    model, _, _ = trained
    (tmp_path / "dir.v2").mkdir()
    names = model.save_params_to_files(f"{tmp_path}/{prefix}", 10)
    for path in [names["dense"], names["opt_dense"], *names["sparse"], *names["opt_sparse"]]:
        member = Member(path)
        assert member.manifest == Path(names["manifest"]), path
