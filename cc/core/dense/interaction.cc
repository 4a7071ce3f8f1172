#include "cc/core/dense/interaction.h"

#include <algorithm>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/dense/vector_math.h"

namespace hugectr_tf {

namespace {

template <typename T>
struct InteractionArgs {
  const T* mlp;
  const T* emb;
  const T* dout;
  int64_t f, w;
  T* out;
  T* dmlp;
  T* demb;
};

template <typename T>
HCTR_INLINE const T* Vector(const InteractionArgs<T>& a, int64_t r, int64_t i) {
  return i == 0 ? a.mlp + r * a.w : a.emb + (r * a.f + i - 1) * a.w;
}

using vector_math::Load;
using vector_math::RoundUpToVector;
using vector_math::Store;

// Rows of the Gram matrix (or of dz) computed together: independent accumulator chains, so the
// FMA latency is hidden.
constexpr int64_t kRows = 4;

// Row i of the pairs, (i, 0..i-1), is contiguous in the output. Rows are computed kRows at a time
// against the transposed sample zt (w, n rounded up to whole vectors, zero-padded), one vector
// of pair sums per row held in a register, instead of one short dot and a horizontal add per
// pair.
template <typename T>
HCTR_INLINE void ForwardRows(const InteractionArgs<T>& a, int64_t begin, int64_t end) {
  using V = typename vector_math::Simd<T>::V;
  constexpr int64_t kW = vector_math::Simd<T>::kWidth;
  const int64_t n = a.f + 1, w = a.w, width = InteractionWidth(a.f, w);
  const int64_t padded = RoundUpToVector<T>(n);
  std::vector<T> zt(w * padded, T(0)), zero(w, T(0));
  for (int64_t r = begin; r < end; ++r) {
    for (int64_t i = 0; i < n; ++i) {
      const T* z = Vector(a, r, i);
      for (int64_t k = 0; k < w; ++k) zt[k * padded + i] = z[k];
    }
    T* out = a.out + r * width;
    std::copy_n(a.mlp + r * w, w, out);
    T* pairs = out + w;
    for (int64_t i0 = 1; i0 < n; i0 += kRows) {
      const T* z[kRows];
      for (int64_t q = 0; q < kRows; ++q) z[q] = i0 + q < n ? Vector(a, r, i0 + q) : zero.data();
      const int64_t longest = std::min(n, i0 + kRows) - 1;  // pairs in the group's last row
      for (int64_t block = 0; block < longest; block += kW) {
        V acc[kRows] = {};
        const T* col = zt.data() + block;
        for (int64_t k = 0; k < w; ++k) {
          const V zt_k = Load(col + k * padded);
          for (int64_t q = 0; q < kRows; ++q) acc[q] += z[q][k] * zt_k;
        }
        for (int64_t q = 0; q < kRows && i0 + q < n; ++q) {
          const int64_t i = i0 + q;
          T* dst = pairs + i * (i - 1) / 2 + block;
          const int64_t count = std::min(kW, i - block);
          for (int64_t lane = 0; lane < count; ++lane) dst[lane] = acc[q][lane];
        }
      }
    }
    out[width - 1] = 0;
  }
}

// dz_i = sum_j g_ij z_j for kRows rows i and one vector of columns at a time, in registers.
template <typename T>
HCTR_INLINE void BackwardRows(const InteractionArgs<T>& a, int64_t begin, int64_t end) {
  using V = typename vector_math::Simd<T>::V;
  constexpr int64_t kW = vector_math::Simd<T>::kWidth;
  const int64_t n = a.f + 1, w = a.w, width = InteractionWidth(a.f, w);
  const int64_t rows = (n + kRows - 1) / kRows * kRows, padded_w = RoundUpToVector<T>(w);
  std::vector<T> g(rows * n, T(0)), zs(n * padded_w, T(0)), dz(rows * padded_w);
  for (int64_t r = begin; r < end; ++r) {
    const T* pairs = a.dout + r * width + w;
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(Vector(a, r, i), w, zs.data() + i * padded_w);
      g[i * n + i] = 0;
      for (int64_t j = 0; j < i; ++j) g[i * n + j] = g[j * n + i] = pairs[i * (i - 1) / 2 + j];
    }
    for (int64_t i0 = 0; i0 < n; i0 += kRows) {
      const T* gi = g.data() + i0 * n;
      for (int64_t c = 0; c < padded_w; c += kW) {
        V acc[kRows] = {};
        for (int64_t j = 0; j < n; ++j) {
          const V zj = Load(zs.data() + j * padded_w + c);
          for (int64_t q = 0; q < kRows; ++q) acc[q] += gi[q * n + j] * zj;
        }
        for (int64_t q = 0; q < kRows; ++q) Store(dz.data() + (i0 + q) * padded_w + c, acc[q]);
      }
    }
    T* dmlp = a.dmlp + r * w;
    const T* dcopy = a.dout + r * width;  // the MLP vector's own copy in the output
    for (int64_t c = 0; c < w; ++c) dmlp[c] = dz[c] + dcopy[c];
    for (int64_t i = 1; i < n; ++i) {
      std::copy_n(dz.data() + i * padded_w, w, a.demb + (r * a.f + i - 1) * w);
    }
  }
}

HCTR_SIMD_CLONES void ForwardRowsSimd(const InteractionArgs<float>& a, int64_t b, int64_t e) {
  ForwardRows(a, b, e);
}
HCTR_SIMD_CLONES void ForwardRowsSimd(const InteractionArgs<double>& a, int64_t b, int64_t e) {
  ForwardRows(a, b, e);
}
HCTR_SIMD_CLONES void BackwardRowsSimd(const InteractionArgs<float>& a, int64_t b, int64_t e) {
  BackwardRows(a, b, e);
}
HCTR_SIMD_CLONES void BackwardRowsSimd(const InteractionArgs<double>& a, int64_t b, int64_t e) {
  BackwardRows(a, b, e);
}

void CheckShape(int64_t batch, int64_t f, int64_t w) {
  HCTR_CHECK(batch >= 0 && f > 0 && w > 0,
             "Interaction needs (batch, w) and (batch, f, w) inputs with f, w > 0. Received: batch="
                 << batch << ", f=" << f << ", w=" << w);
}

}  // namespace

