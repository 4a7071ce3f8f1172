"""Model oversubscription (HugeCTR's `CreateMOS` + `ModelOversubscriber`): tables larger than
the working table, trained pass by pass through a parameter server.

Each embedding table has a parameter server (`hugectr_tf.ps`) holding all its rows with their
optimizer state. A pass trains one file list: `update(keyset)` first writes the working table back
to the PS (the rows of the previous pass), then loads the rows of the new keyset (the keys the file
list holds) from the PS into the working table, which is sized by `workspace_size_per_gpu_in_mb`.
Keys new to the PS are created by the training lookup as usual, so training through passes gives
the table (and losses) that training on one whole table gives, step for step.

Keysets: keys the keyset holds but the data does not are fine (their rows are loaded and written
back). A key the data holds but the keyset does not is an error: its stored row would be shadowed
by a new one; it is found when the pass is written back (next `update`, `fit`'s end,
`save_params_to_files`, `get_incremental_model`), and nothing of that pass reaches the PS.
"""

import math
import os
import time
from pathlib import Path

import numpy as np

from hugectr_tf.api.history import FitHistory, iter_line
from hugectr_tf.api.log import log
from hugectr_tf.config import Embedding_t
from hugectr_tf.data.keyset import read_keyset
from hugectr_tf.ps import (
    HostMemoryParameterServer,
    RowBlock,
    SSDParameterServer,
    TableSpec,
)
from hugectr_tf.ps.working_table import load_rows

_BYTES_PER_MB = 1024.0 * 1024.0


class KeysetError(ValueError):
    """The data of a pass held keys its keyset does not."""


