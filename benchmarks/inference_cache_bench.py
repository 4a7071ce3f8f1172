"""Inference through a parameter server and the embedding cache: predict throughput and latency
(p50 / p99) against the cache's hit rate, in one process run.

A table of `--keys` keys x `--vec` floats is written as a HugeCTR sparse model folder; a small
network (the embedding, concatenated with the dense features, one InnerProduct) is saved as graph
JSON + dense model. Requests are `predict(dense_feature, embeddingcolumns, row_ptrs)` calls of
`--batch` samples with one key per slot, keys drawn from a Zipf law over the table (rank r with
probability proportional to r^-zipf, ranks shuffled over the keys), the same requests for every
configuration: no cache (each batch's rows from the PS), caches of several sizes (HM-PS), and the
SSD-PS with and without a cache. Every configuration has its own session; they answer each
request in turn (interleaved, so all see the same background load). The first `--warmup`
requests are not timed; the hit rate is over the timed ones.

Run: `PYTHONPATH=. python benchmarks/inference_cache_bench.py`; `--help` for the knobs.
"""

import argparse
import os
import platform
import re
import subprocess
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import hugectr_tf as hugectr  # noqa: E402
from hugectr_tf.embedding import files  # noqa: E402


def machine():
    model = platform.processor()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except (OSError, AttributeError):
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, load {load}"


def save_model(folder, args):
    """Graph JSON, dense model and a synthetic sparse model folder of `args.keys` keys."""
    solver = hugectr.CreateSolver(batchsize=args.batch, batchsize_eval=args.batch)
    reader = hugectr.DataReaderParams(data_reader_type="Norm", source=["unused"],
                                      eval_source="unused", check_type="Non")  # fmt: skip
    model = hugectr.Model(solver, reader, hugectr.CreateOptimizer())
    sparse = hugectr.DataReaderSparseParam("data1", 1, True, args.slots)
    model.add(hugectr.Input(1, "label", 13, "dense", [sparse]))
    model.add(hugectr.SparseEmbedding(
        embedding_type=hugectr.Embedding_t.DistributedSlotSparseEmbeddingHash,
        workspace_size_per_gpu_in_mb=64, embedding_vec_size=args.vec, combiner="sum",
        sparse_embedding_name="emb", bottom_name="data1",
    ))  # fmt: skip
    L, D = hugectr.Layer_t, hugectr.DenseLayer
    model.add(D(L.Reshape, ["emb"], ["flat"], leading_dim=args.slots * args.vec))
    model.add(D(L.Concat, ["flat", "dense"], ["concat"]))
    model.add(D(L.InnerProduct, ["concat"], ["fc"], num_output=1))
    model.add(D(L.BinaryCrossEntropyLoss, ["fc", "label"], ["loss"]))
    model.compile()
    model.graph_to_json(os.path.join(folder, "graph.json"))
    names = model.save_params_to_files(os.path.join(folder, "m"))
    rng = np.random.default_rng(0)
    keys = rng.permutation(args.keys).astype(np.int64)
    rows = rng.normal(0, 0.1, (args.keys, args.vec)).astype(np.float32)
    files.write_sparse_model(names["sparse"][0], keys, rows)
    return os.path.join(folder, "graph.json"), names


def requests(args):
    rng = np.random.default_rng(1)
    ranks = np.arange(1, args.keys + 1, dtype=np.float64)
    cdf = np.cumsum(ranks**-args.zipf)
    cdf /= cdf[-1]
    shuffle = rng.permutation(args.keys).astype(np.int64)
    row_ptrs = list(range(args.batch * args.slots + 1))
    out = []
    for _ in range(args.warmup + args.requests):
        r = np.minimum(np.searchsorted(cdf, rng.random(args.batch * args.slots)), args.keys - 1)
        dense = rng.random(args.batch * 13).astype(np.float32)
        out.append((dense, shuffle[r], row_ptrs))
    return out


def cache_counts(session):
    stats = session.embedding_cache_stats()
    return sum(s.get("hits", 0) for s in stats), sum(s.get("queries", 0) for s in stats)


