// CPU kernels of the embedding op family: thin adapters over cc/core/embedding.

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/table.h"
#include "cc/tf/kernels/embedding_kernel_util.h"
#include "cc/tf/kernels/embedding_resource.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/tensor.h"

namespace hugectr_tf {
namespace {

using embedding_kernels::CheckApplyInputs;
using embedding_kernels::CheckBackwardInputs;
using embedding_kernels::CheckImportRows;
using embedding_kernels::CheckLookupInputs;
using embedding_kernels::CheckOptimizerState;
using embedding_kernels::CopyOut;
using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::ResourceHandle;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::core::RefCountPtr;

absl::Status GetTable(OpKernelContext* ctx, RefCountPtr<EmbeddingTableResource>* out) {
  return tensorflow::LookupResource(ctx, tensorflow::HandleFromInput(ctx, 0), out);
}

class TableCreateOp : public OpKernel {
 public:
  explicit TableCreateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    embedding_kernels::ReadTableOptions(ctx, options_);
  }

  void Compute(OpKernelContext* ctx) override {
    std::unique_ptr<EmbeddingTable> table;
    HCTR_OP_REQUIRES_CORE(ctx, table = std::make_unique<EmbeddingTable>(options_));
    auto* resource = new EmbeddingTableResource(std::move(table));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({}), &out));
    // The handle takes the resource's only reference: the table lives as long as handles do.
    out->scalar<ResourceHandle>()() =
        ResourceHandle::MakeRefCountingHandle(resource, ctx->device()->name());
  }

 private:
  TableOptions options_;
};

// Common checks of (values, row_splits); returns the number of CSR rows.

// Shared by the training and inference lookups: attributes, the table and the CSR input.
// OP_REQUIRES_OK for functions that return bool.
#define OP_REQUIRES_OK_OR_RETURN(ctx, expr) \
  do {                                      \
    absl::Status _s = (expr);               \
    if (!_s.ok()) {                         \
      (ctx)->SetStatus(_s);                 \
      return false;                         \
    }                                       \
  } while (0)

class LookupOpBase : public OpKernel {
 public:
  explicit LookupOpBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string combiner;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("slot_num", &slot_num_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("embedding_vec_size", &vec_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("combiner", &combiner));
    HCTR_OP_REQUIRES_CORE(ctx, combiner_ = ParseCombiner(combiner.c_str()));
  }

 protected:
  // Resolves the table, checks its width and the CSR input, allocates the [batch, slots, vec]
  // output 0. Returns false (with the status set) on any error.
  bool Prepare(OpKernelContext* ctx, RefCountPtr<EmbeddingTableResource>* res, int64_t* num_rows,
               Tensor** emb) {
    OP_REQUIRES_OK_OR_RETURN(ctx, GetTable(ctx, res));
    const int64_t table_vec = (*res)->table()->options().vec;
    if (!CheckLookupInputs(ctx, table_vec, vec_, slot_num_, num_rows)) return false;
    OP_REQUIRES_OK_OR_RETURN(
        ctx, ctx->allocate_output(0, {*num_rows / slot_num_, slot_num_, vec_}, emb));
    return true;
  }

  int64_t slot_num_ = 0, vec_ = 0;
  Combiner combiner_ = Combiner::kSum;
};

class LookupTrainOp : public LookupOpBase {
 public:
  using LookupOpBase::LookupOpBase;

  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    int64_t num_rows = 0;
    Tensor* emb = nullptr;
    if (!Prepare(ctx, &res, &num_rows, &emb)) return;
    const Tensor& values = ctx->input(1);
    const Tensor& splits = ctx->input(2);
    Tensor* inverse = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, values.shape(), &inverse));
    std::vector<int64_t> unique;
    HCTR_OP_REQUIRES_CORE(
        ctx, res->table()->LookupTrain(values.flat<int64_t>().data(), values.NumElements(),
                                       splits.flat<int64_t>().data(), num_rows, slot_num_,
                                       combiner_, emb->flat<float>().data(), &unique,
                                       inverse->flat<int64_t>().data(), PoolParallelFor(ctx)));
    Tensor* keys = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {static_cast<int64_t>(unique.size())}, &keys));
    std::memcpy(keys->flat<int64_t>().data(), unique.data(), unique.size() * sizeof(int64_t));
  }
};

