"""Fused dense CPU kernels versus the stock TensorFlow ops they replace, forward + backward, in
one process run. Prints a markdown table.

    PYTHONPATH=. python benchmarks/dense_kernels_bench.py [--rounds 7] [--iters 20]

Each case is one `tf.function` computing the layer and the gradients with respect to its inputs
and weights (what a training step needs), on fixed random inputs. The stock version is the
layer's formula in TensorFlow ops as the Keras layer runs it without the fused kernel (grappler
and oneDNN on); the fused one is the custom op. Rounds of `--iters` calls alternate between the
two so that both see the same background load; the table shows the median round per call and
the median over rounds of the paired ratio.
"""

import argparse
import os
import subprocess
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from hugectr_tf.ops import dense_ops  # noqa: E402


def stock_multi_cross(x0, w, b):
    x = x0
    for layer in range(w.shape[0]):
        x = x0 * tf.matmul(x, w[layer : layer + 1], transpose_b=True) + b[layer] + x
    return x


def stock_interaction(mlp, emb):
    n = emb.shape[1] + 1
    rows, cols = np.tril_indices(n, k=-1)
    pairs_index = tf.constant(rows * n + cols, tf.int32)
    z = tf.concat([mlp[:, None, :], emb], axis=1)
    gram = tf.reshape(tf.matmul(z, z, transpose_b=True), [-1, n * n])
    pairs = tf.gather(gram, pairs_index, axis=1)
    return tf.concat([mlp, pairs, tf.zeros_like(pairs[:, :1])], axis=1)


def stock_inner_product(relu):
    def layer(x, kernel, bias):
        y = tf.matmul(x, kernel) + bias
        return tf.nn.relu(y) if relu else y

    return layer


def fused_inner_product(relu):
    return lambda x, kernel, bias: dense_ops.inner_product(x, kernel, bias, relu=relu)


def training_call(fn, inputs):
    """A tf.function returning fn(inputs) and its gradients w.r.t. every input."""
    variables = [tf.Variable(a) for a in inputs]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = fn(*variables)
            loss = tf.reduce_sum(out * out) * 1e-6
        return tape.gradient(loss, variables)

    return step


def cases(rng):
    f32 = "float32"
    out = []
    for batch in (2048, 16384):
        width, layers = 429, 3  # the DCN of docs/benchmarks.md: 26 x 16 + 13 inputs
        inputs = [
            rng.normal(size=(batch, width)).astype(f32),
            (rng.normal(size=(layers, width)) / 20).astype(f32),
            (rng.normal(size=(layers, width)) / 10).astype(f32),
        ]
        name = f"MultiCross 3 layers, batch {batch} x {width}"
        out.append((name, stock_multi_cross, dense_ops.multi_cross, inputs))
    for batch in (4096,):
        f, w = 26, 16  # the DLRM of benchmarks/train_bench.py --model dlrm
        inputs = [
            rng.normal(size=(batch, w)).astype(f32),
            rng.normal(size=(batch, f, w)).astype(f32),
        ]
        name = f"Interaction, batch {batch}, {f} x {w} + MLP {w}"
        out.append((name, stock_interaction, dense_ops.dot_interaction, inputs))
    # InnerProduct layers of the DCN (batch 2048) and of the DLRM (batch 4096) benchmarks.
    for batch, n_in, n_out, relu in (
        (2048, 429, 256, True),
        (2048, 256, 128, True),
        (2048, 557, 1, False),
        (4096, 13, 64, True),
        (4096, 64, 16, True),
        (4096, 368, 256, True),
        (4096, 256, 1, False),
    ):
        inputs = [
            rng.normal(size=(batch, n_in)).astype(f32),
            (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(f32),
            rng.normal(scale=0.1, size=(n_out,)).astype(f32),
        ]
        kind = "FusedInnerProduct" if relu else "InnerProduct"
        name = f"{kind} {n_in} -> {n_out}, batch {batch}"
        out.append((name, stock_inner_product(relu), fused_inner_product(relu), inputs))
    return out


def time_round(step, iters):
    start = time.perf_counter()
    for _ in range(iters):
        grads = step()
    grads[0].numpy()
    return (time.perf_counter() - start) / iters


def machine():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next(
        (ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if "Model name" in ln), "?"
    )
    return f"{name}, nproc {os.cpu_count()}, TensorFlow {tf.__version__}, float32"


def load():
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    before = load()
    rows = []
    for name, stock, fused, inputs in cases(rng):
        steps = [training_call(stock, inputs), training_call(fused, inputs)]
        for step in steps:  # trace and warm up
            time_round(step, 3)
        times = [[], []]
        for _ in range(args.rounds):
            for k, step in enumerate(steps):
                times[k].append(time_round(step, args.iters))
        ratio = float(np.median(np.asarray(times[0]) / np.asarray(times[1])))
        rows.append((name, np.median(times[0]) * 1e3, np.median(times[1]) * 1e3, ratio))
    print(f"\n{machine()}; load average {before} before, {load()} after.")
    print(f"fwd + bwd per call, median of {args.rounds} rounds of {args.iters} calls.\n")
    print("| case | stock TF ms | fused op ms | speed-up |")
    print("|---|---:|---:|---:|")
    for name, stock_ms, fused_ms, ratio in rows:
        print(f"| {name} | {stock_ms:.2f} | {fused_ms:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
