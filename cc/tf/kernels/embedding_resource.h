#pragma once
// The TensorFlow resource wrapping a core EmbeddingTable, and the bridge from TensorFlow's
// intra-op thread pool to the core's ParallelFor.

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
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

// The op's intra-op pool as a ParallelFor (the core never creates threads). An exception
// thrown on a pool thread (e.g. bad_alloc) is carried back and rethrown on the calling thread,
// where the kernel turns it into a status, instead of terminating the process.
inline ParallelFor PoolParallelFor(tensorflow::OpKernelContext* ctx) {
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  return [pool](int64_t total, int64_t cost, const std::function<void(int64_t, int64_t)>& work) {
    if (total <= 0) return;
    std::mutex mu;
    std::exception_ptr first;
    pool->ParallelFor(total, cost, [&](int64_t begin, int64_t end) {
      try {
        work(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
      }
    });
    if (first) std::rethrow_exception(first);
  };
}

}  // namespace hugectr_tf
