#pragma once
// Device-side helpers shared by the kernels in cc/cuda/*.cu (include from .cu files only).

#include <cuda_runtime.h>

#include <cstdint>

namespace hugectr_tf {
namespace cuda {

constexpr int kBlock = 256;

// Grid-stride loop over i in [0, n): any grid size covers any n.
#define HCTR_GRID_LOOP(i, n)                                                \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t)gridDim.x * blockDim.x)

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

// murmur3's 64-bit finaliser: spreads consecutive keys over a table (the GPU hash table's slots
// and the sharded table's routing regions both use it).
__device__ inline uint64_t MixKey64(int64_t key) {
  uint64_t h = static_cast<uint64_t>(key);
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
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
