"""Embedding training-step throughput: hugectr_tf SparseEmbedding vs plain Keras vs a TF-only
dynamic embedding, on one Criteo-like configuration, in one process run.

Each step is forward + backward + Adam update of the embedding for one batch of
`batch x slots` keys (one key per slot, as Criteo), with loss = mean(emb^2) so that the dense part
costs next to nothing. Keys follow a Zipf law over `--ids` ids (rank r drawn with probability
proportional to r^-zipf, ranks shuffled over the id space).

  * hugectr_tf     : SparseEmbedding (hash table, insert on first sight, sparse Adam in C++),
                     given the dense int64 [batch, slots] keys (one key per slot).
  * keras.Embedding: keras.layers.Embedding(vocab, vec) over id % vocab, Keras Adam.
  * tf MutableHashTable: tf.lookup.experimental.MutableHashTable key -> row index plus
    tf.Variable rows and Adam moments, lazy (Local) Adam with scatter updates.

Prints a markdown table: median step time and keys/s (keys = batch x slots per step), and the
machine's random row-gather rate, the bound a step's memory traffic sets: rows of `vec` float32
gathered at uniformly random indices from a table holding as many rows as the batches have
distinct keys, with every core busy (the faster of `tf.gather` and numpy's `take` on one slice of
the indices per core); hugectr_tf's keys/s is also shown as a share of it.
Run: `PYTHONPATH=. python benchmarks/embedding_bench.py` (defaults: the acceptance
configuration, few steps); `--help` for the knobs.
"""

import argparse
import os
import platform
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from hugectr_tf import CreateOptimizer  # noqa: E402
from hugectr_tf.keras.layers import SparseEmbedding  # noqa: E402


def zipf_batches(rng, count, batch, slots, ids, exponent):
    """`count` int64 key matrices [batch, slots], Zipf-distributed over [0, ids)."""
    ranks = np.arange(1, ids + 1, dtype=np.float64)
    cdf = np.cumsum(ranks**-exponent)
    cdf /= cdf[-1]
    shuffle = rng.permutation(ids).astype(np.int64)
    out = []
    for _ in range(count):
        r = np.searchsorted(cdf, rng.random(batch * slots))
        out.append(shuffle[np.minimum(r, ids - 1)].reshape(batch, slots))
    return out


def time_steps(step, inputs, warmup):
    """Runs every input once; returns the median seconds of the steps after `warmup`."""
    times = []
    for i, x in enumerate(inputs):
        t0 = time.perf_counter()
        out = step(x)
        if isinstance(out, tf.Tensor):
            out.numpy()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_hugectr(batches, vec, update, warmup):
    slots = batches[0].shape[1]
    unique = len(np.unique(np.concatenate([b.ravel() for b in batches])))
    per_row = 56 + 4 * vec * 3  # docs/embedding.md: bytes per row with Adam
    layer = SparseEmbedding(
        vec,
        slots,
        workspace_size_per_gpu_in_mb=int(unique * per_row / 2**20 * 1.2) + 16,
        optimizer=CreateOptimizer(update_type=update),
        learning_rate=0.001,
    )

    @tf.function
    def step(keys):
        # One key per slot: the dense [batch, slots] keys go in as they are, the input a user
        # with one-hot slots passes (a RaggedTensor is for slots holding several keys).
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(layer(keys, training=True) ** 2)
        tape.gradient(loss, layer.trainable_weights)  # runs the sparse Adam update
        return loss

    layer(tf.constant(batches[0][:1]))  # build
    return time_steps(step, [tf.constant(b) for b in batches], warmup)


def bench_keras(batches, vec, vocab, warmup):
    layer = keras.layers.Embedding(vocab, vec)
    layer.build((None,))
    opt = keras.optimizers.Adam(0.001)
    opt.build(layer.trainable_variables)

    @tf.function
    def step(keys):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(layer(keys % vocab) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables))
        return loss

    return time_steps(step, [tf.constant(b) for b in batches], warmup)


