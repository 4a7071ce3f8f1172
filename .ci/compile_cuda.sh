#!/usr/bin/env bash
# Compiles every .cu / .cu.cc file for sm_80 and sm_90 (compile only, no link), so GPU code that
# stops compiling fails CI even on machines without a GPU. Usage: compile_cuda.sh PYTHON
# The NCCL-using sharded table (cc/cuda/sharded_embedding.cu, compiled to nothing unless
# HUGECTR_TF_WITH_NCCL is defined) is compiled with NCCL's headers: $NCCL_HOME/include, else
# the nvidia-nccl-cu13 wheel's (site-packages, or fetched once into $NCCL_CACHE with pip, only
# its include/ kept). If none can be had, that file is compiled without NCCL and this says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
TF_CFLAGS=$("$PY" -c 'import tensorflow as tf; print(" ".join(tf.sysconfig.get_compile_flags()))' 2>/dev/null)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

nccl_include() {
  if [ -n "${NCCL_HOME:-}" ] && [ -f "$NCCL_HOME/include/nccl.h" ]; then
    echo "$NCCL_HOME/include"; return
  fi
  local found
  found=$("$PY" - 2>/dev/null <<'PYEOF' || true
import os, sys
for root in sys.path:
    include = os.path.join(root, "nvidia", "nccl", "include")
    if os.path.isfile(os.path.join(include, "nccl.h")):
        print(include)
        break
PYEOF
)
  if [ -n "$found" ]; then echo "$found"; return; fi
  local cache="${NCCL_CACHE:-$HOME/.cache/hugectr_tf/nccl-cu13}"
  if [ ! -f "$cache/nvidia/nccl/include/nccl.h" ]; then
    local tmp
    tmp=$(mktemp -d)
    if "$PY" -m pip download -q --no-deps --only-binary=:all: --dest "$tmp" \
        --platform manylinux_2_18_x86_64 --python-version 3.12 "nvidia-nccl-cu13==2.28.9" \
        >/dev/null 2>&1; then
      mkdir -p "$cache"
      (cd "$cache" && unzip -q -o "$tmp"/nvidia_nccl_cu13-*.whl 'nvidia/nccl/include/*')
    fi
    rm -rf "$tmp"
  fi
  [ -f "$cache/nvidia/nccl/include/nccl.h" ] && echo "$cache/nvidia/nccl/include" || true
}
NCCL_INC=$(nccl_include)
if [ -n "$NCCL_INC" ]; then
  echo "== NCCL headers: $NCCL_INC"
else
  echo "== NCCL headers not found (no NCCL_HOME, wheel or download): the sharded table is" \
       "compiled without NCCL (an empty file)"
fi

mapfile -t files < <(find cc tests benchmarks \( -name "*.cu" -o -name "*.cu.cc" \) 2>/dev/null | sort)
echo "== nvcc $(nvcc --version | tail -1): compiling ${#files[@]} CUDA file(s) for sm_80 and sm_90"
status=0
for f in "${files[@]}"; do
  flags=(-c -x cu -std=c++17 -O2 --expt-relaxed-constexpr -I. -Icc
         -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90)
  case "$f" in
    *.cu.cc) flags+=(-DGOOGLE_CUDA=1 -DHUGECTR_TF_WITH_CUDA=1 $TF_CFLAGS) ;;  # TF GPU kernels
  esac
  if [ -n "$NCCL_INC" ] && grep -q "HUGECTR_TF_WITH_NCCL" "$f"; then
    flags+=(-DHUGECTR_TF_WITH_NCCL -I"$NCCL_INC")
  fi
  if nvcc "${flags[@]}" "$f" -o "$out/$(echo "$f" | tr / _).o" 2>"$out/err"; then
    echo "   ok   $f"
  else
    echo "   FAIL $f"; cat "$out/err"; status=1
  fi
done
exit $status
