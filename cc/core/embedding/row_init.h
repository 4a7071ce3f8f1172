#pragma once
// Deterministic initial value of a new embedding row (docs/EMBEDDING_SEMANTICS.md, "Row
// initialisation"): a pure function of (key, seed, j), so the result does not depend on the order
// in which keys are inserted or on the number of threads. Header-only and free of library calls
// so that the CUDA core can include it in device code.

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define HCTR_HOST_DEVICE __host__ __device__
#else
#define HCTR_HOST_DEVICE
#endif

namespace hugectr_tf {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

HCTR_HOST_DEVICE inline uint64_t SplitMix64(uint64_t z) {
  z += kGoldenGamma;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Element j of the initial row of `key`; bound = 1 / sqrt(vec) (float32).
HCTR_HOST_DEVICE inline float InitialRowValue(int64_t key, uint64_t seed, int64_t j, float bound) {
  const uint64_t base = SplitMix64(static_cast<uint64_t>(key) ^ (seed * kGoldenGamma));
  const uint64_t h = SplitMix64(base + static_cast<uint64_t>(j));
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // 2^-24
  return (2.0f * u - 1.0f) * bound;
}

HCTR_HOST_DEVICE inline float InitBound(int64_t vec) {
  return 1.0f / sqrtf(static_cast<float>(vec));
}

// Writes the initial row of `key` into row (vec).
HCTR_HOST_DEVICE inline void InitRow(int64_t key, uint64_t seed, int64_t vec, float* row) {
  const float bound = InitBound(vec);
  for (int64_t j = 0; j < vec; ++j) row[j] = InitialRowValue(key, seed, j, bound);
}

}  // namespace hugectr_tf
