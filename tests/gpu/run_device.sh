#!/usr/bin/env bash
# One call on the lent GPU machine: build the harness (sm_90, with the machine's NCCL), verify
# the CUDA core against the CPU core (and, with 2+ GPUs, the sharded table against the single
# table), run the benchmark. Full logs go to $OUT; a short summary is printed last.
# Usage (repo root or a staged copy of cc/, tests/, benchmarks/):
#   bash tests/gpu/run_device.sh              # one GPU: kernels vs torch vs copy bandwidth
#   bash tests/gpu/run_device.sh --gpus 2     # the sharded table's scaling run
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/hctr_gpu_out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
{
  date -u
  nvidia-smi
  nvidia-smi topo -m
  nvcc --version
  $PY --version
  $PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__,
  'nccl', torch.cuda.nccl.version(), 'gpus', torch.cuda.device_count())"
  $PY -m pip show nvidia-nccl-cu13 2>/dev/null | head -3
  env | grep -E "^NCCL_|^TORCH_SYMM|^NVSHMEM" | sort
  g++ --version | head -1
  echo "cores: $(nproc)"
} >"$OUT/env.txt" 2>&1

echo "== build"
if ! (time PYTHON=$PY bash tests/gpu/build.sh sm_90) >"$OUT/build.log" 2>&1; then
  tail -60 "$OUT/build.log"
  exit 1
fi
tail -5 "$OUT/build.log"

echo "== verify"
# a hung test (say, an NCCL exchange waiting for a peer) ends the run at once with every
# thread's stack (--timeout-method thread), instead of eating the lease
HCTR_GPU_REPORT="$OUT/verify_errors.json" timeout "${VERIFY_TIMEOUT:-240}" $PY -m pytest -q -rs \
  --tb=short -p no:cacheprovider --timeout 90 --timeout-method thread --durations=15 tests/gpu \
  >"$OUT/verify.log" 2>&1
echo "pytest exit $?"

echo "== benchmark"
timeout "${BENCH_TIMEOUT:-120}" $PY benchmarks/gpu_embedding_bench.py --json "$OUT/bench.json" \
  "$@" >"$OUT/bench.log" 2>&1
echo "bench exit $?"
# the same benchmark again: the run-to-run spread of the timings
timeout "${REPEAT_TIMEOUT:-90}" $PY benchmarks/gpu_embedding_bench.py "$@" \
  >"$OUT/bench_repeat.log" 2>&1
echo "bench repeat exit $?"

echo "== verify summary"
grep -E "^(FAILED|ERROR)|passed|failed|\[gpu-harness\]" "$OUT/verify.log" | tail -40
echo "== benchmark summary"
tail -32 "$OUT/bench.log"
echo "== repeat"
grep -E "^\| hugectr|^\| torch|^\| [0-9] GPU|^weak|^forward" "$OUT/bench_repeat.log"
