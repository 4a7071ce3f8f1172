#pragma once
// The bridge from TensorFlow's intra-op thread pool to the core's ParallelFor (the core never
// creates threads), shared by every CPU kernel family.

#include <exception>
#include <functional>
#include <mutex>

#include "cc/core/embedding/parallel.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace hugectr_tf {

// The op's intra-op pool as a ParallelFor. An exception thrown on a pool thread (e.g.
// bad_alloc) is carried back and rethrown on the calling thread, where the kernel turns it into
// a status, instead of terminating the process.
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
