// Routing kernels of the sharded table (see shard_routing.cuh).

#include <cub/device/device_radix_sort.cuh>

#include "cc/core/check.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/shard_routing.cuh"
#include "cc/cuda/types.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

#define HCTR_GRID_LOOP(i, n)                                                \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t)gridDim.x * blockDim.x)

// Counts in shared memory per block, one global atomic per block and owner.
__global__ void OwnersKernel(const int64_t* __restrict__ values, int64_t n,
                             const int64_t* __restrict__ row_splits, int64_t num_bags,
                             int64_t slot_num, bool by_slot, int num_shards,
                             int32_t* __restrict__ owner, unsigned long long* counts,
                             unsigned long long* reserved_first) {
  __shared__ unsigned long long local[kMaxShards];
  if (threadIdx.x < num_shards) local[threadIdx.x] = 0;
  __syncthreads();
  HCTR_GRID_LOOP(p, n) {
    const int64_t key = values[p];
    int s = 0;
    if (by_slot) {
      s = ShardOfSlot(BagOfPosition(row_splits, num_bags, p) % slot_num, num_shards);
    } else {
      s = ShardOfKey(key, num_shards);
    }
    owner[p] = s;
    atomicAdd(&local[s], 1ull);
    if (key == kEmptyKey) atomicMin(reserved_first, static_cast<unsigned long long>(p));
  }
  __syncthreads();
  if (threadIdx.x < num_shards && local[threadIdx.x] > 0) {
    atomicAdd(&counts[threadIdx.x], local[threadIdx.x]);
  }
}

__global__ void IotaKernel(int32_t* out, int64_t n) {
  HCTR_GRID_LOOP(i, n) { out[i] = static_cast<int32_t>(i); }
}

__global__ void GatherKeysKernel(const int64_t* __restrict__ values,
                                 const int32_t* __restrict__ perm, int64_t n,
                                 int64_t* __restrict__ keys) {
  HCTR_GRID_LOOP(i, n) { keys[i] = values[perm[i]]; }
}

__device__ inline int OwnerOfIndex(const ShardOffsets& at, int num_shards, int64_t i) {
  int s = 0;
  while (s + 1 < num_shards && at.at[s + 1] <= i) ++s;
  return s;
}

__global__ void MergeKernel(ShardOffsets at, int num_shards,
                            const int64_t* __restrict__ unique_keys,
                            const int32_t* __restrict__ sorted_positions,
                            const int32_t* __restrict__ segment_starts,
                            const int64_t* __restrict__ unique_counts,
                            const int32_t* __restrict__ perm, int64_t n, UniqueOutputs merged) {
  int64_t base[kMaxShards + 1];  // owner-major offsets of the merged unique keys
  base[0] = 0;
  for (int s = 0; s < num_shards; ++s) base[s + 1] = base[s] + unique_counts[s];
  const int64_t total = base[num_shards];
  const int64_t threads = n > 0 ? n : 1;
  HCTR_GRID_LOOP(i, threads) {
    if (i == 0) {
      *merged.num_unique = total;
      merged.segment_starts[total] = static_cast<int32_t>(n);
    }
    if (i >= n) continue;
    const int s = OwnerOfIndex(at, num_shards, i);
    const int64_t first = at.at[s];
    const int64_t j = i - first;
    if (j < unique_counts[s]) {
      merged.unique_keys[base[s] + j] = unique_keys[i];
      merged.segment_starts[base[s] + j] =
          static_cast<int32_t>(first + segment_starts[first + s + j]);
    }
    merged.sorted_positions[i] = perm[first + sorted_positions[i]];
  }
}

__global__ void IndexKernel(UniqueOutputs merged, int64_t n, const int64_t* __restrict__ row_splits,
                            int64_t num_bags, int64_t slot_num, int64_t* __restrict__ value_rows,
                            int64_t* __restrict__ first_slots) {
  const int64_t total = *merged.num_unique;
  HCTR_GRID_LOOP(t, n) {
    int64_t lo = 0, hi = total;  // last j with segment_starts[j] <= t
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) >> 1;
      if (merged.segment_starts[mid] <= t) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const int64_t p = merged.sorted_positions[t];
    value_rows[p] = lo;
    if (merged.segment_starts[lo] == t) {
      first_slots[lo] = BagOfPosition(row_splits, num_bags, p) % slot_num;
    }
  }
}

__global__ void DropMissingKernel(const int64_t* __restrict__ found_rows, int64_t n,
                                  int64_t* __restrict__ value_rows, unsigned long long* misses) {
  unsigned long long local = 0;
  HCTR_GRID_LOOP(p, n) {
    if (found_rows[value_rows[p]] < 0) {
      value_rows[p] = -1;
      ++local;
    }
  }
  if (local) atomicAdd(misses, local);
}

__global__ void IotaSplitsKernel(int64_t* splits, int64_t n) {
  HCTR_GRID_LOOP(i, n + 1) { splits[i] = i; }
}

