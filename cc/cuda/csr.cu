// Device-side validation of CSR row_splits.

#include <vector>

#include "cc/core/check.h"
#include "cc/core/embedding/combine.h"
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
    const bool bad =
        (i == 0 && v != 0) || (i > 0 && v < splits[i - 1]) || (i == num_bags && v != n);
    if (bad) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

}  // namespace

void ValidateRowSplitsAsync(const int64_t* row_splits, int64_t num_bags, int64_t n,
                            unsigned long long* first_bad, cudaStream_t stream) {
  ValidateKernel<<<GridFor(num_bags + 1), kBlock, 0, stream>>>(row_splits, num_bags, n, first_bad);
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
  // An error path: the CPU core's check on a host copy gives the CPU core's message.
  std::vector<int64_t> splits(static_cast<size_t>(num_bags) + 1);
  HCTR_CUDA_CHECK(cudaMemcpy(splits.data(), row_splits, splits.size() * sizeof(int64_t),
                             cudaMemcpyDeviceToHost));
  ::hugectr_tf::ValidateRowSplits(splits.data(), num_bags, n);
  HCTR_FAIL(ErrorCode::kInternal,
            "row_splits failed the device check at entry " << bad << " but passed the host check");
}

}  // namespace cuda
}  // namespace hugectr_tf
