#pragma once
// The checks and error messages both embedding tables share: the CPU core (table.cc) and the
// GPU core (cc/cuda/gpu_table.cu) call these, so a bad argument, a full table or a bad
// checkpoint reads the same on either device (docs/EMBEDDING_SEMANTICS.md, "Capacity").
// Host-only and header-only.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/checked_math.h"
#include "cc/core/embedding/key_index.h"
#include "cc/core/embedding/optimizer.h"

namespace hugectr_tf {

// Bytes one row costs against the workspace: key, slot id, last step (int64 each), the key
// index's share, the row and the optimizer slots.
inline int64_t TableBytesPerRow(int64_t vec, OptimizerType type) {
  const int64_t counters = 3 * sizeof(int64_t);
  const int64_t floats = CheckedMul(vec, 1 + NumOptimizerSlots(type),
                                    "floats per row = embedding_vec_size * (1 + optimizer slots)");
  return counters + KeyIndex::kBytesPerKey +
         CheckedMul(floats, sizeof(float), "bytes per row of embedding_vec_size floats");
}

// MB (2^20 bytes) needed for `rows` rows, rounded up.
inline int64_t TableMegabytesFor(int64_t rows, int64_t vec, OptimizerType type) {
  return static_cast<int64_t>(
      std::ceil(static_cast<double>(rows) * TableBytesPerRow(vec, type) / (1024.0 * 1024.0)));
}

// Rows of a OneHot table: sum(slot_sizes), as HugeCTR 3.1 sizes it. Entries may be 0 (a slot
// that shares the next slot's rows, as DIN's history slots do); the sum must be positive.
inline int64_t CheckedOneHotRows(const std::vector<int64_t>& slot_sizes) {
  HCTR_CHECK(!slot_sizes.empty(),
             "`slot_size_array` must be given for LocalizedSlotSparseEmbeddingOneHot. "
             "Received: slot_size_array=[]");
  int64_t total = 0;
  for (size_t s = 0; s < slot_sizes.size(); ++s) {
    HCTR_CHECK(slot_sizes[s] >= 0,
               "`slot_size_array` entries must be non-negative. Received: slot_size_array["
                   << s << "]=" << slot_sizes[s]);
    total = CheckedAdd(total, slot_sizes[s], "sum of slot_size_array");
  }
  HCTR_CHECK(total > 0, "`slot_size_array` must have a positive sum. Received: all zeros");
  return total;
}

// OneHot: slot s takes keys in [0, limit[s]). A slot of size 0 adds no rows: it shares the
// offset, and so the range, of the next slot with a positive size; trailing zeros take no key.
inline std::vector<int64_t> OneHotSlotKeyLimits(const std::vector<int64_t>& slot_sizes) {
  std::vector<int64_t> limits(slot_sizes.size(), 0);
  int64_t following = 0;
  for (size_t s = slot_sizes.size(); s-- > 0;) {
    if (slot_sizes[s] > 0) following = slot_sizes[s];
    limits[s] = following;
  }
  return limits;
}

// Checks the creation arguments of a table and returns its row capacity: for a hash table
// floor(workspace_mb * 2^20 / TableBytesPerRow), for a OneHot table (one_hot) sum(slot_sizes)
// (HugeCTR ignores the workspace there). The workspace's bytes must fit in int64
// (workspace_mb < 2^43), so every size derived from the capacity (rows * vec * slots * 4) fits.
inline int64_t CheckedTableCapacity(int64_t vec, double workspace_mb, OptimizerType optimizer,
                                    bool one_hot, const std::vector<int64_t>& slot_sizes) {
  HCTR_CHECK(vec > 0,
             "`embedding_vec_size` must be a positive integer. Received: "
             "embedding_vec_size="
                 << vec);
  const int64_t per_row = TableBytesPerRow(vec, optimizer);
  if (one_hot) {
    const int64_t rows = CheckedOneHotRows(slot_sizes);
    CheckedMul(rows, per_row, "bytes of sum(slot_size_array) rows");
    return rows;
  }
  HCTR_CHECK(std::isfinite(workspace_mb) && workspace_mb > 0 && workspace_mb < 0x1p43,
             "`workspace_size_per_gpu_in_mb` must be a positive number below 2^43 (8 EiB). "
             "Received: workspace_size_per_gpu_in_mb="
                 << workspace_mb);
  return CheckedFloorToInt64(workspace_mb * 1024.0 * 1024.0, "workspace bytes") / per_row;
}

// Throws kResourceExhausted unless `held` rows plus `adding` new keys fit in `capacity`. `where`
// names the shard of a sharded table ("" for a whole table).
inline void CheckTableRoom(int64_t held, int64_t adding, int64_t capacity, int64_t vec,
                           double workspace_mb, OptimizerType optimizer,
                           const std::string& where = "") {
  HCTR_CHECK_CODE(adding <= capacity - held, ErrorCode::kResourceExhausted,
                  "embedding table "
                      << where << (where.empty() ? "" : " ") << "is full: it holds " << held
                      << " keys, this batch adds " << adding
                      << " new keys and workspace_size_per_gpu_in_mb=" << workspace_mb << " allows "
                      << capacity << " rows of " << TableBytesPerRow(vec, optimizer)
                      << " bytes; the table needs at least "
                      << TableMegabytesFor(held + adding, vec, optimizer)
                      << " MB: raise workspace_size_per_gpu_in_mb");
}

// The CSR rows of a batch are (sample, slot) pairs: a multiple of slot_num.
inline void CheckSlotRows(int64_t num_rows, int64_t slot_num) {
  HCTR_CHECK(slot_num > 0 && num_rows % slot_num == 0,
             "row_splits describe " << num_rows << " (sample, slot) rows, which is not a multiple"
                                    << " of slot_num=" << slot_num);
}

// A OneHot input must have as many slots as slot_size_array.
inline void CheckOneHotSlotNum(int64_t slot_num, size_t table_slots) {
  HCTR_CHECK(slot_num == static_cast<int64_t>(table_slots),
             "LocalizedSlotSparseEmbeddingOneHot has slot_size_array of "
                 << table_slots << " slots but the input has slot_num=" << slot_num);
}

// A OneHot key must lie in [0, slot_size) of its slot. InvalidArgument, never OutOfRange: Keras
// takes TensorFlow's OutOfRange for the end of the data and stops without an error.
[[noreturn]] inline void ThrowOneHotKeyOutOfRange(int64_t key, int64_t slot, int64_t sample,
                                                  int64_t slot_size) {
  HCTR_FAIL(ErrorCode::kInvalidArgument, "key " << key << " in slot " << slot << " (sample "
                                                << sample << ") is outside the slot's range [0, "
                                                << slot_size << ") given by slot_size_array["
                                                << slot << "]");
}

inline void CheckLearningRate(float lr) {
  HCTR_CHECK(std::isfinite(lr), "the learning rate must be finite. Received: lr=" << lr);
}

// Gradient keys must be strictly ascending: keys[i - 1] = prev, keys[i] = key.
[[noreturn]] inline void ThrowGradientKeysNotAscending(int64_t i, int64_t prev, int64_t key) {
  HCTR_FAIL(ErrorCode::kInvalidArgument,
            "gradient keys must be strictly ascending (as the backward op returns them). "
            "Received: keys["
                << i - 1 << "]=" << prev << ", keys[" << i << "]=" << key);
}

[[noreturn]] inline void ThrowGradientKeyNotInTable(int64_t key) {
  HCTR_FAIL(ErrorCode::kInvalidArgument,
            "gradient for key " << key
                                << " which is not in the table; run the training lookup on the "
                                   "batch first");
}

// Imported keys (sorted ascending here) must be distinct; OneHot keys must lie in
// [0, one_hot_rows) (one_hot_rows < 0: a hash table).
inline void CheckImportedKeys(const std::vector<int64_t>& sorted, int64_t one_hot_rows) {
  const int64_t n = static_cast<int64_t>(sorted.size());
  for (int64_t i = 1; i < n; ++i) {
    HCTR_CHECK(sorted[i] != sorted[i - 1],
               "imported keys must be distinct. Received: key " << sorted[i] << " twice");
  }
  if (one_hot_rows >= 0 && n > 0) {
    HCTR_CHECK_CODE(sorted.front() >= 0 && sorted.back() < one_hot_rows,
                    ErrorCode::kInvalidArgument,
                    "imported LocalizedSlotSparseEmbeddingOneHot keys must lie in [0, "
                        << one_hot_rows << ") (sum of slot_size_array). Received: key "
                        << (sorted.front() < 0 ? sorted.front() : sorted.back()));
  }
}

// Optimizer state: step >= 0 and every key's last step in [0, step].
inline void CheckOptimizerStateSteps(const int64_t* keys, int64_t n, const int64_t* last_step,
                                     int64_t step) {
  HCTR_CHECK(step >= 0, "optimizer state step must be >= 0. Received: step=" << step);
  for (int64_t i = 0; i < n; ++i) {
    HCTR_CHECK(last_step[i] >= 0 && last_step[i] <= step,
               "optimizer state of key " << keys[i] << " has last_step=" << last_step[i]
                                         << " outside [0, step=" << step << "]");
  }
}

[[noreturn]] inline void ThrowOptimizerStateKeyNotInTable(int64_t key) {
  HCTR_FAIL(ErrorCode::kInvalidArgument,
            "optimizer state holds key "
                << key << " which is not in the table; import the sparse model first");
}

}  // namespace hugectr_tf