def run_configs(graph, names, reqs, args, configs):
    """Every configuration's session answers each request in turn (interleaved, so that all see
    the same background load); returns one result dict per configuration."""
    sessions = []
    for params in configs:
        p = hugectr.inference.InferenceParams(
            model_name="bench", max_batchsize=args.batch, dense_model_file=names["dense"],
            sparse_model_files=names["sparse"], device_id=0, i64_input_key=True,
            **{"hit_rate_threshold": args.threshold, **params},
        )  # fmt: skip
        sessions.append(hugectr.inference.CreateInferenceSession(graph, p))
    times = [[] for _ in sessions]
    outputs = [[] for _ in sessions]
    counts = [(0, 0)] * len(sessions)
    for i, (dense, keys, row_ptrs) in enumerate(reqs):
        for j, session in enumerate(sessions):
            if i == args.warmup:  # the hit rate counts the timed requests only
                counts[j] = cache_counts(session)
            started = time.perf_counter()
            out = session.predict(dense, keys, row_ptrs)
            if i >= args.warmup:
                times[j].append(time.perf_counter() - started)
                outputs[j].append(out)
    results = []
    for session, t, out, (hits, queries) in zip(sessions, times, outputs, counts):
        all_hits, all_queries = cache_counts(session)
        timed = all_queries - queries
        t = np.array(t)
        results.append({
            "hit_rate": (all_hits - hits) / timed if timed else None,
            "samples_per_s": args.batch * len(t) / t.sum(),
            "p50_ms": 1e3 * np.percentile(t, 50),
            "p99_ms": 1e3 * np.percentile(t, 99),
            "refreshes": sum(s.get("refreshes", 0) for s in session.embedding_cache_stats()),
            "predictions": np.concatenate(out),
        })  # fmt: skip
    return results


def label(percentage, threshold, default_threshold):
    """The table's cache column: the percentage, and the threshold where it is not the default."""
    if percentage == 0:
        return "no cache"
    other = f" (threshold {threshold:g})" if threshold != default_threshold else ""
    return f"{percentage:g}{other}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2_000_000)
    parser.add_argument("--vec", type=int, default=16)
    parser.add_argument("--slots", type=int, default=26)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--zipf", type=float, default=1.05)
    parser.add_argument("--threshold", type=float, default=0.9, help="hit_rate_threshold")
    parser.add_argument(
        "--low-threshold", type=float, default=0.5,
        help="one more HM-PS cache (of --ssd-percentage) with this hit_rate_threshold",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--percentages", default="0.001,0.01,0.1,0.5", help="HM-PS caches")
    parser.add_argument("--ssd-percentage", type=float, default=0.1, help="the SSD-PS's cache")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=os.getcwd()) as folder:
        graph, names = save_model(folder, args)
        reqs = requests(args)
        hm, ssd = dict(use_host_memory_ps=True), dict(use_host_memory_ps=False)
        configs = [("host memory", 0.0, hm)]
        configs += [("host memory", float(v), hm) for v in args.percentages.split(",")]
        low = dict(hm, hit_rate_threshold=args.low_threshold)  # refreshes only below it
        configs += [("host memory", args.ssd_percentage, low)]
        configs += [("SSD", 0.0, ssd), ("SSD", args.ssd_percentage, ssd)]
        params = [dict(use_gpu_embedding_cache=pct > 0, cache_size_percentage=pct, **kind)
                  for _, pct, kind in configs]  # fmt: skip
        results = run_configs(graph, names, reqs, args, params)
        rows = [(ps, label(pct, kind.get("hit_rate_threshold", args.threshold), args.threshold), r)
                for (ps, pct, kind), r in zip(configs, results)]  # fmt: skip
    print(f"Machine: {machine()}. Table {args.keys:,} keys x vec {args.vec}, batch {args.batch}"
          f" x {args.slots} slots (one key each, Zipf {args.zipf}), hit_rate_threshold "
          f"{args.threshold}, {args.requests} timed requests.\n")  # fmt: skip
    print("| PS | cache_size_percentage | hit rate | refreshes | samples/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for ps, cache, r in rows:
        rate = "-" if r["hit_rate"] is None else f"{r['hit_rate']:.3f}"
        print(f"| {ps} | {cache} | {rate} | {r['refreshes']} "
              f"| {r['samples_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
