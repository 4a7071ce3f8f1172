// One-hot (dense table) row addressing kernel.

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/one_hot.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

__global__ void OneHotRowsKernel(const int64_t* __restrict__ keys, int64_t n,
                                 const int64_t* __restrict__ row_splits, int64_t num_bags,
                                 int slot_num, const int64_t* __restrict__ slot_offsets,
                                 const int64_t* __restrict__ slot_limits,
                                 int64_t* __restrict__ rows, unsigned long long* first_bad) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t slot = BagOfPosition(row_splits, num_bags, i) % slot_num;
    const int64_t key = keys[i];
    if (key >= 0 && key < slot_limits[slot]) {
      rows[i] = slot_offsets[slot] + key;
    } else {
      rows[i] = -1;
      atomicMin(first_bad, static_cast<unsigned long long>(i));
    }
  }
}

__global__ void MarkSeenKernel(const int64_t* __restrict__ rows, int64_t n, uint8_t* seen,
                               int64_t* last_step, int64_t step) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = rows[i];
    if (!seen[r]) {  // duplicates race here, but all write the same values
      seen[r] = 1;
      last_step[r] = step;
    }
  }
}

__global__ void InferenceRowsKernel(int64_t* __restrict__ rows, int64_t n,
                                    const uint8_t* __restrict__ seen,
                                    unsigned long long* miss_count) {
  unsigned long long misses = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    if (!seen[rows[i]]) {
      rows[i] = -1;
      ++misses;
    }
  }
  if (misses) atomicAdd(miss_count, misses);
}

}  // namespace

void OneHotMarkSeen(const int64_t* rows, int64_t n, uint8_t* seen, int64_t* last_step, int64_t step,
                    cudaStream_t stream) {
  if (n == 0) return;
  MarkSeenKernel<<<GridFor(n), kBlock, 0, stream>>>(rows, n, seen, last_step, step);
  HCTR_CUDA_CHECK_LAUNCH();
}

void OneHotInferenceRows(int64_t* rows, int64_t n, const uint8_t* seen,
                         unsigned long long* miss_count, cudaStream_t stream) {
  if (n == 0) return;
  InferenceRowsKernel<<<GridFor(n), kBlock, 0, stream>>>(rows, n, seen, miss_count);
  HCTR_CUDA_CHECK_LAUNCH();
}

void OneHotRows(const int64_t* keys, int64_t n, const int64_t* row_splits, int64_t num_bags,
                int slot_num, const int64_t* slot_offsets, const int64_t* slot_limits,
                int64_t* rows, unsigned long long* first_bad, cudaStream_t stream) {
  if (n == 0) return;
  OneHotRowsKernel<<<GridFor(n), kBlock, 0, stream>>>(keys, n, row_splits, num_bags, slot_num,
                                                      slot_offsets, slot_limits, rows, first_bad);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
