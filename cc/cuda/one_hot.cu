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
                                 int64_t* __restrict__ rows, unsigned long long* first_bad) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t slot = BagOfPosition(row_splits, num_bags, i) % slot_num;
    const int64_t key = keys[i];
    const int64_t lo = slot_offsets[slot], hi = slot_offsets[slot + 1];
    if (key >= 0 && key < hi - lo) {
      rows[i] = lo + key;
    } else {
      rows[i] = -1;
      atomicMin(first_bad, static_cast<unsigned long long>(i));
    }
  }
}

}  // namespace

void OneHotRows(const int64_t* keys, int64_t n, const int64_t* row_splits, int64_t num_bags,
                int slot_num, const int64_t* slot_offsets, int64_t* rows,
                unsigned long long* first_bad, cudaStream_t stream) {
  if (n == 0) return;
  OneHotRowsKernel<<<GridFor(n), kBlock, 0, stream>>>(keys, n, row_splits, num_bags, slot_num,
                                                      slot_offsets, rows, first_bad);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
