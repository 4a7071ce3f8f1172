"""Saving and loading `Model` parameters in HugeCTR's file layout.

`save_params_to_files(prefix, iter)` writes, for iteration `iter`:
  <prefix>_dense_<iter>.model          dense weights (see model_files.py)
  <prefix>_opt_dense_<iter>.model      dense optimizer state
  <prefix><i>_sparse_<iter>.model/     sparse model folder of embedding i
  <prefix><i>_opt_sparse_<iter>.model  sparse optimizer state of embedding i
"""

import numpy as np

from hugectr_tf.api import model_files
from hugectr_tf.api.optimizers import slot_variables


def _names(prefix, iteration, count):
    return {
        "dense": f"{prefix}_dense_{iteration}.model",
        "opt_dense": f"{prefix}_opt_dense_{iteration}.model",
        "sparse": [f"{prefix}{i}_sparse_{iteration}.model" for i in range(count)],
        "opt_sparse": [f"{prefix}{i}_opt_sparse_{iteration}.model" for i in range(count)],
    }


class ModelPersistence:
    """Mixin of `Model` with the save_* / load_* methods."""

    def save_params_to_files(self, prefix, iter=0):  # noqa: A002 (HugeCTR's argument name)
        self._require_compiled("save_params_to_files")
        names = _names(prefix, iter, len(self._embedding_layers))
        model_files.write_floats(names["dense"], [w.numpy() for w in self._dense_weights])
        if self._dense_non_trainable:
            model_files.write_floats(
                names["dense"] + ".non_trainable", [w.numpy() for w in self._dense_non_trainable]
            )
        slots = slot_variables(self._dense_optimizer, self._dense_weights)
        model_files.write_floats(names["opt_dense"], [s.numpy() for s in slots])
        model_files.write_json(
            names["opt_dense"] + ".json",
            {
                "optimizer": self.opt_params.optimizer_type.value,
                "iterations": int(self._dense_optimizer.iterations.numpy()),
            },
        )
        for layer, folder, opt_file in zip(
            self._embedding_layers, names["sparse"], names["opt_sparse"]
        ):
            layer.export_sparse_model(folder)
            layer.save_optimizer_states(opt_file)
        return names

    def load_dense_weights(self, dense_model_file):
        self._require_compiled("load_dense_weights")
        shapes = [tuple(w.shape) for w in self._dense_weights]
        values = model_files.read_floats_into(dense_model_file, shapes, "dense model")
        for w, value in zip(self._dense_weights, values):
            w.assign(value)
        sidecar = dense_model_file + ".non_trainable"
        if self._dense_non_trainable:
            try:
                values = model_files.read_floats_into(
                    sidecar, [tuple(w.shape) for w in self._dense_non_trainable], "dense model"
                )
            except FileNotFoundError:
                return  # a HugeCTR file: BatchNorm statistics keep their current values
            for w, value in zip(self._dense_non_trainable, values):
                w.assign(value)

    def load_dense_optimizer_states(self, dense_opt_states_file):
        self._require_compiled("load_dense_optimizer_states")
        slots = slot_variables(self._dense_optimizer, self._dense_weights)
        values = model_files.read_floats_into(
            dense_opt_states_file, [tuple(s.shape) for s in slots], "dense optimizer states"
        )
        for s, value in zip(slots, values):
            s.assign(value)
        try:
            meta = model_files.read_json(dense_opt_states_file + ".json", "optimizer metadata")
        except FileNotFoundError:
            return
        self._dense_optimizer.iterations.assign(np.int64(meta.get("iterations", 0)))

    def _check_count(self, files, what):
        files = [files] if isinstance(files, str) else list(files)
        if len(files) != len(self._embedding_layers):
            raise ValueError(
                f"{what}: the model has {len(self._embedding_layers)} embedding layers but "
                f"{len(files)} files were given: {files}"
            )
        return files

    def load_sparse_weights(self, sparse_embedding_files):
        self._require_compiled("load_sparse_weights")
        files = self._check_count(sparse_embedding_files, "load_sparse_weights")
        for layer, folder in zip(self._embedding_layers, files):
            layer.import_sparse_model(folder)

    def load_sparse_optimizer_states(self, sparse_opt_states_files):
        self._require_compiled("load_sparse_optimizer_states")
        files = self._check_count(sparse_opt_states_files, "load_sparse_optimizer_states")
        for layer, path in zip(self._embedding_layers, files):
            layer.load_optimizer_states(path)

    def get_incremental_model(self):
        """[(keys int64 [n], vectors float32 [n, vec])] per embedding: the rows updated since the
        previous call (all rows on the first call), as HugeCTR returns for online updates.

        HugeCTR offers this with its host-memory parameter server; here every table lives in host
        memory, so it works for any model. A row counts as updated when the sparse optimizer
        brought it up to date after the previous call (LazyGlobal rows catch up when next hit).
        """
        self._require_compiled("get_incremental_model")
        marks = getattr(self, "_incremental_marks", [-1] * len(self._embedding_layers))
        out, new_marks = [], []
        for layer, mark in zip(self._embedding_layers, marks):
            state = layer.table.export()
            fresh = state["last_step"].numpy() > mark
            out.append((state["keys"].numpy()[fresh], state["rows"].numpy()[fresh]))
            new_marks.append(int(state["step"].numpy()))
        self._incremental_marks = new_marks
        return out
