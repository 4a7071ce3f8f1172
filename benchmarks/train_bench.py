"""Training throughput of the hugectr API (`hugectr_tf.Model`) against peers, on the same
generated data, in one invocation. Prints a markdown table.

    PYTHONPATH=. python benchmarks/train_bench.py [--batch-sizes 2048 16384] [--slot-scale 100]
    PYTHONPATH=. python benchmarks/train_bench.py --model dlrm --torchrec-python PY

`--model dcn` (default) compares with the same DCN in plain Keras in this process;
`--model dlrm` with TorchRec's fused CPU path, run by `benchmarks/torchrec_dlrm_peer.py` in a
separate virtualenv whose python is `--torchrec-python` (or $TORCHREC_PYTHON; docs/benchmarks.md
shows how to make it); without one, only hugectr_tf is measured.

DCN:

* hugectr_tf: `build_dcn` of `hugectr_tf.examples.dcn_demo` (SparseEmbedding with Adam, Local
  update; Reshape, Concat, Slice, MultiCross x3, InnerProduct 256/128 + ReLU, InnerProduct 1,
  BCE), trained with `Model.fit` in iteration mode (Adam, lr 0.001), reading the files through
  the Model's own data reader.
* plain Keras: `build_keras_dcn` of `hugectr_tf.examples.keras_reference`
  (`keras.layers.Embedding` over `key % vocabulary`, the same towers), `keras.optimizers.Adam`
  (lr 0.001), trained with `model.fit(verbose=0)` on `dataset_from_params(...)` split into
  (features, label): the same files, read by the same reader.

DLRM (HugeCTR's DLRM sample, sized as the issue's comparison): Raw data, 26 one-hot slots of
`--dlrm-rows` ids each, 13 dense features; hugectr_tf: LocalizedSlotSparseEmbeddingOneHot (vec 16,
sum) with AdaGrad (Local update), bottom FusedInnerProduct 64, 16, Interaction, top
FusedInnerProduct 256, InnerProduct 1, BCE; AdaGrad lr 0.01 for tables and dense weights. TorchRec:
the same model as `DLRM` over a `FusedEmbeddingBagCollection` (26 tables, fused AdaGrad), dense
AdaGrad, same learning rate (torchrec_dlrm_peer.py says more). The peer runs with
OMP_WAIT_POLICY=PASSIVE and, while one side runs a round, the other waits idle.

Data (DCN): DataGenerator Norm files (Criteo-like: 13 dense features, 26 slots, two of them
multi-hot) with a planted label model. Each side first trains `--warmup-iters` iterations
(tf.function tracing, embedding-table inserts, reader start-up; not timed), then `--rounds` timed
rounds of `--iters` iterations each, the rounds of the two sides alternating (hugectr, peer,
hugectr, ...) so that both see the same background load on a shared machine; samples/s is the
median over rounds and the speed-up the median over rounds of (peer round time / hugectr round
time), which cancels load that drifts between rounds. Both sides train on the same number of
samples, after which each is evaluated on the whole eval set: the AUC column is a sanity check
that both learned the same thing (the generator's Bayes-optimal AUC is printed).
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
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
PEER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchrec_dlrm_peer.py")


def workspace_mb(num_keys, vec):
    """A workspace that holds every generated key: Adam rows take 56 + 12 * vec bytes
    (docs/embedding.md), plus 10% and 16 MB of headroom; at least `build_dcn`'s 64 MB."""
    return max(64, int(num_keys * (56 + 12 * vec) / 2**20 * 1.1) + 16)


def hugectr_dcn(gen, batch, vec, lr, jit_compile=False, **solver_kwargs):
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
        **solver_kwargs,
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
    model.compile(jit_compile=jit_compile)
    return model, eval_batches


