#pragma once
// Sparse optimizer updates (SGD, MomentumSGD, Nesterov, Adagrad, Adam) with the Local, Global and
// LazyGlobal update types of docs/EMBEDDING_SEMANTICS.md.

#include <cuda_runtime.h>

#include <cstdint>

#include "cc/cuda/types.cuh"

namespace hugectr_tf {
namespace cuda {

struct TableView {
  float* weights;      // (max_rows, vec)
  float* slot0;        // (max_rows, vec) momentum / Adagrad accumulator / Adam m; may be null
  float* slot1;        // (max_rows, vec) Adam v; may be null
  int64_t* last_step;  // (max_rows) step each row was last brought up to date
  int vec;
};

// The learning rate the update of step t uses: lr for every optimizer but Adam, whose bias
// correction is folded in (lr * sqrt(1 - b2^t) / (1 - b1^t), computed in double on the host).
double EffectiveLearningRate(const OptimizerParams& p, double lr, int64_t step);

// Applies step `step` (>= 1). step_lr (device, indexed by step) holds EffectiveLearningRate of
// every step so far (LazyGlobal replays missed steps with them). rows are distinct.
// row_to_grad (max_rows int32 scratch) is used by Global only; table_rows = rows in use.
// device_num (nullable, on the device): the rows are the first min(num, *device_num), for a
// caller whose count is known only on the device (num bounds it and sizes the launch), so the
// host need not wait for it.
void SparseApply(const OptimizerParams& p, const TableView& t, const float* step_lr, int64_t step,
                 const int64_t* rows,  // (num)
                 const float* grads,   // (num, vec)
                 int64_t num, int64_t table_rows, int32_t* row_to_grad, cudaStream_t stream,
                 const unsigned int* device_num = nullptr);

// New rows [begin, end): weights from InitialRowValue(row_keys[r], seed, j, bound) (cc/core
// row_init.h), slots zeroed (Adagrad's accumulator at initial_accu_value), last_step = step_now.
// bound is kHashInitBound, or with one_hot_offsets (device, num_slots + 1 prefix sums of
// slot_size_array) the OneHot bound of each row's key.
void InitRows(const OptimizerParams& p, const TableView& t, const int64_t* row_keys, int64_t begin,
              int64_t end, uint64_t seed, const int64_t* one_hot_offsets, int64_t num_slots,
              int64_t step_now, cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
