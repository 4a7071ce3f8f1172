#pragma once
// The TensorFlow resource wrapping a core EmbeddingTable, and the bridge from TensorFlow's
// intra-op thread pool to the core's ParallelFor.

#include <memory>
#include <string>

#include "cc/core/embedding/table.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"

namespace hugectr_tf {

class EmbeddingTableResource : public tensorflow::ResourceBase {
 public:
  explicit EmbeddingTableResource(std::unique_ptr<EmbeddingTable> table)
      : table_(std::move(table)) {}
  EmbeddingTable* table() { return table_.get(); }
  std::string DebugString() const override {
    return "HugeCTR EmbeddingTable(size=" + std::to_string(table_->size()) +
           ", capacity=" + std::to_string(table_->capacity()) + ")";
  }
  int64_t MemoryUsed() const override {
    return table_->size() *
           EmbeddingTable::BytesPerRow(table_->options().vec, table_->options().optimizer.type);
  }

 private:
  std::unique_ptr<EmbeddingTable> table_;
};

// The op's intra-op pool as a ParallelFor (the core never creates threads).
inline ParallelFor PoolParallelFor(tensorflow::OpKernelContext* ctx) {
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  return [pool](int64_t total, int64_t cost, const std::function<void(int64_t, int64_t)>& work) {
    if (total <= 0) return;
    pool->ParallelFor(total, cost, work);
  };
}

}  // namespace hugectr_tf
