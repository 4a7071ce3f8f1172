#pragma once
// Embedding backward: one gradient row per unique key, g_u = sum over the occurrences of u at bag
// b of dout[b] (times 1/nnz(b) for mean), summed in ascending position order for segments of up
// to kLongSegment occurrences (the CPU core's order); longer segments (hot keys) are split over a
// block into kBackwardBlock/G contiguous pieces added in order, still deterministic.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cc/cuda/types.cuh"
#include "cc/cuda/unique.cuh"

namespace hugectr_tf {
namespace cuda {

constexpr int kLongSegment = 256;

size_t EmbeddingBackwardWorkspaceBytes(int64_t n);

// `u` is SortedUnique's output for the n values of this batch (the keys or, for the one-hot
// table, the rows). grads gets (*u.num_unique, vec) rows.
void EmbeddingBackward(const float* dout,          // (num_bags, vec)
                       int vec,
                       const int64_t* row_splits,  // (num_bags + 1)
                       int64_t num_bags, Combiner combiner, int64_t n, const UniqueOutputs& u,
                       void* workspace, size_t workspace_bytes,
                       float* grads,               // (n, vec) capacity
                       cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
