#pragma once
// Host-side GPU embedding tables over the kernels of cc/cuda (framework-free: device pointers,
// sizes, a stream last). GpuHashEmbedding is the dynamic hash table (Distributed/Localized
// SlotSparseEmbeddingHash); GpuOneHotEmbedding the dense table addressed by key + slot offset.
// Each table owns its device memory; all calls on one table must use one stream.

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/hash_table.cuh"
#include "cc/cuda/sparse_optimizer.cuh"
#include "cc/cuda/types.cuh"

namespace hugectr_tf {
namespace cuda {

class GpuEmbeddingTable {
 public:
  GpuEmbeddingTable(int64_t max_rows, int vec, uint64_t seed, const OptimizerParams& opt);
  virtual ~GpuEmbeddingTable() = default;

  int vec() const { return vec_; }
  int64_t max_rows() const { return max_rows_; }
  int64_t step() const { return step_; }
  const OptimizerParams& optimizer() const { return opt_; }
  const TableView& view() const { return view_; }
  virtual int64_t rows_in_use() const = 0;

  // Gradient per unique id (keys for the hash table, rows = key + slot offset for the one-hot
  // table, which are the CPU core's table keys), ids ascending.
  // Returns the unique count (synchronises the stream). unique_ids (n), grads (n, vec).
  int64_t Backward(const int64_t* ids, int64_t n, const int64_t* row_splits, int64_t num_bags,
                   Combiner combiner, const float* dout, int64_t* unique_ids, float* grads,
                   cudaStream_t stream);

  // One optimizer step on distinct rows (advances the step counter first). device_num
  // (nullable): the rows are the first min(num, *device_num) (SparseApply).
  void ApplyRows(const int64_t* rows, const float* grads, int64_t num, float lr,
                 cudaStream_t stream, const unsigned int* device_num = nullptr);

  // Checkpoint restore: sets the step counter to `step` and the per-step rates from the
  // learning rates given for steps 1..step (host array lr_history[t - 1]), as ApplyRows would
  // have recorded them.
  void RestoreSteps(int64_t step, const float* lr_history, cudaStream_t stream);

 protected:
  void* Scratch(size_t bytes) {
    scratch_.Reserve(bytes);
    return scratch_.as<void>();
  }

  int vec_;
  int64_t max_rows_;
  uint64_t seed_;
  OptimizerParams opt_;
  int64_t step_ = 0;
  TableView view_{};
  DeviceBuffer weights_, slot0_, slot1_, last_step_, row_to_grad_, step_lr_, scratch_, counters_;
  int64_t step_lr_capacity_ = 0;

  // Throws when row_splits is not a CSR split of n keys (synchronises the stream).
  void CheckRowSplits(const int64_t* row_splits, int64_t num_bags, int64_t n, cudaStream_t stream);
};

class GpuHashEmbedding : public GpuEmbeddingTable {
 public:
  GpuHashEmbedding(int64_t max_rows, int vec, uint64_t seed, const OptimizerParams& opt,
                   cudaStream_t stream);

  int64_t rows_in_use() const override { return size_; }
  const HashTableView& hash_view() const { return hash_; }
  const int64_t* row_keys() const { return row_keys_.as<int64_t>(); }

  // rows[i] = row of keys[i]. Training inserts missing keys (throws kResourceExhausted, before
  // changing anything, when they do not fit); inference leaves -1. Returns the misses.
  int64_t LookupRows(const int64_t* keys, int64_t n, bool training, int64_t* rows,
                     cudaStream_t stream);

  // out (num_bags, vec). Returns the number of keys not found (always 0 when training).
  int64_t Forward(const int64_t* keys, int64_t n, const int64_t* row_splits, int64_t num_bags,
                  Combiner combiner, bool training, float* out, cudaStream_t stream);

  // Optimizer step for distinct keys already in the table (e.g. Backward's unique keys).
  void Apply(const int64_t* keys, const float* grads, int64_t num, float lr, cudaStream_t stream);

