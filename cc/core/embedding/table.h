#pragma once
// The CPU embedding table: key -> float32 row of `vec`, optimizer slots and per-row counters,
// with training lookup (insert on first sight), inference lookup (find only), sparse optimizer
// apply, export and import. Thread-safe: lookups at inference share a reader lock, everything
// that inserts or writes takes the writer lock and then uses the caller's ParallelFor inside.

#include <atomic>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/key_index.h"
#include "cc/core/embedding/mapped_array.h"
#include "cc/core/embedding/optimizer.h"
#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

enum class TableType : int {
  kDistributedSlotSparseEmbeddingHash = 0,
  kLocalizedSlotSparseEmbeddingHash = 1,
  kLocalizedSlotSparseEmbeddingOneHot = 2,
};

// Parses HugeCTR's Embedding_t names; throws naming the value otherwise.
TableType ParseTableType(const std::string& name);

struct TableOptions {
  int64_t vec = 16;           // embedding_vec_size
  double workspace_mb = 1.0;  // workspace_size_per_gpu_in_mb: hash types' limit
  TableType type = TableType::kDistributedSlotSparseEmbeddingHash;
  std::vector<int64_t> slot_size_array;  // OneHot: rows per slot (key + prefix offset addressing);
                                         // a 0 shares the range of the next positive slot
  uint64_t seed = 0;                     // row initialisation seed
  OptimizerOptions optimizer;            // sparse optimizer and update type
};

// Everything the table holds, rows ordered by ascending key (export / import / checkpoints).
struct TableState {
  std::vector<int64_t> keys;       // (n) table keys (OneHot: key + slot offset)
  std::vector<float> rows;         // (n, vec)
  std::vector<int64_t> slot_ids;   // (n) slot where the key was first seen
  std::vector<float> opt_slots;    // (n, NumOptimizerSlots, vec)
  std::vector<int64_t> last_step;  // (n) step at which the row was last brought up to date
  int64_t step = 0;                // applied optimizer steps
  std::vector<float> lr_history;   // (step) learning rate of step t at [t - 1]
};

class EmbeddingTable {
 public:
  explicit EmbeddingTable(const TableOptions& options);

  // Bytes one row costs against the workspace: key, slot id, last step, key-index share,
  // the row and the optimizer slots.
  static int64_t BytesPerRow(int64_t vec, OptimizerType type);
  // MB (2^20 bytes) needed for `rows` rows, rounded up.
  static int64_t MegabytesFor(int64_t rows, int64_t vec, OptimizerType type);
  // The row capacity (CheckedTableCapacity, shared with the GPU table): OneHot holds
  // sum(slot_size_array) rows, as HugeCTR sizes it (the workspace is not used); the hash types
  // hold the rows workspace_size_per_gpu_in_mb pays for.

  const TableOptions& options() const { return options_; }
  int64_t capacity() const { return capacity_; }
  int64_t size() const;
  int64_t step() const;
  int64_t misses() const { return misses_.load(); }

