// CPU kernels of the parameter-server op family: thin adapters over cc/core/ps.

#include <cstring>
#include <string>

#include "cc/core/ps/catch_up.h"
#include "cc/tf/kernels/embedding_kernel_util.h"
#include "cc/tf/kernels/embedding_resource.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace hugectr_tf {
namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;

class PsCatchUpOp : public OpKernel {
 public:
  explicit PsCatchUpOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    int type = 0;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("optimizer_type", &type));
    OP_REQUIRES(ctx, type >= 0 && type <= 4,
                absl::InvalidArgumentError("optimizer_type must be in [0, 4]. Received: " +
                                           std::to_string(type)));
    opt_.type = static_cast<OptimizerType>(type);
    OP_REQUIRES_OK(ctx, ctx->GetAttr("beta1", &opt_.beta1));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("beta2", &opt_.beta2));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &opt_.epsilon));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("momentum_factor", &opt_.momentum_factor));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& rows = ctx->input(0);
    const Tensor& slots = ctx->input(1);
    const Tensor& last = ctx->input(2);
    const Tensor& step = ctx->input(3);
    const Tensor& lr_history = ctx->input(4);
    const int64_t k = NumOptimizerSlots(opt_.type);
    OP_REQUIRES(ctx, rows.dims() == 2 && last.dims() == 1 && rows.dim_size(0) == last.dim_size(0),
                absl::InvalidArgumentError("rows must be (n, vec) and last_step (n). Received "
                                           "shapes " +
                                           rows.shape().DebugString() + " and " +
                                           last.shape().DebugString()));
    const int64_t n = rows.dim_size(0), vec = rows.dim_size(1);
    OP_REQUIRES(
        ctx, slots.NumElements() == n * k * vec,
        absl::InvalidArgumentError("optimizer_slots must hold " + std::to_string(k) +
                                   " slot vectors per row (" + std::to_string(n * k * vec) +
                                   " values). Received shape " + slots.shape().DebugString()));
    OP_REQUIRES(ctx, step.NumElements() == 1, absl::InvalidArgumentError("step must be a scalar"));
    const int64_t s = step.flat<int64_t>()(0);
    OP_REQUIRES(ctx, lr_history.NumElements() == s,
                absl::InvalidArgumentError("lr_history must hold one learning rate per step (" +
                                           std::to_string(s) + "). Received " +
                                           std::to_string(lr_history.NumElements())));
    Tensor *rows_out = nullptr, *slots_out = nullptr, *last_out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, rows.shape(), &rows_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, slots.shape(), &slots_out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, last.shape(), &last_out));
    std::memcpy(rows_out->flat<float>().data(), rows.flat<float>().data(), n * vec * 4);
    std::memcpy(slots_out->flat<float>().data(), slots.flat<float>().data(), n * k * vec * 4);
    std::memcpy(last_out->flat<int64_t>().data(), last.flat<int64_t>().data(), n * 8);
    HCTR_OP_REQUIRES_CORE(
        ctx, CatchUpRows(opt_, n, vec, rows_out->flat<float>().data(),
                         slots_out->flat<float>().data(), last_out->flat<int64_t>().data(), s,
                         lr_history.flat<float>().data(), PoolParallelFor(ctx)));
  }

 private:
  OptimizerOptions opt_;
};

// The working table's bulk import (cc/core/embedding/table_import.cc), with the input checks of
// the two ops it replaces.
class PsImportTableStateOp : public OpKernel {
 public:
  explicit PsImportTableStateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    tensorflow::core::RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, tensorflow::LookupResource(ctx, tensorflow::HandleFromInput(ctx, 0), &res));
    EmbeddingTable* table = res->table();
    const Tensor& keys = ctx->input(1);
    const Tensor& rows = ctx->input(2);
    const Tensor& slot_ids = ctx->input(3);
    const Tensor& slots = ctx->input(4);
    const Tensor& last_step = ctx->input(5);
    const Tensor& step = ctx->input(6);
    const Tensor& lr_history = ctx->input(7);
    const TableOptions& o = table->options();
    const int64_t n = keys.NumElements();
    if (!embedding_kernels::CheckImportRows(ctx, keys, rows, slot_ids, o.vec)) return;
    const int64_t per_row = NumOptimizerSlots(o.optimizer.type) * o.vec;
    if (!embedding_kernels::CheckOptimizerState(ctx, n, per_row, slots, last_step, step,
                                                lr_history)) {
      return;
    }
    HCTR_OP_REQUIRES_CORE(
        ctx, table->ImportState(keys.flat<int64_t>().data(), n, rows.flat<float>().data(),
                                slot_ids.NumElements() ? slot_ids.flat<int64_t>().data() : nullptr,
                                slots.flat<float>().data(), last_step.flat<int64_t>().data(),
                                step.flat<int64_t>()(0), lr_history.flat<float>().data(),
                                PoolParallelFor(ctx)));
  }
};

REGISTER_KERNEL_BUILDER(Name("HugeCTR>PsCatchUp").Device(tensorflow::DEVICE_CPU), PsCatchUpOp);
REGISTER_KERNEL_BUILDER(Name("HugeCTR>PsImportTableState").Device(tensorflow::DEVICE_CPU),
                        PsImportTableStateOp);

}  // namespace
}  // namespace hugectr_tf
