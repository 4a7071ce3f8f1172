"""Determinism across thread counts and thread safety under concurrent use."""

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
from helpers import embedding_reference as ref

from hugectr_tf import CreateOptimizer
from hugectr_tf.ops import embedding_ops as E

REPO = Path(__file__).resolve().parents[2]

# Trains a table large enough that every parallel loop splits (sort chunks, merges, rows) and
# prints a digest of the exported state and of the outputs.
_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from hugectr_tf import CreateOptimizer
    from hugectr_tf.ops import embedding_ops as E
    rng = np.random.default_rng(0)
    t = E.create_table(8, 512, optimizer=CreateOptimizer(update_type="LazyGlobal"), seed=3)
    h = hashlib.sha256()
    for step in range(3):
        # ~300K keys, >200K distinct: several unique partitions and gradient tasks.
        nnz = rng.integers(0, 6, size=4096 * 26)
        splits = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
        n = int(splits[-1])
        values = np.where(
            rng.random(n) < 0.3, rng.zipf(1.3, size=n), rng.integers(0, 10**9, size=n)
        ).astype(np.int64)
        emb, uk, inv = E.lookup_train(t, values, splits, 26, 8, "mean")
        dout = rng.normal(size=emb.shape).astype(np.float32)
        kg = E.backward(dout, splits, inv, uk, "mean")
        E.apply_gradients(t, uk, kg, 0.01)
        for x in (emb, uk, inv, kg):
            h.update(x.numpy().tobytes())
    for x in E.export_table(t).values():
        h.update(x.numpy().tobytes())
    print("DIGEST", h.hexdigest())
    """
)


def _digest(threads):
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(threads)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return [line for line in out.stdout.splitlines() if line.startswith("DIGEST")][0]


def test_results_identical_for_1_and_4_threads():
    assert _digest(1) == _digest(4)


def test_concurrent_lookups_and_updates_are_consistent():
    sgd = CreateOptimizer(optimizer_type="SGD", update_type="Local")
    t = E.create_table(4, 16, seed=1, optimizer=sgd)
    rng = np.random.default_rng(4)
    batches = [ref.random_csr(rng, 64, 2, 3, 5000) for _ in range(16)]
    errors = []

    def worker(i):
        try:
            for values, splits in batches[i::4]:
                _, uk, inv = E.lookup_train(t, values, splits, 2, 4)
                E.apply_gradients(
                    t, uk, E.backward(np.ones((64, 2, 4), np.float32), splits, inv, uk), 0.1
                )
                E.lookup_inference(t, values, splits, 2, 4)
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    all_keys = np.unique(np.concatenate([v for v, _ in batches]))
    state = E.export_table(t)
    np.testing.assert_array_equal(state["keys"].numpy(), all_keys)
    assert int(state["step"]) == 16
    # SGD with a gradient of ones: each row ends at init - lr * (occurrences over all batches),
    # whatever order the threads ran in.
    counts = np.zeros(len(all_keys))
    for values, _ in batches:
        counts += np.bincount(np.searchsorted(all_keys, values), minlength=len(all_keys))
    want = np.stack([ref.init_row(int(k), 1, 4) for k in all_keys]) - 0.1 * counts[:, None]
    np.testing.assert_allclose(state["rows"].numpy(), want, rtol=1e-5, atol=1e-5)
