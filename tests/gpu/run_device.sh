#!/usr/bin/env bash
# One call on the lent GPU machine: build the harness (sm_90), verify the CUDA core against the
# CPU core, run the benchmark. Full logs go to $OUT; a short summary is printed last.
# Usage (repo root or a staged copy of cc/, tests/, benchmarks/): bash tests/gpu/run_device.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/hctr_gpu_out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
{
  date -u
  nvidia-smi
  nvcc --version
  $PY --version
  $PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)"
  g++ --version | head -1
  echo "cores: $(nproc)"
} >"$OUT/env.txt" 2>&1

echo "== build"
if ! (time PYTHON=$PY bash tests/gpu/build.sh sm_90) >"$OUT/build.log" 2>&1; then
  tail -60 "$OUT/build.log"
  exit 1
fi
tail -4 "$OUT/build.log"

echo "== verify"
HCTR_GPU_REPORT="$OUT/verify_errors.json" timeout 330 $PY -m pytest -q -rs --tb=short \
  -p no:cacheprovider --timeout 150 tests/gpu >"$OUT/verify.log" 2>&1
echo "pytest exit $?"

echo "== benchmark"
timeout 240 $PY benchmarks/gpu_embedding_bench.py --json "$OUT/bench.json" "$@" \
  >"$OUT/bench.log" 2>&1
echo "bench exit $?"
# the same benchmark again: the run-to-run spread of the timings
timeout 200 $PY benchmarks/gpu_embedding_bench.py "$@" >"$OUT/bench_repeat.log" 2>&1
echo "bench repeat exit $?"

echo "== verify summary"
grep -E "^(FAILED|ERROR)|passed|failed|\[gpu-harness\]" "$OUT/verify.log" | tail -40
echo "== benchmark summary"
tail -22 "$OUT/bench.log"
echo "== repeat"
grep -E "^\| hugectr|^\| torch|^forward" "$OUT/bench_repeat.log"
