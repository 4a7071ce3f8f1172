// GPU kernels of the embedding op family (CUDA builds only): thin adapters over the cc/cuda
// GpuTable, shaped like the CPU kernels (embedding_kernels.cc) over cc/core's EmbeddingTable,
// with the same input checks (embedding_kernel_util.h). Batch tensors stay on the op's stream;
// scalars the host needs and the checkpoint tensors of export / import live in host memory.

#if GOOGLE_CUDA

#define EIGEN_USE_GPU

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cc/core/embedding/combine.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/gpu_table.cuh"
#include "cc/tf/kernels/embedding_gpu_resource.h"
#include "cc/tf/kernels/embedding_kernel_util.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"
#include "xla/stream_executor/activate_context.h"
#include "xla/stream_executor/stream.h"
#include "xla/stream_executor/stream_executor.h"

namespace hugectr_tf {
namespace {

using embedding_kernels::CheckApplyInputs;
using embedding_kernels::CheckBackwardInputs;
using embedding_kernels::CheckImportRows;
using embedding_kernels::CheckLookupInputs;
using embedding_kernels::CheckOptimizerState;
using embedding_kernels::CopyOut;
using tensorflow::DEVICE_GPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::ResourceHandle;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::core::RefCountPtr;

cudaStream_t StreamOf(OpKernelContext* ctx) { return ctx->eigen_gpu_device().stream(); }

// Makes the op's GPU current for the CUDA runtime calls of the core for the rest of Compute.
// TensorFlow's GPU device already activates it around Compute; this keeps the kernels correct
// however they are invoked.
std::unique_ptr<stream_executor::ActivateContext> ActivateDevice(OpKernelContext* ctx) {
  return ctx->op_device_context()->stream()->parent()->Activate();
}

// The table of input 0, locked for the call.
class LockedTable {
 public:
  explicit LockedTable(OpKernelContext* ctx)
      : activation_(ActivateDevice(ctx)),
        status_(tensorflow::LookupResource(ctx, tensorflow::HandleFromInput(ctx, 0), &res_)) {
    if (status_.ok()) lock_ = std::unique_lock<std::mutex>(res_->mu());
  }
  const absl::Status& status() const { return status_; }
  cuda::GpuTable* operator->() { return res_->table(); }

 private:
  std::unique_ptr<stream_executor::ActivateContext> activation_;
  RefCountPtr<GpuEmbeddingTableResource> res_;  // before status_: the lookup fills it
  absl::Status status_;
  std::unique_lock<std::mutex> lock_;
};

class TableCreateOp : public OpKernel {
 public:
  explicit TableCreateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    embedding_kernels::ReadTableOptions(ctx, options_);
  }

  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    std::unique_ptr<cuda::GpuTable> table;
    HCTR_OP_REQUIRES_CORE(ctx, table = std::make_unique<cuda::GpuTable>(options_, StreamOf(ctx)));
    auto* resource = new GpuEmbeddingTableResource(std::move(table));
    Tensor* out = nullptr;
    auto status = ctx->allocate_output(0, TensorShape({}), &out);
    if (!status.ok()) resource->Unref();
    OP_REQUIRES_OK(ctx, status);
    // The handle takes the resource's only reference: the table lives as long as handles do.
    out->scalar<ResourceHandle>()() =
        ResourceHandle::MakeRefCountingHandle(resource, ctx->device()->name());
  }

 private:
  TableOptions options_;
};

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
  // Checks the table's width and the CSR input, allocates the [batch, slots, vec] output 0.
  bool Prepare(OpKernelContext* ctx, LockedTable& table, int64_t* num_rows, Tensor** emb) {
    if (!CheckLookupInputs(ctx, table->options().vec, vec_, slot_num_, num_rows)) return false;
    const absl::Status s = ctx->allocate_output(0, {*num_rows / slot_num_, slot_num_, vec_}, emb);
    if (!s.ok()) ctx->SetStatus(s);
    return s.ok();
  }

  int64_t slot_num_ = 0, vec_ = 0;
  Combiner combiner_ = Combiner::kSum;
};

