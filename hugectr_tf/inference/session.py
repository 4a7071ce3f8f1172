"""Inference sessions over a model graph JSON plus HugeCTR dense and sparse model files.

The session rebuilds the network from the graph (`Model.construct_from_json`), loads the dense
weights, serves each sparse model folder from a parameter server (host memory, or SSD with
`use_host_memory_ps=False`) behind an embedding cache (`use_gpu_embedding_cache`,
`cache_size_percentage`, `hit_rate_threshold`; served_tables.py), and predicts with find-only
embedding lookups: a key that is not in a table contributes a zero vector, as HugeCTR's parameter
server does for unknown keys.
"""

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from hugectr_tf.api import Model
from hugectr_tf.api.metrics import exact_auc
from hugectr_tf.config import (
    Check_t,
    CreateOptimizer,
    CreateSolver,
    DataReaderParams,
    DataReaderType_t,
)
from hugectr_tf.data import DataReader
from hugectr_tf.embedding.keys import int64_keys
from hugectr_tf.inference.served_tables import ServedTables


@dataclass
class InferenceParams:
    model_name: str
    max_batchsize: int
    hit_rate_threshold: float
    dense_model_file: str
    sparse_model_files: list
    device_id: int
    use_gpu_embedding_cache: bool
    cache_size_percentage: float
    i64_input_key: bool
    use_mixed_precision: bool = False
    scaler: float = 1.0
    use_algorithm_search: bool = True
    use_cuda_graph: bool = True
    # Not in HugeCTR 3.1 (its inference PS is in host memory): False serves the tables from
    # their folders through the SSD parameter server, for tables larger than memory.
    use_host_memory_ps: bool = True
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self):
        if not (isinstance(self.max_batchsize, int) and self.max_batchsize > 0):
            raise ValueError(
                f"`max_batchsize` must be a positive integer. Received: {self.max_batchsize!r}"
            )
        for name in ("hit_rate_threshold", "cache_size_percentage"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"`{name}` must be in [0, 1]. Received: {name}={value!r}")
        if isinstance(self.sparse_model_files, str):
            self.sparse_model_files = [self.sparse_model_files]


