// A plain SM copy kernel for the benchmark's overlap probe (sharded_bindings.cc): does a
// bandwidth-bound kernel on one stream run at full speed while NCCL moves data on another?

#include <cuda_runtime.h>

#include <cstdint>

#include "cc/cuda/cuda_check.cuh"

namespace {

__global__ void CopyKernel(const float4* __restrict__ src, float4* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    dst[i] = src[i];
  }
}

}  // namespace

// dst = src, `bytes` (a multiple of 16) through the SMs, on `stream`.
void ProbeCopy(const void* src, void* dst, int64_t bytes, cudaStream_t stream) {
  const int64_t n = bytes / 16;
  CopyKernel<<<132 * 8, 256, 0, stream>>>(static_cast<const float4*>(src),
                                          static_cast<float4*>(dst), n);
  HCTR_CUDA_CHECK_LAUNCH();
}
