#pragma once
// Embedding forward over CSR bags: out[bag] = sum (or mean) of the rows of its values.

#include <cuda_runtime.h>

#include <cstdint>

#include "cc/cuda/types.cuh"

namespace hugectr_tf {
namespace cuda {

// value_rows[i] < 0 marks a missing key (inference miss): it adds a zero vector but still counts
// in the mean's nnz. An empty bag gives zeros for both combiners.
void EmbeddingForward(const float* weights,       // (rows, vec)
                      int vec,
                      const int64_t* value_rows,  // (n)
                      const int64_t* row_splits,  // (num_bags + 1)
                      int64_t num_bags, Combiner combiner,
                      float* out,                 // (num_bags, vec)
                      cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
