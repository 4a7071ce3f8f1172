#pragma once
// Device-side helpers shared by the kernels in cc/cuda/*.cu (include from .cu files only).

#include <cuda_runtime.h>

#include <cstdint>

namespace hugectr_tf {
namespace cuda {

constexpr int kBlock = 256;

// splitmix64 exactly as EMBEDDING_SEMANTICS.md writes it (uint64 wrap-around).
__host__ __device__ inline uint64_t SplitMix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Element j of the initial row of `key`: uniform in [-bound, bound), independent of thread order.
__host__ __device__ inline float InitialValue(int64_t key, uint64_t seed, int64_t j, float bound) {
  const uint64_t h = SplitMix64(SplitMix64(static_cast<uint64_t>(key) ^
                                           (seed * 0x9E3779B97F4A7C15ULL)) +
                                static_cast<uint64_t>(j));
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
  return (2.0f * u - 1.0f) * bound;
}

// Threads that cooperate on one row: the next power of two >= units, at most a warp.
inline int GroupSize(int64_t units) {
  int g = 1;
  while (g < units && g < 32) g <<= 1;
  return g;
}

inline int GridFor(int64_t work, int block = kBlock, int64_t cap = 1 << 20) {
  int64_t g = (work + block - 1) / block;
  if (g < 1) g = 1;
  if (g > cap) g = cap;
  return static_cast<int>(g);
}

// Last index i with splits[i] <= p, i.e. the bag (CSR row) holding value position p.
__device__ inline int64_t BagOfPosition(const int64_t* splits, int64_t num_bags, int64_t p) {
  int64_t lo = 0, hi = num_bags;  // answer in [lo, hi)
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) >> 1;
    if (splits[mid] <= p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace cuda
}  // namespace hugectr_tf
