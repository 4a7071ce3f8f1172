"""benchmarks/mos_bench.py at a tiny size: its passes move the rows they claim and leave the
table whole (the real run, 13 GiB, is in docs/benchmarks.md)."""

import importlib.util
from pathlib import Path

import numpy as np

from hugectr_tf.ps import RowBlock, SSDParameterServer

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "mos_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("mos_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run(tmp_path, capsys):
    bench = _bench()
    work = tmp_path / "work"
    report = bench.main([
        "--workdir", str(work), "--table-gib", "0.004", "--vec", "8", "--passes", "2",
        "--pass-rows", "3000", "--scattered-passes", "1", "--scattered-rows", "1500",
        "--samples", "1024", "--batch", "256", "--seed-chunk", "20000", "--dd-gib", "0.01",
        "--keep",
    ])  # fmt: skip
    rows = report["table"]["rows"]
    row_bytes = 24 + 4 * 8 * 3  # key, slot id, last step, row and Adam's two slots
    assert rows == int(0.004 * 2**30 // row_bytes) and report["ps_rows_after"] == rows
    for p, count in zip(report["passes"], (3000, 3000, 1500)):
        assert p["rows_loaded"] == p["rows_written"] == count  # keys all in the seeded table
        assert p["bytes_read"] == p["bytes_written"] == count * row_bytes
        assert p["train_steps"] == 4 and p["load_seconds"] > 0 and p["dump_seconds"] > 0
    assert "| 2 | scattered | 1,500 |" in capsys.readouterr().out
    # The table after the passes: the seeded keys, trained rows where the passes trained.
    spec = bench.TableSpec(8, bench.hugectr.CreateOptimizer(optimizer_type="Adam",
                                                            update_type="Local"))  # fmt: skip
    ps = SSDParameterServer(spec, work / "table0")
    block = RowBlock.concat(list(ps.blocks()), spec).sorted()
    np.testing.assert_array_equal(block.keys, np.arange(rows))
    assert ps.step == 12 and (block.last_step > 0).sum() > 0
    assert np.all(block.rows[block.last_step == 0] == np.float32(0.01))