int OwnerBits(int num_shards) {
  int bits = 0;
  while ((1 << bits) < num_shards) ++bits;
  return bits;
}

size_t SortBytes(int64_t n, int num_shards) {
  size_t bytes = 0;
  HCTR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes, static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), static_cast<int>(n), 0,
      OwnerBits(num_shards) > 0 ? OwnerBits(num_shards) : 1));
  return bytes;
}

}  // namespace

void OwnersOfPositions(const int64_t* values, int64_t n, const int64_t* row_splits,
                       int64_t num_bags, int64_t slot_num, bool by_slot, int num_shards,
                       int32_t* owner, unsigned long long* counts,
                       unsigned long long* reserved_first, cudaStream_t stream) {
  HCTR_CHECK(num_shards >= 1 && num_shards <= kMaxShards,
             "a sharded table has 1 to " << kMaxShards << " shards; received " << num_shards);
  HCTR_CHECK(!by_slot || slot_num > 0, "slot_num must be positive; received " << slot_num);
  if (n == 0) return;
  OwnersKernel<<<GridFor(n, kBlock, 4096), kBlock, 0, stream>>>(values, n, row_splits, num_bags,
                                                                slot_num, by_slot, num_shards,
                                                                owner, counts, reserved_first);
  HCTR_CUDA_CHECK_LAUNCH();
}

size_t GroupByOwnerWorkspaceBytes(int64_t n, int num_shards) {
  HCTR_CHECK(n >= 0 && n < (int64_t{1} << 31),
             "a batch may hold at most 2^31-1 keys; received " << n);
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  return 2 * Carver::Align(m * 4) + Carver::Align(SortBytes(n, num_shards));
}

void GroupByOwner(const int32_t* owner, const int64_t* values, int64_t n, int num_shards,
                  void* workspace, size_t workspace_bytes, int32_t* perm, int64_t* keys,
                  cudaStream_t stream) {
  HCTR_CHECK(workspace_bytes >= GroupByOwnerWorkspaceBytes(n, num_shards),
             "GroupByOwner needs " << GroupByOwnerWorkspaceBytes(n, num_shards)
                                   << " workspace bytes, got " << workspace_bytes);
  if (n == 0) return;
  Carver carve(workspace);
  int32_t* iota = carve.take<int32_t>(n);
  int32_t* sorted_owner = carve.take<int32_t>(n);
  size_t sort_bytes = SortBytes(n, num_shards);
  void* sort_temp = carve.take<char>(sort_bytes);
  if (num_shards == 1) {
    IotaKernel<<<GridFor(n), kBlock, 0, stream>>>(perm, n);
    HCTR_CUDA_CHECK_LAUNCH();
  } else {
    IotaKernel<<<GridFor(n), kBlock, 0, stream>>>(iota, n);
    HCTR_CUDA_CHECK_LAUNCH();
    // A radix sort is stable: positions stay ascending within each owner.
    HCTR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(sort_temp, sort_bytes, owner, sorted_owner,
                                                    iota, perm, static_cast<int>(n), 0,
                                                    OwnerBits(num_shards), stream));
  }
  GatherKeysKernel<<<GridFor(n), kBlock, 0, stream>>>(values, perm, n, keys);
  HCTR_CUDA_CHECK_LAUNCH();
}

void MergeOwnerUniques(const ShardOffsets& positions, int num_shards, const int64_t* unique_keys,
                       const int32_t* sorted_positions, const int32_t* segment_starts,
                       const int64_t* unique_counts, const int32_t* perm, int64_t n,
                       const UniqueOutputs& merged, cudaStream_t stream) {
  MergeKernel<<<GridFor(n > 0 ? n : 1), kBlock, 0, stream>>>(positions, num_shards, unique_keys,
                                                             sorted_positions, segment_starts,
                                                             unique_counts, perm, n, merged);
  HCTR_CUDA_CHECK_LAUNCH();
}

void IndexPositions(const UniqueOutputs& merged, int64_t n, const int64_t* row_splits,
                    int64_t num_bags, int64_t slot_num, int64_t* value_rows, int64_t* first_slots,
                    cudaStream_t stream) {
  if (n == 0) return;
  IndexKernel<<<GridFor(n), kBlock, 0, stream>>>(merged, n, row_splits, num_bags, slot_num,
                                                 value_rows, first_slots);
  HCTR_CUDA_CHECK_LAUNCH();
}

void DropMissing(const int64_t* found_rows, int64_t n, int64_t* value_rows,
                 unsigned long long* misses, cudaStream_t stream) {
  if (n == 0) return;
  DropMissingKernel<<<GridFor(n), kBlock, 0, stream>>>(found_rows, n, value_rows, misses);
  HCTR_CUDA_CHECK_LAUNCH();
}

void IotaSplits(int64_t* splits, int64_t n, cudaStream_t stream) {
  IotaSplitsKernel<<<GridFor(n + 1), kBlock, 0, stream>>>(splits, n);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
