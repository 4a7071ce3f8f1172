#pragma once
// DLRM's dot interaction (arXiv 1906.00091) as HugeCTR's Interaction layer computes it, forward
// and backward, one sample at a time with the sample's vectors in L1.
//
// With z = [mlp, emb_0, ..., emb_{f-1}] (n = f + 1 vectors of width w), the output row is
//   [mlp, z_i . z_j for (i, j) = (1,0), (2,0), (2,1), (3,0), ... (strict lower triangle,
//    row-major), 0]
// of width w + n (n - 1) / 2 + 1. The backward is dz = G z with G the symmetric matrix of the
// pair gradients (zero diagonal); dmlp also receives the gradient of its copy.

#include <cstdint>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

// Output width of the interaction of f embedding vectors of width w with the MLP vector.
inline int64_t InteractionWidth(int64_t f, int64_t w) { return w + (f + 1) * f / 2 + 1; }

// T is float or double.
template <typename T>
void InteractionForward(const T* mlp,  // (batch, w)
                        const T* emb,  // (batch, f, w)
                        int64_t batch, int64_t f, int64_t w,
                        T* out,  // (batch, InteractionWidth(f, w))
                        const ParallelFor& parallel_for);

template <typename T>
void InteractionBackward(const T* mlp,   // (batch, w)
                         const T* emb,   // (batch, f, w)
                         const T* dout,  // (batch, InteractionWidth(f, w))
                         int64_t batch, int64_t f, int64_t w,
                         T* dmlp,  // (batch, w)
                         T* demb,  // (batch, f, w)
                         const ParallelFor& parallel_for);

}  // namespace hugectr_tf
