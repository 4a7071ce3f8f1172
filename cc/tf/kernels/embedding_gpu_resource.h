#pragma once
// The TensorFlow resource of a GPU embedding table (CUDA builds only): owns the cc/cuda table
// (GpuHashEmbedding or GpuOneHotEmbedding) plus what the CPU core keeps and the GPU core does
// not (slot id of every row, the learning rates given per step, the inference miss counter),
// and implements export / import on top of the core with the CPU core's checks and messages.

#if GOOGLE_CUDA

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cc/core/embedding/table.h"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/embedding_table.cuh"
#include "tensorflow/core/framework/resource_mgr.h"

namespace hugectr_tf {

class GpuEmbeddingTableResource : public tensorflow::ResourceBase {
 public:
  // Validates `options` as the CPU EmbeddingTable does (same messages), then allocates the
  // table on the current CUDA device, initialising on `stream`.
  GpuEmbeddingTableResource(const TableOptions& options, cudaStream_t stream);
  ~GpuEmbeddingTableResource() override;

  // Held by every kernel for the whole call: the core's tables keep per-call scratch.
  std::mutex& mu() { return mu_; }

  const TableOptions& options() const { return options_; }
  bool is_one_hot() const { return one_hot_ != nullptr; }
  cuda::GpuEmbeddingTable* table() { return table_.get(); }
  cuda::GpuHashEmbedding* hash() { return hash_; }
  cuda::GpuOneHotEmbedding* one_hot() { return one_hot_; }
  // Rows the CPU core's workspace accounting allows (Stats' capacity).
  int64_t capacity() const { return capacity_; }
  // (max_rows) device: slot of the first occurrence of each row's key (hash tables).
  int64_t* slot_ids() { return slot_ids_.as<int64_t>(); }
  // (slot_num + 1) device prefix sums of slot_size_array (one-hot tables).
  const int64_t* slot_offsets_device() const { return slot_offsets_dev_.as<int64_t>(); }

  // Keys in the table: hash rows in use; one-hot rows seen (synchronises the stream).
  int64_t Size(cudaStream_t stream);
  // Records a successful optimizer step's learning rate (for export).
  void AddStep(float lr) { lr_history_.push_back(lr); }
  void AddMisses(int64_t m) { misses_ += m; }
  int64_t misses() const { return misses_.load(); }

  // EmbeddingTable::Export / ImportRows / ImportOptimizerState on the GPU table. Host arrays.
  TableState Export(cudaStream_t stream);
  void ImportRows(const int64_t* keys, int64_t n, const float* rows, const int64_t* slot_ids,
                  cudaStream_t stream);
  void ImportOptimizerState(const int64_t* keys, int64_t n, const float* opt_slots,
                            const int64_t* last_step, int64_t step, const float* lr_history,
                            cudaStream_t stream);

  std::string DebugString() const override;
  int64_t MemoryUsed() const override;

 private:
  TableOptions options_;
  int64_t capacity_ = 0;
  int device_ = 0;  // CUDA device the memory lives on (freed there, whatever thread frees it)
  std::mutex mu_;
  std::unique_ptr<cuda::GpuEmbeddingTable> table_;
  cuda::GpuHashEmbedding* hash_ = nullptr;       // table_ when a hash table
  cuda::GpuOneHotEmbedding* one_hot_ = nullptr;  // table_ when a one-hot table
  std::vector<int64_t> slot_offsets_;            // one-hot prefix sums (host)
  cuda::DeviceBuffer slot_ids_, slot_offsets_dev_, counter_;
  std::vector<float> lr_history_;  // (step) learning rate of step t at [t - 1]
  std::atomic<int64_t> misses_{0};
};

}  // namespace hugectr_tf

#endif  // GOOGLE_CUDA
