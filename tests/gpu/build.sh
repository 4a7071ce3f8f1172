#!/usr/bin/env bash
# Builds tests/gpu/_hctr_cuda_harness*.so: cc/cuda/*.cu with nvcc, the pybind11 bridge and the
# framework-free CPU core (for the GPU-vs-CPU comparison) with g++.
# Usage: bash tests/gpu/build.sh [arch, default sm_90]. Needs nvcc, g++, python3 with pybind11.
# NCCL (for the sharded table, cc/cuda/sharded_embedding.cu): $NCCL_HOME, else the
# nvidia-nccl-cu* wheel in the Python's site-packages (nvidia/nccl: include/, lib/), which is
# where PyTorch's NCCL lives; without it the module is built without ShardedTable (HAS_NCCL
# False) and the sharded tests skip.
# The .cu files get the flags setup.py gives them (-O3, nvcc's default FMA contraction): the
# kernels round every operation explicitly where it matters, so results equal the CPU core's.
set -euo pipefail
ARCH="${1:-sm_90}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
OBJ="build/gpu_harness/$ARCH"
rm -rf "$OBJ"
mkdir -p "$OBJ"
NVCC="${NVCC:-nvcc}"
CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v "$NVCC")")")")}"
# a wrapper script named nvcc (as on the dev machine) hides the real toolkit folder
if [ ! -d "$CUDA_HOME/include" ] || [ ! -f "$CUDA_HOME/include/cuda_runtime.h" ]; then
  CUDA_HOME="$("$NVCC" --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/.*TOP=\([^ ]*\).*/\1/p' | head -1)"
  [ -f "$CUDA_HOME/include/cuda_runtime.h" ] || CUDA_HOME=/usr/local/cuda
fi
if [ -z "${NCCL_HOME:-}" ]; then
  NCCL_HOME="$("$PY" - <<'PYEOF'
import glob, os, site, sys
roots = list(sys.path)
try:
    roots += site.getsitepackages()
except AttributeError:
    pass
for root in roots:
    for cand in glob.glob(os.path.join(root, "nvidia", "nccl")):
        if os.path.isfile(os.path.join(cand, "include", "nccl.h")):
            print(cand)
            sys.exit()
PYEOF
)"
fi
NCCL_FLAGS=()
NCCL_LINK=()
if [ -n "$NCCL_HOME" ] && [ -f "$NCCL_HOME/include/nccl.h" ]; then
  NCCL_LIB="$(ls "$NCCL_HOME"/lib/libnccl.so* 2>/dev/null | head -1 || true)"
  if [ -n "$NCCL_LIB" ]; then
    NCCL_FLAGS=(-DHUGECTR_TF_WITH_NCCL -I"$NCCL_HOME/include")
    NCCL_LINK=("$NCCL_LIB" "-Wl,-rpath,$(dirname "$NCCL_LIB")")
    echo "NCCL: $NCCL_LIB"
  fi
fi
[ ${#NCCL_FLAGS[@]} -gt 0 ] || echo "NCCL not found: building without the sharded table"
PYINC="$($PY -m pybind11 --includes)"
SUFFIX="$($PY -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
JOBS="$(nproc)"

compile_cu() {
  "$NVCC" -c -std=c++17 -O3 -arch="$1" -Xcompiler -fPIC -I. $NCCL_CU_FLAGS "$2" \
    -o "$3/$(basename "$2" .cu).o"
}
export -f compile_cu
export NVCC
export NCCL_CU_FLAGS="${NCCL_FLAGS[*]:-}"
ls cc/cuda/*.cu tests/gpu/*.cu | xargs -P "$JOBS" -I{} bash -c "compile_cu $ARCH {} $OBJ"

mapfile -t CPU_SRCS < <(find cc/core -name '*.cc' | sort)
for f in "${CPU_SRCS[@]}"; do
  g++ -c -std=c++17 -O3 -fPIC -I. "$f" -o "$OBJ/cpu_${f//\//_}.o" &
done
for f in harness cpu_core_bindings gpu_table_bindings sharded_bindings; do
  g++ -c -std=c++17 -O2 -fPIC -I. -I"$CUDA_HOME/include" "${NCCL_FLAGS[@]}" $PYINC \
    "tests/gpu/$f.cc" -o "$OBJ/$f.o" &
done
wait
g++ -shared -o "tests/gpu/_hctr_cuda_harness$SUFFIX" "$OBJ"/*.o "${NCCL_LINK[@]}" \
  -L"$CUDA_HOME/lib64" -L"$CUDA_HOME/targets/x86_64-linux/lib" -lcudart_static -ldl -lrt -lpthread
echo "built tests/gpu/_hctr_cuda_harness$SUFFIX ($ARCH, cuda at $CUDA_HOME)"
