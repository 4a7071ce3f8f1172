#include "cc/core/dense/inner_product.h"

#include <algorithm>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/dense/gemm.h"
#include "cc/core/dense/vector_math.h"

namespace hugectr_tf {

namespace {

constexpr int64_t kColumnBlock = 64;  // bias-gradient columns per task

// dz = relu ? dy * (y > 0) : dy and dbias = column sums of dz (rows added in order).
template <typename T>
HCTR_INLINE void MaskColumns(const T* y, const T* dy, int64_t batch, int64_t out, bool relu, T* dz,
                             T* dbias, int64_t j0, int64_t j1) {
  std::fill(dbias + j0, dbias + j1, T(0));
  for (int64_t r = 0; r < batch; ++r) {
    const T* yr = y + r * out;
    const T* dyr = dy + r * out;
    T* dzr = dz + r * out;
    for (int64_t j = j0; j < j1; ++j) {
      const T g = (!relu || yr[j] > 0) ? dyr[j] : T(0);
      dzr[j] = g;
      dbias[j] += g;
    }
  }
}

HCTR_SIMD_CLONES void MaskColumnsSimd(const float* y, const float* dy, int64_t batch, int64_t out,
                                      bool relu, float* dz, float* db, int64_t j0, int64_t j1) {
  MaskColumns(y, dy, batch, out, relu, dz, db, j0, j1);
}
HCTR_SIMD_CLONES void MaskColumnsSimd(const double* y, const double* dy, int64_t batch, int64_t out,
                                      bool relu, double* dz, double* db, int64_t j0, int64_t j1) {
  MaskColumns(y, dy, batch, out, relu, dz, db, j0, j1);
}

void CheckShape(int64_t batch, int64_t in, int64_t out) {
  HCTR_CHECK(batch >= 0 && in > 0 && out > 0,
             "InnerProduct needs x (batch, in) and kernel (in, out) with in, out > 0. Received: "
             "batch="
                 << batch << ", in=" << in << ", out=" << out);
}

}  // namespace

template <typename T>
void InnerProductForward(const T* x, const T* kernel, const T* bias, int64_t batch, int64_t in,
                         int64_t out, bool relu, T* y, const ParallelFor& parallel_for) {
  CheckShape(batch, in, out);
  Gemm(MatrixView<T>{x, in, 1}, MatrixView<T>{kernel, out, 1}, batch, out, in, bias,
       GemmEpilogue{relu}, y, parallel_for);
}

template <typename T>
void InnerProductBackward(const T* x, const T* kernel, const T* y, const T* dy, int64_t batch,
                          int64_t in, int64_t out, bool relu, T* dx, T* dkernel, T* dbias,
                          const ParallelFor& parallel_for) {
  CheckShape(batch, in, out);
  std::vector<T> dz(batch * out);
  const int64_t blocks = (out + kColumnBlock - 1) / kColumnBlock;
  parallel_for(blocks, batch * kColumnBlock * 2, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t j0 = blk * kColumnBlock, j1 = std::min(out, j0 + kColumnBlock);
      MaskColumnsSimd(y, dy, batch, out, relu, dz.data(), dbias, j0, j1);
    }
  });
  const GemmEpilogue none{};
  // dx (batch, in) = dz (batch, out) W^T (out, in)
  Gemm(MatrixView<T>{dz.data(), out, 1}, MatrixView<T>{kernel, 1, out}, batch, in, out,
       static_cast<const T*>(nullptr), none, dx, parallel_for);
  // dW (in, out) = x^T (in, batch) dz (batch, out)
  Gemm(MatrixView<T>{x, 1, in}, MatrixView<T>{dz.data(), out, 1}, in, out, batch,
       static_cast<const T*>(nullptr), none, dkernel, parallel_for);
}

template void InnerProductForward<float>(const float*, const float*, const float*, int64_t, int64_t,
                                         int64_t, bool, float*, const ParallelFor&);
template void InnerProductForward<double>(const double*, const double*, const double*, int64_t,
                                          int64_t, int64_t, bool, double*, const ParallelFor&);
template void InnerProductBackward<float>(const float*, const float*, const float*, const float*,
                                          int64_t, int64_t, int64_t, bool, float*, float*, float*,
                                          const ParallelFor&);
template void InnerProductBackward<double>(const double*, const double*, const double*,
                                           const double*, int64_t, int64_t, int64_t, bool, double*,
                                           double*, double*, const ParallelFor&);

}  // namespace hugectr_tf
