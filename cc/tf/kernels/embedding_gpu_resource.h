#pragma once
// The TensorFlow resource of a GPU embedding table (CUDA builds only): owns a cc/cuda GpuTable,
// as EmbeddingTableResource (embedding_resource.h) owns a CPU EmbeddingTable, plus the mutex
// every GPU kernel holds for its call (the GPU table keeps per-call scratch).

#if GOOGLE_CUDA

#include <memory>
#include <mutex>
#include <string>

#include "cc/cuda/gpu_table.cuh"
#include "tensorflow/core/framework/resource_mgr.h"

namespace hugectr_tf {

class GpuEmbeddingTableResource : public tensorflow::ResourceBase {
 public:
  explicit GpuEmbeddingTableResource(std::unique_ptr<cuda::GpuTable> table)
      : table_(std::move(table)) {}
  cuda::GpuTable* table() { return table_.get(); }
  std::mutex& mu() { return mu_; }
  std::string DebugString() const override {
    return "HugeCTR GPU EmbeddingTable(device=" + std::to_string(table_->device()) +
           ", capacity=" + std::to_string(table_->capacity()) + ")";
  }
  // Device memory, reserved for the whole row limit when the table is created.
  int64_t MemoryUsed() const override { return table_->device_bytes(); }

 private:
  std::mutex mu_;
  std::unique_ptr<cuda::GpuTable> table_;
};

}  // namespace hugectr_tf

#endif  // GOOGLE_CUDA
