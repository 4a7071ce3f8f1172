// Routing kernels of the sharded table (see shard_routing.cuh).

#include <climits>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "cc/core/check.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/shard_routing.cuh"
#include "cc/cuda/types.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

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

__global__ void ClearDedupKernel(int64_t* __restrict__ slot_keys, int32_t* __restrict__ slot_first,
                                 int64_t total) {
  HCTR_GRID_LOOP(s, total) {
    slot_keys[s] = kEmptyKey;
    slot_first[s] = INT_MAX;
  }
}

// Insert-or-find of every position's key in its owner's region (the route has rejected
// kEmptyKey, the free-slot marker); the slot also keeps the key's first position.
__global__ void DedupInsertKernel(const int64_t* __restrict__ values, int64_t n,
                                  const int32_t* __restrict__ owner, ShardOffsets regions,
                                  int64_t* slot_keys, int32_t* slot_first,
                                  int32_t* __restrict__ slot_of_position) {
  HCTR_GRID_LOOP(p, n) {
    const long long key = values[p];
    const int o = owner[p];
    const int64_t base = regions.at[o];
    const uint64_t mask = static_cast<uint64_t>(regions.at[o + 1] - base - 1);
    uint64_t h = MixKey64(key) & mask;
    while (true) {
      const int64_t s = base + static_cast<int64_t>(h);
      long long cur = *reinterpret_cast<volatile long long*>(&slot_keys[s]);
      if (cur == kEmptyKey) {
        cur = static_cast<long long>(atomicCAS(reinterpret_cast<unsigned long long*>(&slot_keys[s]),
                                               static_cast<unsigned long long>(kEmptyKey),
                                               static_cast<unsigned long long>(key)));
        if (cur == kEmptyKey) cur = key;  // this thread claimed the slot
      }
      if (cur == key) {
        slot_of_position[p] = static_cast<int32_t>(s);
        // Positions run roughly in order, so most threads of a hot key skip the atomic.
        if (static_cast<int32_t>(p) < *reinterpret_cast<volatile int32_t*>(&slot_first[s])) {
          atomicMin(&slot_first[s], static_cast<int32_t>(p));
        }
        break;
      }
      h = (h + 1) & mask;
    }
  }
}

__global__ void OccupiedKernel(const int64_t* __restrict__ slot_keys, int64_t total,
                               int32_t* __restrict__ occupied) {
  HCTR_GRID_LOOP(s, total) { occupied[s] = slot_keys[s] != kEmptyKey ? 1 : 0; }
}

// Entry of an occupied slot = its rank among occupied slots (inclusive scan - 1): owner-major,
// since the regions are laid out in owner order.
__global__ void CompactKernel(const int64_t* __restrict__ slot_keys,
                              const int32_t* __restrict__ slot_first,
                              const int32_t* __restrict__ rank, int64_t total,
                              const int64_t* __restrict__ row_splits, int64_t num_bags,
                              int64_t slot_num, int64_t* __restrict__ unique_keys,
                              int64_t* __restrict__ first_slots) {
  HCTR_GRID_LOOP(s, total) {
    const int64_t key = slot_keys[s];
    if (key == kEmptyKey) continue;
    const int64_t j = rank[s] - 1;
    unique_keys[j] = key;
    first_slots[j] = BagOfPosition(row_splits, num_bags, slot_first[s]) % slot_num;
  }
}

__global__ void RegionCountsKernel(const int32_t* __restrict__ rank, ShardOffsets regions,
                                   int num_shards, int64_t* __restrict__ unique_counts,
                                   int64_t* __restrict__ num_unique) {
  const int s = threadIdx.x;
  if (s < num_shards) {
    const int64_t lo = regions.at[s], hi = regions.at[s + 1];
    const int64_t before = lo > 0 ? rank[lo - 1] : 0;
    unique_counts[s] = hi > lo ? rank[hi - 1] - before : 0;
  }
  if (s == 0) {
    const int64_t total = regions.at[num_shards];
    *num_unique = total > 0 ? rank[total - 1] : 0;
  }
}

__global__ void IdsKernel(const int32_t* __restrict__ slot_of_position,
                          const int32_t* __restrict__ rank, int64_t n, int32_t* __restrict__ ids) {
  HCTR_GRID_LOOP(p, n) { ids[p] = rank[slot_of_position[p]] - 1; }
}

__global__ void IotaKernel(int32_t* out, int64_t n) {
  HCTR_GRID_LOOP(i, n) { out[i] = static_cast<int32_t>(i); }
}

