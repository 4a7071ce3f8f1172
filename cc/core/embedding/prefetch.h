#pragma once
// Software prefetch of table rows for the loops that visit rows in key order, i.e. scattered
// over the table: they are bound by memory latency, so the rows a few iterations ahead are
// requested while the current one is processed.

#include <algorithm>
#include <cstdint>

namespace hugectr_tf {

// Iterations ahead of the current one whose rows are prefetched.
constexpr int64_t kPrefetchDistance = 8;

// Prefetches the first cache lines of `floats` floats at p (at most 4 lines: the hardware
// prefetcher follows the rest of a long row).
inline void PrefetchFloats(const float* p, int64_t floats) {
  const int64_t lines = std::min<int64_t>(4, (floats * 4 + 63) / 64);
  for (int64_t l = 0; l < lines; ++l) __builtin_prefetch(p + l * 16);
}

// Prefetches row r of the table and its optimizer slots for writing.
inline void PrefetchRowState(int64_t r, const float* rows, const float* slots, int64_t vec,
                             int64_t slot_stride) {
  PrefetchFloats(rows + r * vec, vec);
  if (slot_stride > 0) PrefetchFloats(slots + r * slot_stride, slot_stride);
}

}  // namespace hugectr_tf
