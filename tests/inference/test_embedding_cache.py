"""The embedding cache in front of a parameter server: rows always those of the PS, refreshes by
the hit-rate threshold keep the most used rows; an InferenceSession predicts the same with or
without the cache, from either parameter server, as the trained Model itself."""

import math

import numpy as np
import pytest
import tensorflow as tf

import hugectr_tf as hugectr
from hugectr_tf.data import dataset_from_params
from hugectr_tf.inference.cache import EmbeddingCache
from hugectr_tf.ps import HostMemoryParameterServer, RowBlock, TableSpec
from hugectr_tf.tools import DataGenerator

L, D = hugectr.Layer_t, hugectr.DenseLayer


def _ps(n=100, vec=3):
    spec = TableSpec(vec, hugectr.CreateOptimizer(optimizer_type="SGD", update_type="Local"))
    ps = HostMemoryParameterServer(spec)
    keys = np.arange(n, dtype=np.int64) * 10
    rows = (keys[:, None] + np.arange(vec)).astype(np.float32)
    zeros = np.zeros(n, np.int64)
    ps.push(RowBlock(keys, rows, zeros, np.zeros((n, 0, vec), np.float32), zeros), 0, [])
    return ps


def test_rows_come_from_the_ps_and_refreshes_follow_the_threshold():
    ps = _ps()
    cache = EmbeddingCache(ps, capacity=4, hit_rate_threshold=0.5)
    keys = np.array([10, 20, 30, 35], np.int64)  # 35: not in the table
    rows, found = cache.lookup(keys)
    np.testing.assert_array_equal(found, [True, True, True, False])
    np.testing.assert_array_equal(rows[:3], ps.rows_for(keys[:3])[0])
    np.testing.assert_array_equal(rows[3], 0)
    assert cache.last_hit_rate == 0.0 and cache.refreshes == 1 and cache.size == 3
    rows, _ = cache.lookup(np.array([10, 20, 40, 50], np.int64))  # 2 of 4 hit: 0.5, no refresh
    assert cache.last_hit_rate == 0.5 and cache.refreshes == 1 and cache.size == 3
    np.testing.assert_array_equal(rows, ps.rows_for([10, 20, 40, 50])[0])
    # 1 of 4 hits: refresh; 10 and 20 were used twice, stay; 30 (once) gives way to a new row.
    cache.lookup(np.array([10, 60, 70, 80], np.int64))
    assert cache.refreshes == 2 and cache.size == 4
    assert cache.stats()["hits"] == 3 and cache.queries == 12
    assert cache.hit_rate == pytest.approx(3 / 12)
    kept = cache.lookup(np.array([10, 20], np.int64))[1]
    assert kept.all() and cache.last_hit_rate == 1.0


def test_threshold_zero_never_refreshes_and_capacity_zero_holds_nothing():
    ps = _ps()
    never = EmbeddingCache(ps, capacity=50, hit_rate_threshold=0.0)
    for _ in range(3):
        never.lookup(np.arange(0, 200, 10))
    assert never.size == 0 and never.hit_rate == 0.0
    empty = EmbeddingCache.for_percentage(ps, 0.0, 1.0)
    empty.lookup(np.arange(0, 200, 10))
    assert empty.capacity == 0 and empty.size == 0
    assert EmbeddingCache.for_percentage(ps, 0.105, 1.0).capacity == 11  # ceil(10.5)
    assert math.isnan(EmbeddingCache(ps, 1, 0.5).hit_rate)
    with pytest.raises(ValueError, match="cache_size_percentage` must be in \\[0, 1\\]"):
        EmbeddingCache.for_percentage(ps, 1.5, 0.5)
    with pytest.raises(ValueError, match="hit_rate_threshold` must be in \\[0, 1\\]"):
        EmbeddingCache(ps, 1, -0.1)
    with pytest.raises(ValueError, match="`capacity` must be an integer >= 0"):
        EmbeddingCache(ps, -1, 0.5)


