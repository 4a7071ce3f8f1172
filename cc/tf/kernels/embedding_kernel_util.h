#pragma once
// Plumbing shared by the CPU (embedding_kernels.cc) and GPU (embedding_kernels.cu.cc) kernels of
// the embedding op family, so both read attributes and check inputs the same way.

#include <cstring>
#include <string>
#include <vector>

#include "cc/core/embedding/table.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace hugectr_tf {
namespace embedding_kernels {

using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;

// Reads the EmbeddingTableCreate attributes into `options` (sets the construction status on a
// bad attribute). Both kernels then build their own table from the same options.
inline void ReadTableOptions(OpKernelConstruction* ctx, TableOptions& options) {
  float workspace = 0;
  std::string type;
  int optimizer = 0, update = 0;
  int64_t seed = 0;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("embedding_vec_size", &options.vec));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("workspace_size_per_gpu_in_mb", &workspace));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("embedding_type", &type));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("slot_size_array", &options.slot_size_array));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("seed", &seed));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("optimizer_type", &optimizer));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("update_type", &update));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("beta1", &options.optimizer.beta1));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("beta2", &options.optimizer.beta2));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &options.optimizer.epsilon));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("momentum_factor", &options.optimizer.momentum_factor));
  OP_REQUIRES_OK(ctx,
                 ctx->GetAttr("initial_accu_value", &options.optimizer.initial_accu_value));
  OP_REQUIRES(ctx, optimizer >= 0 && optimizer <= 4,
              absl::InvalidArgumentError("optimizer_type must be in [0, 4]. Received: " +
                                         std::to_string(optimizer)));
  OP_REQUIRES(ctx, update >= 0 && update <= 2,
              absl::InvalidArgumentError("update_type must be in [0, 2]. Received: " +
                                         std::to_string(update)));
  options.workspace_mb = workspace;
  options.seed = static_cast<uint64_t>(seed);
  options.optimizer.type = static_cast<OptimizerType>(optimizer);
  options.optimizer.update = static_cast<UpdateType>(update);
  HCTR_OP_REQUIRES_CORE(ctx, options.type = ParseTableType(type));
}

// values: int64 [n] keys; splits: int64 [rows + 1]; rows must be a multiple of slot_num.
inline bool CheckCsr(OpKernelContext* ctx, const Tensor& values, const Tensor& splits,
                     int64_t slot_num, int64_t* num_rows) {
  if (values.dims() != 1 || splits.dims() != 1 || splits.NumElements() < 1) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "values and row_splits must be vectors and row_splits non-empty. Received shapes " +
        values.shape().DebugString() + " and " + splits.shape().DebugString()));
    return false;
  }
  *num_rows = splits.NumElements() - 1;
  if (*num_rows % slot_num != 0) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "row_splits has " + std::to_string(*num_rows) +
        " (sample, slot) rows, which is not a multiple of slot_num=" + std::to_string(slot_num)));
    return false;
  }
  return true;
}

// The lookups' checks: the table's width and the CSR input. Returns false with the status set.
inline bool CheckLookupInputs(OpKernelContext* ctx, int64_t table_vec, int64_t vec,
                              int64_t slot_num, int64_t* num_rows) {
  if (table_vec != vec) {
    ctx->SetStatus(absl::InvalidArgumentError("lookup asks for embedding_vec_size=" +
                                              std::to_string(vec) + " but the table has " +
                                              std::to_string(table_vec)));
    return false;
  }
  return CheckCsr(ctx, ctx->input(1), ctx->input(2), slot_num, num_rows);
}