// Sorted ids hold every id in [0, num_ids) at least once: a segment starts where the id
// changes, and the last id's segment ends at n.
__global__ void SegmentStartsKernel(const int32_t* __restrict__ sorted_ids, int64_t n,
                                    int32_t* __restrict__ segment_starts) {
  HCTR_GRID_LOOP(i, n) {
    const int32_t id = sorted_ids[i];
    if (i == 0 || sorted_ids[i - 1] != id) segment_starts[id] = static_cast<int32_t>(i);
    if (i == n - 1) segment_starts[id + 1] = static_cast<int32_t>(n);
  }
}

__global__ void SourcesKernel(const int32_t* __restrict__ ids, int64_t n, int64_t own_first,
                              int64_t own_count, const int64_t* __restrict__ own_rows,
                              const int64_t* __restrict__ remote_found, int64_t* __restrict__ src,
                              unsigned long long* misses) {
  unsigned long long local = 0;
  HCTR_GRID_LOOP(p, n) {
    const int64_t j = ids[p];
    int64_t s = 0;
    if (j >= own_first && j < own_first + own_count) {
      s = own_rows[j - own_first];
    } else {
      s = (remote_found != nullptr && remote_found[j] < 0) ? -1 : -(j + 2);
    }
    src[p] = s;
    if (s == -1) ++local;
  }
  if (misses != nullptr && local != 0) atomicAdd(misses, local);
}

__global__ void SetValuesKernel(int64_t* dst, Int64Quad values, int count) {
  if (threadIdx.x < count) dst[threadIdx.x] = values.v[threadIdx.x];
}

int BitsFor(int64_t n) {  // bits that hold every value in [0, n)
  int bits = 1;
  while (bits < 62 && (int64_t{1} << bits) < n) ++bits;
  return bits;
}

size_t ScanBytes(int64_t items) {
  size_t bytes = 0;
  HCTR_CUDA_CHECK(
      cub::DeviceScan::InclusiveSum(nullptr, bytes, static_cast<const int32_t*>(nullptr),
                                    static_cast<int32_t*>(nullptr), static_cast<int>(items)));
  return bytes;
}

size_t SegmentSortBytes(int64_t n) {
  size_t bytes = 0;
  HCTR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes, static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), static_cast<int>(n), 0,
      BitsFor(n)));
  return bytes;
}

