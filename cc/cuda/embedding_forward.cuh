#pragma once
// Embedding forward over CSR bags: out[bag] = sum (or mean) of the rows of its values.

#include <cuda_runtime.h>

#include <cstdint>

#include "cc/cuda/types.cuh"

namespace hugectr_tf {
namespace cuda {

// value_rows[i] < 0 marks a missing key (inference miss): it adds a zero vector but still counts
// in the mean's nnz. An empty bag gives zeros for both combiners.
void EmbeddingForward(const float* weights,  // (rows, vec)
                      int vec,
                      const int64_t* value_rows,  // (n)
                      const int64_t* row_splits,  // (num_bags + 1)
                      int64_t num_bags, Combiner combiner,
                      float* out,  // (num_bags, vec)
                      cudaStream_t stream);

// The sharded table's combine, reading each position's row from one of two arrays:
// src[i] >= 0 is row src[i] of `weights` (the GPU's own shard), src[i] <= -2 is row
// -(src[i] + 2) of `remote` (rows received from other GPUs), -1 a miss as above. Rows are
// added in position order, as EmbeddingForward does, so one source gives its results bit for
// bit. `bags` picks the bags to write: all, those with no remote position (combined while the
// remote rows are still in transit), or the others.
enum class BagFilter { kAll, kLocalOnly, kWithRemote };
void EmbeddingForwardSources(const float* weights,  // (rows, vec)
                             const float* remote,   // (received rows, vec), may be null
                             int vec,
                             const int64_t* src,         // (n)
                             const int64_t* row_splits,  // (num_bags + 1)
                             int64_t num_bags, Combiner combiner, BagFilter bags,
                             float* out,  // (num_bags, vec)
                             cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