class LookupTrainOp : public LookupOpBase {
 public:
  using LookupOpBase::LookupOpBase;

  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    int64_t num_rows = 0;
    Tensor* emb = nullptr;
    if (!Prepare(ctx, table, &num_rows, &emb)) return;
    const Tensor& values = ctx->input(1);
    const Tensor& splits = ctx->input(2);
    Tensor* inverse = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, values.shape(), &inverse));
    Tensor unique;  // up to one unique key per position
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_INT64, values.shape(), &unique));
    const cudaStream_t stream = StreamOf(ctx);
    int64_t num_unique = 0;
    HCTR_OP_REQUIRES_CORE(
        ctx, num_unique = table->LookupTrain(
                 values.flat<int64_t>().data(), values.NumElements(), splits.flat<int64_t>().data(),
                 num_rows, slot_num_, combiner_, emb->flat<float>().data(),
                 unique.flat<int64_t>().data(), inverse->flat<int64_t>().data(), stream));
    Tensor* keys = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {num_unique}, &keys));
    if (num_unique == 0) return;
    // Stream order keeps the temp alive for the copy.
    HCTR_OP_REQUIRES_CORE(
        ctx, HCTR_CUDA_CHECK(
                 cudaMemcpyAsync(keys->flat<int64_t>().data(), unique.flat<int64_t>().data(),
                                 num_unique * sizeof(int64_t), cudaMemcpyDeviceToDevice, stream)));
  }
};

class LookupInferenceOp : public LookupOpBase {
 public:
  using LookupOpBase::LookupOpBase;

  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    int64_t num_rows = 0;
    Tensor* emb = nullptr;
    if (!Prepare(ctx, table, &num_rows, &emb)) return;
    const Tensor& values = ctx->input(1);
    const Tensor& splits = ctx->input(2);
    Tensor* misses = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {}, &misses));  // host memory
    HCTR_OP_REQUIRES_CORE(
        ctx, misses->scalar<int64_t>()() = table->LookupInference(
                 values.flat<int64_t>().data(), values.NumElements(), splits.flat<int64_t>().data(),
                 num_rows, slot_num_, combiner_, emb->flat<float>().data(), StreamOf(ctx)));
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
    const auto activation = ActivateDevice(ctx);
    int64_t num_rows = 0, vec = 0;
    if (!CheckBackwardInputs(ctx, &num_rows, &vec)) return;
    const Tensor& grad = ctx->input(0);
    const Tensor& splits = ctx->input(1);
    const Tensor& inverse = ctx->input(2);
    const int64_t num_keys = ctx->input(3).NumElements();
    const int64_t n = inverse.NumElements();
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {num_keys, vec}, &out));
    size_t bytes = 0;
    HCTR_OP_REQUIRES_CORE(ctx, bytes = cuda::AggregateGradientsWorkspaceBytes(n, num_keys, vec));
    Tensor scratch;
    OP_REQUIRES_OK(
        ctx, ctx->allocate_temp(tensorflow::DT_INT8, {static_cast<int64_t>(bytes)}, &scratch));
    HCTR_OP_REQUIRES_CORE(
        ctx, cuda::AggregateGradients(grad.flat<float>().data(), splits.flat<int64_t>().data(),
                                      num_rows, inverse.flat<int64_t>().data(), n, num_keys, vec,
                                      combiner_, out->flat<float>().data(),
                                      scratch.flat<int8_t>().data(), bytes, StreamOf(ctx)));
  }

 private:
  Combiner combiner_ = Combiner::kSum;
};

class ApplyGradientsOp : public OpKernel {
 public:
  explicit ApplyGradientsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    if (!CheckApplyInputs(ctx, table->options().vec)) return;
    const Tensor& keys = ctx->input(1);
    const Tensor& grads = ctx->input(2);
    const float lr = ctx->input(3).flat<float>()(0);  // host memory
    Tensor* zero = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &zero));
    const cudaStream_t stream = StreamOf(ctx);
    HCTR_OP_REQUIRES_CORE(ctx, {
      table->ApplyGradients(keys.flat<int64_t>().data(), keys.NumElements(),
                            grads.flat<float>().data(), lr, stream);
      HCTR_CUDA_CHECK(cudaMemsetAsync(zero->flat<float>().data(), 0, sizeof(float), stream));
    });
  }
};

class TableSizeOp : public OpKernel {
 public:
  explicit TableSizeOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &out));  // host memory
    HCTR_OP_REQUIRES_CORE(ctx, out->scalar<int64_t>()() = table->size(StreamOf(ctx)));
  }
};

class TableStatsOp : public OpKernel {
 public:
  explicit TableStatsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    int64_t size = 0;
    HCTR_OP_REQUIRES_CORE(ctx, size = table->size(StreamOf(ctx)));
    const int64_t values[4] = {size, table->capacity(), table->step(), table->misses()};
    for (int i = 0; i < 4; ++i) {
      Tensor* out = nullptr;
      OP_REQUIRES_OK(ctx, ctx->allocate_output(i, {}, &out));  // host memory
      out->scalar<int64_t>()() = values[i];
    }
  }
};

