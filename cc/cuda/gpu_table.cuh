#pragma once
// The GPU embedding table: the CUDA counterpart of cc/core/embedding/table.h, method for method,
// computing what the CPU EmbeddingTable computes (docs/EMBEDDING_SEMANTICS.md) with the same
// checks and messages (cc/core/embedding/table_checks.h). Batch arrays (values, row_splits,
// outputs, gradients) are device pointers on `stream`; checkpoint arrays (Export, Import*) are
// host arrays. The table owns its device memory, allocated on the device current at
// construction, and frees it there. All calls on one table must use one stream; a call
// synchronises it where it must read a count back.
//
// Built from the verified pieces of cc/cuda: GpuHashEmbedding (Distributed / Localized hash)
// or GpuOneHotEmbedding (LocalizedSlotSparseEmbeddingOneHot), plus what those do not keep: the
// slot id of every hash row, the learning rate of every step and the inference miss counter.

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cc/core/embedding/table.h"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/embedding_table.cuh"

namespace hugectr_tf {
namespace cuda {

class GpuTable {
 public:
  // Checks `options` as the CPU table does, then allocates the whole row capacity.
  GpuTable(const TableOptions& options, cudaStream_t stream);
  ~GpuTable();
  GpuTable(const GpuTable&) = delete;
  GpuTable& operator=(const GpuTable&) = delete;

  const TableOptions& options() const { return options_; }
  bool one_hot() const { return one_hot_ != nullptr; }
  int device() const { return device_; }
  // Rows the workspace allows (the CPU core's formula).
  int64_t capacity() const { return capacity_; }
  // Keys in the table: hash rows in use, or one-hot rows seen in training.
  int64_t size(cudaStream_t stream);
  int64_t step() const { return table_->step(); }
  int64_t misses() const { return misses_; }
  // Device bytes held (the whole row limit is allocated at creation).
  int64_t device_bytes() const;

  // Training forward: inserts unseen keys, writes out (num_rows, vec), the ascending unique
  // table keys of the batch (unique_keys, capacity n) and inverse (n). Returns the unique count.
  int64_t LookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits, int64_t num_rows,
                      int64_t slot_num, Combiner combiner,
                      float* out,            // (num_rows, vec)
                      int64_t* unique_keys,  // (n) capacity
                      int64_t* inverse,      // (n)
                      cudaStream_t stream);

  // Inference forward: never inserts; a missing key adds a zero vector and counts as a miss.
  // Returns the number of missing positions.
  int64_t LookupInference(const int64_t* values, int64_t n, const int64_t* row_splits,
                          int64_t num_rows, int64_t slot_num, Combiner combiner,
                          float* out,  // (num_rows, vec)
                          cudaStream_t stream);

  // One optimizer step with learning rate lr for the rows of unique_keys (strictly ascending
  // table keys, all in the table) with their gradients (num_unique, vec).
  void ApplyGradients(const int64_t* unique_keys, int64_t num_unique, const float* grads, float lr,
                      cudaStream_t stream);

  // Whole state, rows by ascending key (host arrays).
  TableState Export(cudaStream_t stream);
  // Replaces all rows (host arrays): keys distinct, rows (n, vec), slot ids (n) or null.
  void ImportRows(const int64_t* keys, int64_t n, const float* rows, const int64_t* slot_ids,
                  cudaStream_t stream);
  // Sets step, learning-rate history and each key's optimizer slots and last step (host).
  void ImportOptimizerState(const int64_t* keys, int64_t n, const float* opt_slots,
                            const int64_t* last_step, int64_t step, const float* lr_history,
                            cudaStream_t stream);

