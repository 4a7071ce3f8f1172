#include "cc/core/dense/gemm.h"

#include <algorithm>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/dense/vector_math.h"

namespace hugectr_tf {

namespace {

using vector_math::Load;
using vector_math::Store;

constexpr int64_t kMr = 6;    // rows of the register tile
constexpr int64_t kKc = 256;  // depth of a packed block (A sliver + B sliver stay in L1/L2)
constexpr int64_t kMc = 96;   // rows of C per task (a multiple of kMr)

template <typename T>
constexpr int64_t Nr() {
  return 2 * vector_math::Simd<T>::kWidth;  // columns of the register tile: two vectors
}

// B (k, n) packed as [k block][column sliver][depth][Nr], zero-padded past n.
template <typename T>
HCTR_INLINE void PackB(MatrixView<T> b, int64_t k, int64_t n, int64_t sliver_begin,
                       int64_t sliver_end, T* packed) {
  constexpr int64_t nr = Nr<T>();
  const int64_t slivers = (n + nr - 1) / nr;
  for (int64_t p0 = 0; p0 < k; p0 += kKc) {
    const int64_t kc = std::min(kKc, k - p0);
    T* block = packed + p0 * slivers * nr;
    for (int64_t s = sliver_begin; s < sliver_end; ++s) {
      T* dst = block + s * kc * nr;
      const int64_t j0 = s * nr, cols = std::min(nr, n - j0);
      for (int64_t p = 0; p < kc; ++p) {
        const T* src = b.data + (p0 + p) * b.row_stride + j0 * b.col_stride;
        for (int64_t j = 0; j < cols; ++j) dst[p * nr + j] = src[j * b.col_stride];
        for (int64_t j = cols; j < nr; ++j) dst[p * nr + j] = 0;
      }
    }
  }
}

// Rows [i0, i0 + mc) x depth [p0, p0 + kc) of A packed as [row sliver][depth][kMr].
template <typename T>
HCTR_INLINE void PackA(MatrixView<T> a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* packed) {
  for (int64_t s = 0; s * kMr < mc; ++s) {
    T* dst = packed + s * kc * kMr;
    const int64_t rows = std::min(kMr, mc - s * kMr);
    for (int64_t r = 0; r < kMr; ++r) {
      if (r >= rows) {
        for (int64_t p = 0; p < kc; ++p) dst[p * kMr + r] = 0;
        continue;
      }
      const T* src = a.data + (i0 + s * kMr + r) * a.row_stride + p0 * a.col_stride;
      for (int64_t p = 0; p < kc; ++p) dst[p * kMr + r] = src[p * a.col_stride];
    }
  }
}

struct TileInfo {
  int64_t rows, cols;  // valid part of the kMr x Nr tile
  bool first, last;    // first / last depth block: overwrite C / apply bias and epilogue
};

template <typename T>
HCTR_INLINE void MicroKernel(const T* pa, const T* pb, int64_t kc, T* c, int64_t ldc,
                             const TileInfo& tile, const T* bias, bool relu) {
  using V = typename vector_math::Simd<T>::V;
  constexpr int64_t kW = vector_math::Simd<T>::kWidth;
  constexpr int64_t nr = Nr<T>();
  V acc[kMr][2] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const V b0 = Load(pb + p * nr), b1 = Load(pb + p * nr + kW);
    for (int64_t r = 0; r < kMr; ++r) {
      const T ar = pa[p * kMr + r];
      acc[r][0] += ar * b0;
      acc[r][1] += ar * b1;
    }
  }
  T tmp[nr];
  for (int64_t r = 0; r < tile.rows; ++r) {
    T* row = c + r * ldc;
    Store(tmp, acc[r][0]);
    Store(tmp + kW, acc[r][1]);
    for (int64_t j = 0; j < tile.cols; ++j) {
      T v = tmp[j] + (tile.first ? T(0) : row[j]);
      if (tile.last) {
        if (bias != nullptr) v += bias[j];
        if (relu && !(v > 0)) v = 0;
      }
      row[j] = v;
    }
  }
}

template <typename T>
HCTR_INLINE void RowBlock(MatrixView<T> a, const T* packed_b, int64_t m, int64_t n, int64_t k,
                          const T* bias, bool relu, T* c, int64_t block, T* packed_a) {
  constexpr int64_t nr = Nr<T>();
  const int64_t slivers = (n + nr - 1) / nr;
  const int64_t i0 = block * kMc, mc = std::min(kMc, m - i0);
  for (int64_t p0 = 0; p0 < k; p0 += kKc) {
    const int64_t kc = std::min(kKc, k - p0);
    PackA(a, i0, mc, p0, kc, packed_a);
    const T* b_block = packed_b + p0 * slivers * nr;
    for (int64_t s = 0; s < slivers; ++s) {
      const int64_t j0 = s * nr;
      for (int64_t r0 = 0; r0 < mc; r0 += kMr) {
        TileInfo tile{std::min(kMr, mc - r0), std::min(nr, n - j0), p0 == 0, p0 + kc >= k};
        MicroKernel(packed_a + (r0 / kMr) * kc * kMr, b_block + s * kc * nr, kc,
                    c + (i0 + r0) * n + j0, n, tile, bias == nullptr ? nullptr : bias + j0, relu);
      }
    }
  }
}

HCTR_SIMD_CLONES void PackBSimd(MatrixView<float> b, int64_t k, int64_t n, int64_t s0, int64_t s1,
                                float* packed) {
  PackB(b, k, n, s0, s1, packed);
}
HCTR_SIMD_CLONES void PackBSimd(MatrixView<double> b, int64_t k, int64_t n, int64_t s0, int64_t s1,
                                double* packed) {
  PackB(b, k, n, s0, s1, packed);
}
HCTR_SIMD_CLONES void RowBlockSimd(MatrixView<float> a, const float* pb, int64_t m, int64_t n,
                                   int64_t k, const float* bias, bool relu, float* c, int64_t block,
                                   float* pa) {
  RowBlock(a, pb, m, n, k, bias, relu, c, block, pa);
}
HCTR_SIMD_CLONES void RowBlockSimd(MatrixView<double> a, const double* pb, int64_t m, int64_t n,
                                   int64_t k, const double* bias, bool relu, double* c,
                                   int64_t block, double* pa) {
  RowBlock(a, pb, m, n, k, bias, relu, c, block, pa);
}

}  // namespace

