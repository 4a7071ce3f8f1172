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

// Element j of the initial row whose RowRandomBase is `base`, from U(-bound, bound) (float32).
HCTR_HOST_DEVICE inline float InitialRowValueOfBase(uint64_t base, int64_t j, float bound) {
  const float u = static_cast<float>(RowRandomBitsOfBase(base, j)) * (1.0f / 16777216.0f);  // 2^-24
  return (2.0f * u - 1.0f) * bound;
}

// Element j of the initial row of `key`, from U(-bound, bound) (float32).
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

// HugeCTR 3.1's initial ranges: the hash tables fill their rows from U(-0.05, 0.05) whatever the
// width; LocalizedSlotSparseEmbeddingOneHot fills slot s from U(+-sqrt(1 / slot_size[s])).
constexpr float kHashInitBound = 0.05f;

// The OneHot bound of table key `key`: offsets (num_slots + 1) are the prefix sums of
// slot_size_array, and the key belongs to the last slot whose range starts at or below it (a slot
// of size 0 owns no key: the next positive slot's range starts at the same offset).
// The key must lie in [0, offsets[num_slots]).
HCTR_HOST_DEVICE inline float OneHotInitBound(int64_t key, const int64_t* offsets,
                                              int64_t num_slots) {
  int64_t lo = 0, hi = num_slots;  // invariant: offsets[lo] <= key < offsets[hi]
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (offsets[mid] <= key) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return sqrtf(1.0f / static_cast<float>(offsets[lo + 1] - offsets[lo]));
}

// Writes the initial row of `key` into row (vec), elements from U(-bound, bound): InitialRowValue
// of every j, with the per-row hash computed once instead of once per element.
HCTR_HOST_DEVICE inline void InitRow(int64_t key, uint64_t seed, int64_t vec, float bound,
                                     float* row) {
  const uint64_t base = RowRandomBase(key, seed);
  for (int64_t j = 0; j < vec; ++j) row[j] = InitialRowValueOfBase(base, j, bound);
}

}  // namespace hugectr_tf
