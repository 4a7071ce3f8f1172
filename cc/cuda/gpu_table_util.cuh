#pragma once
// Host <-> device copies of the GPU table's host code (small values and checkpoint arrays).
// Each synchronises the stream before returning, so host arrays may be temporaries.

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"

namespace hugectr_tf {
namespace cuda {

template <typename T>
T ReadScalar(const T* device, cudaStream_t stream) {
  T value{};
  HCTR_CUDA_CHECK(cudaMemcpyAsync(&value, device, sizeof(T), cudaMemcpyDeviceToHost, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  return value;
}

template <typename T>
std::vector<T> ToHost(const T* device, int64_t count, cudaStream_t stream) {
  std::vector<T> host(static_cast<size_t>(count));
  if (count > 0) {
    HCTR_CUDA_CHECK(
        cudaMemcpyAsync(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

// A device copy of a host array (at least one element, so the pointer is never null).
template <typename T>
DeviceBuffer ToDevice(const T* host, int64_t count, cudaStream_t stream) {
  DeviceBuffer buf(static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T));
  if (count > 0) {
    HCTR_CUDA_CHECK(
        cudaMemcpyAsync(buf.as<T>(), host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
    HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  return buf;
}

}  // namespace cuda
}  // namespace hugectr_tf
