"""Multi-replica DCN training on one host's CPU: what the sharded table's exchange costs.

    PYTHONPATH=. python benchmarks/distribute_bench.py [--replicas 1 2 4] [--batch 4096]

The DCN of `hugectr_tf.examples.dcn_demo` (SparseEmbedding, Adam, Local update; MultiCross x3 and
an MLP 256/128) is trained through the hugectr API with `vvgpu=[[0, ..., N-1]]` on N logical CPU
devices of this machine. They share the same cores, so this measures the overhead of running N
replicas and exchanging keys, partial sums and gradients between them, not a speed-up. Each N
first trains `--warmup-iters` iterations (tracing, inserts; not timed); then timed rounds of
`--iters` iterations run round-robin over the replica counts, so that all see the same drift of
a shared machine's load; samples/s is the median over rounds. On a shared machine the wall
time depends on how much of the cores the process gets (N replicas run N threads of ops, so an
oversubscribed machine gives them a larger share); the process' CPU time per sample (median over
rounds, all threads) is what measures the work the replicas and their exchange add.

Bytes per step per replica: one training step is run eagerly with the exchange's payload
observer (`hugectr_tf.distributed.exchange.observe_payloads`), which sees every tensor a replica
hands to a collective: the keys it all-gathers, the partial sums it all-reduces, the output
gradient it all-gathers. The dense gradients the Keras optimizer all-reduces are counted from
the dense weights (4 bytes per weight and replica).

The second table times the two ways `tf.distribute.ReplicaContext` offers to reduce-scatter the
partial sums [B, slots, vec] (it has no reduce-scatter): an all-reduce then a slice (what the
exchange does) against an all-gather of the partials then a local sum.
"""

import argparse
import contextlib
import io
import os
import subprocess
import tempfile
import time
from collections import defaultdict

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import hugectr_tf as hugectr  # noqa: E402
from hugectr_tf.distributed import exchange, logical_cpu_devices  # noqa: E402
from hugectr_tf.examples.dcn_demo import build_dcn  # noqa: E402
from hugectr_tf.tools import DataGenerator  # noqa: E402

NEVER = 10**12  # a display / eval interval the timed runs never reach


def dcn(gen, batch, replicas, vec):
    solver = hugectr.CreateSolver(
        batchsize=batch,
        batchsize_eval=batch,
        lr=0.001,
        vvgpu=[list(range(replicas))],
        repeat_dataset=True,
    )
    optimizer = hugectr.CreateOptimizer(
        optimizer_type=hugectr.Optimizer_t.Adam, update_type=hugectr.Update_t.Local
    )
    with contextlib.redirect_stdout(io.StringIO()):  # the vvgpu log line
        model = build_dcn(
            solver,
            gen.reader_params(),
            optimizer,
            gen.input(),
            embedding_vec_size=vec,
            workspace_size_per_gpu_in_mb=64,
        )
    model.compile()
    return model


def exchanged_bytes(model):
    """Bytes one replica hands to collectives in one eagerly run training step (mean over
    replicas): {"keys": int payload of the all-gathers, "partials": all-reduced partial sums,
    "gradients": all-gathered output gradients, "dense": dense gradients}."""
    sent = defaultdict(lambda: defaultdict(int))
    kinds = {("all_gather", True): "keys", ("all_reduce", False): "partials"}
    kinds[("all_gather", False)] = "gradients"

    def record(collective, tensor):
        ctx = tf.distribute.get_replica_context()
        replica = int(tf.get_static_value(ctx.replica_id_in_sync_group))
        kind = kinds[(collective, tensor.dtype.is_integer)]
        sent[replica][kind] += int(tf.size(tensor)) * tensor.dtype.size

    batch = model.get_data_reader_train().next_batch()
    tf.config.run_functions_eagerly(True)
    try:
        with exchange.observe_payloads(record):
            model.train_on_batch(batch)
    finally:
        tf.config.run_functions_eagerly(False)
    out = {k: sum(s[k] for s in sent.values()) / len(sent) for k in set(kinds.values())}
    # Keras' optimizer all-reduces every trainable weight's gradient (float32) once per step.
    out["dense"] = 4 * sum(int(np.prod(w.shape)) for w in model.keras_model.trainable_weights)
    return out


