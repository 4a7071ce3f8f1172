#pragma once
// HugeCTR's InnerProduct / FusedInnerProduct on the CPU: y = x W + b, with the ReLU fused into
// the GEMM's store for FusedInnerProduct; the backward masks dy by y > 0 and sums the bias
// gradient in one pass, then runs the two GEMMs dx = dz W^T and dW = x^T dz (cc/core/dense/gemm.h).

#include <cstdint>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

// T is float or double.
template <typename T>
void InnerProductForward(const T* x,       // (batch, in)
                         const T* kernel,  // (in, out)
                         const T* bias,    // (out)
                         int64_t batch, int64_t in, int64_t out, bool relu,
                         T* y,  // (batch, out)
                         const ParallelFor& parallel_for);

template <typename T>
void InnerProductBackward(const T* x,       // (batch, in)
                          const T* kernel,  // (in, out)
                          const T* y,       // (batch, out): the forward's output (for the mask)
                          const T* dy,      // (batch, out)
                          int64_t batch, int64_t in, int64_t out, bool relu,
                          T* dx,       // (batch, in)
                          T* dkernel,  // (in, out)
                          T* dbias,    // (out)
                          const ParallelFor& parallel_for);

}  // namespace hugectr_tf
