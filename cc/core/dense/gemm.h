#pragma once
// A small blocked GEMM for the fused InnerProduct kernels: C = op(A) op(B) (+ bias, ReLU) with
// arbitrary strides, so that x W, dy W^T and x^T dy share one packed micro-kernel. Row blocks of
// C are spread over the ParallelFor; each row block is computed in a fixed order, so results do
// not depend on the thread count.

#include <cstdint>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

// A view of a matrix element (i, j) at data[i * row_stride + j * col_stride].
template <typename T>
struct MatrixView {
  const T* data;
  int64_t row_stride;
  int64_t col_stride;
};

struct GemmEpilogue {
  bool relu = false;  // C = max(C, 0) after the bias
};

// c (m, n) row-major = a (m, k) b (k, n) + bias (n, or null), then the epilogue.
template <typename T>
void Gemm(MatrixView<T> a, MatrixView<T> b, int64_t m, int64_t n, int64_t k, const T* bias,
          GemmEpilogue epilogue,
          T* c,  // (m, n)
          const ParallelFor& parallel_for);

}  // namespace hugectr_tf