  // --- One shard of a sharded table (cc/cuda/sharded_embedding.cu). Hash tables only. The
  // steps of a training lookup without read-backs, so one host thread keeps every GPU busy and
  // synchronises them together.
  // rows[i] = row of keys[i] or -1; host_out[0] = the misses, host_out[1] nonzero when a key
  // is the reserved kEmptyKey, once the stream gets there (host_out: pinned host memory).
  void FindKeysAsync(const int64_t* keys, int64_t n, int64_t* rows, unsigned long long* host_out,
                     cudaStream_t stream);
  // Throws the "table is full" error (naming `where`) unless the distinct keys of keys (n) that
  // are not in the table fit; `misses` (FindKeysAsync's) bounds them, so only a table near its
  // limit counts them exactly (synchronising the stream). Changes nothing.
  void CheckRoomForMisses(const int64_t* keys, int64_t n, int64_t misses, const std::string& where,
                          cudaStream_t stream);
  // After the room check: inserts the keys with rows[i] == -1 and resolves rows;
  // *host_rows_in_use (pinned) gets the new row count once the stream gets there.
  void InsertMissingAsync(const int64_t* keys, int64_t n, int64_t* rows,
                          long long* host_rows_in_use, cudaStream_t stream);
  // Then, with that count: initialises the new rows and gives each the slot slots[i] of its
  // first occurrence in rows (n).
  void FinishInsert(const int64_t* rows, const int64_t* slots, int64_t n, int64_t new_rows_in_use,
                    cudaStream_t stream);
  // Row storage (rows_in_use, vec), for a caller that reads rows found by FindKeysAsync.
  const float* weights() const { return table_->view().weights; }
  // One optimizer step on distinct rows of this table (as ApplyGradients, whose key checks the
  // caller's construction makes redundant). device_n (nullable, on the device): the rows are
  // the first min(n, *device_n), so the host need not read the count back first.
  void ApplyDistinctRows(const int64_t* rows, int64_t n, const float* grads, float lr,
                         cudaStream_t stream, const unsigned int* device_n = nullptr);

 private:
  // Throws the "table is full" error unless the new distinct keys of keys (n) fit.
  void CheckRoomFor(const int64_t* keys, int64_t n, const std::string& where, cudaStream_t stream);
  int64_t HashLookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits,
                          int64_t num_rows, int64_t slot_num, Combiner combiner, float* out,
                          const int64_t** table_keys, cudaStream_t stream);
  int64_t OneHotLookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits,
                            int64_t num_rows, int64_t slot_num, Combiner combiner, float* out,
                            const int64_t** table_keys, cudaStream_t stream);
  void* Scratch(size_t bytes);

  TableOptions options_;
  int64_t capacity_ = 0;
  int device_ = 0;
  std::unique_ptr<GpuEmbeddingTable> table_;
  GpuHashEmbedding* hash_ = nullptr;       // table_ when a hash table
  GpuOneHotEmbedding* one_hot_ = nullptr;  // table_ when a one-hot table
  std::vector<int64_t> slot_offsets_;      // one-hot prefix sums (host)
  DeviceBuffer slot_ids_;                  // (rows) hash: slot of each row's first occurrence
  DeviceBuffer scratch_, counters_, lookup_keys_;
  std::vector<float> lr_history_;  // (step) learning rate of step t at [t - 1]
  int64_t misses_ = 0;
};

// The backward op, as hugectr_tf::AggregateGradients (cc/core/embedding/combine.h): grads
// (num_unique, vec) of the keys a lookup returned, from dout and the lookup's inverse (n);
// keys no position refers to get zeros. Checks row_splits and the inverse range first.
size_t AggregateGradientsWorkspaceBytes(int64_t n, int64_t num_unique, int64_t vec);
void AggregateGradients(const float* dout,          // (num_rows, vec)
                        const int64_t* row_splits,  // (num_rows + 1)
                        int64_t num_rows,
                        const int64_t* inverse,  // (n)
                        int64_t n, int64_t num_unique, int64_t vec, Combiner combiner,
                        float* grads,  // (num_unique, vec)
                        void* workspace, size_t workspace_bytes, cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
