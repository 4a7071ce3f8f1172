#pragma once
// Sort-based unique of int64 keys: ascending unique keys, plus for each unique key the positions
// of its occurrences in ascending order (a stable radix sort keeps them in input order). This
// ordering is what makes the backward pass deterministic and equal to the CPU core's.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace hugectr_tf {
namespace cuda {

struct UniqueOutputs {
  int64_t* unique_keys;       // (n) first *num_unique entries valid, ascending
  int32_t* sorted_positions;  // (n) input positions grouped by key, ascending within a key
  int32_t* segment_starts;    // (n + 1) occurrences of unique u: [starts[u], starts[u+1])
  int64_t* num_unique;        // (1) device scalar
};

// Scratch bytes SortedUnique needs for n keys (n < 2^31).
size_t SortedUniqueWorkspaceBytes(int64_t n);

void SortedUnique(const int64_t* keys,  // (n)
                  int64_t n, void* workspace, size_t workspace_bytes, const UniqueOutputs& out,
                  cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