class ModelOversubscriber:
    """Moves rows between the working tables and their parameter servers, one pass at a time.

    Built by `Model.compile()` when the Model has `mos=hugectr.CreateMOS(...)`; reach it with
    `Model.get_model_oversubscriber()`.

    Args:
        mos: `ModelOversubscriberParams` (`CreateMOS`).
        embedding_layers: The Model's `hugectr_tf.keras.layers.SparseEmbedding` layers.
        i64_input_key: Boolean. Keyset files hold int64 keys (True) or uint32 (False).
        iteration: Callable returning the Model's training iteration (a pass that trained no
            step has nothing to write back).
    """

    def __init__(self, mos, embedding_layers, i64_input_key, iteration):
        self.layers = list(embedding_layers)
        self.i64_input_key = bool(i64_input_key)
        self._iteration = iteration
        self.use_host_memory_ps = bool(mos.use_host_memory_ps)
        which = "dest_sparse_models" if mos.train_from_scratch else "trained_sparse_models"
        self.paths = [Path(p) for p in getattr(mos, which)]
        if len(self.paths) != len(self.layers):
            raise ValueError(
                f"CreateMOS `{which}` must name one sparse model folder per embedding layer "
                f"({len(self.layers)}). Received: {which}={[str(p) for p in self.paths]}"
            )
        self.parameter_servers = []
        for layer, path in zip(self.layers, self.paths):
            self._check_layer(layer)
            spec = TableSpec(layer.embedding_vec_size, layer.optimizer, layer.embedding_type)
            self.parameter_servers.append(self._open(spec, path, mos.train_from_scratch, which))
        self._pass_keys = None  # per table: ascending keyset keys of the pass in the tables
        self._pass_files = None
        self._clean_at = None  # iteration at which the working tables matched the PS
        self._incremental_mark = -1
        # One dict per pass: keyset, keyset_keys, rows_loaded, bytes_read, load_seconds,
        # pull_seconds (of which reading the PS) and, once written back, rows_written,
        # bytes_written, dump_seconds, push_seconds (of which writing the PS).
        self.passes = []

    @staticmethod
    def _check_layer(layer):
        if layer.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingOneHot:
            raise ValueError(
                f"embedding `{layer.name}`: model oversubscription works with the hash embeddings "
                "(DistributedSlotSparseEmbeddingHash, LocalizedSlotSparseEmbeddingHash); "
                "LocalizedSlotSparseEmbeddingOneHot is a dense table of fixed size, held whole"
            )

    def _open(self, spec, path, from_scratch, which):
        if from_scratch and path.exists() and any(path.iterdir()):
            raise ValueError(
                f"CreateMOS(train_from_scratch=True): {which} folder `{path}` already holds a "
                "model. To continue training it pass it as trained_sparse_models with "
                "train_from_scratch=False; to start anew remove it or name another folder"
            )
        if not from_scratch and not path.is_dir():
            raise FileNotFoundError(
                f"CreateMOS(train_from_scratch=False): {which} folder `{path}` does not exist"
            )
        if self.use_host_memory_ps:
            return HostMemoryParameterServer(spec, None if from_scratch else path)
        return SSDParameterServer(spec, path, create=from_scratch)

    # ------------------------------------------------------------------ HugeCTR's API
    def update(self, keyset_file):
        """Writes the working tables back, then loads the rows of the new keyset(s).

        Args:
            keyset_file: String (one keyset for every table) or list of strings (one per table,
                as HugeCTR's `update(keyset_file_list)`).
        """
        files = self._keyset_files(keyset_file)
        keysets = {f: read_keyset(f, self.i64_input_key) for f in set(files)}
        self.end_pass()
        self._load([keysets[f] for f in files], files)

    def _keyset_files(self, keyset_file):
        if isinstance(keyset_file, (str, os.PathLike)):
            return [os.fspath(keyset_file)] * len(self.layers)
        files = [os.fspath(f) for f in keyset_file]
        if len(files) != len(self.layers):
            raise ValueError(
                f"update() takes one keyset file, or a list of one per embedding table "
                f"({len(self.layers)}). Received: {files}"
            )
        return files

    # ------------------------------------------------------------------ passes
    @property
    def loaded(self):
        """True once a keyset's rows are in the working tables."""
        return self._pass_keys is not None

    def end_pass(self):
        """The end of a pass (its file list trained to the end): `dump` checking both ways that
        the keysets were those of the data."""
        self.dump(check_unused_keys=True)

    def dump(self, check_unused_keys=False):
        """Writes the working tables (rows and optimizer state) back to the parameter servers.

        Raises KeysetError (nothing is written) when a table holds keys its pass's keyset does
        not, and with `check_unused_keys` (at the end of a pass) when the keyset holds keys that
        neither its file list nor the parameter server held. A no-op when no step was trained
        since the tables were loaded or last written.
        """
        if self._pass_keys is None or self._clean_at == self._iteration():
            return
        started = time.perf_counter()
        states = []
        for layer, keys, keyset_file in zip(self.layers, self._pass_keys, self._pass_files):
            state = layer.table.export()
            block = RowBlock.from_state(state)
            stray = block.keys[~_holds(keys, block.keys)]
            if len(stray):
                raise KeysetError(
                    f"embedding `{layer.name}`: the pass trained {len(stray)} keys that keyset "
                    f"`{keyset_file}` does not hold (first: {stray[:5].tolist()}); a keyset must "
                    "hold every key of its file list. Nothing of this pass was written to the "
                    "parameter server; regenerate the keyset (`hugectr-tf keyset`) and train the "
                    "pass again"
                )
            # Keyset keys the PS did not hold and the data never created: not this pass's keys.
            unused = keys[~_holds(np.sort(block.keys), keys)] if check_unused_keys else keys[:0]
            if len(unused):
                raise KeysetError(
                    f"embedding `{layer.name}`: keyset `{keyset_file}` holds {len(unused)} keys "
                    f"that neither its file list nor the parameter server held (first: "
                    f"{unused[:5].tolist()}); a keyset lists the keys of its file list (keys "
                    "already in the table may be added): is it the keyset of another file list? "
                    "Nothing of this pass was written to the parameter server"
                )
            states.append((block, int(state["step"]), state["lr_history"].numpy()))
        written, pushing = 0, time.perf_counter()
        for ps, (block, step, lr_history) in zip(self.parameter_servers, states):
            before = ps.bytes_written
            ps.push(block, step, lr_history)
            written += ps.bytes_written - before
        push_seconds = time.perf_counter() - pushing
        blocks = [s[0] for s in states]
        seconds = time.perf_counter() - started
        self.passes[-1].update(rows_written=sum(map(len, blocks)), bytes_written=written,
                               dump_seconds=seconds, push_seconds=push_seconds)  # fmt: skip
        self._clean_at = self._iteration()
        log(
            f"Model oversubscription: wrote {sum(map(len, blocks))} rows ({written / 1e6:.1f} MB)"
            f" back to the parameter servers in {seconds:.2f}s"
        )

    def _load(self, keysets, files):
        started = time.perf_counter()
        loaded, read, pull_seconds = 0, 0, 0.0
        tables = zip(self.layers, self.parameter_servers, keysets, files)
        for layer, ps, keys, keyset_file in tables:
            before, pulling = ps.bytes_read, time.perf_counter()
            block = ps.pull(keys)
            pull_seconds += time.perf_counter() - pulling
            capacity = int(layer.table.stats()["capacity"])
            if len(block) > capacity:
                # bytes a row costs against the workspace (docs/embedding.md, "Capacity")
                per_row = layer.workspace_size_per_gpu_in_mb * _BYTES_PER_MB / max(capacity, 1)
                needed = math.ceil(len(block) * per_row / _BYTES_PER_MB)
                raise ValueError(
                    f"embedding `{layer.name}`: keyset `{keyset_file}` holds {len(block)} keys of "
                    f"the parameter server but the working table holds {capacity} rows "
                    f"(workspace_size_per_gpu_in_mb={layer.workspace_size_per_gpu_in_mb}); it "
                    f"needs at least {needed} MB: raise "
                    "workspace_size_per_gpu_in_mb or split the file list"
                )
            load_rows(layer.table, block, ps.step, ps.lr_history)
            loaded += len(block)
            read += ps.bytes_read - before
        seconds = time.perf_counter() - started
        self._pass_keys, self._pass_files = keysets, files
        self._clean_at = self._iteration()
        self.passes.append(
            {
                "keyset": files[0] if len(set(files)) == 1 else files,
                "keyset_keys": int(sum(len(k) for k in keysets)),
                "rows_loaded": loaded,
                "bytes_read": read,
                "load_seconds": seconds,
                "pull_seconds": pull_seconds,
            }
        )
        log(
            f"Model oversubscription: loaded {loaded} rows ({read / 1e6:.1f} MB) of keyset "
            f"{files[0] if len(set(files)) == 1 else files} in {seconds:.2f}s"
        )

    # ------------------------------------------------------------------ files
    def save(self):
        """Writes the tables to their sparse model folders (`dest_sparse_models`, or
        `trained_sparse_models` in place when continuing): the working tables go to the PS, an
        HM-PS is written out whole; an SSD-PS folder is the model already (with update type
        Global its rows that sat out steps are caught up in place first)."""
        self.dump()
        for ps, path in zip(self.parameter_servers, self.paths):
            if isinstance(ps, HostMemoryParameterServer):
                ps.save(path)
            else:
                ps.catch_up_stored()  # Global: rows that sat out steps get them now
        return [str(p) for p in self.paths]

    def incremental_model(self):
        """[(keys int64 [n], vectors float32 [n, vec])] per table: the rows updated since the
        previous call (every row on the first), after writing the working tables back."""
        if not self.use_host_memory_ps:
            raise RuntimeError(
                "get_incremental_model works with the host-memory parameter server "
                "(CreateMOS(use_host_memory_ps=True)), as in HugeCTR; an SSD-PS table may not "
                "fit in memory. Read its folder instead (it is a sparse model after each pass)"
            )
        self.dump()
        out = []
        for ps in self.parameter_servers:
            block = ps.changed_since(self._incremental_mark).sorted()
            out.append((block.keys, block.rows))
        self._incremental_mark = max(ps.step for ps in self.parameter_servers)
        return out

    def close(self):
        """Releases the SSD-PS folders (memory maps, write locks)."""
        for ps in self.parameter_servers:
            if isinstance(ps, SSDParameterServer):
                ps.close()


