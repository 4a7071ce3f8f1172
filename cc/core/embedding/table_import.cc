// Export and import of EmbeddingTable (declared in table.h): the model-oversubscription path, where
// the whole working table moves to and from a parameter server every pass. Kept apart from the
// training path (table.cc, table_rows.cc). Every loop over rows runs in parallel and writes each
// byte once: an import writes rows, optimizer slots and counters straight into place (no
// initialiser run, no second lookup of the keys), an export of a table whose rows already sit
// in key order (an import in key order followed by training that added no key) skips the sort.

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <utility>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/embedding/table.h"
#include "cc/core/embedding/table_checks.h"

namespace hugectr_tf {
namespace {

// True when keys[0, n) is strictly ascending.
bool StrictlyAscending(const int64_t* keys, int64_t n, const ParallelFor& parallel_for) {
  std::atomic<bool> ascending{true};
  parallel_for(std::max<int64_t>(n - 1, 0), 2, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end && ascending.load(std::memory_order_relaxed); ++i) {
      if (keys[i + 1] <= keys[i]) ascending.store(false, std::memory_order_relaxed);
    }
  });
  return ascending.load();
}

// True when a[i] == b[i] for i in [0, n).
bool SameKeys(const int64_t* a, const int64_t* b, int64_t n, const ParallelFor& parallel_for) {
  std::atomic<bool> same{true};
  parallel_for(n, 2, [&](int64_t begin, int64_t end) {
    if (!std::equal(a + begin, a + end, b + begin)) same.store(false, std::memory_order_relaxed);
  });
  return same.load();
}

}  // namespace

TableState EmbeddingTable::Export(const ParallelFor& parallel_for) const {
  TableState st;
  const int64_t vec = options_.vec;
  const int64_t slot_stride = num_slots_ * vec;
  auto allocate = [&](int64_t n) {
    st.keys.resize(n);
    st.rows.resize(n * vec);
    st.slot_ids.resize(n);
    st.opt_slots.resize(n * slot_stride);
    st.last_step.resize(n);
    return ExportBuffers{st.keys.data(), st.rows.data(), st.slot_ids.data(), st.opt_slots.data(),
                         st.last_step.data()};
  };
  ExportTo(allocate, &st.step, &st.lr_history, parallel_for);
  return st;
}

void EmbeddingTable::ExportTo(const std::function<ExportBuffers(int64_t n)>& allocate,
                              int64_t* step, std::vector<float>* lr_history,
                              const ParallelFor& parallel_for) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  const int64_t n = static_cast<int64_t>(keys_.size());
  const int64_t vec = options_.vec;
  const int64_t slot_stride = num_slots_ * vec;
  // Rows sit in insertion order. Sorting (key, row) pairs compares contiguous memory, not keys
  // fetched through an index per comparison.
  std::vector<int64_t> order;
  if (!StrictlyAscending(keys_.data(), n, parallel_for)) {
    std::vector<std::pair<int64_t, int64_t>> pairs(n);
    parallel_for(n, 2, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) pairs[r] = {keys_[r], r};
    });
    std::sort(pairs.begin(), pairs.end());
    order.resize(n);
    parallel_for(n, 2, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) order[i] = pairs[i].second;
    });
  }
  const ExportBuffers out = allocate(n);
  if (!out.ok) return;
  const float* rows = rows_.data();
  const float* opt = opt_.data();
  parallel_for(n, vec * (1 + num_slots_), [&](int64_t begin, int64_t end) {
    if (order.empty()) {  // rows already in key order: block copies
      std::copy(keys_.begin() + begin, keys_.begin() + end, out.keys + begin);
      std::copy(slot_ids_.begin() + begin, slot_ids_.begin() + end, out.slot_ids + begin);
      std::copy(last_step_.begin() + begin, last_step_.begin() + end, out.last_step + begin);
      std::copy_n(rows + begin * vec, (end - begin) * vec, out.rows + begin * vec);
      std::copy_n(opt + begin * slot_stride, (end - begin) * slot_stride,
                  out.opt_slots + begin * slot_stride);
      return;
    }
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = order[i];
      out.keys[i] = keys_[r];
      out.slot_ids[i] = slot_ids_[r];
      out.last_step[i] = last_step_[r];
      std::copy_n(rows + r * vec, vec, out.rows + i * vec);
      std::copy_n(opt + r * slot_stride, slot_stride, out.opt_slots + i * slot_stride);
    }
  });
  *step = step_;
  *lr_history = lr_history_;
}

void EmbeddingTable::CheckImport(const int64_t* keys, int64_t n,
                                 const ParallelFor& parallel_for) const {
  const bool one_hot = options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot;
  const int64_t one_hot_rows = one_hot ? slot_offsets_.back() : -1;
  if (StrictlyAscending(keys, n, parallel_for)) {  // distinct; the ends bound the range
    if (one_hot && n > 0) {
      CheckImportedKeys(
          n == 1 ? std::vector<int64_t>{keys[0]} : std::vector<int64_t>{keys[0], keys[n - 1]},
          one_hot_rows);
    }
  } else {
    std::vector<int64_t> sorted(keys, keys + n);
    std::sort(sorted.begin(), sorted.end());
    CheckImportedKeys(sorted, one_hot_rows);
  }
  CheckTableRoom(0, n, capacity_, options_.vec, options_.workspace_mb, options_.optimizer.type);
}