class TableExportOp : public OpKernel {
 public:
  explicit TableExportOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    TableState st;
    HCTR_OP_REQUIRES_CORE(ctx, st = table->Export(StreamOf(ctx)));
    const int64_t n = static_cast<int64_t>(st.keys.size());
    const int64_t vec = table->options().vec;
    const int64_t slots = NumOptimizerSlots(table->options().optimizer.type);
    CopyOut(ctx, 0, {n}, st.keys);
    CopyOut(ctx, 1, {n, vec}, st.rows);
    CopyOut(ctx, 2, {n}, st.slot_ids);
    CopyOut(ctx, 3, {n, slots, vec}, st.opt_slots);
    CopyOut(ctx, 4, {n}, st.last_step);
    CopyOut(ctx, 5, {}, std::vector<int64_t>{st.step});
    CopyOut(ctx, 6, {st.step}, st.lr_history);
  }
};

class TableImportOp : public OpKernel {
 public:
  explicit TableImportOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    const Tensor& keys = ctx->input(1);  // host memory, as the other inputs
    const Tensor& rows = ctx->input(2);
    const Tensor& slot_ids = ctx->input(3);
    if (!CheckImportRows(ctx, keys, rows, slot_ids, table->options().vec)) return;
    HCTR_OP_REQUIRES_CORE(
        ctx, table->ImportRows(keys.flat<int64_t>().data(), keys.NumElements(),
                               rows.flat<float>().data(),
                               slot_ids.NumElements() ? slot_ids.flat<int64_t>().data() : nullptr,
                               StreamOf(ctx)));
  }
};

class TableImportOptimizerStateOp : public OpKernel {
 public:
  explicit TableImportOptimizerStateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    LockedTable table(ctx);
    OP_REQUIRES_OK(ctx, table.status());
    const Tensor& keys = ctx->input(1);  // host memory, as the other inputs
    const Tensor& slots = ctx->input(2);
    const Tensor& last_step = ctx->input(3);
    const Tensor& step = ctx->input(4);
    const Tensor& lr_history = ctx->input(5);
    const int64_t n = keys.NumElements();
    const TableOptions& o = table->options();
    const int64_t per_row = NumOptimizerSlots(o.optimizer.type) * o.vec;
    if (!CheckOptimizerState(ctx, n, per_row, slots, last_step, step, lr_history)) return;
    HCTR_OP_REQUIRES_CORE(
        ctx, table->ImportOptimizerState(keys.flat<int64_t>().data(), n, slots.flat<float>().data(),
                                         last_step.flat<int64_t>().data(), step.flat<int64_t>()(0),
                                         lr_history.flat<float>().data(), StreamOf(ctx)));
  }
};

#define HCTR_GPU_KERNEL(name) Name("HugeCTR>" name).Device(DEVICE_GPU)

REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingTableCreate").HostMemory("table"), TableCreateOp);
REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingLookupTrain").HostMemory("table"), LookupTrainOp);
REGISTER_KERNEL_BUILDER(
    HCTR_GPU_KERNEL("EmbeddingLookupInference").HostMemory("table").HostMemory("misses"),
    LookupInferenceOp);
REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingBackward"), BackwardOp);
REGISTER_KERNEL_BUILDER(
    HCTR_GPU_KERNEL("EmbeddingApplyGradients").HostMemory("table").HostMemory("learning_rate"),
    ApplyGradientsOp);
REGISTER_KERNEL_BUILDER(
    HCTR_GPU_KERNEL("EmbeddingTableSize").HostMemory("table").HostMemory("size"), TableSizeOp);
REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingTableStats")
                            .HostMemory("table")
                            .HostMemory("size")
                            .HostMemory("capacity")
                            .HostMemory("step")
                            .HostMemory("misses"),
                        TableStatsOp);
REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingTableExport")
                            .HostMemory("table")
                            .HostMemory("keys")
                            .HostMemory("rows")
                            .HostMemory("slot_ids")
                            .HostMemory("optimizer_slots")
                            .HostMemory("last_step")
                            .HostMemory("step")
                            .HostMemory("lr_history"),
                        TableExportOp);
REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingTableImport")
                            .HostMemory("table")
                            .HostMemory("keys")
                            .HostMemory("rows")
                            .HostMemory("slot_ids"),
                        TableImportOp);
REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingTableImportOptimizerState")
                            .HostMemory("table")
                            .HostMemory("keys")
                            .HostMemory("optimizer_slots")
                            .HostMemory("last_step")
                            .HostMemory("step")
                            .HostMemory("lr_history"),
                        TableImportOptimizerStateOp);

#undef HCTR_GPU_KERNEL

}  // namespace
}  // namespace hugectr_tf

#endif  // GOOGLE_CUDA
