#pragma once
// Sorted unique keys of a batch with, for each position, the index of its key.

#include <cstdint>
#include <vector>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

struct UniqueKeys {
  std::vector<int64_t> keys;       // ascending, distinct
  std::vector<int64_t> first_pos;  // (keys.size()) smallest position holding each key
};

// Fills `out` and inverse (n): keys[inverse[p]] == values[p]. Deduplicates with hash maps
// (one per hash partition of the keys, each scanning positions in order), then sorts only the
// distinct keys; the result is the same for any thread count.
void SortedUnique(const int64_t* values, int64_t n, UniqueKeys* out,
                  int64_t* inverse,  // (n)
                  const ParallelFor& parallel_for);

}  // namespace hugectr_tf