class LookupInferenceOp : public LookupOpBase {
 public:
  using LookupOpBase::LookupOpBase;

  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    int64_t num_rows = 0;
    Tensor* emb = nullptr;
    if (!Prepare(ctx, &res, &num_rows, &emb)) return;
    const Tensor& values = ctx->input(1);
    const Tensor& splits = ctx->input(2);
    Tensor* misses = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {}, &misses));
    HCTR_OP_REQUIRES_CORE(
        ctx, misses->scalar<int64_t>()() = res->table()->LookupInference(
                 values.flat<int64_t>().data(), values.NumElements(), splits.flat<int64_t>().data(),
                 num_rows, slot_num_, combiner_, emb->flat<float>().data(), PoolParallelFor(ctx)));
  }
};

class BackwardOp : public OpKernel {
 public:
  explicit BackwardOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string combiner;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("combiner", &combiner));
    HCTR_OP_REQUIRES_CORE(ctx, combiner_ = ParseCombiner(combiner.c_str()));
  }

  void Compute(OpKernelContext* ctx) override {
    int64_t num_rows = 0, vec = 0;
    if (!CheckBackwardInputs(ctx, &num_rows, &vec)) return;
    const Tensor& grad = ctx->input(0);
    const Tensor& splits = ctx->input(1);
    const Tensor& inverse = ctx->input(2);
    const Tensor& keys = ctx->input(3);
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {keys.NumElements(), vec}, &out));
    HCTR_OP_REQUIRES_CORE(ctx, {
      ValidateRowSplits(splits.flat<int64_t>().data(), num_rows, inverse.NumElements());
      AggregateGradients(grad.flat<float>().data(), splits.flat<int64_t>().data(), num_rows,
                         inverse.flat<int64_t>().data(), keys.NumElements(), vec, combiner_,
                         out->flat<float>().data(), PoolParallelFor(ctx));
    });
  }

 private:
  Combiner combiner_ = Combiner::kSum;
};

class ApplyGradientsOp : public OpKernel {
 public:
  explicit ApplyGradientsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    EmbeddingTable* table = res->table();
    const Tensor& keys = ctx->input(1);
    const Tensor& grads = ctx->input(2);
    const Tensor& lr = ctx->input(3);
    if (!CheckApplyInputs(ctx, table->options().vec)) return;
    HCTR_OP_REQUIRES_CORE(ctx, table->ApplyGradients(keys.flat<int64_t>().data(),
                                                     keys.NumElements(), grads.flat<float>().data(),
                                                     lr.flat<float>()(0), PoolParallelFor(ctx)));
    Tensor* zero = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &zero));
    zero->scalar<float>()() = 0.0f;
  }
};

class TableSizeOp : public OpKernel {
 public:
  explicit TableSizeOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &out));
    out->scalar<int64_t>()() = res->table()->size();
  }
};

class TableStatsOp : public OpKernel {
 public:
  explicit TableStatsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    EmbeddingTable* t = res->table();
    const int64_t values[4] = {t->size(), t->capacity(), t->step(), t->misses()};
    for (int i = 0; i < 4; ++i) {
      Tensor* out = nullptr;
      OP_REQUIRES_OK(ctx, ctx->allocate_output(i, {}, &out));
      out->scalar<int64_t>()() = values[i];
    }
  }
};

