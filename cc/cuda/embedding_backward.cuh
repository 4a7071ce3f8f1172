#pragma once
// Embedding backward: one gradient row per unique id, g_u = sum over the occurrences of u at bag
// b of dout[b] (times 1/nnz(b) for mean).
//
// Order of the sums: an id with at most kBackwardPiece occurrences is summed by one group of
// lanes in ascending position order, exactly as the CPU core does. A hotter id is cut into
// pieces of kBackwardPiece consecutive occurrences summed in parallel (each in position order),
// and the pieces are then added in piece order: deterministic, and different from a plain
// left-to-right sum only by rounding (see docs/gpu.md).

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cc/cuda/types.cuh"
#include "cc/cuda/unique.cuh"

namespace hugectr_tf {
namespace cuda {

constexpr int kBackwardPiece = 128;

size_t EmbeddingBackwardWorkspaceBytes(int64_t n, int vec);

// `u` is SortedUnique's output for the n values of this batch (the keys or, for the one-hot
// table, the rows). grads gets (*u.num_unique, vec) rows. bags (nullable): BagsOfPositions of
// this batch, for a caller that sums one batch in several calls (else each call finds them).
void EmbeddingBackward(const float* dout,  // (num_bags, vec)
                       int vec,
                       const int64_t* row_splits,  // (num_bags + 1)
                       int64_t num_bags, Combiner combiner, int64_t n, const UniqueOutputs& u,
                       void* workspace, size_t workspace_bytes,
                       float* grads,  // (n, vec) capacity
                       cudaStream_t stream, const int32_t* bags = nullptr);

// bags[p] = the bag (CSR row) of position p, for p < n (num_bags < 2^31).
void BagsOfPositions(const int64_t* row_splits, int64_t num_bags, int64_t n, int32_t* bags,
                     cudaStream_t stream);

// The whole backward over a batch's ids (keys, one-hot rows, or a lookup's `inverse`): sorted
// unique + EmbeddingBackward, with caller-provided scratch (e.g. a TensorFlow temp tensor).
// unique_ids (n) ascending, grads (n, vec) capacity, *num_unique written on the device.
size_t BackwardByIdsWorkspaceBytes(int64_t n, int vec);
void BackwardByIds(const int64_t* ids, int64_t n, const int64_t* row_splits, int64_t num_bags,
                   Combiner combiner, const float* dout, int vec, void* workspace,
                   size_t workspace_bytes, int64_t* unique_ids, float* grads, int64_t* num_unique,
                   cudaStream_t stream);

// The backward over ids known to lie in [0, num_ids) (a lookup's `inverse`): grads row i is
// the gradient of id i, zeros for ids no position holds. Same sums as BackwardByIds.
size_t BackwardDenseIdsWorkspaceBytes(int64_t n, int64_t num_ids, int vec);
void BackwardDenseIds(const int64_t* ids, int64_t n, int64_t num_ids, const int64_t* row_splits,
                      int64_t num_bags, Combiner combiner, const float* dout, int vec,
                      void* workspace, size_t workspace_bytes,
                      float* grads,  // (num_ids, vec)
                      cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
