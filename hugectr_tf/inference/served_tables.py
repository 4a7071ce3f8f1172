"""`ServedTables`: where an inference session's embedding rows come from.

Each hash embedding of the network is served from a parameter server loaded with its sparse model
folder (HM-PS, or a read-only SSD-PS for tables larger than memory), with an `EmbeddingCache`
in front when `use_gpu_embedding_cache` is set. Before a batch is predicted, the rows of its
distinct keys are looked up (cache, then PS) and become the content of the layer's table, so the
network's find-only lookup reads exactly them: a key the model does not hold still reads a zero
vector. LocalizedSlotSparseEmbeddingOneHot tables are dense and fixed-size: they are loaded whole
into their layer.
"""

import math

from hugectr_tf.config import Embedding_t
from hugectr_tf.data.keyset import distinct_keys
from hugectr_tf.inference.cache import EmbeddingCache
from hugectr_tf.ops import embedding_ops
from hugectr_tf.ps import SSDParameterServer, TableSpec, open_parameter_server


class ServedTables:
    """Parameter servers (and caches) of a network's embedding layers.

    Args:
        layers: The network's SparseEmbedding layers.
        bottom_names: The sparse input each layer reads, in the same order.
        sparse_model_files: One sparse model folder per layer.
        params: `InferenceParams` (use_host_memory_ps, use_gpu_embedding_cache,
            cache_size_percentage, hit_rate_threshold).
    """

    def __init__(self, layers, bottom_names, sparse_model_files, params):
        files = list(sparse_model_files)
        if len(files) != len(layers):
            raise ValueError(
                f"`sparse_model_files`: the model has {len(layers)} embedding layers but "
                f"{len(files)} sparse model folders were given: {files}"
            )
        self._entries = []
        for layer, bottom, folder in zip(layers, bottom_names, files):
            if layer.embedding_type == Embedding_t.LocalizedSlotSparseEmbeddingOneHot:
                layer.import_sparse_model(folder)
                continue
            spec = TableSpec(layer.embedding_vec_size, layer.optimizer, layer.embedding_type)
            ps = open_parameter_server(
                spec, folder, use_host_memory_ps=params.use_host_memory_ps, readonly=True
            )
            cache = None
            if params.use_gpu_embedding_cache:
                cache = EmbeddingCache.for_percentage(
                    ps, params.cache_size_percentage, params.hit_rate_threshold
                )
            self._entries.append((layer, bottom, ps, cache))

    def stage(self, features):
        """Puts the rows of the keys of `features` (the model's input dict) into the tables."""
        for layer, bottom, ps, cache in self._entries:
            values = features[bottom]
            values = getattr(values, "flat_values", values)
            keys = distinct_keys(values)
            rows, found = cache.lookup(keys) if cache is not None else ps.rows_for(keys)
            embedding_ops.import_rows(layer.table.handle, keys[found], rows[found])

    def hit_rate(self):
        """Cached keys / keys looked up over all cached tables (NaN without a cache or lookup)."""
        caches = [c for _, _, _, c in self._entries if c is not None]
        queries = sum(c.queries for c in caches)
        return sum(c.hits for c in caches) / queries if queries else math.nan

    def stats(self):
        """One dict per served hash table: its layer, PS kind and size, and cache figures."""
        out = []
        for layer, _, ps, cache in self._entries:
            entry = {
                "embedding": layer.name,
                "parameter_server": "SSD" if isinstance(ps, SSDParameterServer) else "host memory",
                "rows": ps.size,
            }
            if cache is not None:
                entry.update(cache.stats())
            out.append(entry)
        return out

    def close(self):
        for _, _, ps, _ in self._entries:
            if isinstance(ps, SSDParameterServer):
                ps.close()
