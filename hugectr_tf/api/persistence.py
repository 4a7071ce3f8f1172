"""Saving and loading a compiled `Network`'s parameters in HugeCTR's file layout.

`save_params_to_files(network, prefix, iteration)` writes, for iteration `iteration`:
  <prefix>_dense_<iter>.model          dense weights (see model_files.py)
  <prefix>_opt_dense_<iter>.model      dense optimizer state
  <prefix><i>_sparse_<iter>.model/     sparse model folder of embedding i
  <prefix><i>_opt_sparse_<iter>.model  sparse optimizer state of embedding i
"""

import numpy as np

from hugectr_tf.api import model_files
from hugectr_tf.api.optimizers import slot_variables


def snapshot_names(prefix, iteration, count):
    """The file names of one snapshot of a model with `count` embeddings."""
    return {
        "dense": f"{prefix}_dense_{iteration}.model",
        "opt_dense": f"{prefix}_opt_dense_{iteration}.model",
        "sparse": [f"{prefix}{i}_sparse_{iteration}.model" for i in range(count)],
        "opt_sparse": [f"{prefix}{i}_opt_sparse_{iteration}.model" for i in range(count)],
    }


def save_params_to_files(network, prefix, iteration):
    names = save_dense_params_to_files(network, prefix, iteration)
    for layer, folder, opt_file in zip(
        network.embedding_layers, names["sparse"], names["opt_sparse"]
    ):
        layer.export_sparse_model(folder)
        layer.save_optimizer_states(opt_file)
    return names


def save_dense_params_to_files(network, prefix, iteration):
    """The dense weights and optimizer state of `save_params_to_files`; returns all the names."""
    names = snapshot_names(prefix, iteration, len(network.embedding_layers))
    model_files.write_floats(names["dense"], [w.numpy() for w in network.dense_weights])
    if network.dense_non_trainable:
        model_files.write_floats(
            names["dense"] + ".non_trainable", [w.numpy() for w in network.dense_non_trainable]
        )
    optimizer = network.dense_optimizer
    slots = slot_variables(optimizer, network.dense_weights)
    model_files.write_floats(names["opt_dense"], [s.numpy() for s in slots])
    model_files.write_json(
        names["opt_dense"] + ".json",
        {
            "optimizer": network.opt_params.optimizer_type.value,
            "iterations": int(optimizer.iterations.numpy()),
        },
    )
    return names


def load_dense_weights(network, dense_model_file):
    shapes = [tuple(w.shape) for w in network.dense_weights]
    values = model_files.read_floats_into(dense_model_file, shapes, "dense model")
    for w, value in zip(network.dense_weights, values):
        w.assign(value)
    sidecar = dense_model_file + ".non_trainable"
    if network.dense_non_trainable:
        try:
            values = model_files.read_floats_into(
                sidecar, [tuple(w.shape) for w in network.dense_non_trainable], "dense model"
            )
        except FileNotFoundError:
            return  # a HugeCTR file: BatchNorm statistics keep their current values
        for w, value in zip(network.dense_non_trainable, values):
            w.assign(value)


def load_dense_optimizer_states(network, dense_opt_states_file):
    slots = slot_variables(network.dense_optimizer, network.dense_weights)
    values = model_files.read_floats_into(
        dense_opt_states_file, [tuple(s.shape) for s in slots], "dense optimizer states"
    )
    for s, value in zip(slots, values):
        s.assign(value)
    try:
        meta = model_files.read_json(dense_opt_states_file + ".json", "optimizer metadata")
    except FileNotFoundError:
        return
    network.dense_optimizer.iterations.assign(np.int64(meta.get("iterations", 0)))


def _one_per_embedding(network, files, what):
    files = [files] if isinstance(files, str) else list(files)
    if len(files) != len(network.embedding_layers):
        raise ValueError(
            f"{what}: the model has {len(network.embedding_layers)} embedding layers but "
            f"{len(files)} files were given: {files}"
        )
    return files


def load_sparse_weights(network, sparse_embedding_files):
    files = _one_per_embedding(network, sparse_embedding_files, "load_sparse_weights")
    for layer, folder in zip(network.embedding_layers, files):
        layer.import_sparse_model(folder)


def load_sparse_optimizer_states(network, sparse_opt_states_files):
    files = _one_per_embedding(network, sparse_opt_states_files, "load_sparse_optimizer_states")
    for layer, path in zip(network.embedding_layers, files):
        layer.load_optimizer_states(path)


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