  // Training forward: inserts unseen keys (initialised from key and seed), writes
  // out (num_rows, vec) and the ascending unique keys of the batch with inverse (n).
  // num_rows = batch * slot_num; row r belongs to slot r % slot_num.
  void LookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits, int64_t num_rows,
                   int64_t slot_num, Combiner combiner,
                   float* out,                         // (num_rows, vec)
                   std::vector<int64_t>* unique_keys,  // ascending table keys
                   int64_t* inverse,                   // (n)
                   const ParallelFor& parallel_for);

  // Inference forward: never inserts; a missing key adds a zero vector and counts as a miss.
  // Returns the number of missing positions.
  int64_t LookupInference(const int64_t* values, int64_t n, const int64_t* row_splits,
                          int64_t num_rows, int64_t slot_num, Combiner combiner,
                          float* out,  // (num_rows, vec)
                          const ParallelFor& parallel_for);

  // One optimizer step with learning rate lr for the rows of unique_keys (table keys, distinct)
  // with their aggregated gradients, following the update type. Increments step() first.
  void ApplyGradients(const int64_t* unique_keys, int64_t num_unique,
                      const float* grads,  // (num_unique, vec)
                      float lr, const ParallelFor& parallel_for);

  // Rows with initial values chosen by the caller (a Keras initialiser, docs/embedding.md):
  // NewKeys gives the table keys a training lookup of this batch would insert (ascending,
  // distinct) with the slot of each one's first position; InsertWithRows inserts those of `keys`
  // not yet in the table with the given rows (keys already present are left alone) and returns
  // how many it inserted; GatherRows copies the rows of keys in the table (throws naming a key
  // that is not).
  void NewKeys(const int64_t* values, int64_t n, const int64_t* row_splits, int64_t num_rows,
               int64_t slot_num, std::vector<int64_t>* keys, std::vector<int64_t>* slots,
               const ParallelFor& parallel_for) const;
  int64_t InsertWithRows(const int64_t* keys, int64_t n,
                         const float* rows,  // (n, vec)
                         const int64_t* slots, const ParallelFor& parallel_for);
  void GatherRows(const int64_t* keys, int64_t n,
                  float* out,  // (n, vec)
                  const ParallelFor& parallel_for) const;

  // Export and import (table_import.cc): whole working tables move to and from a parameter
  // server every pass of model oversubscription, so all of it runs in parallel and writes every
  // byte once.
  // Whole state, rows by ascending key.
  TableState Export(const ParallelFor& parallel_for) const;
  // The same into buffers the caller allocates once the row count is known (the export kernel's
  // output tensors, without an intermediate copy): `allocate(n)` is called under the table's
  // reader lock; when it returns buffers with `ok` false (the allocation failed) nothing is
  // written.
  struct ExportBuffers {
    int64_t* keys = nullptr;       // (n)
    float* rows = nullptr;         // (n, vec)
    int64_t* slot_ids = nullptr;   // (n)
    float* opt_slots = nullptr;    // (n, NumOptimizerSlots, vec)
    int64_t* last_step = nullptr;  // (n)
    bool ok = true;                // pointers of empty buffers may be null
  };
  void ExportTo(const std::function<ExportBuffers(int64_t n)>& allocate, int64_t* step,
                std::vector<float>* lr_history, const ParallelFor& parallel_for) const;
  // Replaces all rows: keys (distinct), rows and slot ids; optimizer slots start fresh and
  // last_step is the current step. Keeps step and learning-rate history.
  void ImportRows(const int64_t* keys, int64_t n, const float* rows, const int64_t* slot_ids,
                  const ParallelFor& parallel_for);
  // Sets step, learning-rate history and, for each key (which must be in the table), its
  // optimizer slots and last step.
  void ImportOptimizerState(const int64_t* keys, int64_t n, const float* opt_slots,
                            const int64_t* last_step, int64_t step, const float* lr_history,
                            const ParallelFor& parallel_for);
  // ImportRows then ImportOptimizerState of the same keys as one bulk write (a parameter
  // server's rows into the working table, every pass): rows, slots and counters are written
  // once. All input is checked before the table changes.
  void ImportState(const int64_t* keys, int64_t n, const float* rows, const int64_t* slot_ids,
                   const float* opt_slots, const int64_t* last_step, int64_t step,
                   const float* lr_history, const ParallelFor& parallel_for);

 private:
  // Table key of every position (OneHot: key + slot offset, range-checked) and its slot.
  void TableKeys(const int64_t* values, int64_t n, const int64_t* row_splits, int64_t num_rows,
                 int64_t slot_num, std::vector<int64_t>* keys, std::vector<int64_t>* slots,
                 const ParallelFor& parallel_for) const;
  int64_t FindRow(int64_t key) const;
  // Hot-path helpers (table_rows.cc).
  // The table keys of a lookup after the CSR checks: `values` itself for the hash types, the
  // offset keys (written to *scratch) for OneHot.
  const int64_t* CheckedTableKeys(const int64_t* values, int64_t n, const int64_t* row_splits,
                                  int64_t num_rows, int64_t slot_num, std::vector<int64_t>* scratch,
                                  const ParallelFor& parallel_for) const;
  // rows[i] = FindRow(keys[i]), in parallel with the index lookups prefetched.
  void FindRows(const int64_t* keys, int64_t n, int64_t* rows,
                const ParallelFor& parallel_for) const;
  // Replaces each position in *positions by the slot of the CSR row holding it.
  static void SlotsOfPositions(const int64_t* row_splits, int64_t num_rows, int64_t slot_num,
                               std::vector<int64_t>* positions, const ParallelFor& parallel_for);
  // The rows of gradient keys: those the last training lookup found when the keys are its
  // unique keys (the usual lookup -> backward -> apply step), else looked up into *found.
  const int64_t* RowsOfGradientKeys(const int64_t* keys, int64_t n, std::vector<int64_t>* found,
                                    const ParallelFor& parallel_for) const;
  // keys absent and distinct; initial_rows (keys.size(), vec) or nullptr for InitRow.
  void InsertRows(const std::vector<int64_t>& keys, const std::vector<int64_t>& slots,
                  const ParallelFor& parallel_for, const float* initial_rows = nullptr);
  void EnsureStorage(int64_t rows);
  // Import helpers (table_import.cc), writer lock held, input checked. ReplaceRows replaces
  // every row by keys[i] at row i with its row and slot (null slot_ids: 0, OneHot: derived);
  // null opt_slots / last_step: fresh slots and the current step.
  void ReplaceRows(const int64_t* keys, int64_t n, const float* rows, const int64_t* slot_ids,
                   const float* opt_slots, const int64_t* last_step,
                   const ParallelFor& parallel_for);
  void SetStepHistory(int64_t step, const float* lr_history);
  // Checks done before any import changes the table (keys distinct, OneHot range, room).
  void CheckImport(const int64_t* keys, int64_t n, const ParallelFor& parallel_for) const;
  const StepScalars& ScalarsOfStep(int64_t t) const { return step_scalars_[t - 1]; }

  TableOptions options_;
  int num_slots_ = 0;
  int64_t capacity_ = 0;
  std::vector<int64_t> slot_offsets_;     // OneHot prefix sums (slot_num + 1)
  std::vector<int64_t> slot_key_limits_;  // OneHot: slot s takes keys in [0, limit[s])
  // OneHot: table key -> row + 1 (0: absent). Reserved, not committed: a 33 M-row table costs
  // the pages of the keys it has seen, like rows_.
  MappedArray<int64_t> dense_index_;

  mutable std::shared_mutex mutex_;
  KeyIndex index_;                  // hash types
  std::vector<int64_t> keys_;       // (size)
  std::vector<int64_t> slot_ids_;   // (size)
  std::vector<int64_t> last_step_;  // (size)
  MappedArray<float> rows_;         // (capacity, vec), first size() rows in use
  MappedArray<float> opt_;          // (capacity, num_slots, vec)
  int64_t step_ = 0;
  std::vector<float> lr_history_;          // (step)
  std::vector<StepScalars> step_scalars_;  // (step), derived from lr_history_
  std::vector<int64_t> last_lookup_keys_;  // unique keys of the last training lookup
  std::vector<int64_t> last_lookup_rows_;  // and their rows (rows never move until an import)
  std::vector<int64_t> grad_of_row_;       // (size) Global update scratch, kept across steps
  std::atomic<int64_t> misses_{0};
};

}  // namespace hugectr_tf
