#pragma once
// CUDA error checks for the framework-free GPU core. Like HCTR_CHECK they throw
// hugectr_tf::Error (code kInternal) carrying the failing call and file:line, so the
// TensorFlow glue and the pybind11 harness turn a CUDA failure into an exception instead of
// aborting.

#include <cuda_runtime.h>

#include <sstream>

#include "cc/core/check.h"

#define HCTR_CUDA_CHECK(call)                                                               \
  do {                                                                                      \
    cudaError_t hctr_cuda_err_ = (call);                                                    \
    if (hctr_cuda_err_ != cudaSuccess) {                                                    \
      std::ostringstream hctr_cuda_os_;                                                     \
      hctr_cuda_os_ << "CUDA call `" #call "` failed: " << cudaGetErrorName(hctr_cuda_err_) \
                    << " (" << cudaGetErrorString(hctr_cuda_err_) << ")";                   \
      ::hugectr_tf::detail::Throw(::hugectr_tf::ErrorCode::kInternal, __FILE__, __LINE__,   \
                                  hctr_cuda_os_.str());                                     \
    }                                                                                       \
  } while (0)

// After a kernel launch: reports launch-configuration errors at the launching line.
#define HCTR_CUDA_CHECK_LAUNCH() HCTR_CUDA_CHECK(cudaGetLastError())
