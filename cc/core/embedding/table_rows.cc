// The hot-path helpers of EmbeddingTable that find rows: CSR checks without copying the keys,
// parallel prefetched index lookups, slots of new keys, and the reuse of the training lookup's
// rows by the gradient step.

#include <algorithm>
#include <cstring>

#include "cc/core/check.h"
#include "cc/core/embedding/table.h"

namespace hugectr_tf {

const int64_t* EmbeddingTable::CheckedTableKeys(const int64_t* values, int64_t n,
                                                const int64_t* row_splits, int64_t num_rows,
                                                int64_t slot_num, std::vector<int64_t>* scratch,
                                                const ParallelFor& parallel_for) const {
  if (options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot) {
    std::vector<int64_t> slots;
    TableKeys(values, n, row_splits, num_rows, slot_num, scratch, &slots, parallel_for);
    return scratch->data();
  }
  HCTR_CHECK(slot_num > 0 && num_rows % slot_num == 0,
             "row_splits describe " << num_rows << " (sample, slot) rows, which is not a multiple"
                                    << " of slot_num=" << slot_num);
  ValidateRowSplits(row_splits, num_rows, n);
  return values;
}

void EmbeddingTable::FindRows(const int64_t* keys, int64_t n, int64_t* rows,
                              const ParallelFor& parallel_for) const {
  if (options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot) {
    parallel_for(n, 4, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) rows[i] = FindRow(keys[i]);
    });
    return;
  }
  parallel_for(n, 60, [&](int64_t begin, int64_t end) {
    index_.FindMany(keys + begin, end - begin, rows + begin);
  });
}

namespace {

// The CSR row r with row_splits[r] <= p < row_splits[r + 1] (empty rows are skipped), for
// 0 <= p < row_splits[num_rows]. The search starts where p would lie if every row held the same
// number of keys and gallops from there: one probe for the usual uniform input (a plain binary
// search over a batch-sized row_splits costs ~20 cache misses per position).
int64_t RowOfPosition(const int64_t* row_splits, int64_t num_rows, int64_t p) {
  const int64_t n = row_splits[num_rows];
  const int64_t guess = std::min<int64_t>(
      num_rows - 1,
      static_cast<int64_t>(static_cast<double>(p) / static_cast<double>(n) * num_rows));
  int64_t lo = guess, hi = guess + 1;  // wanted: lo <= r < hi
  for (int64_t step = 1; row_splits[lo] > p; step *= 2) {
    hi = lo;
    lo = std::max<int64_t>(0, lo - step);
  }
  for (int64_t step = 1; row_splits[hi] <= p; step *= 2) {
    lo = hi;
    hi = std::min<int64_t>(num_rows, hi + step);
  }
  // row_splits[lo] <= p < row_splits[hi]: the last row in [lo, hi) starting at or before p.
  return std::upper_bound(row_splits + lo, row_splits + hi, p) - row_splits - 1;
}

}  // namespace

void EmbeddingTable::SlotsOfPositions(const int64_t* row_splits, int64_t num_rows, int64_t slot_num,
                                      std::vector<int64_t>* positions,
                                      const ParallelFor& parallel_for) {
  int64_t* p = positions->data();
  parallel_for(static_cast<int64_t>(positions->size()), 20, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      p[i] = RowOfPosition(row_splits, num_rows, p[i]) % slot_num;
  });
}

const int64_t* EmbeddingTable::RowsOfGradientKeys(const int64_t* keys, int64_t n,
                                                  std::vector<int64_t>* found,
                                                  const ParallelFor& parallel_for) const {
  if (n == static_cast<int64_t>(last_lookup_keys_.size()) &&
      std::memcmp(keys, last_lookup_keys_.data(), n * sizeof(int64_t)) == 0) {
    return last_lookup_rows_.data();
  }
  found->resize(n);
  FindRows(keys, n, found->data(), parallel_for);
  return found->data();
}

}  // namespace hugectr_tf