def _holds(sorted_keys, keys):
    """Boolean mask: which of `keys` the ascending array `sorted_keys` holds."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def fit_in_passes(trainer, oversubscriber, scheduler, reader_params, *, num_epochs, display,
                  eval_interval, snapshot):  # fmt: skip
    """`Model.fit` with model oversubscription, as HugeCTR runs it: for each epoch (at least one),
    for each training source with its keyset, `update(keyset)` then train the source to its end;
    evaluation every `eval_interval` iterations; the tables are written back at the end. Logs in
    HugeCTR's layout and returns the `FitHistory`. Snapshots are not written in this mode
    (HugeCTR's rule): `save_params_to_files` writes the tables to their sparse model folders."""
    for name, value in (("display", display), ("eval_interval", eval_interval)):
        if not (isinstance(value, int) and value > 0):
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    epochs = num_epochs if isinstance(num_epochs, int) and num_epochs > 0 else 1
    sources, keysets = list(reader_params.source), list(reader_params.keyset)
    log(
        f"Use model oversubscriber mode with number of training sources: {len(sources)}, "
        f"number of epochs: {epochs}"
    )
    if snapshot:
        log("Model oversubscription: no snapshots in fit; save_params_to_files writes the tables")
    reader = trainer.train_reader()
    started = window = time.time()
    losses, applied_lr, history = [], None, FitHistory()
    for epoch in range(epochs):
        for source, keyset in zip(sources, keysets):
            log(f"{'-' * 20}Epoch {epoch}, source file: {source}{'-' * 20}")  # HugeCTR's line
            reader.set_source(source)
            oversubscriber.update(keyset)
            while True:
                lr = scheduler.get_next()
                if lr != applied_lr:
                    trainer.set_learning_rate(lr)
                    applied_lr = lr
                if not trainer.train():
                    break
                losses.append(trainer.current_loss)
                it = trainer.iteration
                if it % display == 0:
                    seconds, lr = time.time() - window, scheduler.get_lr()
                    log(iter_line(it, display, seconds, trainer.current_loss, lr))
                    history.record_train(it, trainer.current_loss, lr, seconds, np.mean(losses))
                    window, losses = time.time(), []
                if it % eval_interval == 0:
                    trainer.evaluate_and_log(it, history)
    oversubscriber.end_pass()
    log(f"Finished {trainer.iteration} iterations in {time.time() - started:.2f}s")
    return history
