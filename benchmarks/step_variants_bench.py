"""The same network trained in several ways side by side in one process: what each of this
project's step options gains. Prints a markdown table.

    PYTHONPATH=. python benchmarks/step_variants_bench.py [--model dcn|dlrm] [--batch-sizes ...]

Every variant is its own model on the same generated files (as benchmarks/train_bench.py makes
them); each trains `--warmup-iters` untimed iterations, then `--rounds` rounds of `--iters`
iterations, the rounds of all variants alternating so that they share the background load.
The table shows samples/s of the median round and, per variant, the median over rounds of
(baseline round time / variant round time).

hugectr_tf.Model variants (baseline: the first):
* `fused kernels (default)`: `Model.compile()`; MultiCross / Interaction run the fused CPU ops.
* `Keras Adam (op by op)`: the dense weights updated by `keras.optimizers.Adam.apply` instead
  of the fused `HugeCTR>FusedAdam` op (the same arithmetic): the fused Adam's gain.
* `fit: one Python step per iteration`: `Model.fit` calling the step function once per
  iteration with a batch read in Python, instead of its compiled loop: the loop's gain.
* `stock TF ops`: the same, traced under `dense_ops.stock_ops_only()` (no fused MultiCross,
  Interaction or Adam): the fused kernels' gain.
* `jit_compile=True`: `Model.compile(jit_compile=True)`, the split step (dense part XLA-compiled,
  lookups and sparse updates outside it).
* `use_mixed_precision=True`: `CreateSolver(use_mixed_precision=True, scaler=1024)`, which on a
  CPU without bfloat16 computes in float32 (hugectr_tf/api/precision.py); its AUC shows the
  scaled loss trains as float32 does.
* `mixed_float16 (emulated)`, with `--emulated-float16`: what `use_mixed_precision=True` did
  before on a CPU: Keras' mixed_float16 policy (float16 is emulated on CPUs).

Keras variants (`--model dcn`; baseline: the first): a functional Keras DCN holding
`SparseEmbedding` (the towers of `keras_reference.build_keras_dcn`, Adam 0.001), trained with
`train_on_batch` on batches read once before timing, compiled without and with
`jit_compile=True` (the split step).
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_bench  # noqa: E402

from hugectr_tf.api import precision, training  # noqa: E402
from hugectr_tf.api.metrics import exact_auc  # noqa: E402
from hugectr_tf.data import dataset_from_params, split_label  # noqa: E402
from hugectr_tf.keras.layers import MultiCross, SparseEmbedding  # noqa: E402
from hugectr_tf.ops import dense_ops  # noqa: E402
from hugectr_tf.tools import DataGenerator  # noqa: E402
from hugectr_tf.tools.generator import DEFAULT_SLOT_SIZES  # noqa: E402


class HugectrVariant:
    """A hugectr_tf.Model trained round by round with Model.fit (its own reader); `scope(model)`
    is a context manager entered around every fit and evaluation (it changes what is traced)."""

    def __init__(self, name, build, scope=None):
        self.name, self.scope = name, scope or (lambda model: contextlib.nullcontext())
        self.model, self.eval_batches = build()
        self.trained, self.times = 0, []

    def fit(self, iters):
        self.trained += iters
        with self.scope(self.model), contextlib.redirect_stdout(io.StringIO()):
            self.model.fit(max_iter=self.trained, display=10**12, eval_interval=10**12, snapshot=0)

    def auc(self):
        with self.scope(self.model):
            for _ in range(self.eval_batches):
                self.model.eval()
            return dict(self.model.get_eval_metrics())["AUC"]


def keras_sparse_dcn(gen, vec):
    """The towers of keras_reference.build_keras_dcn over a SparseEmbedding table."""
    slots = len(gen.slot_size_array)
    dense = keras.Input(shape=(gen.dense_dim,), name="dense")
    sparse = keras.Input(shape=(slots, None), name="data1", dtype="int64", ragged=True)
    emb = SparseEmbedding(
        vec,
        slots,
        workspace_size_per_gpu_in_mb=train_bench.workspace_mb(sum(gen.slot_size_array), vec),
        optimizer="Adam",
    )(sparse)
    x0 = keras.layers.Concatenate()([keras.layers.Reshape((slots * vec,))(emb), dense])
    cross = MultiCross(3)(x0)
    deep = keras.layers.Dense(256, activation="relu", name="fc1")(x0)
    deep = keras.layers.Dense(128, activation="relu", name="fc2")(deep)
    logit = keras.layers.Dense(1, name="logit")(keras.layers.Concatenate()([cross, deep]))
    return keras.Model({"dense": dense, "data1": sparse}, logit)


class KerasVariant:
    """A Keras model holding SparseEmbedding trained with train_on_batch on batches in memory."""

    def __init__(self, name, gen, batches, vec, lr, jit):
        keras.utils.set_random_seed(0)
        self.name, self.batches, self.gen = name, batches, gen
        self.model = keras_sparse_dcn(gen, vec)
        self.model.compile(
            optimizer=keras.optimizers.Adam(lr),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            jit_compile=jit,
        )
        self.step, self.times = 0, []

    def fit(self, iters):
        for _ in range(iters):
            x, y = self.batches[self.step % len(self.batches)]
            self.model.train_on_batch(x, y)
            self.step += 1

    def auc(self):
        params, inp = self.gen.reader_params(), self.gen.input()
        batch = self.batches[0][1].shape[0]
        data = split_label(dataset_from_params(params, inp, batch, train=False, repeat=False), inp)
        labels, scores = [], []
        for x, y in data:
            scores.append(self.model.predict_on_batch(x).reshape(-1))
            labels.append(y.numpy().reshape(-1))
        return exact_auc(np.concatenate(labels), np.concatenate(scores))


def progress(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(variants, args, batch):
    for v in variants:
        start = time.perf_counter()
        v.fit(args.warmup_iters)
        progress(f"batch {batch}, {v.name}: warm-up {time.perf_counter() - start:.1f} s")
    for r in range(args.rounds):
        for v in variants:
            start = time.perf_counter()
            v.fit(args.iters)
            v.times.append(time.perf_counter() - start)
        progress(f"round {r}: " + ", ".join(f"{t.times[-1]:.2f}" for t in variants))
    base = np.asarray(variants[0].times)
    rows = []
    for v in variants:
        rate = batch * args.iters / float(np.median(v.times))
        rows.append((v.name, rate, float(np.median(base / np.asarray(v.times))), v.auc()))
    return rows


def stock_ops(model):
    return dense_ops.stock_ops_only()


@contextlib.contextmanager
def keras_adam(model):
    """Traces the dense optimizer step as Keras' op-by-op Adam instead of the fused op."""
    original = training.fused_apply
    training.fused_apply = lambda optimizer, variables: (
        lambda grads: optimizer.apply(grads, variables)
    )
    try:
        yield
    finally:
        training.fused_apply = original


