"""DCN training throughput: the hugectr API (`hugectr_tf.Model`) versus the same DCN in plain
Keras, on the same generated data, in one process run. Prints a markdown table.

    PYTHONPATH=. python benchmarks/train_bench.py [--batch-sizes 2048 16384] [--slot-scale 100]

* hugectr_tf: `build_dcn` of `hugectr_tf.examples.dcn_demo` (SparseEmbedding with Adam, Local
  update; Reshape, Concat, Slice, MultiCross x3, InnerProduct 256/128 + ReLU, InnerProduct 1,
  BCE), trained with `Model.fit` in iteration mode (Adam, lr 0.001), reading the files through
  the Model's own data reader.
* plain Keras: `build_keras_dcn` of `hugectr_tf.examples.keras_reference`
  (`keras.layers.Embedding` over `key % vocabulary`, the same towers), `keras.optimizers.Adam`
  (lr 0.001), trained with `model.fit(verbose=0)` on `dataset_from_params(...)` split into
  (features, label): the same files, read by the same reader.

Data: DataGenerator Norm files (Criteo-like: 13 dense features, 26 slots, two of them multi-hot)
with a planted label model. Each side first trains `--warmup-iters` iterations (tf.function
tracing, embedding-table inserts, reader start-up; not timed), then `--rounds` timed rounds of
`--iters` iterations each, the rounds of the two sides alternating (hugectr, Keras, hugectr, ...)
so that both see the same background load on a shared machine; samples/s is the median over
rounds and the speed-up the median over rounds of (Keras round time / hugectr round time), which
cancels load that drifts between rounds. Both sides train on the same number of samples, after
which each is evaluated on the whole eval set: the AUC column is a sanity check that both learned
the same thing (the generator's Bayes-optimal AUC is printed).
"""

import argparse
import contextlib
import io
import os
import subprocess
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import hugectr_tf as hugectr  # noqa: E402
from hugectr_tf.api.metrics import exact_auc  # noqa: E402
from hugectr_tf.data import dataset_from_params, split_label  # noqa: E402
from hugectr_tf.examples.dcn_demo import build_dcn  # noqa: E402
from hugectr_tf.examples.keras_reference import build_keras_dcn  # noqa: E402
from hugectr_tf.tools import DataGenerator  # noqa: E402
from hugectr_tf.tools.generator import DEFAULT_SLOT_SIZES  # noqa: E402

NEVER = 10**12  # a display / eval interval the timed runs never reach


def workspace_mb(num_keys, vec):
    """A workspace that holds every generated key: Adam rows take 56 + 12 * vec bytes
    (docs/embedding.md), plus 10% and 16 MB of headroom; at least `build_dcn`'s 64 MB."""
    return max(64, int(num_keys * (56 + 12 * vec) / 2**20 * 1.1) + 16)


