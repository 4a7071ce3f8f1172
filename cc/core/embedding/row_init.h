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

// The per-row half of RowRandomBits: depends on (key, seed) only.
HCTR_HOST_DEVICE inline uint64_t RowRandomBase(int64_t key, uint64_t seed) {
  return SplitMix64(static_cast<uint64_t>(key) ^ (seed * kGoldenGamma));
}

// 24 random bits for element j of a row from its RowRandomBase.
HCTR_HOST_DEVICE inline uint32_t RowRandomBitsOfBase(uint64_t base, int64_t j) {
  return static_cast<uint32_t>(SplitMix64(base + static_cast<uint64_t>(j)) >> 40);
}

// 24 random bits for element j of the row of `key`: the one random source of row
// initialisation, so every initialiser is a function of (key, seed, j) alone.
HCTR_HOST_DEVICE inline uint32_t RowRandomBits(int64_t key, uint64_t seed, int64_t j) {
  return RowRandomBitsOfBase(RowRandomBase(key, seed), j);
}

// Element j of the initial row whose RowRandomBase is `base`; bound = 1 / sqrt(vec) (float32).
HCTR_HOST_DEVICE inline float InitialRowValueOfBase(uint64_t base, int64_t j, float bound) {
  const float u = static_cast<float>(RowRandomBitsOfBase(base, j)) * (1.0f / 16777216.0f);  // 2^-24
  return (2.0f * u - 1.0f) * bound;
}

// Element j of the initial row of `key`; bound = 1 / sqrt(vec) (float32).
HCTR_HOST_DEVICE inline float InitialRowValue(int64_t key, uint64_t seed, int64_t j, float bound) {
  return InitialRowValueOfBase(RowRandomBase(key, seed), j, bound);
}

// Element j of the uniform draw of `key` in the open interval (0, 1), never 0 or 1, so that an
// inverse CDF of it is finite: what Keras initialisers of the row are computed from.
// The odd multiples of 2^-24 in (0, 1) are exact in float32 (the top 23 bits pick one).
HCTR_HOST_DEVICE inline float KeyUniform(int64_t key, uint64_t seed, int64_t j) {
  const uint32_t odd = ((RowRandomBits(key, seed, j) >> 1) << 1) | 1u;
  return static_cast<float>(odd) * (1.0f / 16777216.0f);
}

HCTR_HOST_DEVICE inline float InitBound(int64_t vec) {
  return 1.0f / sqrtf(static_cast<float>(vec));
}

// Writes the initial row of `key` into row (vec): InitialRowValue of every j, with the per-row
// hash computed once instead of once per element.
HCTR_HOST_DEVICE inline void InitRow(int64_t key, uint64_t seed, int64_t vec, float* row) {
  const float bound = InitBound(vec);
  const uint64_t base = RowRandomBase(key, seed);
  for (int64_t j = 0; j < vec; ++j) row[j] = InitialRowValueOfBase(base, j, bound);
}

}  // namespace hugectr_tf
