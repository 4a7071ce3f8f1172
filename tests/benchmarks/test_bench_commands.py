"""Every benchmark command written in docs/benchmarks.md runs, in short mode.

The commands are read from the document itself (inline `PYTHONPATH=. python benchmarks/...`
spans), so a renamed script or a removed flag fails here. Each runs as written plus the short-mode
flags below (argparse takes the last value of a repeated flag): tiny data, one round of one or two
iterations. That checks the command and the script end to end, not the speed (which is measured by
running the command as written; docs/benchmarks.md shows the figures). The DLRM command's TorchRec
peer runs too when $TORCHREC_PYTHON names its virtualenv's python (docs/benchmarks.md, "DLRM").
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
COMMAND = re.compile(r"`PYTHONPATH=\. python (benchmarks/\w+\.py[^`]*)`")

# Flags that shrink each script's run to seconds; every documented script needs an entry.
SHORT = {
    "train_bench.py": "--batch-sizes 256 --iters 2 --rounds 1 --warmup-iters 1 "
    "--train-samples 4096 --eval-samples 1024",
    "step_variants_bench.py": "--batch-sizes 256 --iters 2 --rounds 1 --warmup-iters 1 "
    "--train-samples 4096 --eval-samples 1024",
    "embedding_bench.py": "--batch 512 --steps 1 --warmup 1 --ids 100000 --vocab 10000",
    "dense_kernels_bench.py": "--rounds 1 --iters 1",
    "dcn_step_profile.py": "--batch 256 --iters 2 --rounds 1 --train-samples 4096",
    "reader_bench.py": "--num-samples 4096 --batch-size 1024 --num-files 2 --repeats 1",
    "distribute_bench.py": "--replicas 1 2 --batch 256 --iters 1 --rounds 1 --warmup-iters 1 "
    "--train-samples 4096",
}

# Scripts whose documented command writes outside a temporary folder (the MOS bench's 13 GiB
# workdir) run at tiny sizes in their own tests instead, which check their figures as well.
OWN_TESTS = {
    "mos_bench.py": "tests/ps/test_mos_bench.py",
    "inference_cache_bench.py": "tests/inference/test_inference_cache_bench.py",
}


def _documented_commands():
    commands = []
    for match in COMMAND.finditer(DOC.read_text(encoding="utf-8")):
        argv = shlex.split(" ".join(match[1].split()))  # a span may wrap over lines
        if argv not in commands:
            commands.append(argv)
    return commands


ALL_COMMANDS = _documented_commands()
COMMANDS = [argv for argv in ALL_COMMANDS if Path(argv[0]).name not in OWN_TESTS]


def test_the_document_names_every_benchmark_script():
    documented = {Path(argv[0]).name for argv in ALL_COMMANDS}
    known = set(SHORT) | set(OWN_TESTS)
    assert documented >= known, f"not in docs/benchmarks.md: {known - documented}"
    assert documented <= known, f"no short mode here for: {documented - known}"
    for test in OWN_TESTS.values():
        assert (ROOT / test).is_file(), test


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_documented_command_runs_in_short_mode(argv):
    script = Path(argv[0]).name
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    run = subprocess.run(
        [sys.executable, *argv, *SHORT[script].split()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0, f"{' '.join(argv)} failed:\n{output}"
    # Each prints its results as a markdown table whose rows hold measured numbers.
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) >= 2, run.stdout
    assert any(re.search(r"\d", row) for row in rows[1:]), run.stdout