def reduce_scatter_times(strategy, batch, slots, vec, iters):
    """Seconds per call of the two reduce-scatter formulations over [batch, slots, vec]."""
    n = strategy.num_replicas_in_sync
    local = batch // n
    partials = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.random.stateless_uniform(
            [batch, slots, vec], [ctx.replica_id_in_sync_group, 0]
        )
    )

    def by_all_reduce(p):
        ctx = tf.distribute.get_replica_context()
        begin = ctx.replica_id_in_sync_group * local
        return ctx.all_reduce("sum", p)[begin : begin + local]

    def by_all_gather(p):
        ctx = tf.distribute.get_replica_context()
        begin = ctx.replica_id_in_sync_group * local
        total = tf.reduce_sum(tf.reshape(ctx.all_gather(p, axis=0), [n, batch, slots, vec]), 0)
        return total[begin : begin + local]

    out = {}
    for name, fn in (("all-reduce + slice", by_all_reduce), ("all-gather + sum", by_all_gather)):
        run = tf.function(lambda p, fn=fn: strategy.run(fn, args=(p,)))
        run(partials)  # trace
        start = time.perf_counter()
        for _ in range(iters):
            result = run(partials)
        strategy.experimental_local_results(result)[0].numpy()
        out[name] = (time.perf_counter() - start) / iters
    return out


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next(
        (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
        "unknown CPU",
    )
    return f"{name}, nproc {os.cpu_count()}"


def load():
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch", type=int, default=4096, help="global batch")
    parser.add_argument("--iters", type=int, default=10, help="iterations per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median shown)")
    parser.add_argument("--warmup-iters", type=int, default=5)
    parser.add_argument("--train-samples", type=int, default=200_000)
    parser.add_argument("--embedding-vec-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    # Logical devices exist only if made before TensorFlow starts: make the most asked for.
    logical_cpu_devices(max(args.replicas))
    load_before = load()
    with tempfile.TemporaryDirectory() as folder:
        gen = DataGenerator(
            folder,
            "Norm",
            num_train_samples=args.train_samples,
            num_eval_samples=args.batch,
            num_files=4,
            seed=args.seed,
        ).generate()
        models = {n: dcn(gen, args.batch, n, args.embedding_vec_size) for n in args.replicas}
        done = {n: args.warmup_iters for n in args.replicas}
        times, cpu_times = defaultdict(list), defaultdict(list)
        with contextlib.redirect_stdout(io.StringIO()):
            for n, model in models.items():
                model.fit(max_iter=done[n], display=NEVER, eval_interval=NEVER, snapshot=0)
            for _ in range(args.rounds):
                for n, model in models.items():
                    done[n] += args.iters
                    start, cpu = time.perf_counter(), time.process_time()
                    model.fit(max_iter=done[n], display=NEVER, eval_interval=NEVER, snapshot=0)
                    times[n].append(time.perf_counter() - start)
                    cpu_times[n].append(time.process_time() - cpu)
        traffic = {n: exchanged_bytes(models[n]) for n in args.replicas if n > 1}
        slots = len(gen.slot_size_array)

    print(f"Machine: {machine()}; load average before {load_before}, after {load()}")
    print(
        f"DCN (hugectr API, vvgpu=[[0..N-1]] on N logical CPU devices), global batch "
        f"{args.batch}, {slots} slots, embedding_vec_size {args.embedding_vec_size}, float32; "
        f"median of {args.rounds} rounds of {args.iters} iterations\n"
    )
    print(
        "| replicas | samples/s | vs 1 replica | CPU s per 1M samples | keys all-gathered "
        "| partial sums all-reduced | output gradients all-gathered | dense gradients all-reduced |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for n in args.replicas:
        rate = args.iters * args.batch / float(np.median(times[n]))
        base = base or rate
        if n in traffic:
            t = traffic[n]
            cells = " | ".join(_mb(t[k]) for k in ("keys", "partials", "gradients", "dense"))
        else:
            cells = "- | - | - | -"
        cpu = float(np.median(cpu_times[n])) / (args.iters * args.batch) * 1e6
        print(f"| {n} | {rate:,.0f} | {rate / base:.2f} | {cpu:.1f} | {cells} |")

    print("\nReduce-scatter of the partial sums [B, slots, vec] (ms per call, mean of 20):\n")
    print("| replicas | all-reduce + slice | all-gather + sum |")
    print("|---:|---:|---:|")
    for n in args.replicas:
        if n == 1:
            continue
        devices = [d.name for d in tf.config.list_logical_devices("CPU")[:n]]
        strategy = tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
        t = reduce_scatter_times(strategy, args.batch, slots, args.embedding_vec_size, 20)
        print(f"| {n} | {t['all-reduce + slice'] * 1e3:.1f} | {t['all-gather + sum'] * 1e3:.1f} |")


def _mb(nbytes):
    return f"{nbytes / 2**20:.2f} MB"


if __name__ == "__main__":
    main()