class MutableHashEmbedding(tf.Module):
    """TF-only dynamic embedding: MutableHashTable key -> row, rows and Adam moments in
    variables preallocated to `capacity` rows, lazy Adam on the rows of the batch."""

    def __init__(self, capacity, vec, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
        self.index = tf.lookup.experimental.MutableHashTable(tf.int64, tf.int64, -1)
        self.rows = tf.Variable(tf.random.uniform([capacity, vec], -0.05, 0.05))
        self.m = tf.Variable(tf.zeros([capacity, vec]))
        self.v = tf.Variable(tf.zeros([capacity, vec]))
        self.size = tf.Variable(0, dtype=tf.int64)
        self.t = tf.Variable(0.0)
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps

    def ids_of(self, keys):
        unique, inverse = tf.unique(tf.reshape(keys, [-1]))
        found = self.index.lookup(unique)
        missing = tf.where(found < 0)[:, 0]
        new_ids = self.size + tf.range(tf.size(missing, tf.int64), dtype=tf.int64)
        with tf.control_dependencies([self.index.insert(tf.gather(unique, missing), new_ids)]):
            self.size.assign_add(tf.size(missing, tf.int64))
            ids = tf.tensor_scatter_nd_update(found, missing[:, None], new_ids)
        return ids, inverse

    def train_step(self, keys):
        ids, inverse = self.ids_of(keys)
        with tf.GradientTape() as tape:
            rows = tf.gather(self.rows, ids)
            tape.watch(rows)
            emb = tf.gather(rows, inverse)
            loss = tf.reduce_mean(emb**2)
        g = tf.convert_to_tensor(tape.gradient(loss, rows))  # IndexedSlices -> per-row sum
        self.t.assign_add(1.0)
        m = self.b1 * tf.gather(self.m, ids) + (1 - self.b1) * g
        v = self.b2 * tf.gather(self.v, ids) + (1 - self.b2) * g * g
        lr_t = self.lr * tf.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        self.m.scatter_nd_update(ids[:, None], m)
        self.v.scatter_nd_update(ids[:, None], v)
        self.rows.scatter_nd_sub(ids[:, None], lr_t * m / (tf.sqrt(v) + self.eps))
        return loss


def bench_mutable_hash(batches, vec, warmup):
    unique = len(np.unique(np.concatenate([b.ravel() for b in batches])))
    model = MutableHashEmbedding(unique, vec)
    step = tf.function(model.train_step)
    return time_steps(step, [tf.constant(b) for b in batches], warmup)


def gather_rate(rows, vec, n, rng, repeats=5):
    """Rows/s of the best of `repeats` random gathers of n rows from a (rows, vec) table."""
    table = rng.random((rows, vec), dtype=np.float32)
    index = rng.integers(0, rows, n)
    tf_table, tf_index = tf.constant(table), tf.constant(index)
    tf_gather = tf.function(lambda: tf.gather(tf_table, tf_index))
    tf_gather()
    cores = os.cpu_count() or 1
    parts = np.array_split(index, cores)
    outs = [np.empty((len(p), vec), np.float32) for p in parts]

    def numpy_gather():
        with ThreadPoolExecutor(cores) as pool:  # numpy's take releases the GIL
            list(pool.map(lambda k: np.take(table, parts[k], axis=0, out=outs[k]), range(cores)))

    best = float("inf")
    for _ in range(repeats):
        for run in (lambda: tf_gather().numpy(), numpy_gather):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
    return n / best


def machine():
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if "Model name" in ln), "?"
        )
    except OSError:
        model = platform.processor()
    return (
        f"CPU: {model}, {os.cpu_count()} cores; TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}; float32"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16384)
    p.add_argument("--slots", type=int, default=26)
    p.add_argument("--vec", type=int, nargs="+", default=[16, 128])
    p.add_argument("--ids", type=int, default=10_000_000, help="size of the Zipf id space")
    p.add_argument("--zipf", type=float, default=1.05, help="Zipf exponent")
    p.add_argument(
        "--vocab", type=int, default=1_000_000, help="keras.Embedding rows (id %% vocab)"
    )
    p.add_argument("--steps", type=int, default=5, help="timed steps per implementation")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument(
        "--update", default="Local", help="hugectr_tf update type (Local, Global, LazyGlobal)"
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rng = np.random.default_rng(args.seed)
    batches = zipf_batches(
        rng, args.warmup + args.steps, args.batch, args.slots, args.ids, args.zipf
    )
    keys_per_step = args.batch * args.slots
    unique_all = len(np.unique(np.concatenate([b.ravel() for b in batches])))
    print(f"{machine()}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"batch {args.batch}, {args.slots} slots x 1 key, Zipf({args.zipf}) over {args.ids:,} ids, "
        f"{unique_all:,} distinct keys in {len(batches)} batches; median of {args.steps} steps "
        f"after {args.warmup} warm-up; keras.Embedding vocab {args.vocab:,}\n"
    )
    limits = {
        vec: gather_rate(unique_all, vec, keys_per_step, np.random.default_rng(1))
        for vec in args.vec
    }
    for vec, rate in limits.items():
        print(f"random row-gather rate, vec {vec}, {unique_all:,}-row table: {rate:,.0f} rows/s")
    print()
    print("| vec | implementation | step (ms) | keys/s | hugectr_tf speed-up |")
    print("|---:|---|---:|---:|---:|")
    shares = []
    for vec in args.vec:
        results = [
            (
                f"hugectr_tf SparseEmbedding (Adam, {args.update})",
                bench_hugectr(batches, vec, args.update, args.warmup),
            ),
            (
                f"keras.layers.Embedding (id % {args.vocab:,}, Adam)",
                bench_keras(batches, vec, args.vocab, args.warmup),
            ),
            (
                "tf MutableHashTable + Variable (lazy Adam)",
                bench_mutable_hash(batches, vec, args.warmup),
            ),
        ]
        ours = results[0][1]
        shares.append((vec, keys_per_step / ours / limits[vec]))
        for name, secs in results:
            print(
                f"| {vec} | {name} | {secs * 1e3:.1f} | {keys_per_step / secs:,.0f} | "
                f"{secs / ours:.2f}x |"
            )

    print()
    for vec, share in shares:
        print(f"hugectr_tf keys/s at vec {vec}: {share:.0%} of the random row-gather rate")


if __name__ == "__main__":
    main()
