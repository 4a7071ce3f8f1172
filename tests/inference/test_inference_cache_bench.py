"""benchmarks/inference_cache_bench.py at a tiny size (the run in docs/benchmarks.md uses its
defaults): every configuration predicts the same, the hit rate grows with the cache, no cache
means no hit rate, and the table it prints is the one the docs show."""

import importlib.util
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "inference_cache_bench.py"


def test_tiny_run(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("inference_cache_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.chdir(tmp_path)
    rows = bench.main([
        "--keys", "5000", "--vec", "4", "--slots", "3", "--batch", "64", "--requests", "12",
        "--warmup", "3", "--percentages", "0.002,0.02,1", "--ssd-percentage", "0.02",
        "--low-threshold", "0.1",
    ])  # fmt: skip
    assert [(ps, cache) for ps, cache, _ in rows] == [
        ("host memory", "no cache"), ("host memory", "0.002"), ("host memory", "0.02"),
        ("host memory", "1"), ("host memory", "0.02 (threshold 0.1)"), ("SSD", "no cache"),
        ("SSD", "0.02"),
    ]  # fmt: skip
    want = rows[0][2]["predictions"]
    assert want.shape == (12 * 64,) and np.all((want > 0) & (want < 1))
    for _, _, r in rows[1:]:  # the cache and the parameter server never change a prediction
        np.testing.assert_array_equal(r["predictions"], want)
    rates = [r["hit_rate"] for _, _, r in rows]
    assert rates[0] is None and rates[5] is None
    assert 0 <= rates[1] < rates[2] <= rates[3] <= 1 and rates[6] == rates[2]
    refreshes = [r["refreshes"] for _, _, r in rows]
    assert refreshes[4] < refreshes[2] == 15  # threshold 0.9: every request refreshes
    for _, _, r in rows:
        assert r["samples_per_s"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"]
    out = capsys.readouterr().out
    assert (
        "| PS | cache_size_percentage | hit rate | refreshes | samples/s | p50 ms | p99 ms |" in out
    )
    assert "| host memory | no cache | - | 0 |" in out
    assert list(tmp_path.iterdir()) == []  # the model folder is removed