// EmbeddingBackward inputs: grad (batch, slot_num, vec), row_splits (batch * slot_num + 1),
// inverse and unique_keys vectors. Sets num_rows and vec.
inline bool CheckBackwardInputs(OpKernelContext* ctx, int64_t* num_rows, int64_t* vec) {
  const Tensor& grad = ctx->input(0);
  const Tensor& splits = ctx->input(1);
  if (grad.dims() != 3) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "grad must be (batch, slot_num, vec). Received shape " + grad.shape().DebugString()));
    return false;
  }
  *num_rows = grad.dim_size(0) * grad.dim_size(1);
  *vec = grad.dim_size(2);
  if (splits.dims() != 1 || splits.NumElements() != *num_rows + 1) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "row_splits must have batch * slot_num + 1 = " + std::to_string(*num_rows + 1) +
        " entries. Received shape " + splits.shape().DebugString()));
    return false;
  }
  if (ctx->input(2).dims() != 1 || ctx->input(3).dims() != 1) {
    ctx->SetStatus(absl::InvalidArgumentError("inverse and unique_keys must be vectors"));
    return false;
  }
  return true;
}

// EmbeddingApplyGradients inputs: keys [n], key_grads [n, vec], a scalar learning rate.
inline bool CheckApplyInputs(OpKernelContext* ctx, int64_t vec) {
  const Tensor& keys = ctx->input(1);
  const Tensor& grads = ctx->input(2);
  const Tensor& lr = ctx->input(3);
  if (!(keys.dims() == 1 && grads.dims() == 2 && grads.dim_size(0) == keys.NumElements() &&
        grads.dim_size(1) == vec)) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "key_grads must be (len(unique_keys), embedding_vec_size=" + std::to_string(vec) +
        "). Received shapes " + keys.shape().DebugString() + " and " +
        grads.shape().DebugString()));
    return false;
  }
  if (lr.NumElements() != 1) {
    ctx->SetStatus(absl::InvalidArgumentError("learning_rate must be a scalar. Received shape " +
                                              lr.shape().DebugString()));
    return false;
  }
  return true;
}

// EmbeddingTableImport inputs: keys [n], rows [n, vec], slot_ids empty or [n].
inline bool CheckImportRows(OpKernelContext* ctx, const Tensor& keys, const Tensor& rows,
                            const Tensor& slot_ids, int64_t vec) {
  const int64_t n = keys.NumElements();
  if (!(keys.dims() == 1 && rows.dims() == 2 && rows.dim_size(0) == n &&
        rows.dim_size(1) == vec)) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "rows must be (len(keys), embedding_vec_size=" + std::to_string(vec) +
        "). Received shapes " + keys.shape().DebugString() + " and " +
        rows.shape().DebugString()));
    return false;
  }
  if (!(slot_ids.NumElements() == 0 || slot_ids.NumElements() == n)) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "slot_ids must be empty or hold one entry per key (" + std::to_string(n) +
        "). Received shape " + slot_ids.shape().DebugString()));
    return false;
  }
  return true;
}

// EmbeddingTableImportOptimizerState inputs: `per_row` slot values and one last_step per key,
// a scalar step and one learning rate per step.
inline bool CheckOptimizerState(OpKernelContext* ctx, int64_t n, int64_t per_row,
                                const Tensor& slots, const Tensor& last_step, const Tensor& step,
                                const Tensor& lr_history) {
  if (slots.NumElements() != n * per_row || last_step.NumElements() != n) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "optimizer state must hold " + std::to_string(per_row) +
        " slot values and one last_step per key (" + std::to_string(n) +
        " keys). Received shapes " + slots.shape().DebugString() + " and " +
        last_step.shape().DebugString()));
    return false;
  }
  if (step.NumElements() != 1) {
    ctx->SetStatus(absl::InvalidArgumentError("step must be a scalar"));
    return false;
  }
  const int64_t s = step.flat<int64_t>()(0);
  if (lr_history.NumElements() != s) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "lr_history must hold one learning rate per step (" + std::to_string(s) +
        "). Received " + std::to_string(lr_history.NumElements())));
    return false;
  }
  return true;
}

// Copies a host vector into output `index` of `shape`.
template <typename T>
void CopyOut(OpKernelContext* ctx, int index, const TensorShape& shape, const std::vector<T>& v) {
  Tensor* out = nullptr;
  OP_REQUIRES_OK(ctx, ctx->allocate_output(index, shape, &out));
  if (!v.empty()) std::memcpy(out->flat<T>().data(), v.data(), v.size() * sizeof(T));
}

}  // namespace embedding_kernels
}  // namespace hugectr_tf
