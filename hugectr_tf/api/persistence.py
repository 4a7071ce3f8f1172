"""Saving and loading a compiled `Network`'s parameters in HugeCTR's file layout.

`save_params_to_files(network, prefix, iteration)` writes, for iteration `iteration`:
  <prefix>_dense_<iter>.model          dense weights (see model_files.py)
  <prefix>_opt_dense_<iter>.model      dense optimizer state
  <prefix><i>_sparse_<iter>.model/     sparse model folder of embedding i
  <prefix><i>_opt_sparse_<iter>.model  sparse optimizer state of embedding i
  <prefix>_manifest_<iter>.json        sizes and checksums of all of the above, written last
                                       (snapshot.py)

Every load reads and checks all its files before it changes the model, and a load that fails
leaves the model exactly as it was (tables already replaced get their previous content back).
"""

import numpy as np

from hugectr_tf.api import model_files, snapshot
from hugectr_tf.api.optimizers import slot_variables
from hugectr_tf.embedding import manifest
from hugectr_tf.embedding.files import FOLDER_MANIFEST
from hugectr_tf.embedding.table import naming_file

snapshot_names = snapshot.snapshot_names


def _relative(names, with_tables=True):
    """{name relative to the manifest's folder: None} of every file a snapshot will hold."""
    out = {}
    for key in ("dense", "opt_dense"):
        out[_base(names[key])] = None
    if not with_tables:
        return out
    for folder in names["sparse"]:
        out[f"{_base(folder)}/{FOLDER_MANIFEST}"] = None
    for path in names["opt_sparse"]:
        out[_base(path)] = None
    return out


def _base(path):
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


def save_params_to_files(network, prefix, iteration):
    return _save(network, prefix, iteration, with_tables=True)


def save_dense_params_to_files(network, prefix, iteration):
    """The dense weights and optimizer state of `save_params_to_files`, with their manifest
    (model oversubscription: the tables are the parameter servers' folders); returns all the
    names."""
    return _save(network, prefix, iteration, with_tables=False)


def _save(network, prefix, iteration, with_tables):
    names = snapshot_names(prefix, iteration, len(network.embedding_layers))
    # Announce the save first: if it is interrupted, every file of this snapshot is refused.
    manifest.write_manifest(
        names["manifest"],
        snapshot.KIND,
        _relative(names, with_tables),
        complete=False,
        step=iteration,
    )
    digests = {}

    def record(path, digest):
        digests[_base(path)] = digest

    dense = [w.numpy() for w in network.dense_weights]
    record(names["dense"], model_files.write_floats(names["dense"], dense))
    if network.dense_non_trainable:
        sidecar = names["dense"] + snapshot.SIDECARS["dense"]
        record(
            sidecar,
            model_files.write_floats(sidecar, [w.numpy() for w in network.dense_non_trainable]),
        )
    optimizer = network.dense_optimizer
    slots = slot_variables(optimizer, network.dense_weights)
    record(
        names["opt_dense"],
        model_files.write_floats(names["opt_dense"], [s.numpy() for s in slots]),
    )
    meta = names["opt_dense"] + snapshot.SIDECARS["opt_dense"]
    record(
        meta,
        model_files.write_json(
            meta,
            {
                "optimizer": network.opt_params.optimizer_type.value,
                "iterations": int(optimizer.iterations.numpy()),
            },
        ),
    )
    if with_tables:
        for layer, folder, opt_file in zip(
            network.embedding_layers, names["sparse"], names["opt_sparse"]
        ):
            for inner, digest in layer.table.write_sparse_model(folder).items():
                digests[f"{_base(folder)}/{inner}"] = digest
            record(opt_file, layer.table.save_optimizer_states(opt_file))
    manifest.write_manifest(names["manifest"], snapshot.KIND, digests, step=iteration)
    return names


def load_dense_weights(network, dense_model_file):
    member = snapshot.Member(dense_model_file)
    member.check(sidecar=snapshot.SIDECARS["dense"])
    shapes = [tuple(w.shape) for w in network.dense_weights]
    values = model_files.read_floats_into(dense_model_file, shapes, "dense model")
    extra = []
    if network.dense_non_trainable:
        if member.manifest is not None and not member.lists(snapshot.SIDECARS["dense"]):
            raise manifest.ManifestError(
                f"`{dense_model_file}`: the model has non-trainable weights (BatchNorm "
                f"statistics) but snapshot `{member.manifest}` holds none for them; it was "
                "saved from another model"
            )
        if member.manifest is not None:
            extra = model_files.read_floats_into(
                dense_model_file + snapshot.SIDECARS["dense"],
                [tuple(w.shape) for w in network.dense_non_trainable],
                "dense model",
            )
        # A HugeCTR file has no sidecar: the statistics keep their current values.
    for w, value in zip(network.dense_weights, values):
        w.assign(value)
    for w, value in zip(network.dense_non_trainable, extra):
        w.assign(value)