def hugectr_dlrm(gen, batch, vec, lr, bottom, top, jit_compile=False, **solver_kwargs):
    """HugeCTR's DLRM sample through the hugectr API over `gen`'s Raw files, compiled."""
    eval_batches = gen.num_eval_samples // batch
    solver = hugectr.CreateSolver(
        max_eval_batches=eval_batches,
        batchsize_eval=batch,
        batchsize=batch,
        lr=lr,
        vvgpu=[[0]],
        repeat_dataset=True,
        metrics_spec={hugectr.MetricsType.AUC: 1.0},
        **solver_kwargs,
    )
    optimizer = hugectr.CreateOptimizer(
        optimizer_type=hugectr.Optimizer_t.Adagrad, update_type=hugectr.Update_t.Local
    )
    L = hugectr.Layer_t
    model = hugectr.Model(solver, gen.reader_params(), optimizer)
    model.add(gen.input())
    rows = [int(s) for s in gen.slot_size_array]
    model.add(
        hugectr.SparseEmbedding(
            embedding_type=hugectr.Embedding_t.LocalizedSlotSparseEmbeddingOneHot,
            workspace_size_per_gpu_in_mb=workspace_mb(sum(rows), vec),
            embedding_vec_size=vec,
            combiner="sum",
            sparse_embedding_name="sparse_embedding1",
            bottom_name="data1",
            slot_size_array=rows,
            optimizer=optimizer,
        )
    )
    previous = "dense"
    for i, units in enumerate(bottom):
        model.add(
            hugectr.DenseLayer(L.FusedInnerProduct, [previous], [f"bottom{i}"], num_output=units)
        )
        previous = f"bottom{i}"
    model.add(hugectr.DenseLayer(L.Interaction, [previous, "sparse_embedding1"], ["interaction1"]))
    previous = "interaction1"
    for i, units in enumerate(top):
        kind = L.InnerProduct if i == len(top) - 1 else L.FusedInnerProduct
        model.add(hugectr.DenseLayer(kind, [previous], [f"top{i}"], num_output=units))
        previous = f"top{i}"
    model.add(hugectr.DenseLayer(L.BinaryCrossEntropyLoss, [previous, "label"], ["loss"]))
    model.compile(jit_compile=jit_compile)
    return model, eval_batches


