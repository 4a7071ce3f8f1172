#include "cc/core/embedding/table.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>

#include "cc/core/check.h"
#include "cc/core/embedding/prefetch.h"
#include "cc/core/embedding/row_init.h"
#include "cc/core/embedding/table_checks.h"
#include "cc/core/embedding/unique.h"

namespace hugectr_tf {

TableType ParseTableType(const std::string& name) {
  if (name == "DistributedSlotSparseEmbeddingHash")
    return TableType::kDistributedSlotSparseEmbeddingHash;
  if (name == "LocalizedSlotSparseEmbeddingHash")
    return TableType::kLocalizedSlotSparseEmbeddingHash;
  if (name == "LocalizedSlotSparseEmbeddingOneHot")
    return TableType::kLocalizedSlotSparseEmbeddingOneHot;
  HCTR_FAIL(ErrorCode::kInvalidArgument,
            "`embedding_type` must be one of DistributedSlotSparseEmbeddingHash, "
            "LocalizedSlotSparseEmbeddingHash, LocalizedSlotSparseEmbeddingOneHot. Received: "
            "embedding_type='"
                << name << "'");
}

int64_t EmbeddingTable::BytesPerRow(int64_t vec, OptimizerType type) {
  return TableBytesPerRow(vec, type);
}

int64_t EmbeddingTable::MegabytesFor(int64_t rows, int64_t vec, OptimizerType type) {
  return TableMegabytesFor(rows, vec, type);
}

EmbeddingTable::EmbeddingTable(const TableOptions& options) : options_(options) {
  const bool one_hot = options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot;
  capacity_ = CheckedTableCapacity(options_.vec, options_.workspace_mb, options_.optimizer.type,
                                   one_hot, options_.slot_size_array);
  num_slots_ = NumOptimizerSlots(options_.optimizer.type);
  if (one_hot) {
    const std::vector<int64_t>& sizes = options_.slot_size_array;
    slot_offsets_.assign(1, 0);
    for (int64_t rows : sizes) slot_offsets_.push_back(slot_offsets_.back() + rows);
    slot_key_limits_ = OneHotSlotKeyLimits(sizes);
    dense_index_.Reserve(capacity_);
  }
  // Rows and optimizer slots take the whole capacity as address space (committed only when
  // written), so growing never copies them. The small per-key vectors grow on demand.
  rows_.Reserve(capacity_ * options_.vec);
  opt_.Reserve(capacity_ * num_slots_ * options_.vec);
}

int64_t EmbeddingTable::size() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return static_cast<int64_t>(keys_.size());
}

int64_t EmbeddingTable::step() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return step_;
}

int64_t EmbeddingTable::FindRow(int64_t key) const {
  if (options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot) {
    return (key >= 0 && key < capacity_) ? dense_index_.data()[key] - 1 : -1;
  }
  return index_.Find(key);
}

void EmbeddingTable::TableKeys(const int64_t* values, int64_t n, const int64_t* row_splits,
                               int64_t num_rows, int64_t slot_num, std::vector<int64_t>* keys,
                               std::vector<int64_t>* slots, const ParallelFor& parallel_for) const {
  CheckSlotRows(num_rows, slot_num);
  ValidateRowSplits(row_splits, num_rows, n);
  const bool one_hot = options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot;
  if (one_hot) {
    CheckOneHotSlotNum(slot_num, options_.slot_size_array.size());
    // Checked serially before the parallel pass: errors must not be thrown on pool threads.
    for (int64_t r = 0; r < num_rows; ++r) {
      const int64_t s = r % slot_num;
      for (int64_t p = row_splits[r]; p < row_splits[r + 1]; ++p) {
        if (values[p] < 0 || values[p] >= slot_key_limits_[s]) {
          ThrowOneHotKeyOutOfRange(values[p], s, r / slot_num, slot_key_limits_[s]);
        }
      }
    }
  }
  keys->resize(n);
  slots->resize(n);
  parallel_for(num_rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t s = r % slot_num;
      const int64_t offset = one_hot ? slot_offsets_[s] : 0;
      for (int64_t p = row_splits[r]; p < row_splits[r + 1]; ++p) {
        (*keys)[p] = values[p] + offset;
        (*slots)[p] = s;
      }
    }
  });
}

