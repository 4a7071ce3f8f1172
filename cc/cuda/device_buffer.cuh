#pragma once
// A grow-only device allocation (host code only). The GPU core owns its table memory through
// this so it stays framework-free; the TensorFlow resource or the pybind11 harness owns the core.

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "cc/cuda/cuda_check.cuh"

namespace hugectr_tf {
namespace cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) { Reserve(bytes); }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);  // no throw from a destructor
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }

  // Makes room for at least `bytes`; old contents are dropped when it grows (scratch use).
  void Reserve(size_t bytes) {
    if (bytes <= bytes_) return;
    if (ptr_ != nullptr) {
      // Work queued on any stream may still read the old buffer.
      HCTR_CUDA_CHECK(cudaDeviceSynchronize());
      HCTR_CUDA_CHECK(cudaFree(ptr_));
    }
    ptr_ = nullptr;
    bytes_ = 0;
    HCTR_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
    bytes_ = bytes;
  }

  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Carves consecutive, 256-byte aligned sub-arrays out of one scratch allocation.
class Carver {
 public:
  explicit Carver(void* base) : base_(static_cast<char*>(base)) {}
  template <typename T>
  T* take(size_t count) {
    T* p = reinterpret_cast<T*>(base_ + offset_);
    offset_ += Align(count * sizeof(T));
    return p;
  }
  size_t used() const { return offset_; }
  static size_t Align(size_t bytes) { return (bytes + 255) / 256 * 256; }

 private:
  char* base_;
  size_t offset_ = 0;
};

}  // namespace cuda
}  // namespace hugectr_tf