def _dense_optimizer_meta(path, network):
    meta = model_files.read_json(path, "optimizer metadata")
    want = network.opt_params.optimizer_type.value
    if not isinstance(meta, dict) or meta.get("optimizer") != want:
        got = meta.get("optimizer") if isinstance(meta, dict) else meta
        raise ValueError(
            f"optimizer metadata file `{path}` is for optimizer {got!r} but the model uses {want!r}"
        )
    iterations = meta.get("iterations")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(
            f"optimizer metadata file `{path}` must hold a non-negative integer `iterations`. "
            f"Received: iterations={iterations!r}"
        )
    return iterations


def load_dense_optimizer_states(network, dense_opt_states_file):
    member = snapshot.Member(dense_opt_states_file)
    member.check(sidecar=snapshot.SIDECARS["opt_dense"])
    slots = slot_variables(network.dense_optimizer, network.dense_weights)
    values = model_files.read_floats_into(
        dense_opt_states_file, [tuple(s.shape) for s in slots], "dense optimizer states"
    )
    iterations = None
    if member.manifest is not None:
        meta = dense_opt_states_file + snapshot.SIDECARS["opt_dense"]
        if not member.lists(snapshot.SIDECARS["opt_dense"]):
            raise manifest.ManifestError(
                f"`{dense_opt_states_file}`: snapshot `{member.manifest}` does not list its "
                f"optimizer metadata `{meta}`"
            )
        iterations = _dense_optimizer_meta(meta, network)
    # A HugeCTR file has no metadata: the optimizer's step count stays as it is.
    for s, value in zip(slots, values):
        s.assign(value)
    if iterations is not None:
        network.dense_optimizer.iterations.assign(np.int64(iterations))


def _one_per_embedding(network, files, what):
    files = [files] if isinstance(files, str) else list(files)
    if len(files) != len(network.embedding_layers):
        raise ValueError(
            f"{what}: the model has {len(network.embedding_layers)} embedding layers but "
            f"{len(files)} files were given: {files}"
        )
    return files


def _apply_all(tables, states, paths, apply):
    """apply(table, state) for every table, or for none: when one fails, the tables already
    changed get their previous content back (each table's own import changes nothing on error).
    An error names the file whose state the table refused."""
    changed = []
    try:
        for i, (table, state, path) in enumerate(zip(tables, states, paths)):
            backup = table.export() if i < len(tables) - 1 else None
            naming_file(path, apply, table, state)
            changed.append((table, backup))
    except BaseException:
        for table, backup in reversed(changed):
            table.restore(backup)
        raise


def load_sparse_weights(network, sparse_embedding_files):
    files = _one_per_embedding(network, sparse_embedding_files, "load_sparse_weights")
    tables = [layer.table for layer in network.embedding_layers]
    states = []
    for table, folder in zip(tables, files):
        snapshot.Member(folder).check()
        states.append(table.read_sparse_model_files(folder))
    _apply_all(tables, states, files, lambda table, state: table.import_sparse_rows(*state))


def load_sparse_optimizer_states(network, sparse_opt_states_files):
    files = _one_per_embedding(network, sparse_opt_states_files, "load_sparse_optimizer_states")
    tables = [layer.table for layer in network.embedding_layers]
    states = []
    for table, path in zip(tables, files):
        snapshot.Member(path).check()
        states.append(table.read_optimizer_state_file(path))
    _apply_all(tables, states, files, lambda table, state: table.import_optimizer_state(state))


class IncrementalTracker:
    """`Model.get_incremental_model`: the rows updated since the previous call, per embedding.

    A row counts as updated when the sparse optimizer brought it up to date after the previous
    call (LazyGlobal rows catch up when next hit); the first call returns every row.
    """

    def __init__(self):
        self._marks = None

    def collect(self, network):
        marks = self._marks or [-1] * len(network.embedding_layers)
        out, new_marks = [], []
        for layer, mark in zip(network.embedding_layers, marks):
            state = layer.table.export()
            fresh = state["last_step"].numpy() > mark
            out.append((state["keys"].numpy()[fresh], state["rows"].numpy()[fresh]))
            new_marks.append(int(state["step"].numpy()))
        self._marks = new_marks
        return out