class InferenceSession:
    """Predicts with a trained model; build it with `CreateInferenceSession`."""

    def __init__(self, model_config_path, inference_params):
        if not isinstance(inference_params, InferenceParams):
            raise TypeError(
                f"`inference_params` must be hugectr.inference.InferenceParams. "
                f"Received: {inference_params!r}"
            )
        self.params = inference_params
        solver = CreateSolver(
            batchsize=inference_params.max_batchsize,
            batchsize_eval=inference_params.max_batchsize,
            i64_input_key=inference_params.i64_input_key,
            use_mixed_precision=inference_params.use_mixed_precision,
            scaler=inference_params.scaler,
        )
        reader = DataReaderParams(
            data_reader_type=DataReaderType_t.Norm,
            source=[model_config_path],  # replaced per predict/evaluate call
            eval_source=model_config_path,
            check_type=Check_t.Non,
        )
        self._model = Model(solver, reader, CreateOptimizer())
        self._model.construct_from_json(model_config_path, include_dense_network=True)
        self._model.compile_for_inference()
        self._model.load_dense_weights(inference_params.dense_model_file)
        self._tables = ServedTables(
            self._model.embedding_layers,
            [e.bottom_name for e in self._model.graph.embedding_params],
            inference_params.sparse_model_files,
            inference_params,
        )
        self._network = self._model.network
        self._predict_fn = tf.function(self._network.predict, reduce_retracing=True)

    @property
    def model(self):
        return self._model

    def hit_rate(self):
        """Share of looked-up keys found in the embedding caches since the session started
        (per batch, each distinct key counts once); NaN without a cache."""
        return self._tables.hit_rate()

    def embedding_cache_stats(self):
        """Per hash table: parameter server kind and rows, cache capacity, size, hit rates and
        refresh count."""
        return self._tables.stats()

    def _predict(self, features):
        self._tables.stage(features)
        return self._predict_fn(features)

    def _batches(self, num_batches, source, data_reader_type, check_type, slot_size_array):
        params = DataReaderParams(
            data_reader_type=data_reader_type,
            source=[source],
            eval_source=source,
            check_type=check_type,
            slot_size_array=list(slot_size_array),
        )
        reader = DataReader(
            params,
            self._network.input,
            self.params.max_batchsize,
            train=False,
            repeat_dataset=False,
            i64_input_key=self.params.i64_input_key,
        )
        for _ in range(num_batches):
            batch = reader.next_batch()
            if batch is None:
                return
            yield self._network.split(batch)

    def predict(self, *args, **kwargs):
        """predict(num_batches, source, data_reader_type, check_type, slot_size_array=[]) or
        predict(dense_feature, embeddingcolumns, row_ptrs, i64_input_key=...)."""
        first = args[0] if args else kwargs.get("num_batches", kwargs.get("dense_feature"))
        if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
            return self._predict_files(*args, **kwargs)
        return self._predict_arrays(*args, **kwargs)

    def _predict_files(self, num_batches, source, data_reader_type, check_type, slot_size_array=()):
        preds = [
            self._predict(features).numpy().reshape(-1)
            for features, _ in self._batches(
                num_batches, source, data_reader_type, check_type, slot_size_array
            )
        ]
        return np.concatenate(preds) if preds else np.zeros(0, np.float32)

    def evaluate(self, num_batches, source, data_reader_type, check_type, slot_size_array=()):
        """AUC of the model over `num_batches` batches of a labelled source."""
        preds, labels = [], []
        for features, y in self._batches(
            num_batches, source, data_reader_type, check_type, slot_size_array
        ):
            p = self._predict(features).numpy()
            preds.append(p.reshape(-1))
            labels.append(y.numpy()[:, : p.shape[1]].reshape(-1))
        if not preds:
            raise ValueError(f"evaluate: source `{source}` gave no batch")
        return exact_auc(np.concatenate(labels), np.concatenate(preds))

    def _predict_arrays(self, dense_feature, embeddingcolumns, row_ptrs, i64_input_key=None):
        inp = self._network.input
        sparse_params = inp.data_reader_sparse_param_array
        row_ptrs = np.asarray(row_ptrs).reshape(-1)
        if row_ptrs.size and row_ptrs.dtype.kind not in "iu":
            raise ValueError(f"row_ptrs must be integers. Received dtype {row_ptrs.dtype}")
        row_ptrs = row_ptrs.astype(np.int64)
        keys = int64_keys(embeddingcolumns, "InferenceSession.predict `embeddingcolumns`")
        keys = keys.reshape(-1)
        i64 = self.params.i64_input_key if i64_input_key is None else bool(i64_input_key)
        if not i64 and keys.size and (keys.min() < 0 or keys.max() >= 1 << 32):
            bad = keys[(keys < 0) | (keys >= 1 << 32)][0]
            raise ValueError(
                f"with i64_input_key=False keys are uint32, as in HugeCTR; key {bad} is outside "
                "[0, 2^32): pass i64_input_key=True for 64-bit keys"
            )
        dense = np.asarray(dense_feature, np.float32)
        total_slots = sum(p.slot_num for p in sparse_params)
        # row_ptrs: one CSR offsets array per sparse input, concatenated, each starting at 0.
        batch = (len(row_ptrs) - len(sparse_params)) // max(total_slots, 1)
        if batch <= 0 or batch * total_slots + len(sparse_params) != len(row_ptrs):
            raise ValueError(
                f"row_ptrs has {len(row_ptrs)} entries; for {total_slots} slots in "
                f"{len(sparse_params)} sparse input(s) it must hold batch*slots+1 per input"
            )
        if batch > self.params.max_batchsize:
            raise ValueError(
                f"predict got {batch} samples but the session's max_batchsize is "
                f"{self.params.max_batchsize}: split the request or raise max_batchsize"
            )
        if dense.size != batch * inp.dense_dim:
            raise ValueError(
                f"dense_feature has {dense.size} values; {batch} samples x dense_dim "
                f"{inp.dense_dim} = {batch * inp.dense_dim} expected"
            )
        features, ptr_at, key_at = {}, 0, 0
        for p in sparse_params:
            splits = row_ptrs[ptr_at : ptr_at + batch * p.slot_num + 1]
            ptr_at += batch * p.slot_num + 1
            if splits[0] != 0 or np.any(np.diff(splits) < 0):
                raise ValueError(
                    f"row_ptrs of sparse input {p.sparse_name!r} must start at 0 and never decrease"
                )
            values = keys[key_at : key_at + splits[-1]]
            if values.size != splits[-1]:
                raise ValueError(
                    f"embeddingcolumns holds {keys.size} keys; row_ptrs need more "
                    f"for sparse input {p.sparse_name!r}"
                )
            key_at += int(splits[-1])
            inner = tf.RaggedTensor.from_row_splits(values, splits)
            features[p.sparse_name] = tf.RaggedTensor.from_uniform_row_length(inner, p.slot_num)
        if key_at != keys.size:
            raise ValueError(
                f"embeddingcolumns holds {keys.size} keys but row_ptrs use {key_at}: "
                f"{keys.size - key_at} keys would be ignored"
            )
        if inp.dense_dim > 0:
            features[inp.dense_name] = tf.constant(dense.reshape(batch, inp.dense_dim))
        return self._predict(features).numpy().reshape(-1)


def CreateInferenceSession(model_config_path, inference_params):  # noqa: N802
    return InferenceSession(model_config_path, inference_params)
