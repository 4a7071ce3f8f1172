#pragma once
// Forward (combine rows per sample and slot) and backward (one gradient per unique key) over CSR
// input (docs/EMBEDDING_SEMANTICS.md, "Forward" / "Backward"). Raw pointers only: the table is
// addressed through `row_ids`, so these work on any row storage.

#include <cstdint>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

enum class Combiner : int { kSum = 0, kMean = 1 };

// Parses "sum" / "mean"; throws naming the value otherwise.
Combiner ParseCombiner(const char* name);

// Checks that row_splits (num_rows + 1) starts at 0, never decreases and ends at n.
void ValidateRowSplits(const int64_t* row_splits, int64_t num_rows, int64_t n);

// out[r, :] = sum over p in [row_splits[r], row_splits[r+1]) of rows[row_ids[p], :], added in
// ascending p starting from 0; divided by nnz for kMean (0 for empty rows). row_ids[p] < 0 (a key
// missing at inference) adds nothing but still counts in nnz.
void CombineForward(const float* rows,          // (table rows, vec)
                    const int64_t* row_ids,     // (n)
                    const int64_t* row_splits,  // (num_rows + 1)
                    int64_t num_rows, int64_t vec, Combiner combiner,
                    float* out,  // (num_rows, vec)
                    const ParallelFor& parallel_for);

// grads[u, :] = sum over positions p with inverse[p] == u, in ascending p, of
// dout[row(p), :] * (1 for kSum, 1/nnz(row(p)) for kMean), where row(p) is the CSR row holding p.
void AggregateGradients(const float* dout,          // (num_rows, vec)
                        const int64_t* row_splits,  // (num_rows + 1)
                        int64_t num_rows,
                        const int64_t* inverse,  // (n), values in [0, num_unique)
                        int64_t num_unique, int64_t vec, Combiner combiner,
                        float* grads,  // (num_unique, vec)
                        const ParallelFor& parallel_for);

}  // namespace hugectr_tf