  // Removes every key (checkpoint import refills the table through LookupRows).
  void Clear(cudaStream_t stream);

  // Number of distinct keys of keys (n) not in the table (checks the reserved key too).
  int64_t CountNewKeys(const int64_t* keys, int64_t n, cudaStream_t stream);

  // The steps of a training LookupRows without its read-backs, for a caller that drives several
  // tables (one per GPU) and synchronises them together (cc/cuda/sharded_embedding.cu):
  // FindRowsAsync: rows[i] = row of keys[i] or -1; host_out[0] = misses, host_out[1] = nonzero
  // when a key is the reserved kEmptyKey, once the stream gets there (host_out: pinned memory).
  void FindRowsAsync(const int64_t* keys, int64_t n, int64_t* rows, unsigned long long* host_out,
                     cudaStream_t stream);
  // Inserts the keys whose rows[i] == -1 (the caller checked the room) and resolves rows;
  // *host_rows_in_use (pinned) gets the new row count once the stream gets there.
  void InsertMissingAsync(const int64_t* keys, int64_t n, int64_t* rows,
                          long long* host_rows_in_use, cudaStream_t stream);
  // Then, with that count read: initialises the new rows [rows_in_use(), new_rows_in_use).
  void InitNewRows(int64_t new_rows_in_use, cudaStream_t stream);

 private:
  // Distinct keys among the `misses` positions with rows[i] == -1.
  int64_t DistinctMissing(const int64_t* keys, const int64_t* rows, int64_t n, int64_t misses,
                          cudaStream_t stream);
  // LookupRows that also validates row_splits (when given) within the same read-back.
  int64_t LookupRowsImpl(const int64_t* keys, int64_t n, bool training, int64_t* rows,
                         const int64_t* row_splits, int64_t num_bags, cudaStream_t stream);

  HashTableView hash_{};
  DeviceBuffer slots_, row_keys_, row_count_, lookup_rows_;
  int64_t size_ = 0;
};

class GpuOneHotEmbedding : public GpuEmbeddingTable {
 public:
  // Every row r exists from the start, initialised as if its key were r.
  GpuOneHotEmbedding(const std::vector<int64_t>& slot_sizes, int vec, uint64_t seed,
                     const OptimizerParams& opt, cudaStream_t stream);

  int64_t rows_in_use() const override { return max_rows_; }
  int slot_num() const { return static_cast<int>(slot_sizes_.size()); }

  // rows[i] = keys[i] + offset of its slot; throws kInvalidArgument naming the first bad key.
  void Rows(const int64_t* keys, int64_t n, const int64_t* row_splits, int64_t num_bags,
            int64_t* rows, cudaStream_t stream);

  // Returns the misses (inference only: rows never seen in training).
  int64_t Forward(const int64_t* keys, int64_t n, const int64_t* row_splits, int64_t num_bags,
                  Combiner combiner, bool training, float* out, cudaStream_t stream);

  // (max_rows) 1 for rows seen in training: the rows the CPU core would hold.
  const uint8_t* seen() const { return seen_.as<uint8_t>(); }
  // Device arrays for OneHotRows: (slot_num + 1) prefix sums and (slot_num) key limits.
  const int64_t* slot_offsets() const { return slot_offsets_.as<int64_t>(); }
  const int64_t* slot_limits() const { return slot_limits_.as<int64_t>(); }

  // Checkpoint import: every row back to its initial value (last_step = step()), none seen;
  // then MarkSeen(rows) creates the imported rows as a training lookup would.
  void ResetRows(cudaStream_t stream);
  void MarkSeen(const int64_t* rows, int64_t n, cudaStream_t stream);

 private:
  std::vector<int64_t> slot_sizes_, slot_key_limits_;
  DeviceBuffer slot_offsets_, slot_limits_, row_ids_, lookup_rows_, seen_;
};

}  // namespace cuda
}  // namespace hugectr_tf
