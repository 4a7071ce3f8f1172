#pragma once
// MultiCross, the cross network of DCN-v1 (arXiv 1708.05123), all layers fused, forward and
// backward, for HugeCTR's MultiCross layer.
//
// HugeCTR's recursion x_{l+1} = x0 * s_l + b_l + x_l with s_l = x_l . w_l unrolls to
//   x_l = x0 * (1 + S_l) + B_l,   S_l = s_0 + ... + s_{l-1},   B_l = b_0 + ... + b_{l-1},
//   s_l = (1 + S_l) * (x0 . w_l) + B_l . w_l,
// so a sample needs only its L dots d_l = x0 . w_l and a scalar recursion: the forward reads x0
// once and writes y once; the backward reads x0 and dy once and writes dx0 once, where the
// layer-by-layer graph makes several full passes per layer. The dots are kept for the backward.
//
// Backward, per sample (a = 1 + S_L, da = dy . x0):
//   g_l = da + sum_{m > l} g_m d_m      (gradient of s_l),  e_l = g_l (1 + S_l)
//   dx0 = a dy + sum_l e_l w_l
// and over the batch (G_l = sum of g_l):
//   dw_l = sum e_l x0 + G_l B_l,        db_k = sum dy + sum_{l > k} G_l w_l.
// Batch sums run over fixed blocks of rows added in block order, so results do not depend on the
// number of threads.

#include <cstdint>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

// y = MultiCross(x0); dots = x0 . w_l per sample and layer. T is float or double.
template <typename T>
void MultiCrossForward(const T* x0,  // (batch, width)
                       const T* w,   // (layers, width)
                       const T* b,   // (layers, width)
                       int64_t batch, int64_t width, int64_t layers,
                       T* y,     // (batch, width)
                       T* dots,  // (batch, layers)
                       const ParallelFor& parallel_for);

// Gradients of MultiCross given dy and the forward's dots.
template <typename T>
void MultiCrossBackward(const T* x0,    // (batch, width)
                        const T* w,     // (layers, width)
                        const T* b,     // (layers, width)
                        const T* dots,  // (batch, layers)
                        const T* dy,    // (batch, width)
                        int64_t batch, int64_t width, int64_t layers,
                        T* dx0,  // (batch, width)
                        T* dw,   // (layers, width)
                        T* db,   // (layers, width)
                        const ParallelFor& parallel_for);

}  // namespace hugectr_tf