void EmbeddingTable::EnsureStorage(int64_t rows) {
  keys_.resize(rows);
  slot_ids_.resize(rows);
  last_step_.resize(rows);
}

void EmbeddingTable::InsertRows(const std::vector<int64_t>& keys, const std::vector<int64_t>& slots,
                                const ParallelFor& parallel_for, const float* initial_rows) {
  const int64_t base = static_cast<int64_t>(keys_.size());
  const int64_t m = static_cast<int64_t>(keys.size());
  CheckTableRoom(base, m, capacity_, options_.vec, options_.workspace_mb, options_.optimizer.type);
  EnsureStorage(base + m);
  if (options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot) {
    for (int64_t i = 0; i < m; ++i) dense_index_.data()[keys[i]] = base + i + 1;
  } else {
    index_.InsertMany(keys.data(), m, base, parallel_for);
  }
  const int64_t vec = options_.vec;
  const float slot_init = InitialSlotValue(options_.optimizer);
  const bool one_hot = options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot;
  const int64_t num_slots = static_cast<int64_t>(slot_offsets_.size()) - 1;
  parallel_for(m, vec * (20 + num_slots_), [&](int64_t begin, int64_t end) {
    rows_.Populate((base + begin) * vec, (end - begin) * vec);
    opt_.Populate((base + begin) * num_slots_ * vec, (end - begin) * num_slots_ * vec);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = base + i;
      keys_[row] = keys[i];
      slot_ids_[row] = slots[i];
      last_step_[row] = step_;  // created at the coming step: no missed steps to replay
      if (initial_rows != nullptr) {
        std::copy_n(initial_rows + i * vec, vec, rows_.data() + row * vec);
      } else {
        const float bound =
            one_hot ? OneHotInitBound(keys[i], slot_offsets_.data(), num_slots) : kHashInitBound;
        InitRow(keys[i], options_.seed, vec, bound, rows_.data() + row * vec);
      }
      std::fill_n(opt_.data() + row * num_slots_ * vec, num_slots_ * vec, slot_init);
    }
  });
}

void EmbeddingTable::LookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits,
                                 int64_t num_rows, int64_t slot_num, Combiner combiner, float* out,
                                 std::vector<int64_t>* unique_keys, int64_t* inverse,
                                 const ParallelFor& parallel_for) {
  std::vector<int64_t> offset_keys;
  const int64_t* keys =
      CheckedTableKeys(values, n, row_splits, num_rows, slot_num, &offset_keys, parallel_for);
  UniqueKeys unique;
  SortedUnique(keys, n, &unique, inverse, parallel_for);
  const int64_t u = static_cast<int64_t>(unique.keys.size());

  std::unique_lock<std::shared_mutex> lock(mutex_);
  std::vector<int64_t> row_of_unique(u);
  FindRows(unique.keys.data(), u, row_of_unique.data(), parallel_for);
  // New keys go in ascending key order, so row numbers never depend on the thread count.
  std::vector<int64_t> new_keys, new_slots, new_at;
  for (int64_t i = 0; i < u; ++i) {
    if (row_of_unique[i] >= 0) continue;
    new_keys.push_back(unique.keys[i]);
    new_slots.push_back(unique.first_pos[i]);  // turned into its slot below
    new_at.push_back(i);
  }
  if (!new_keys.empty()) {
    SlotsOfPositions(row_splits, num_rows, slot_num, &new_slots, parallel_for);
    const int64_t base = static_cast<int64_t>(keys_.size());
    InsertRows(new_keys, new_slots, parallel_for);
    for (size_t j = 0; j < new_at.size(); ++j) row_of_unique[new_at[j]] = base + j;
  }
  std::vector<int64_t> row_ids(n);
  parallel_for(n, 4, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) row_ids[p] = row_of_unique[inverse[p]];
  });
  CombineForward(rows_.data(), row_ids.data(), row_splits, num_rows, options_.vec, combiner, out,
                 parallel_for);
  // The gradient step that follows asks for the rows of these keys again.
  last_lookup_keys_ = unique.keys;
  last_lookup_rows_ = std::move(row_of_unique);
  *unique_keys = std::move(unique.keys);
}

