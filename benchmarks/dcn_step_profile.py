"""Where one DCN training step goes: `hugectr_tf.Model` next to the same model in plain Keras.

    PYTHONPATH=. python benchmarks/dcn_step_profile.py [--batch 2048] [--iters 20] [--rounds 5]

The models and data are those of benchmarks/train_bench.py (DCN, Norm files, Adam lr 0.001).
Two parts, printed as markdown tables:

1. Wall time per step of nested pieces, each a compiled function run on a fixed batch, the
   pieces' rounds alternating (median ms of `--rounds` rounds of `--iters` calls): the whole
   training iteration as `fit` runs it (reader included), the reader alone, the train step
   alone, the forward + loss, forward + backward (the sparse update runs in the backward), and
   the dense optimizer's apply alone. Differences between rows are the pieces' costs.
2. TensorFlow's profiler over `--iters` train steps of each side (averaged over `--rounds // 2`
   profiles per side), op time summed by kind (ops that run at the same time on the two cores
   add up, and an op's time includes waiting for a core, so a column can exceed the wall time),
   plus the count of op executions per step.
"""

import argparse
import collections
import contextlib
import glob
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
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_bench  # noqa: E402

from hugectr_tf.api.optimizers import fused_apply  # noqa: E402
from hugectr_tf.data import dataset_from_params, split_label  # noqa: E402
from hugectr_tf.examples.keras_reference import build_keras_dcn  # noqa: E402
from hugectr_tf.tools import DataGenerator  # noqa: E402
from hugectr_tf.tools.generator import DEFAULT_SLOT_SIZES  # noqa: E402

NEVER = 10**12  # a display / eval interval the timed runs never reach

# Op kinds of part 2, first match wins (matched against "name:type" of each op execution).
KINDS = [
    ("embedding (lookup, backward, sparse Adam)", ("HugeCTR>Embedding", "Embedding", "embedding")),
    ("MultiCross (fused op or its ops)", ("MultiCross", "multi_cross", "cross")),
    ("dense Adam (optimizer ops)", ("adam/", "Adam/", "optimizer")),
    ("GEMMs (MatMul, fused MatMul)", ("MatMul",)),
    ("concat / slice / reshape", ("ConcatV2", "Slice", "Reshape", "Concat")),
    ("loss (sigmoid cross-entropy)", ("loss", "Sigmoid", "Log1p", "Softplus")),
    ("reader / input", ("IteratorGetNext", "HugeCTR>Read", "Ragged")),
]


def _median_ms(times, iters):
    return 1000.0 * float(np.median(times)) / iters


def wall_pieces(pieces, iters, rounds):
    """{name: median ms per iteration}; each piece runs `iters` iterations per round, the
    pieces' rounds alternating."""
    times = {name: [] for name in pieces}
    for run in pieces.values():
        run(2)  # trace / warm
    for _ in range(rounds):
        for name, run in pieces.items():
            start = time.perf_counter()
            run(iters)
            times[name].append(time.perf_counter() - start)
    return {name: _median_ms(t, iters) for name, t in times.items()}


def _repeat(fn):
    def run(n):
        for _ in range(n):
            fn()

    return run