@contextlib.contextmanager
def python_loop(model):
    """`Model.fit` with one Python step per iteration (what it did before the compiled loop)."""
    trainer = model._trainer
    compiled, trainer._train_steps = trainer._train_steps, None
    try:
        yield
    finally:
        trainer._train_steps = compiled


def hugectr_variants(gen, args, batch):
    if args.model == "dcn":

        def build(**kw):
            return train_bench.hugectr_dcn(gen, batch, args.embedding_vec_size, args.lr, **kw)
    else:

        def build(**kw):
            return train_bench.hugectr_dlrm(
                gen, batch, args.embedding_vec_size, args.lr, args.dlrm_bottom, args.dlrm_top, **kw
            )

    mixed = {"use_mixed_precision": True, "scaler": 1024}
    variants = [
        HugectrVariant("fused kernels (default)", build),
        HugectrVariant("Keras Adam (op by op) instead of the fused Adam", build, keras_adam),
        HugectrVariant("fit: one Python step per iteration", build, python_loop),
        HugectrVariant("stock TF ops", build, stock_ops),
        HugectrVariant("jit_compile=True (split step)", lambda: build(jit_compile=True)),
        HugectrVariant("use_mixed_precision=True", lambda: build(**mixed)),
    ]
    if args.emulated_float16:
        variants.append(
            HugectrVariant("mixed_float16 (emulated float16)", lambda: _with_policy(build, mixed))
        )
    return variants