void EmbeddingTable::NewKeys(const int64_t* values, int64_t n, const int64_t* row_splits,
                             int64_t num_rows, int64_t slot_num, std::vector<int64_t>* keys,
                             std::vector<int64_t>* slots, const ParallelFor& parallel_for) const {
  std::vector<int64_t> table_keys, key_slots;
  TableKeys(values, n, row_splits, num_rows, slot_num, &table_keys, &key_slots, parallel_for);
  UniqueKeys unique;
  std::vector<int64_t> inverse(n);
  SortedUnique(table_keys.data(), n, &unique, inverse.data(), parallel_for);
  std::shared_lock<std::shared_mutex> lock(mutex_);
  keys->clear();
  slots->clear();
  for (size_t i = 0; i < unique.keys.size(); ++i) {
    if (FindRow(unique.keys[i]) >= 0) continue;
    keys->push_back(unique.keys[i]);
    slots->push_back(key_slots[unique.first_pos[i]]);  // as LookupTrain records it
  }
}

int64_t EmbeddingTable::InsertWithRows(const int64_t* keys, int64_t n, const float* rows,
                                       const int64_t* slots, const ParallelFor& parallel_for) {
  const bool one_hot = options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot;
  for (int64_t i = 0; i < n; ++i) {
    HCTR_CHECK(i == 0 || keys[i] > keys[i - 1],
               "keys to insert must be strictly ascending (as NewKeys returns them). Received: "
               "keys["
                   << i - 1 << "]=" << keys[i - 1] << ", keys[" << i << "]=" << keys[i]);
    HCTR_CHECK_CODE(!one_hot || (keys[i] >= 0 && keys[i] < slot_offsets_.back()),
                    ErrorCode::kOutOfRange,
                    "LocalizedSlotSparseEmbeddingOneHot table keys lie in [0, "
                        << slot_offsets_.back() << "). Received: key " << keys[i]);
  }
  std::unique_lock<std::shared_mutex> lock(mutex_);
  std::vector<int64_t> new_keys, new_slots;
  std::vector<float> new_rows;
  const int64_t vec = options_.vec;
  for (int64_t i = 0; i < n; ++i) {
    if (FindRow(keys[i]) >= 0) continue;
    new_keys.push_back(keys[i]);
    new_slots.push_back(slots[i]);
    new_rows.insert(new_rows.end(), rows + i * vec, rows + (i + 1) * vec);
  }
  if (!new_keys.empty()) InsertRows(new_keys, new_slots, parallel_for, new_rows.data());
  return static_cast<int64_t>(new_keys.size());
}

void EmbeddingTable::GatherRows(const int64_t* keys, int64_t n, float* out,
                                const ParallelFor& parallel_for) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  std::vector<int64_t> rows(n);
  for (int64_t i = 0; i < n; ++i) {
    rows[i] = FindRow(keys[i]);
    HCTR_CHECK(rows[i] >= 0, "GatherRows: key " << keys[i] << " is not in the table");
  }
  const int64_t vec = options_.vec;
  parallel_for(n, vec, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::copy_n(rows_.data() + rows[i] * vec, vec, out + i * vec);
    }
  });
}