class TableExportOp : public OpKernel {
 public:
  explicit TableExportOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    EmbeddingTable* t = res->table();
    const int64_t vec = t->options().vec;
    const int64_t slots = NumOptimizerSlots(t->options().optimizer.type);
    // The table writes straight into the output tensors (a working table of a few GB is
    // exported every model-oversubscription pass: no intermediate copy).
    auto allocate = [&](int64_t n) {
      Tensor* out[5] = {};
      const TensorShape shapes[5] = {{n}, {n, vec}, {n}, {n, slots, vec}, {n}};
      for (int i = 0; i < 5; ++i) {
        const tensorflow::Status status = ctx->allocate_output(i, shapes[i], &out[i]);
        if (!status.ok()) {
          ctx->CtxFailure(__FILE__, __LINE__, status);
          EmbeddingTable::ExportBuffers failed;
          failed.ok = false;  // the table writes nothing
          return failed;
        }
      }
      return EmbeddingTable::ExportBuffers{
          out[0]->flat<int64_t>().data(), out[1]->flat<float>().data(),
          out[2]->flat<int64_t>().data(), out[3]->flat<float>().data(),
          out[4]->flat<int64_t>().data()};
    };
    int64_t step = 0;
    std::vector<float> lr_history;
    HCTR_OP_REQUIRES_CORE(ctx, t->ExportTo(allocate, &step, &lr_history, PoolParallelFor(ctx)));
    if (!ctx->status().ok()) return;
    CopyOut(ctx, 5, {}, std::vector<int64_t>{step});
    CopyOut(ctx, 6, {step}, lr_history);
  }
};

class TableImportOp : public OpKernel {
 public:
  explicit TableImportOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    EmbeddingTable* t = res->table();
    const Tensor& keys = ctx->input(1);
    const Tensor& rows = ctx->input(2);
    const Tensor& slot_ids = ctx->input(3);
    const int64_t n = keys.NumElements();
    const int64_t vec = t->options().vec;
    if (!CheckImportRows(ctx, keys, rows, slot_ids, vec)) return;
    HCTR_OP_REQUIRES_CORE(
        ctx, t->ImportRows(keys.flat<int64_t>().data(), n, rows.flat<float>().data(),
                           slot_ids.NumElements() ? slot_ids.flat<int64_t>().data() : nullptr,
                           PoolParallelFor(ctx)));
  }
};

class TableImportOptimizerStateOp : public OpKernel {
 public:
  explicit TableImportOptimizerStateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    EmbeddingTable* t = res->table();
    const Tensor& keys = ctx->input(1);
    const Tensor& slots = ctx->input(2);
    const Tensor& last_step = ctx->input(3);
    const Tensor& step = ctx->input(4);
    const Tensor& lr_history = ctx->input(5);
    const int64_t n = keys.NumElements();
    const int64_t per_row = NumOptimizerSlots(t->options().optimizer.type) * t->options().vec;
    if (!CheckOptimizerState(ctx, n, per_row, slots, last_step, step, lr_history)) return;
    const int64_t s = step.flat<int64_t>()(0);
    HCTR_OP_REQUIRES_CORE(
        ctx, t->ImportOptimizerState(keys.flat<int64_t>().data(), n, slots.flat<float>().data(),
                                     last_step.flat<int64_t>().data(), s,
                                     lr_history.flat<float>().data(), PoolParallelFor(ctx)));
  }
};

#define HCTR_CPU_KERNEL(name, cls) \
  REGISTER_KERNEL_BUILDER(Name("HugeCTR>" name).Device(DEVICE_CPU), cls)

HCTR_CPU_KERNEL("EmbeddingTableCreate", TableCreateOp);
HCTR_CPU_KERNEL("EmbeddingLookupTrain", LookupTrainOp);
HCTR_CPU_KERNEL("EmbeddingLookupInference", LookupInferenceOp);
HCTR_CPU_KERNEL("EmbeddingBackward", BackwardOp);
HCTR_CPU_KERNEL("EmbeddingApplyGradients", ApplyGradientsOp);
HCTR_CPU_KERNEL("EmbeddingTableSize", TableSizeOp);
HCTR_CPU_KERNEL("EmbeddingTableStats", TableStatsOp);
HCTR_CPU_KERNEL("EmbeddingTableExport", TableExportOp);
HCTR_CPU_KERNEL("EmbeddingTableImport", TableImportOp);
HCTR_CPU_KERNEL("EmbeddingTableImportOptimizerState", TableImportOptimizerStateOp);

}  // namespace
}  // namespace hugectr_tf