void CheckSizes(int64_t n, const ShardOffsets& regions, int num_shards) {
  HCTR_CHECK(num_shards >= 1 && num_shards <= kMaxShards,
             "a sharded table has 1 to " << kMaxShards << " shards; received " << num_shards);
  HCTR_CHECK(n >= 0 && n < (int64_t{1} << 31),
             "a batch may hold at most 2^31-1 keys; received " << n);
  HCTR_CHECK(regions.at[num_shards] < (int64_t{1} << 31),
             "the route of a batch of " << n << " keys needs " << regions.at[num_shards]
                                        << " hash slots; at most 2^31-1 (split the batch)");
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

ShardOffsets DedupRegions(const int64_t* positions, int num_shards) {
  ShardOffsets at{};
  for (int s = 0; s < num_shards; ++s) {
    int64_t cap = 0;
    if (positions[s] > 0) {
      cap = 32;
      while (cap < 2 * positions[s]) cap <<= 1;
    }
    at.at[s + 1] = at.at[s] + cap;
  }
  return at;
}

size_t DedupWorkspaceBytes(int64_t n, const ShardOffsets& regions, int num_shards) {
  CheckSizes(n, regions, num_shards);
  const size_t total = static_cast<size_t>(regions.at[num_shards] > 0 ? regions.at[num_shards] : 1);
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  // slot keys, slot first positions, occupied flags, their scan, slot of each position, cub
  return Carver::Align(total * 8) + 3 * Carver::Align(total * 4) + Carver::Align(m * 4) +
         Carver::Align(ScanBytes(static_cast<int64_t>(total)));
}

void DedupByOwner(const int64_t* values, int64_t n, const int32_t* owner, const int64_t* row_splits,
                  int64_t num_bags, int64_t slot_num, int num_shards, const ShardOffsets& regions,
                  void* workspace, size_t workspace_bytes, const RouteOutputs& out,
                  cudaStream_t stream) {
  const size_t need = DedupWorkspaceBytes(n, regions, num_shards);
  HCTR_CHECK(workspace_bytes >= need,
             "DedupByOwner needs " << need << " workspace bytes, got " << workspace_bytes);
  const int64_t total = regions.at[num_shards];
  if (n == 0 || total == 0) {
    HCTR_CUDA_CHECK(cudaMemsetAsync(out.unique_counts, 0, num_shards * sizeof(int64_t), stream));
    HCTR_CUDA_CHECK(cudaMemsetAsync(out.num_unique, 0, sizeof(int64_t), stream));
    return;
  }
  Carver carve(workspace);
  int64_t* slot_keys = carve.take<int64_t>(total);
  int32_t* slot_first = carve.take<int32_t>(total);
  int32_t* occupied = carve.take<int32_t>(total);
  int32_t* rank = carve.take<int32_t>(total);
  int32_t* slot_of_position = carve.take<int32_t>(n);
  size_t scan_bytes = ScanBytes(total);
  void* scan_temp = carve.take<char>(scan_bytes);

  ClearDedupKernel<<<GridFor(total), kBlock, 0, stream>>>(slot_keys, slot_first, total);
  HCTR_CUDA_CHECK_LAUNCH();
  DedupInsertKernel<<<GridFor(n), kBlock, 0, stream>>>(values, n, owner, regions, slot_keys,
                                                       slot_first, slot_of_position);
  HCTR_CUDA_CHECK_LAUNCH();
  OccupiedKernel<<<GridFor(total), kBlock, 0, stream>>>(slot_keys, total, occupied);
  HCTR_CUDA_CHECK_LAUNCH();
  HCTR_CUDA_CHECK(cub::DeviceScan::InclusiveSum(scan_temp, scan_bytes, occupied, rank,
                                                static_cast<int>(total), stream));
  CompactKernel<<<GridFor(total), kBlock, 0, stream>>>(slot_keys, slot_first, rank, total,
                                                       row_splits, num_bags, slot_num,
                                                       out.unique_keys, out.first_slots);
  HCTR_CUDA_CHECK_LAUNCH();
  RegionCountsKernel<<<1, kMaxShards, 0, stream>>>(rank, regions, num_shards, out.unique_counts,
                                                   out.num_unique);
  HCTR_CUDA_CHECK_LAUNCH();
  IdsKernel<<<GridFor(n), kBlock, 0, stream>>>(slot_of_position, rank, n, out.ids);
  HCTR_CUDA_CHECK_LAUNCH();
}

size_t SegmentsWorkspaceBytes(int64_t n) {
  HCTR_CHECK(n >= 0 && n < (int64_t{1} << 31),
             "a batch may hold at most 2^31-1 keys; received " << n);
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  return 2 * Carver::Align(m * 4) + Carver::Align(SegmentSortBytes(n));
}

void SegmentsOfIds(const int32_t* ids, int64_t n, void* workspace, size_t workspace_bytes,
                   int32_t* sorted_positions, int32_t* segment_starts, cudaStream_t stream) {
  HCTR_CHECK(workspace_bytes >= SegmentsWorkspaceBytes(n),
             "SegmentsOfIds needs " << SegmentsWorkspaceBytes(n) << " workspace bytes, got "
                                    << workspace_bytes);
  if (n == 0) {
    HCTR_CUDA_CHECK(cudaMemsetAsync(segment_starts, 0, sizeof(int32_t), stream));
    return;
  }
  Carver carve(workspace);
  int32_t* iota = carve.take<int32_t>(n);
  int32_t* sorted_ids = carve.take<int32_t>(n);
  size_t sort_bytes = SegmentSortBytes(n);
  void* sort_temp = carve.take<char>(sort_bytes);
  IotaKernel<<<GridFor(n), kBlock, 0, stream>>>(iota, n);
  HCTR_CUDA_CHECK_LAUNCH();
  // A radix sort is stable: positions stay ascending within an id.
  HCTR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(sort_temp, sort_bytes, ids, sorted_ids, iota,
                                                  sorted_positions, static_cast<int>(n), 0,
                                                  BitsFor(n), stream));
  SegmentStartsKernel<<<GridFor(n), kBlock, 0, stream>>>(sorted_ids, n, segment_starts);
  HCTR_CUDA_CHECK_LAUNCH();
}

void PositionSources(const int32_t* ids, int64_t n, int64_t own_first, int64_t own_count,
                     const int64_t* own_rows, const int64_t* remote_found, int64_t* src,
                     unsigned long long* misses, cudaStream_t stream) {
  if (n == 0) return;
  SourcesKernel<<<GridFor(n, kBlock, 4096), kBlock, 0, stream>>>(
      ids, n, own_first, own_count, own_rows, remote_found, src, misses);
  HCTR_CUDA_CHECK_LAUNCH();
}

void SetDeviceValues(int64_t* dst, const Int64Quad& values, int count, cudaStream_t stream) {
  HCTR_CHECK(count >= 0 && count <= 4, "SetDeviceValues sets up to 4 values; received " << count);
  if (count == 0) return;
  SetValuesKernel<<<1, 32, 0, stream>>>(dst, values, count);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