def hugectr_dcn(gen, batch, vec, lr):
    """The DCN of `dcn_demo` through the hugectr API, compiled, and its eval batch count."""
    eval_batches = -(-gen.num_eval_samples // batch)
    solver = hugectr.CreateSolver(
        max_eval_batches=eval_batches,
        batchsize_eval=batch,
        batchsize=batch,
        lr=lr,
        vvgpu=[[0]],
        repeat_dataset=True,
        metrics_spec={hugectr.MetricsType.AUC: 1.0},
    )
    optimizer = hugectr.CreateOptimizer(
        optimizer_type=hugectr.Optimizer_t.Adam, update_type=hugectr.Update_t.Local
    )
    model = build_dcn(
        solver,
        gen.reader_params(),
        optimizer,
        gen.input(),
        embedding_vec_size=vec,
        workspace_size_per_gpu_in_mb=workspace_mb(sum(gen.slot_size_array), vec),
    )
    model.compile()
    return model, eval_batches


class _Interleaved(keras.callbacks.Callback):
    """Times blocks of `iters` Keras batches after the first `warmup` ones and, between two
    blocks, runs `other_round()` (a timed round of the hugectr model), so that the rounds of the
    two run alternately under the same background load of a shared machine.

    It hooks batch *begin* only: a batch-end hook would make Keras fetch the logs every step and
    so change what is measured. A Keras train step returns once it has run, so the time at the
    begin of batch k is the time the batches before it took."""

    def __init__(self, warmup, iters, rounds, other_round):
        super().__init__()
        self.marks = {warmup + r * iters for r in range(rounds)}
        self.other_round = other_round
        self.start = None
        self.times = []

    def _stop(self):
        if self.start is not None:
            self.times.append(time.perf_counter() - self.start)

    def on_train_batch_begin(self, batch, logs=None):
        if batch in self.marks:
            self._stop()
            self.other_round()
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self._stop()


def bench(gen, batch, vec, warmup, iters, rounds, lr, vocabulary):
    """Round times (s) of both models and their eval AUC after warmup + rounds * iters steps."""
    params, inp = gen.reader_params(), gen.input()
    # hugectr_tf: Model.fit in iteration mode, continued round by round (fit goes on from the
    # iteration it reached, on the same reader).
    hmodel, eval_batches = hugectr_dcn(gen, batch, vec, lr)
    log = io.StringIO()  # fit's own progress lines; kept out of the table output
    h_times, trained = [], [warmup]

    def hugectr_fit(max_iter):
        with contextlib.redirect_stdout(log):
            hmodel.fit(max_iter=max_iter, display=NEVER, eval_interval=NEVER, snapshot=0)

    def hugectr_round():
        trained[0] += iters
        start = time.perf_counter()
        hugectr_fit(trained[0])
        h_times.append(time.perf_counter() - start)

    hugectr_fit(warmup)

    # Plain Keras: one model.fit over the whole stream; the callback interleaves the rounds.
    kmodel = build_keras_dcn(gen.dense_dim, len(gen.slot_size_array), vec, vocabulary)
    kmodel.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    train = split_label(dataset_from_params(params, inp, batch, train=True, repeat=True), inp)
    timer = _Interleaved(warmup, iters, rounds, hugectr_round)
    kmodel.fit(
        train,
        epochs=1,
        steps_per_epoch=warmup + rounds * iters,
        verbose=0,
        shuffle=False,
        callbacks=[timer],
    )

    for _ in range(eval_batches):
        hmodel.eval()
    h_auc = dict(hmodel.get_eval_metrics())["AUC"]
    labels, scores = [], []
    evals = split_label(dataset_from_params(params, inp, batch, train=False, repeat=False), inp)
    for features, label in evals:
        scores.append(kmodel(features, training=False).numpy().reshape(-1))
        labels.append(label.numpy().reshape(-1))
    k_auc = exact_auc(np.concatenate(labels), np.concatenate(scores))
    return h_times, h_auc, timer.times, k_auc


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
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[2048, 16384])
    parser.add_argument("--iters", type=int, default=30, help="iterations per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median shown)")
    parser.add_argument("--warmup-iters", type=int, default=10)
    parser.add_argument("--train-samples", type=int, default=400_000)
    parser.add_argument("--eval-samples", type=int, default=50_000)
    parser.add_argument("--embedding-vec-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument(
        "--keras-vocabulary",
        type=int,
        default=0,
        help="rows of keras.layers.Embedding (key % rows); 0 = all generated keys, no collisions",
    )
    parser.add_argument(
        "--slot-scale",
        type=int,
        default=1,
        help="multiplies the generator's Criteo-like vocabulary sizes (63,249 keys in all)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        gen = DataGenerator(
            folder,
            "Norm",
            num_train_samples=args.train_samples,
            num_eval_samples=args.eval_samples,
            num_files=8,
            slot_size_array=[s * args.slot_scale for s in DEFAULT_SLOT_SIZES],
            seed=args.seed,
        ).generate()
        vocabulary = args.keras_vocabulary or int(sum(gen.slot_size_array))
        load_before = load()
        for batch in args.batch_sizes:
            h_times, h_auc, k_times, k_auc = bench(
                gen, batch, args.embedding_vec_size, args.warmup_iters, args.iters,
                args.rounds, args.lr, vocabulary,
            )  # fmt: skip
            h_rate = batch * args.iters / float(np.median(h_times))
            k_rate = batch * args.iters / float(np.median(k_times))
            ratio = float(np.median(np.asarray(k_times) / np.asarray(h_times)))
            rows.append((batch, h_rate, h_auc, k_rate, k_auc, ratio, h_times, k_times))
        load_after = load()

    trained = args.warmup_iters + args.rounds * args.iters
    print(
        f"\nMachine: {machine()}; TensorFlow {tf.__version__}, Keras {keras.__version__}; "
        f"load average (1, 5, 15 min) {load_before} before, {load_after} after.\n"
        f"DCN, embedding vec {args.embedding_vec_size}, {len(gen.slot_size_array)} slots "
        f"({sum(gen.slot_size_array):,} possible keys; Keras table {vocabulary:,} rows), "
        f"Adam lr {args.lr}. {args.warmup_iters} warm-up iterations, then {args.rounds} rounds "
        f"of {args.iters} timed iterations per side (medians shown). AUC on {args.eval_samples} "
        f"eval samples after {trained} iterations; Bayes-optimal AUC {gen.bayes_auc:.4f}.\n"
    )
    print("| batch | hugectr_tf.Model samples/s | plain Keras samples/s | speed-up | "
          "AUC hugectr_tf | AUC Keras |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for batch, h_rate, h_auc, k_rate, k_auc, ratio, _, _ in rows:
        print(
            f"| {batch} | {h_rate:,.0f} | {k_rate:,.0f} | {ratio:.2f}x "
            f"| {h_auc:.4f} | {k_auc:.4f} |"
        )
    print("\nRound times in s (hugectr_tf / Keras, paired in the order they ran):")
    for batch, *_, h_times, k_times in rows:
        pairs = ", ".join(f"{h:.2f} / {k:.2f}" for h, k in zip(h_times, k_times))
        print(f"  batch {batch}: {pairs}")


if __name__ == "__main__":
    main()
