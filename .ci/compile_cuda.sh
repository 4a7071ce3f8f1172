#!/usr/bin/env bash
# Compiles every .cu / .cu.cc file for sm_80 and sm_90 (compile only, no link), so GPU code that
# stops compiling fails CI even on machines without a GPU. Usage: compile_cuda.sh PYTHON
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
TF_CFLAGS=$("$PY" -c 'import tensorflow as tf; print(" ".join(tf.sysconfig.get_compile_flags()))' 2>/dev/null)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t files < <(find cc tests benchmarks \( -name "*.cu" -o -name "*.cu.cc" \) 2>/dev/null | sort)
echo "== nvcc $(nvcc --version | tail -1): compiling ${#files[@]} CUDA file(s) for sm_80 and sm_90"
status=0
for f in "${files[@]}"; do
  flags=(-c -x cu -std=c++17 -O2 --expt-relaxed-constexpr -I. -Icc
         -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90)
  case "$f" in
    *.cu.cc) flags+=(-DGOOGLE_CUDA=1 -DHUGECTR_TF_WITH_CUDA=1 $TF_CFLAGS) ;;  # TF GPU kernels
  esac
  if nvcc "${flags[@]}" "$f" -o "$out/$(echo "$f" | tr / _).o" 2>"$out/err"; then
    echo "   ok   $f"
  else
    echo "   FAIL $f"; cat "$out/err"; status=1
  fi
done
exit $status
