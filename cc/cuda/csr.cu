// Device-side validation of CSR row_splits.

#include "cc/core/check.h"
#include "cc/cuda/csr.cuh"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

__global__ void ValidateKernel(const int64_t* __restrict__ splits, int64_t num_bags, int64_t n,
                               unsigned long long* first_bad) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i <= num_bags;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t v = splits[i];
    const bool bad = (i == 0 && v != 0) || (i > 0 && v < splits[i - 1]) ||
                     (i == num_bags && v != n);
    if (bad) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

}  // namespace

void ValidateRowSplitsAsync(const int64_t* row_splits, int64_t num_bags, int64_t n,
                            unsigned long long* first_bad, cudaStream_t stream) {
  ValidateKernel<<<GridFor(num_bags + 1), kBlock, 0, stream>>>(row_splits, num_bags, n,
                                                               first_bad);
  HCTR_CUDA_CHECK_LAUNCH();
}

void ThrowIfBadRowSplits(const int64_t* row_splits, int64_t num_bags, int64_t n,
                         const unsigned long long* first_bad, cudaStream_t stream) {
  unsigned long long bad = 0;
  HCTR_CUDA_CHECK(cudaMemcpyAsync(&bad, first_bad, sizeof(bad), cudaMemcpyDeviceToHost, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  ReportBadRowSplits(row_splits, num_bags, n, bad);
}

void ReportBadRowSplits(const int64_t* row_splits, int64_t num_bags, int64_t n,
                        unsigned long long bad) {
  if (bad > static_cast<unsigned long long>(num_bags)) return;
  int64_t v[2] = {0, 0};
  const int64_t i = static_cast<int64_t>(bad);
  const int64_t from = i > 0 ? i - 1 : 0;
  HCTR_CUDA_CHECK(cudaMemcpy(v, row_splits + from, (i - from + 1) * sizeof(int64_t),
                             cudaMemcpyDeviceToHost));
  HCTR_FAIL(ErrorCode::kInvalidArgument,
            "row_splits must start at 0, never decrease and end at the number of keys "
                << n << ". Received: row_splits[" << i << "]=" << v[i - from]
                << (i > 0 ? " after row_splits[" + std::to_string(i - 1) + "]=" +
                                std::to_string(v[0])
                          : std::string()));
}

}  // namespace cuda
}  // namespace hugectr_tf