template <typename T>
void InteractionForward(const T* mlp, const T* emb, int64_t batch, int64_t f, int64_t w, T* out,
                        const ParallelFor& parallel_for) {
  CheckShape(batch, f, w);
  InteractionArgs<T> a{mlp, emb, nullptr, f, w, out, nullptr, nullptr};
  parallel_for(batch, (f + 1) * (f + 2) * w,
               [&](int64_t begin, int64_t end) { ForwardRowsSimd(a, begin, end); });
}

template <typename T>
void InteractionBackward(const T* mlp, const T* emb, const T* dout, int64_t batch, int64_t f,
                         int64_t w, T* dmlp, T* demb, const ParallelFor& parallel_for) {
  CheckShape(batch, f, w);
  InteractionArgs<T> a{mlp, emb, dout, f, w, nullptr, dmlp, demb};
  parallel_for(batch, 2 * (f + 1) * (f + 1) * w,
               [&](int64_t begin, int64_t end) { BackwardRowsSimd(a, begin, end); });
}

template void InteractionForward<float>(const float*, const float*, int64_t, int64_t, int64_t,
                                        float*, const ParallelFor&);
template void InteractionForward<double>(const double*, const double*, int64_t, int64_t, int64_t,
                                         double*, const ParallelFor&);
template void InteractionBackward<float>(const float*, const float*, const float*, int64_t, int64_t,
                                         int64_t, float*, float*, const ParallelFor&);
template void InteractionBackward<double>(const double*, const double*, const double*, int64_t,
                                          int64_t, int64_t, double*, double*, const ParallelFor&);

}  // namespace hugectr_tf