class TorchRecPeer:
    """`torchrec_dlrm_peer.py` in its own interpreter, trained round by round on request."""

    def __init__(self, python, gen, args):
        cmd = [
            python, PEER_SCRIPT, "--train", gen.train_source, "--eval", gen.eval_source,
            "--dense-dim", str(gen.dense_dim), "--slots", str(len(gen.slot_size_array)),
            "--rows", str(args.dlrm_rows), "--vec", str(args.embedding_vec_size),
            "--bottom", *map(str, args.dlrm_bottom), "--top", *map(str, args.dlrm_top),
            "--batch", str(args.batch), "--lr", str(args.lr),
            "--warmup-iters", str(args.warmup_iters), "--iters", str(args.iters),
        ]  # fmt: skip
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.info = self._reply()

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the TorchRec peer exited (code {self.proc.wait()}); see stderr")
        return json.loads(line)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def bench_dlrm(gen, args, python):
    """Round times of hugectr_tf and (with `python`) TorchRec, alternating, and their AUCs."""
    peer = TorchRecPeer(python, gen, args) if python else None  # warms up meanwhile
    hmodel, eval_batches = hugectr_dlrm(
        gen, args.batch, args.embedding_vec_size, args.lr, args.dlrm_bottom, args.dlrm_top
    )
    log = io.StringIO()
    h_times, t_times, trained = [], [], [args.warmup_iters]

    def hugectr_fit(max_iter):
        with contextlib.redirect_stdout(log):
            hmodel.fit(max_iter=max_iter, display=NEVER, eval_interval=NEVER, snapshot=0)

    hugectr_fit(args.warmup_iters)
    for _ in range(args.rounds):
        trained[0] += args.iters
        start = time.perf_counter()
        hugectr_fit(trained[0])
        h_times.append(time.perf_counter() - start)
        if peer is not None:
            t_times.append(peer.ask("round")["seconds"])
    for _ in range(eval_batches):
        hmodel.eval()
    h_auc = dict(hmodel.get_eval_metrics())["AUC"]
    t_auc, info = float("nan"), {}
    if peer is not None:
        t_auc, info = peer.ask("eval")["auc"], peer.info
        peer.close()
    return h_times, h_auc, t_times, t_auc, info


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
    parser.add_argument("--model", choices=("dcn", "dlrm"), default="dcn")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", help="default: 2048 16384 (dcn), 4096 (dlrm)"
    )
    parser.add_argument("--iters", type=int, default=30, help="iterations per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median shown)")
    parser.add_argument("--warmup-iters", type=int, default=10)
    parser.add_argument(
        "--train-samples", type=int, help="default: 400,000 (dcn); every trained batch (dlrm)"
    )
    parser.add_argument("--eval-samples", type=int, default=50_000)
    parser.add_argument("--embedding-vec-size", type=int, default=16)
    parser.add_argument("--lr", type=float, help="default: 0.001 (dcn, Adam), 0.01 (dlrm, AdaGrad)")
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
    parser.add_argument("--dlrm-slots", type=int, default=26)
    parser.add_argument("--dlrm-rows", type=int, default=100_000, help="ids per DLRM slot")
    parser.add_argument("--dlrm-bottom", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--dlrm-top", type=int, nargs="+", default=[256, 1])
    parser.add_argument(
        "--torchrec-python",
        default=os.environ.get("TORCHREC_PYTHON", ""),
        help="python of a virtualenv with torch, fbgemm-gpu-cpu and torchrec (DLRM peer)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.model == "dlrm":
        main_dlrm(args)
    else:
        main_dcn(args)


def main_dlrm(args):
    batches = args.batch_sizes or [4096]
    args.lr = args.lr or 0.01
    python = args.torchrec_python
    if python and not os.path.isfile(python):
        sys.exit(f"--torchrec-python {python!r} is not a file")
    trained = args.warmup_iters + args.rounds * args.iters
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        gen = DataGenerator(
            folder,
            "Raw",
            num_train_samples=args.train_samples or (trained + 1) * max(batches),
            num_eval_samples=args.eval_samples,
            slot_size_array=[args.dlrm_rows] * args.dlrm_slots,
            nnz_per_slot=[1] * args.dlrm_slots,
            seed=args.seed,
        ).generate()
        load_before = load()
        for batch in batches:
            args.batch = batch
            h_times, h_auc, t_times, t_auc, info = bench_dlrm(gen, args, python)
            rows.append((batch, h_times, h_auc, t_times, t_auc, info))
        load_after = load()
    peer = rows[0][5]
    versions = (
        f"; TorchRec peer: torch {peer['torch']}, torchrec {peer['torchrec']}, "
        f"{peer['threads']} threads, OMP_WAIT_POLICY=PASSIVE"
        if peer
        else "; no TorchRec peer (--torchrec-python not given)"
    )
    print(
        f"\nMachine: {machine()}; TensorFlow {tf.__version__}, Keras {keras.__version__}"
        f"{versions}; load average (1, 5, 15 min) {load_before} before, {load_after} after.\n"
        f"DLRM: {args.dlrm_slots} one-hot slots x {args.dlrm_rows:,} ids x vec "
        f"{args.embedding_vec_size}, bottom 13-{'-'.join(map(str, args.dlrm_bottom))}, dot "
        f"interaction, top {'-'.join(map(str, args.dlrm_top))}, AdaGrad lr {args.lr}. "
        f"{args.warmup_iters} warm-up iterations, then {args.rounds} alternating rounds of "
        f"{args.iters} timed iterations per side (medians shown). AUC on "
        f"{args.eval_samples} eval samples after {trained} iterations; Bayes-optimal AUC "
        f"{gen.bayes_auc:.4f}.\n"
    )
    print("| batch | hugectr_tf.Model samples/s | TorchRec samples/s | speed-up | "
          "AUC hugectr_tf | AUC TorchRec |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    for batch, h_times, h_auc, t_times, t_auc, _ in rows:
        h_rate = batch * args.iters / float(np.median(h_times))
        if t_times:
            t_rate = batch * args.iters / float(np.median(t_times))
            ratio = float(np.median(np.asarray(t_times) / np.asarray(h_times)))
            peer_cells = f"{t_rate:,.0f} | {ratio:.2f}x"
        else:
            peer_cells = "- | -"
        print(f"| {batch} | {h_rate:,.0f} | {peer_cells} | {h_auc:.4f} | {t_auc:.4f} |")
    print("\nRound times in s (hugectr_tf / TorchRec, paired in the order they ran):")
    for batch, h_times, _, t_times, *_ in rows:
        pairs = ", ".join(
            f"{h:.2f} / {t:.2f}" for h, t in zip(h_times, t_times or [float("nan")] * len(h_times))
        )
        print(f"  batch {batch}: {pairs}")


def main_dcn(args):
    batches = args.batch_sizes or [2048, 16384]
    args.lr = args.lr or 0.001
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        gen = DataGenerator(
            folder,
            "Norm",
            num_train_samples=args.train_samples or 400_000,
            num_eval_samples=args.eval_samples,
            num_files=8,
            slot_size_array=[s * args.slot_scale for s in DEFAULT_SLOT_SIZES],
            seed=args.seed,
        ).generate()
        vocabulary = args.keras_vocabulary or int(sum(gen.slot_size_array))
        load_before = load()
        for batch in batches:
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