def test_random_lookups_keep_the_cache_consistent():
    """Many refreshes with evictions: rows always the PS's, at most `capacity` rows, each key
    once, and a row used more than once is never evicted for a new one."""
    ps, rng = _ps(n=400, vec=2), np.random.default_rng(0)
    cache = EmbeddingCache(ps, capacity=37, hit_rate_threshold=0.8)
    for _ in range(60):
        keys = np.unique(rng.zipf(1.3, 40) * 10 % 4100)
        before = {k: u for k, u in zip(*cache.cached_uses())}
        rows, found = cache.lookup(keys)
        want, want_found = ps.rows_for(keys)
        np.testing.assert_array_equal(found, want_found)
        np.testing.assert_array_equal(rows, want)
        cached, uses = cache.cached_uses()
        assert cache.size == len(cached) <= 37 and np.all(np.diff(cached) > 0)
        hits = set(keys[np.isin(keys, list(before))].tolist())
        for k, u in before.items():  # used twice or more (with this lookup's hit): stays
            if u + (k in hits) >= 2:
                assert k in cached
        np.testing.assert_array_equal(ps.rows_for(cached)[0], cache.lookup_cached(cached))
    assert cache.refreshes > 10 and 0 < cache.hit_rate < 1


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """A trained model (power-law keys) saved as graph JSON + dense file + sparse model."""
    root = tmp_path_factory.mktemp("served")
    gen = DataGenerator(root / "data", "Norm", num_train_samples=4096, num_eval_samples=2048,
                        num_files=2, dense_dim=3, slot_size_array=[3000, 2000, 50, 800],
                        seed=2).generate()  # fmt: skip
    solver = hugectr.CreateSolver(batchsize=512, batchsize_eval=512, lr=0.01)
    opt = hugectr.CreateOptimizer(optimizer_type="Adam", update_type="Global")
    model = hugectr.Model(solver, gen.reader_params(num_workers=1), opt)
    model.add(gen.input())
    model.add(hugectr.SparseEmbedding(
        embedding_type=hugectr.Embedding_t.LocalizedSlotSparseEmbeddingHash,
        workspace_size_per_gpu_in_mb=4, embedding_vec_size=8, combiner="sum",
        sparse_embedding_name="emb", bottom_name="data1", optimizer=opt,
    ))  # fmt: skip
    model.add(D(L.Reshape, ["emb"], ["flat"], leading_dim=32))
    model.add(D(L.Concat, ["flat", "dense"], ["concat"]))
    model.add(D(L.InnerProduct, ["concat"], ["fc"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc", "label"], ["loss"]))
    model.compile()
    model.fit(max_iter=8, display=100, eval_interval=100, snapshot=0)
    model.graph_to_json(str(root / "graph.json"))
    names = model.save_params_to_files(str(root / "m"), 8)
    return gen, model, root, names


def _params(names, **kwargs):
    args = dict(model_name="m", max_batchsize=256, hit_rate_threshold=0.9, device_id=0,
                dense_model_file=names["dense"], sparse_model_files=names["sparse"],
                use_gpu_embedding_cache=True, cache_size_percentage=0.2,
                i64_input_key=False)  # fmt: skip
    args.update(kwargs)
    return hugectr.inference.InferenceParams(**args)


@pytest.mark.parametrize(
    "host_memory, cache, percentage",
    [(True, False, 0.2), (True, True, 0.05), (False, True, 0.5), (False, False, 0.2)],
)
def test_predictions_do_not_depend_on_the_cache(served_model, host_memory, cache, percentage):
    gen, model, root, names = served_model
    params = _params(names, use_host_memory_ps=host_memory, use_gpu_embedding_cache=cache,
                     cache_size_percentage=percentage)  # fmt: skip
    session = hugectr.inference.CreateInferenceSession(str(root / "graph.json"), params)
    got = session.predict(8, gen.eval_source, hugectr.DataReaderType_t.Norm, hugectr.Check_t.Sum)
    batches = dataset_from_params(gen.reader_params(), gen.input(), 256, False, repeat=False)
    want = np.concatenate([
        tf.sigmoid(model.keras_model({k: b[k] for k in ("dense", "data1")}, training=False))
        .numpy().ravel()
        for b in batches
    ])  # fmt: skip
    # The cache and the parameter server change where rows come from, never a value: bit for bit
    # the predictions of a session holding the whole table in host memory without a cache.
    plain = hugectr.inference.CreateInferenceSession(
        str(root / "graph.json"),
        _params(names, use_host_memory_ps=True, use_gpu_embedding_cache=False),
    )
    plain_got = plain.predict(
        8, gen.eval_source, hugectr.DataReaderType_t.Norm, hugectr.Check_t.Sum
    )
    np.testing.assert_array_equal(got, plain_got)
    # The session's graph is not the Keras model's (a separately traced function), so the two
    # may round the dense layers differently in the last bit.
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    stats = session.embedding_cache_stats()[0]
    assert stats["parameter_server"] == ("host memory" if host_memory else "SSD")
    assert stats["rows"] == model.embedding_layers[0].size()
    if cache:
        assert stats["capacity"] == math.ceil(percentage * stats["rows"]) >= stats["size"] > 0
        assert stats["refreshes"] >= 1 and 0.0 < session.hit_rate() < 1.0
    else:
        assert math.isnan(session.hit_rate())


def test_a_larger_cache_hits_more(served_model):
    gen, _, root, names = served_model
    rates = []
    for percentage in (0.01, 0.1, 1.0):
        session = hugectr.inference.CreateInferenceSession(
            str(root / "graph.json"), _params(names, cache_size_percentage=percentage)
        )
        for _ in range(2):  # the second pass over the eval set finds what the first cached
            session.predict(8, gen.eval_source, hugectr.DataReaderType_t.Norm,
                            hugectr.Check_t.Sum)  # fmt: skip
        rates.append(session.hit_rate())
    assert rates[0] < rates[1] < rates[2] <= 1.0


def test_bad_sparse_model_files(served_model, tmp_path):
    _, _, root, names = served_model
    params = _params(names, sparse_model_files=names["sparse"] * 2)
    with pytest.raises(ValueError, match="1 embedding layers but 2 sparse model folders"):
        hugectr.inference.CreateInferenceSession(str(root / "graph.json"), params)
    missing = _params(names, sparse_model_files=[str(tmp_path / "none")], use_host_memory_ps=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hugectr.inference.CreateInferenceSession(str(root / "graph.json"), missing)
