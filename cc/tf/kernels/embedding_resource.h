#pragma once
// The TensorFlow resource wrapping a core EmbeddingTable; PoolParallelFor (the bridge to
// TensorFlow's intra-op pool) comes with it from pool_parallel_for.h.

#include <memory>
#include <string>

#include "cc/core/embedding/table.h"
#include "cc/tf/kernels/pool_parallel_for.h"
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

}  // namespace hugectr_tf