int64_t EmbeddingTable::LookupInference(const int64_t* values, int64_t n, const int64_t* row_splits,
                                        int64_t num_rows, int64_t slot_num, Combiner combiner,
                                        float* out, const ParallelFor& parallel_for) {
  std::vector<int64_t> keys, slots;
  TableKeys(values, n, row_splits, num_rows, slot_num, &keys, &slots, parallel_for);
  std::shared_lock<std::shared_mutex> lock(mutex_);
  std::vector<int64_t> row_ids(n);
  parallel_for(n, 60, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) row_ids[p] = FindRow(keys[p]);
  });
  CombineForward(rows_.data(), row_ids.data(), row_splits, num_rows, options_.vec, combiner, out,
                 parallel_for);
  const int64_t missing = std::count(row_ids.begin(), row_ids.end(), int64_t{-1});
  misses_ += missing;
  return missing;
}

void EmbeddingTable::ApplyGradients(const int64_t* unique_keys, int64_t num_unique,
                                    const float* grads, float lr, const ParallelFor& parallel_for) {
  CheckLearningRate(lr);
  for (int64_t i = 1; i < num_unique; ++i) {
    // Distinct keys make every row update below independent (no two threads on one row).
    if (unique_keys[i] <= unique_keys[i - 1]) {
      ThrowGradientKeysNotAscending(i, unique_keys[i - 1], unique_keys[i]);
    }
  }
  std::unique_lock<std::shared_mutex> lock(mutex_);
  std::vector<int64_t> found;
  const int64_t* rows = RowsOfGradientKeys(unique_keys, num_unique, &found, parallel_for);
  for (int64_t i = 0; i < num_unique; ++i) {
    if (rows[i] < 0) ThrowGradientKeyNotInTable(unique_keys[i]);
  }
  const int64_t t = ++step_;
  lr_history_.push_back(lr);
  step_scalars_.push_back(MakeStepScalars(options_.optimizer, t, lr));
  const OptimizerOptions& opt = options_.optimizer;
  const StepScalars& now = ScalarsOfStep(t);
  const int64_t vec = options_.vec;
  const int64_t slot_stride = num_slots_ * vec;
  float* w = rows_.data();
  float* s = opt_.data();

  switch (opt.update) {
    case UpdateType::kLocal:
      parallel_for(num_unique, vec * 10, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          if (i + kPrefetchDistance < end) {
            PrefetchRowState(rows[i + kPrefetchDistance], w, s, vec, slot_stride);
            __builtin_prefetch(&last_step_[rows[i + kPrefetchDistance]]);  // a line per row too
          }
          const int64_t r = rows[i];
          UpdateRow(opt, now, vec, grads + i * vec, w + r * vec, s + r * slot_stride);
          last_step_[r] = t;
        }
      });
      break;
    case UpdateType::kGlobal: {
      const int64_t size = static_cast<int64_t>(keys_.size());
      std::vector<int64_t>& grad_of_row = grad_of_row_;  // kept: no table-sized buffer per step
      grad_of_row.assign(size, -1);
      for (int64_t i = 0; i < num_unique; ++i) grad_of_row[rows[i]] = i;
      parallel_for(size, vec * 10, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const float* g = grad_of_row[r] >= 0 ? grads + grad_of_row[r] * vec : nullptr;
          UpdateRow(opt, now, vec, g, w + r * vec, s + r * slot_stride);
          last_step_[r] = t;
        }
      });
      break;
    }
    case UpdateType::kLazyGlobal: {
      const bool replay = !ZeroGradientIsNoOp(opt.type);
      parallel_for(num_unique, vec * 10, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          if (i + kPrefetchDistance < end) {
            PrefetchRowState(rows[i + kPrefetchDistance], w, s, vec, slot_stride);
          }
          const int64_t r = rows[i];
          if (replay) {
            for (int64_t missed = last_step_[r] + 1; missed < t; ++missed) {
              UpdateRow(opt, ScalarsOfStep(missed), vec, nullptr, w + r * vec, s + r * slot_stride);
            }
          }
          UpdateRow(opt, now, vec, grads + i * vec, w + r * vec, s + r * slot_stride);
          last_step_[r] = t;
        }
      });
      break;
    }
  }
}

}  // namespace hugectr_tf
