// GPU hash table kernels (see hash_table.cuh for the concurrency scheme).

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/hash_table.cuh"
#include "cc/cuda/types.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

__global__ void ClearKernel(HashSlot* slots, int64_t capacity) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < capacity;
       i += (int64_t)gridDim.x * blockDim.x) {
    slots[i].key = kEmptyKey;
    slots[i].row = -1;
  }
}

__global__ void FindKernel(HashTableView t, const int64_t* __restrict__ keys, int64_t n,
                           int64_t* __restrict__ rows, unsigned long long* miss_count,
                           int* bad_key) {
  const uint64_t mask = static_cast<uint64_t>(t.capacity - 1);
  unsigned long long misses = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t key = keys[i];
    if (key == kEmptyKey) {
      atomicExch(bad_key, 1);
      rows[i] = -1;
      ++misses;
      continue;
    }
    uint64_t s = MixKey64(key) & mask;
    int64_t row = -1;
    while (true) {
      // One 16-byte load per probe: key and row share a sector.
      const longlong2 slot = *reinterpret_cast<const longlong2*>(&t.slots[s]);
      if (slot.x == key) {
        row = slot.y;
        break;
      }
      if (slot.x == kEmptyKey) break;
      s = (s + 1) & mask;
    }
    rows[i] = row;
    if (row < 0) ++misses;
  }
  if (misses != 0) atomicAdd(miss_count, misses);
}

__global__ void InsertKernel(HashTableView t, const int64_t* __restrict__ keys, int64_t n,
                             int64_t* __restrict__ rows) {
  const uint64_t mask = static_cast<uint64_t>(t.capacity - 1);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    if (rows[i] != -1) continue;
    const long long key = keys[i];
    uint64_t s = MixKey64(key) & mask;
    while (true) {
      long long cur = *reinterpret_cast<volatile long long*>(&t.slots[s].key);
      if (cur == kEmptyKey) {
        cur = atomicCAS(reinterpret_cast<unsigned long long*>(&t.slots[s].key),
                        static_cast<unsigned long long>(kEmptyKey),
                        static_cast<unsigned long long>(key));
        if (cur == kEmptyKey) {  // this thread owns the new key
          const long long row = atomicAdd(reinterpret_cast<unsigned long long*>(t.row_count), 1ULL);
          t.slots[s].row = row;
          if (row < t.max_rows) t.row_keys[row] = key;  // host pre-check makes this always true
          rows[i] = row;
          break;
        }
      }
      if (cur == key) {
        rows[i] = -(static_cast<int64_t>(s) + 2);
        break;
      }
      s = (s + 1) & mask;
    }
  }
}

__global__ void ResolveKernel(HashTableView t, int64_t n, int64_t* __restrict__ rows) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = rows[i];
    if (r <= -2) rows[i] = t.slots[-(r + 2)].row;
  }
}

__global__ void CompactMissingKernel(const int64_t* __restrict__ keys,
                                     const int64_t* __restrict__ rows, int64_t n,
                                     int64_t* __restrict__ out, unsigned long long* count) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    if (rows[i] == -1) out[atomicAdd(count, 1ULL)] = keys[i];
  }
}

}  // namespace

int64_t HashCapacityFor(int64_t max_rows) {
  int64_t cap = 64;
  while (cap < 2 * max_rows) cap <<= 1;
  return cap;
}

void HashTableClear(const HashTableView& t, cudaStream_t stream) {
  ClearKernel<<<GridFor(t.capacity), kBlock, 0, stream>>>(t.slots, t.capacity);
  HCTR_CUDA_CHECK_LAUNCH();
  HCTR_CUDA_CHECK(cudaMemsetAsync(t.row_count, 0, sizeof(long long), stream));
}

void HashTableFind(const HashTableView& t, const int64_t* keys, int64_t n, int64_t* rows,
                   unsigned long long* miss_count, int* bad_key, cudaStream_t stream) {
  if (n == 0) return;
  FindKernel<<<GridFor(n), kBlock, 0, stream>>>(t, keys, n, rows, miss_count, bad_key);
  HCTR_CUDA_CHECK_LAUNCH();
}

void HashTableInsertMissing(const HashTableView& t, const int64_t* keys, int64_t n, int64_t* rows,
                            cudaStream_t stream) {
  if (n == 0) return;
  InsertKernel<<<GridFor(n), kBlock, 0, stream>>>(t, keys, n, rows);
  HCTR_CUDA_CHECK_LAUNCH();
}

void HashTableResolveSlots(const HashTableView& t, int64_t n, int64_t* rows, cudaStream_t stream) {
  if (n == 0) return;
  ResolveKernel<<<GridFor(n), kBlock, 0, stream>>>(t, n, rows);
  HCTR_CUDA_CHECK_LAUNCH();
}

void CompactMissingKeys(const int64_t* keys, const int64_t* rows, int64_t n, int64_t* out,
                        unsigned long long* count, cudaStream_t stream) {
  if (n == 0) return;
  CompactMissingKernel<<<GridFor(n), kBlock, 0, stream>>>(keys, rows, n, out, count);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