def hugectr_pieces(model):
    """Nested pieces of hugectr_tf.Model training iterations: {name: run(n)}, and one step."""
    trainer = model._trainer
    network = trainer.network
    batch = trainer.train_reader().next_batch()
    features, labels = network.split(batch)
    dense = list(network.dense_weights)
    optimizer = network.dense_optimizer
    compiled_loop = trainer._train_steps

    def fit(n, loop=True):
        # Model.fit continues from the iteration it reached. `loop=False`: fit's one-step
        # Python loop, as before the compiled loop (the step function is the same).
        trainer._train_steps = compiled_loop if loop else None
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                model.fit(
                    max_iter=trainer.iteration + n, display=NEVER, eval_interval=NEVER, snapshot=0
                )
        finally:
            trainer._train_steps = compiled_loop

    @tf.function
    def forward():
        return network.loss(features, labels, True)[2]

    @tf.function
    def forward_backward():
        embedding_vars = [v for layer in network.embedding_layers for v in layer.trainable_weights]
        with tf.GradientTape() as tape:
            loss = network.loss(features, labels, True)[2]
        grads = tape.gradient(loss, dense + embedding_vars)
        return loss, grads[: len(dense)]

    grads = [tf.identity(g) for g in forward_backward()[1]]
    keras_adam = tf.function(lambda: optimizer.apply(grads, dense))
    fused_adam = tf.function(lambda: fused_apply(optimizer, dense)(grads))
    return {
        "fit iteration, compiled loop (reader + step)": fit,
        "fit iteration, one Python step per iteration": lambda n: fit(n, loop=False),
        "reader next_batch": _repeat(lambda: trainer.train_reader().next_batch()),
        "train step alone (fixed batch, loss read)": _repeat(
            lambda: float(trainer._train_step(features, labels))
        ),
        "forward + loss": _repeat(lambda: forward().numpy()),
        "forward + backward + sparse update": _repeat(lambda: forward_backward()[0].numpy()),
        "dense Adam, Keras (op by op)": _repeat(keras_adam),
        "dense Adam, fused op": _repeat(fused_adam),
    }, lambda: trainer._train_step(features, labels)


def keras_pieces(kmodel, data):
    """The same pieces for the plain Keras model (model.fit's own train function)."""
    features, labels = next(iter(data))
    fixed = iter(tf.data.Dataset.from_tensors((features, labels)).repeat())
    streamed = iter(data.repeat())
    kmodel.make_train_function()
    train_function = kmodel.train_function
    weights = kmodel.trainable_variables
    loss_fn = kmodel.loss

    @tf.function
    def forward():
        return loss_fn(labels, kmodel(features, training=True))

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, kmodel(features, training=True))
        return loss, tape.gradient(loss, weights)

    grads = [tf.convert_to_tensor(g) for g in forward_backward()[1]]
    dense_idx = [i for i, w in enumerate(weights) if "embedding" not in w.path]
    dense = [weights[i] for i in dense_idx]
    dense_grads = [grads[i] for i in dense_idx]
    keras_adam = tf.function(lambda: kmodel.optimizer.apply(dense_grads, dense))
    return {
        "fit iteration, compiled loop (reader + step)": _repeat(lambda: train_function(streamed)),
        "reader next_batch": _repeat(lambda: next(streamed)),
        "train step alone (fixed batch, loss read)": _repeat(
            lambda: float(train_function(fixed)["loss"])
        ),
        "forward + loss": _repeat(lambda: forward().numpy()),
        "forward + backward + sparse update": _repeat(lambda: forward_backward()[0].numpy()),
        "dense Adam, Keras (op by op)": _repeat(keras_adam),
    }, lambda: train_function(fixed)


def op_profile(step, iters):
    """{kind: ms per step}, op executions per step, from TensorFlow's profiler over `iters`."""
    step()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(iters):
            step()
        tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
    totals, types, count = collections.Counter(), collections.Counter(), 0
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if line.name == "python":
                continue  # the caller's thread: function calls, not ops
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" not in name or "::" in name or name.startswith("Eager"):
                    continue  # thread-pool and allocation markers, not ops ("name:type")
                count += 1
                totals[_kind(name)] += event.duration_ps / 1e9
                types[name.split(":")[-1]] += event.duration_ps / 1e9
    per_step = {k: v / iters for k, v in totals.items()}
    return per_step, {k: v / iters for k, v in types.items()}, count / iters


