#pragma once
// CSR input checks on the device (the CPU core's ValidateRowSplits, without copying the splits).

#include <cuda_runtime.h>

#include <cstdint>

namespace hugectr_tf {
namespace cuda {

// Lowers *first_bad (set it to num_bags + 1 beforehand) to the first index i where row_splits
// breaks the rules: splits[0] == 0, never decreasing, splits[num_bags] == n.
void ValidateRowSplitsAsync(const int64_t* row_splits,  // (num_bags + 1)
                            int64_t num_bags, int64_t n, unsigned long long* first_bad,
                            cudaStream_t stream);

// Host side: reads *first_bad (synchronising the stream) and throws naming the bad entry.
void ThrowIfBadRowSplits(const int64_t* row_splits, int64_t num_bags, int64_t n,
                         const unsigned long long* first_bad, cudaStream_t stream);

// Host side, for callers that read *first_bad back themselves: throws when bad <= num_bags.
void ReportBadRowSplits(const int64_t* row_splits, int64_t num_bags, int64_t n,
                        unsigned long long bad);

}  // namespace cuda
}  // namespace hugectr_tf
