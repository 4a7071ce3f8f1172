// Sorted unique via cub radix sort + scan (see unique.cuh).

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "cc/core/check.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/unique.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

__global__ void IotaKernel(int32_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    out[i] = static_cast<int32_t>(i);
  }
}

__global__ void HeadFlagsKernel(const int64_t* __restrict__ sorted, int64_t n,
                                int32_t* __restrict__ flags) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    flags[i] = (i == 0 || sorted[i] != sorted[i - 1]) ? 1 : 0;
  }
}

__global__ void ScatterUniqueKernel(const int64_t* __restrict__ sorted,
                                    const int32_t* __restrict__ flags,
                                    const int32_t* __restrict__ ids, int64_t n, UniqueOutputs out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int32_t u = ids[i] - 1;  // inclusive scan of head flags, 0-based
    if (flags[i]) {
      out.unique_keys[u] = sorted[i];
      out.segment_starts[u] = static_cast<int32_t>(i);
    }
    if (i == n - 1) {
      *out.num_unique = u + 1;
      out.segment_starts[u + 1] = static_cast<int32_t>(n);
    }
  }
}

size_t CubBytes(int64_t n) {
  size_t sort_bytes = 0, scan_bytes = 0;
  const int items = static_cast<int>(n);
  HCTR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, static_cast<const int64_t*>(nullptr), static_cast<int64_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), items));
  HCTR_CUDA_CHECK(cub::DeviceScan::InclusiveSum(nullptr, scan_bytes,
                                                static_cast<const int32_t*>(nullptr),
                                                static_cast<int32_t*>(nullptr), items));
  return sort_bytes > scan_bytes ? sort_bytes : scan_bytes;
}

}  // namespace

size_t SortedUniqueWorkspaceBytes(int64_t n) {
  HCTR_CHECK(n >= 0 && n < (int64_t{1} << 31),
             "SortedUnique handles up to 2^31-1 keys per call; received n=" << n);
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  // sorted keys, iota positions, head flags, segment ids, cub scratch
  return Carver::Align(m * 8) + 3 * Carver::Align(m * 4) + Carver::Align(CubBytes(n));
}

void SortedUnique(const int64_t* keys, int64_t n, void* workspace, size_t workspace_bytes,
                  const UniqueOutputs& out, cudaStream_t stream) {
  const size_t need = SortedUniqueWorkspaceBytes(n);
  HCTR_CHECK(workspace_bytes >= need,
             "SortedUnique needs " << need << " workspace bytes, got " << workspace_bytes);
  if (n == 0) {
    HCTR_CUDA_CHECK(cudaMemsetAsync(out.num_unique, 0, sizeof(int64_t), stream));
    HCTR_CUDA_CHECK(cudaMemsetAsync(out.segment_starts, 0, sizeof(int32_t), stream));
    return;
  }
  Carver carve(workspace);
  int64_t* sorted = carve.take<int64_t>(n);
  int32_t* iota = carve.take<int32_t>(n);
  int32_t* flags = carve.take<int32_t>(n);
  int32_t* ids = carve.take<int32_t>(n);
  size_t cub_bytes = CubBytes(n);
  void* cub_temp = carve.take<char>(cub_bytes);
  const int items = static_cast<int>(n);

  IotaKernel<<<GridFor(n), kBlock, 0, stream>>>(iota, n);
  HCTR_CUDA_CHECK_LAUNCH();
  HCTR_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(cub_temp, cub_bytes, keys, sorted, iota,
                                                  out.sorted_positions, items, 0, 64, stream));
  HeadFlagsKernel<<<GridFor(n), kBlock, 0, stream>>>(sorted, n, flags);
  HCTR_CUDA_CHECK_LAUNCH();
  cub_bytes = CubBytes(n);
  HCTR_CUDA_CHECK(cub::DeviceScan::InclusiveSum(cub_temp, cub_bytes, flags, ids, items, stream));
  ScatterUniqueKernel<<<GridFor(n), kBlock, 0, stream>>>(sorted, flags, ids, n, out);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
