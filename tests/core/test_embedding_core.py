"""The framework-free core, compiled with a plain g++ (no TensorFlow headers or library) and
driven by embedding_core_driver.cc, against the numpy reference of docs/EMBEDDING_SEMANTICS.md."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import embedding_reference as ref

REPO = Path(__file__).resolve().parents[2]
CODES = {"Adam": 0, "AdaGrad": 1, "MomentumSGD": 2, "Nesterov": 3, "SGD": 4}
UPDATES = {"Local": 0, "Global": 1, "LazyGlobal": 2}


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    cxx = shutil.which("g++")
    if cxx is None:
        pytest.skip("g++ not found")
    exe = tmp_path_factory.mktemp("core") / "driver"
    sources = sorted(str(p) for p in (REPO / "cc" / "core" / "embedding").glob("*.cc"))
    cmd = [
        cxx,
        "-std=c++17",
        "-O2",
        f"-I{REPO}",
        str(Path(__file__).with_name("embedding_core_driver.cc")),
        *sources,
        "-o",
        str(exe),
        "-pthread",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    return exe


@pytest.mark.parametrize(
    "opt,update", [("Adam", "LazyGlobal"), ("Nesterov", "Global"), ("AdaGrad", "Local")]
)
def test_core_without_tensorflow_matches_reference(driver, tmp_path, opt, update):
    vec, slots, batch, steps, seed = 4, 3, 9, 6, 17
    hyper = dict(beta1=0.9, beta2=0.999, eps=1e-7, mu=0.7, initial_accu=0.2)
    rng = np.random.default_rng(3)
    blob = [np.array([vec, slots, batch, steps, 1, CODES[opt], UPDATES[update], seed], "<i8")]
    blob.append(np.array([0.9, 0.999, 1e-7, 0.7, 0.2], "<f4"))
    reference = ref.ReferenceTable(vec, seed, opt, update, **hyper)
    want_emb = []
    for step in range(steps):
        values, splits = ref.random_csr(rng, batch, slots, 3, 15)
        values = values + 5 * step
        lr = np.float32(0.1 / (step + 1))
        dout = rng.normal(size=(batch, slots, vec)).astype(np.float32)
        blob += [np.array([len(values)], "<i8"), splits.astype("<i8"), values.astype("<i8")]
        blob += [np.array([lr], "<f4"), dout.astype("<f4").ravel()]
        reference.lookup_train(values)
        want_emb.append(
            ref.forward(lambda k: reference.w[k].copy(), values, splits, batch, slots, vec, "mean")
        )
        reference.apply(ref.backward(dout, values, splits, "mean"), lr)
    (tmp_path / "in").write_bytes(b"".join(a.tobytes() for a in blob))

    outputs = []
    for threads in (1, 3):
        res = subprocess.run(
            [str(driver), str(tmp_path / "in"), str(tmp_path / f"out{threads}"), str(threads)],
            capture_output=True,
        )
        assert res.returncode == 0, res.stderr
        outputs.append((tmp_path / f"out{threads}").read_bytes())
    assert outputs[0] == outputs[1], "results depend on the thread count"

    raw = outputs[0]
    per_step = batch * slots * vec * 4
    for step in range(steps):
        emb = np.frombuffer(raw, "<f4", batch * slots * vec, step * per_step)
        np.testing.assert_allclose(
            emb.reshape(batch, slots, vec), want_emb[step], rtol=1e-5, atol=1e-6
        )
    off = steps * per_step
    n = int(np.frombuffer(raw, "<i8", 1, off)[0])
    off += 8
    keys = np.frombuffer(raw, "<i8", n, off)
    off += 8 * n
    rows = np.frombuffer(raw, "<f4", n * vec, off).reshape(n, vec)
    off += 4 * n * vec
    k = ref.ReferenceTable.SLOTS[opt]
    slots_out = np.frombuffer(raw, "<f4", n * k * vec, off).reshape(n, k, vec)
    assert keys.tolist() == sorted(reference.w)
    np.testing.assert_allclose(
        rows, np.stack([reference.w[int(x)] for x in keys]), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        slots_out, np.stack([reference.slots[int(x)] for x in keys]), rtol=1e-5, atol=1e-6
    )
