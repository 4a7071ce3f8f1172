#pragma once
// Small vector loops shared by the fused dense kernels, written with GCC/Clang vector types
// (32-byte vectors: AVX registers in the AVX2 clone, pairs of SSE registers in the baseline one),
// and the attribute that compiles a kernel twice, for AVX2 + FMA (x86-64-v3) and for the
// baseline, picked at load time by the CPU. The library itself is built for the baseline, so it
// still loads on any x86-64 CPU.

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
#define HCTR_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HCTR_SIMD_CLONES
#endif

// Row kernels are templates marked HCTR_INLINE and called from small HCTR_SIMD_CLONES wrappers,
// so that each clone gets its own copy of the loops.
#define HCTR_INLINE inline __attribute__((always_inline))

// Vector values only cross always-inlined helpers, so the note that passing AVX vectors by value
// changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace hugectr_tf {
namespace vector_math {

// A 32-byte vector of T (8 floats or 4 doubles).
template <typename T>
struct Simd {
  typedef T V __attribute__((vector_size(32)));
  static constexpr int64_t kWidth = 32 / sizeof(T);
};

template <typename T>
HCTR_INLINE typename Simd<T>::V Load(const T* p) {
  typename Simd<T>::V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
HCTR_INLINE void Store(T* p, const typename Simd<T>::V& v) {
  std::memcpy(p, &v, sizeof(v));
}

// x rounded up to whole vectors of T.
template <typename T>
HCTR_INLINE int64_t RoundUpToVector(int64_t x) {
  return (x + Simd<T>::kWidth - 1) / Simd<T>::kWidth * Simd<T>::kWidth;
}

// sum_j a[j] * b[j] over four independent vector accumulators (hides the FMA latency).
template <typename T>
HCTR_INLINE T Dot(const T* a, const T* b, int64_t n) {
  using V = typename Simd<T>::V;
  constexpr int64_t kW = Simd<T>::kWidth;
  V acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
  int64_t j = 0;
  for (; j + 4 * kW <= n; j += 4 * kW) {
    acc0 += Load(a + j) * Load(b + j);
    acc1 += Load(a + j + kW) * Load(b + j + kW);
    acc2 += Load(a + j + 2 * kW) * Load(b + j + 2 * kW);
    acc3 += Load(a + j + 3 * kW) * Load(b + j + 3 * kW);
  }
  for (; j + kW <= n; j += kW) acc0 += Load(a + j) * Load(b + j);
  const V acc = (acc0 + acc1) + (acc2 + acc3);
  T sum = 0;
  for (int64_t k = 0; k < kW; ++k) sum += acc[k];
  for (; j < n; ++j) sum += a[j] * b[j];
  return sum;
}

// y[j] += alpha * x[j]
template <typename T>
HCTR_INLINE void Axpy(T alpha, const T* x, T* y, int64_t n) {
  constexpr int64_t kW = Simd<T>::kWidth;
  int64_t j = 0;
  for (; j + kW <= n; j += kW) Store(y + j, Load(y + j) + alpha * Load(x + j));
  for (; j < n; ++j) y[j] += alpha * x[j];
}

// y[j] += x[j]
template <typename T>
HCTR_INLINE void Add(const T* x, T* y, int64_t n) {
  constexpr int64_t kW = Simd<T>::kWidth;
  int64_t j = 0;
  for (; j + kW <= n; j += kW) Store(y + j, Load(y + j) + Load(x + j));
  for (; j < n; ++j) y[j] += x[j];
}

}  // namespace vector_math
}  // namespace hugectr_tf