def _with_policy(build, solver_kwargs):
    """A mixed-precision Model whose layers are made under Keras' mixed_float16 policy."""
    original = precision.mixed_precision_policy
    precision.mixed_precision_policy = lambda *a, **k: ("mixed_float16", None)
    try:
        return build(**solver_kwargs)
    finally:
        precision.mixed_precision_policy = original


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("dcn", "dlrm"), default="dcn")
    p.add_argument("--batch-sizes", type=int, nargs="+")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup-iters", type=int, default=8)
    p.add_argument("--train-samples", type=int, default=400_000)
    p.add_argument("--eval-samples", type=int, default=50_000)
    p.add_argument("--embedding-vec-size", type=int, default=16)
    p.add_argument("--lr", type=float)
    p.add_argument("--dlrm-rows", type=int, default=100_000)
    p.add_argument("--dlrm-bottom", type=int, nargs="+", default=[64, 16])
    p.add_argument("--dlrm-top", type=int, nargs="+", default=[256, 1])
    p.add_argument("--no-keras", action="store_true", help="skip the Keras variants (dcn)")
    p.add_argument(
        "--emulated-float16", action="store_true", help="add Keras' mixed_float16 policy"
    )
    args = p.parse_args()
    dlrm = args.model == "dlrm"
    batches = args.batch_sizes or ([4096] if dlrm else [2048])
    args.lr = args.lr or (0.01 if dlrm else 0.001)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        gen = DataGenerator(
            folder,
            "Raw" if dlrm else "Norm",
            num_train_samples=args.train_samples,
            num_eval_samples=args.eval_samples,
            num_files=1 if dlrm else 8,
            slot_size_array=[args.dlrm_rows] * 26 if dlrm else DEFAULT_SLOT_SIZES,
            nnz_per_slot=[1] * 26 if dlrm else None,
            seed=2026,
        ).generate()
        before = train_bench.load()
        for batch in batches:
            results.append(
                (batch, "hugectr_tf.Model", run(hugectr_variants(gen, args, batch), args, batch))
            )
            if not dlrm and not args.no_keras:
                data = split_label(
                    dataset_from_params(gen.reader_params(), gen.input(), batch, train=True),
                    gen.input(),
                )
                cached = list(data.take(args.warmup_iters + args.iters))
                keras_variants = [
                    KerasVariant(f"Keras + SparseEmbedding, jit_compile={jit}", gen, cached,
                                 args.embedding_vec_size, args.lr, jit)
                    for jit in (False, True)
                ]  # fmt: skip
                results.append((batch, "Keras train_on_batch", run(keras_variants, args, batch)))
        after = train_bench.load()
    print(
        f"\nMachine: {train_bench.machine()}; TensorFlow {tf.__version__}, Keras "
        f"{keras.__version__}; load average (1, 5, 15 min) {before} before, {after} after.\n"
        f"{args.model.upper()}, vec {args.embedding_vec_size}; {args.warmup_iters} warm-up "
        f"iterations, then {args.rounds} alternating rounds of {args.iters} iterations per "
        f"variant. Bayes-optimal AUC {gen.bayes_auc:.4f}.\n"
    )
    print("| batch | family | variant | samples/s | speed-up vs first | AUC |")
    print("|---:|---|---|---:|---:|---:|")
    for batch, family, rows in results:
        for name, rate, ratio, auc in rows:
            print(f"| {batch} | {family} | {name} | {rate:,.0f} | {ratio:.2f}x | {auc:.4f} |")


if __name__ == "__main__":
    main()