void EmbeddingTable::ReplaceRows(const int64_t* keys, int64_t n, const float* rows,
                                 const int64_t* slot_ids, const float* opt_slots,
                                 const int64_t* last_step, const ParallelFor& parallel_for) {
  const bool one_hot = options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot;
  if (one_hot) {
    int64_t* dense = dense_index_.data();
    parallel_for(static_cast<int64_t>(keys_.size()), 2, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) dense[keys_[r]] = 0;
    });
  }
  index_.Clear();
  last_lookup_keys_.clear();  // the cached rows are stale once the rows are replaced
  last_lookup_rows_.clear();
  EnsureStorage(n);
  if (one_hot) {
    int64_t* dense = dense_index_.data();
    parallel_for(n, 2, [&](int64_t begin, int64_t end) {  // distinct keys: disjoint entries
      for (int64_t i = begin; i < end; ++i) dense[keys[i]] = i + 1;
    });
  } else {
    index_.InsertMany(keys, n, 0, parallel_for);
  }
  const int64_t vec = options_.vec;
  const int64_t slot_stride = num_slots_ * vec;
  const float slot_init = InitialSlotValue(options_.optimizer);
  const int64_t now = step_;
  float* table_rows = rows_.data();
  float* table_opt = opt_.data();
  parallel_for(n, vec * (1 + num_slots_), [&](int64_t begin, int64_t end) {
    std::copy(keys + begin, keys + end, keys_.begin() + begin);
    for (int64_t i = begin; i < end; ++i) {
      // The slot of a OneHot key follows from its position among the slot offsets.
      slot_ids_[i] = one_hot
                         ? std::upper_bound(slot_offsets_.begin(), slot_offsets_.end(), keys[i]) -
                               slot_offsets_.begin() - 1
                         : (slot_ids != nullptr ? slot_ids[i] : 0);
    }
    if (last_step != nullptr) {
      std::copy(last_step + begin, last_step + end, last_step_.begin() + begin);
    } else {
      std::fill(last_step_.begin() + begin, last_step_.begin() + end, now);
    }
    std::copy_n(rows + begin * vec, (end - begin) * vec, table_rows + begin * vec);
    if (opt_slots != nullptr) {
      std::copy_n(opt_slots + begin * slot_stride, (end - begin) * slot_stride,
                  table_opt + begin * slot_stride);
    } else {
      std::fill_n(table_opt + begin * slot_stride, (end - begin) * slot_stride, slot_init);
    }
  });
}

void EmbeddingTable::SetStepHistory(int64_t step, const float* lr_history) {
  step_ = step;
  lr_history_.assign(lr_history, lr_history + step);
  step_scalars_.clear();
  for (int64_t t = 1; t <= step; ++t) {
    step_scalars_.push_back(MakeStepScalars(options_.optimizer, t, lr_history_[t - 1]));
  }
}

void EmbeddingTable::ImportRows(const int64_t* keys, int64_t n, const float* rows,
                                const int64_t* slot_ids, const ParallelFor& parallel_for) {
  // Every check before the table changes: a failed import leaves it exactly as it was.
  CheckImport(keys, n, parallel_for);
  std::unique_lock<std::shared_mutex> lock(mutex_);
  ReplaceRows(keys, n, rows, slot_ids, nullptr, nullptr, parallel_for);
}

void EmbeddingTable::ImportOptimizerState(const int64_t* keys, int64_t n, const float* opt_slots,
                                          const int64_t* last_step, int64_t step,
                                          const float* lr_history,
                                          const ParallelFor& parallel_for) {
  CheckOptimizerStateSteps(keys, n, last_step, step);
  std::unique_lock<std::shared_mutex> lock(mutex_);
  // The usual caller imports the state of the keys ImportRows just placed, in the same order:
  // then key i sits at row i and no lookup is needed.
  std::vector<int64_t> rows;
  const bool in_place =
      n == static_cast<int64_t>(keys_.size()) && SameKeys(keys, keys_.data(), n, parallel_for);
  if (!in_place) {
    rows.resize(n);
    FindRows(keys, n, rows.data(), parallel_for);
    for (int64_t i = 0; i < n; ++i) {
      if (rows[i] < 0) ThrowOptimizerStateKeyNotInTable(keys[i]);
    }
  }
  SetStepHistory(step, lr_history);
  if (!in_place) {
    parallel_for(static_cast<int64_t>(last_step_.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) last_step_[r] = std::min(last_step_[r], step);
    });
  }
  const int64_t slot_stride = num_slots_ * options_.vec;
  float* table_opt = opt_.data();
  parallel_for(n, slot_stride + 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r = in_place ? i : rows[i];
      std::copy_n(opt_slots + i * slot_stride, slot_stride, table_opt + r * slot_stride);
      last_step_[r] = last_step[i];
    }
  });
}

void EmbeddingTable::ImportState(const int64_t* keys, int64_t n, const float* rows,
                                 const int64_t* slot_ids, const float* opt_slots,
                                 const int64_t* last_step, int64_t step, const float* lr_history,
                                 const ParallelFor& parallel_for) {
  CheckImport(keys, n, parallel_for);
  CheckOptimizerStateSteps(keys, n, last_step, step);
  std::unique_lock<std::shared_mutex> lock(mutex_);
  ReplaceRows(keys, n, rows, slot_ids, opt_slots, last_step, parallel_for);
  SetStepHistory(step, lr_history);
}

}  // namespace hugectr_tf
