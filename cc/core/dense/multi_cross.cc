#include "cc/core/dense/multi_cross.h"

#include <algorithm>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/dense/vector_math.h"

namespace hugectr_tf {

namespace {

using vector_math::Add;
using vector_math::Axpy;
using vector_math::Dot;

// Rows per block of the batch sums (fixed, so the summation order never depends on threads).
constexpr int64_t kBlockRows = 128;
// Deepest cross network the per-sample scalars are sized for (HugeCTR uses 1-6 layers).
constexpr int64_t kMaxLayers = 64;

template <typename T>
struct CrossArgs {
  const T* x0;
  const T* w;
  const T* b;
  const T* dots;
  const T* dy;
  int64_t width, layers;
  const T* bias_prefix;  // (layers + 1, width): B_l = b_0 + ... + b_{l-1}
  const T* c;            // (layers): B_l . w_l
  T* y;                  // forward output
  T* out_dots;           // forward output
  T* dx0;                // backward output
  T* block_dw;           // (blocks, layers, width)
  T* block_dy;           // (blocks, width)
  T* block_g;            // (blocks, layers)
};

// S_l for l = 0..L (one sample) from its dots and the c_l.
template <typename T>
HCTR_INLINE T Prefixes(const T* d, const T* c, int64_t layers, T* s_prefix) {
  T sum = 0;
  for (int64_t l = 0; l < layers; ++l) {
    s_prefix[l] = sum;
    sum += (1 + sum) * d[l] + c[l];
  }
  s_prefix[layers] = sum;
  return sum;
}

template <typename T>
HCTR_INLINE void ForwardRows(const CrossArgs<T>& a, int64_t begin, int64_t end) {
  const int64_t n = a.width, layers = a.layers;
  const T* b_total = a.bias_prefix + layers * n;
  T s_prefix[kMaxLayers + 1];
  for (int64_t r = begin; r < end; ++r) {
    const T* x0 = a.x0 + r * n;
    T* d = a.out_dots + r * layers;
    for (int64_t l = 0; l < layers; ++l) d[l] = Dot(x0, a.w + l * n, n);
    const T scale = 1 + Prefixes(d, a.c, layers, s_prefix);
    T* y = a.y + r * n;
    for (int64_t j = 0; j < n; ++j) y[j] = x0[j] * scale + b_total[j];
  }
}

template <typename T>
HCTR_INLINE void BackwardBlock(const CrossArgs<T>& a, int64_t block, int64_t batch) {
  const int64_t n = a.width, layers = a.layers;
  T* dw = a.block_dw + block * layers * n;
  T* dy_sum = a.block_dy + block * n;
  T* g_sum = a.block_g + block * layers;
  std::fill_n(dw, layers * n, T(0));
  std::fill_n(dy_sum, n, T(0));
  std::fill_n(g_sum, layers, T(0));
  T s_prefix[kMaxLayers + 1], e[kMaxLayers];
  const int64_t end = std::min(batch, (block + 1) * kBlockRows);
  for (int64_t r = block * kBlockRows; r < end; ++r) {
    const T* x0 = a.x0 + r * n;
    const T* dy = a.dy + r * n;
    const T* d = a.dots + r * layers;
    const T scale = 1 + Prefixes(d, a.c, layers, s_prefix);
    const T da = Dot(dy, x0, n);
    T later = 0;  // sum over m > l of g_m d_m
    for (int64_t l = layers - 1; l >= 0; --l) {
      const T g = da + later;
      later += g * d[l];
      g_sum[l] += g;
      e[l] = g * (1 + s_prefix[l]);
    }
    T* dx0 = a.dx0 + r * n;
    for (int64_t j = 0; j < n; ++j) dx0[j] = scale * dy[j];
    for (int64_t l = 0; l < layers; ++l) {
      Axpy(e[l], a.w + l * n, dx0, n);
      Axpy(e[l], x0, dw + l * n, n);
    }
    Add(dy, dy_sum, n);
  }
}

HCTR_SIMD_CLONES void ForwardRowsSimd(const CrossArgs<float>& a, int64_t begin, int64_t end) {
  ForwardRows(a, begin, end);
}
HCTR_SIMD_CLONES void ForwardRowsSimd(const CrossArgs<double>& a, int64_t begin, int64_t end) {
  ForwardRows(a, begin, end);
}
HCTR_SIMD_CLONES void BackwardBlockSimd(const CrossArgs<float>& a, int64_t block, int64_t batch) {
  BackwardBlock(a, block, batch);
}
HCTR_SIMD_CLONES void BackwardBlockSimd(const CrossArgs<double>& a, int64_t block, int64_t batch) {
  BackwardBlock(a, block, batch);
}

void CheckShape(int64_t batch, int64_t width, int64_t layers) {
  HCTR_CHECK(batch >= 0 && width > 0,
             "MultiCross input must be (batch, width) with width > 0. Received: batch="
                 << batch << ", width=" << width);
  HCTR_CHECK(layers > 0 && layers <= kMaxLayers, "MultiCross supports 1 to "
                                                     << kMaxLayers
                                                     << " layers. Received: num_layers=" << layers);
}

// B_l for l = 0..L (prefix sums of the biases) and c_l = B_l . w_l.
template <typename T>
void BiasPrefixes(const T* w, const T* b, int64_t width, int64_t layers, std::vector<T>* prefix,
                  std::vector<T>* c) {
  prefix->assign((layers + 1) * width, T(0));
  c->assign(layers, T(0));
  for (int64_t l = 0; l < layers; ++l) {
    T* next = prefix->data() + (l + 1) * width;
    const T* cur = prefix->data() + l * width;
    for (int64_t j = 0; j < width; ++j) next[j] = cur[j] + b[l * width + j];
    (*c)[l] = Dot(cur, w + l * width, width);
  }
}

}  // namespace

template <typename T>
void MultiCrossForward(const T* x0, const T* w, const T* b, int64_t batch, int64_t width,
                       int64_t layers, T* y, T* dots, const ParallelFor& parallel_for) {
  CheckShape(batch, width, layers);
  std::vector<T> prefix, c;
  BiasPrefixes(w, b, width, layers, &prefix, &c);
  CrossArgs<T> a{};
  a.x0 = x0;
  a.w = w;
  a.width = width;
  a.layers = layers;
  a.bias_prefix = prefix.data();
  a.c = c.data();
  a.y = y;
  a.out_dots = dots;
  parallel_for(batch, width * (layers + 1) * 2,
               [&](int64_t begin, int64_t end) { ForwardRowsSimd(a, begin, end); });
}

template <typename T>
void MultiCrossBackward(const T* x0, const T* w, const T* b, const T* dots, const T* dy,
                        int64_t batch, int64_t width, int64_t layers, T* dx0, T* dw, T* db,
                        const ParallelFor& parallel_for) {
  CheckShape(batch, width, layers);
  std::vector<T> prefix, c;
  BiasPrefixes(w, b, width, layers, &prefix, &c);
  const int64_t blocks = (batch + kBlockRows - 1) / kBlockRows;
  std::vector<T> block_dw(blocks * layers * width), block_dy(blocks * width),
      block_g(blocks * layers);
  CrossArgs<T> a{};
  a.x0 = x0;
  a.w = w;
  a.dots = dots;
  a.dy = dy;
  a.width = width;
  a.layers = layers;
  a.bias_prefix = prefix.data();
  a.c = c.data();
  a.dx0 = dx0;
  a.block_dw = block_dw.data();
  a.block_dy = block_dy.data();
  a.block_g = block_g.data();
  parallel_for(blocks, kBlockRows * width * (3 * layers + 3), [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) BackwardBlockSimd(a, k, batch);
  });
  // Batch sums in block order, then the bias terms that the unrolled form adds.
  std::vector<T> dy_total(width, T(0)), g_total(layers, T(0));
  std::fill_n(dw, layers * width, T(0));
  for (int64_t k = 0; k < blocks; ++k) {
    Add(block_dw.data() + k * layers * width, dw, layers * width);
    Add(block_dy.data() + k * width, dy_total.data(), width);
    Add(block_g.data() + k * layers, g_total.data(), layers);
  }
  for (int64_t l = 0; l < layers; ++l) {
    Axpy(g_total[l], prefix.data() + l * width, dw + l * width, width);
  }
  // db_k = sum dy + sum_{l > k} G_l w_l, accumulated from the last layer down.
  std::vector<T> later(width, T(0));
  for (int64_t k = layers - 1; k >= 0; --k) {
    T* out = db + k * width;
    for (int64_t j = 0; j < width; ++j) out[j] = dy_total[j] + later[j];
    Axpy(g_total[k], w + k * width, later.data(), width);
  }
}

template void MultiCrossForward<float>(const float*, const float*, const float*, int64_t, int64_t,
                                       int64_t, float*, float*, const ParallelFor&);
template void MultiCrossForward<double>(const double*, const double*, const double*, int64_t,
                                        int64_t, int64_t, double*, double*, const ParallelFor&);
template void MultiCrossBackward<float>(const float*, const float*, const float*, const float*,
                                        const float*, int64_t, int64_t, int64_t, float*, float*,
                                        float*, const ParallelFor&);
template void MultiCrossBackward<double>(const double*, const double*, const double*, const double*,
                                         const double*, int64_t, int64_t, int64_t, double*, double*,
                                         double*, const ParallelFor&);

}  // namespace hugectr_tf