def alternate_profiles(steps, iters, rounds):
    """{side: (kinds, types, op count)}: op_profile of each side's step, averaged over
    `rounds` profiles per side taken in turn, so both see the same background load."""
    sums = {side: [collections.Counter(), collections.Counter(), 0.0] for side in steps}
    for _ in range(rounds):
        for side, step in steps.items():
            kinds, types, count = op_profile(step, iters)
            sums[side][0].update(kinds)
            sums[side][1].update(types)
            sums[side][2] += count
    return {
        side: (
            {k: v / rounds for k, v in a.items()},
            {k: v / rounds for k, v in b.items()},
            c / rounds,
        )
        for side, (a, b, c) in sums.items()
    }


def _kind(name):
    for kind, needles in KINDS:
        if any(n in name for n in needles):
            return kind
    return "other (elementwise, bias, casts, ...)"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--train-samples", type=int, default=400_000)
    p.add_argument("--eval-samples", type=int, default=2048)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--top-ops", type=int, default=0, help="also list the N costliest op types")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        gen = DataGenerator(
            folder,
            "Norm",
            num_train_samples=args.train_samples,
            num_eval_samples=args.eval_samples,
            num_files=8,
            slot_size_array=DEFAULT_SLOT_SIZES,
            seed=2026,
        ).generate()
        before = train_bench.load()
        hmodel, _ = train_bench.hugectr_dcn(gen, args.batch, 16, args.lr)
        with contextlib.redirect_stdout(io.StringIO()):
            hmodel.fit(max_iter=5, display=10**12, eval_interval=10**12, snapshot=0)
        vocabulary = int(sum(gen.slot_size_array))  # one row per possible key, as train_bench
        kmodel = build_keras_dcn(gen.dense_dim, len(gen.slot_size_array), 16, vocabulary)
        kmodel.compile(
            optimizer=keras.optimizers.Adam(learning_rate=args.lr),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
        )
        params, inp = gen.reader_params(), gen.input()
        data = split_label(dataset_from_params(params, inp, args.batch, train=True), inp)
        h_pieces, h_step = hugectr_pieces(hmodel)
        k_pieces, k_step = keras_pieces(kmodel, data)
        pieces = {("h", n): f for n, f in h_pieces.items()}
        pieces.update({("k", n): f for n, f in k_pieces.items()})
        wall = wall_pieces(pieces, args.iters, args.rounds)
        profiles = alternate_profiles({"h": h_step, "k": k_step}, args.iters, args.rounds // 2 or 1)
        (h_ops, h_types, h_count), (k_ops, k_types, k_count) = profiles["h"], profiles["k"]
        after = train_bench.load()
    print(
        f"\nMachine: {train_bench.machine()}; TensorFlow {tf.__version__}, Keras "
        f"{keras.__version__}; load average {before} before, {after} after. DCN batch "
        f"{args.batch}; {args.rounds} alternating rounds of {args.iters} calls (median).\n"
    )
    print("| piece (ms per step) | hugectr_tf.Model | plain Keras |")
    print("|---|---:|---:|")
    for name in h_pieces:
        keras_ms = f"{wall[('k', name)]:.2f}" if ("k", name) in wall else "-"
        print(f"| {name} | {wall[('h', name)]:.2f} | {keras_ms} |")
    print(
        "\n| op kind (ms of op time per step, both cores summed) | hugectr_tf.Model | plain Keras |"
    )
    print("|---|---:|---:|")
    for kind in sorted(set(h_ops) | set(k_ops), key=lambda k: -(h_ops.get(k, 0) + k_ops.get(k, 0))):
        print(f"| {kind} | {h_ops.get(kind, 0):.2f} | {k_ops.get(kind, 0):.2f} |")
    print(f"| op executions per step | {h_count:.0f} | {k_count:.0f} |")
    for side, types in (("hugectr_tf.Model", h_types), ("plain Keras", k_types)):
        top = sorted(types.items(), key=lambda kv: -kv[1])[: args.top_ops]
        if top:
            print(
                f"\n{side}, costliest op types (ms per step): "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in top)
            )


if __name__ == "__main__":
    main()