template <typename T>
void Gemm(MatrixView<T> a, MatrixView<T> b, int64_t m, int64_t n, int64_t k, const T* bias,
          GemmEpilogue epilogue, T* c, const ParallelFor& parallel_for) {
  HCTR_CHECK(m >= 0 && n >= 0 && k >= 0,
             "GEMM sizes must be non-negative. Received: m=" << m << ", n=" << n << ", k=" << k);
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: C = bias (then the epilogue)
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const T v = bias == nullptr ? T(0) : bias[j];
        c[i * n + j] = epilogue.relu && !(v > 0) ? T(0) : v;
      }
    }
    return;
  }
  constexpr int64_t nr = Nr<T>();
  const int64_t slivers = (n + nr - 1) / nr;
  std::vector<T> packed_b(k * slivers * nr);
  parallel_for(slivers, k * nr * 2,
               [&](int64_t s0, int64_t s1) { PackBSimd(b, k, n, s0, s1, packed_b.data()); });
  const int64_t blocks = (m + kMc - 1) / kMc;
  parallel_for(blocks, kMc * n * k * 2, [&](int64_t begin, int64_t end) {
    std::vector<T> packed_a(kMc * std::min(k, kKc) + kMr * kKc);
    for (int64_t blk = begin; blk < end; ++blk) {
      RowBlockSimd(a, packed_b.data(), m, n, k, bias, epilogue.relu, c, blk, packed_a.data());
    }
  });
}

template void Gemm<float>(MatrixView<float>, MatrixView<float>, int64_t, int64_t, int64_t,
                          const float*, GemmEpilogue, float*, const ParallelFor&);
template void Gemm<double>(MatrixView<double>, MatrixView<double>, int64_t, int64_t, int64_t,
                           const double*, GemmEpilogue, double*, const ParallelFor&);

}  // namespace hugectr_tf
