// GPU kernels of the embedding op family (CUDA builds only): the ops of
// cc/tf/ops/embedding_ops.cc registered for DEVICE_GPU on the cc/cuda tables, computing what the
// CPU kernels (embedding_kernels.cc) compute, with the same shape checks. Device data stays on
// the op's stream; scalars the host needs (learning rate, sizes, counters) and the checkpoint
// tensors of export / import live in host memory. Scratch comes from TensorFlow (allocate_temp).

#if GOOGLE_CUDA

#define EIGEN_USE_GPU

#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/table.h"
#include "cc/cuda/csr.cuh"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/embedding_backward.cuh"
#include "cc/cuda/one_hot.cuh"
#include "cc/cuda/op_support.cuh"
#include "cc/cuda/unique.cuh"
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

using tensorflow::DEVICE_GPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::ResourceHandle;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::core::RefCountPtr;
using embedding_kernels::CheckCsr;
using embedding_kernels::CheckImportRows;
using embedding_kernels::CheckOptimizerState;
using embedding_kernels::CopyOut;

cudaStream_t StreamOf(OpKernelContext* ctx) { return ctx->eigen_gpu_device().stream(); }

// Makes the op's GPU current for the CUDA runtime calls of the core (cudaMalloc, copies) for
// the rest of Compute. TensorFlow's GPU device already activates it around Compute; this keeps
// the kernels correct on any device however they are invoked.
std::unique_ptr<stream_executor::ActivateContext> ActivateDevice(OpKernelContext* ctx) {
  return ctx->op_device_context()->stream()->parent()->Activate();
}

absl::Status GetTable(OpKernelContext* ctx, RefCountPtr<GpuEmbeddingTableResource>* out) {
  return tensorflow::LookupResource(ctx, tensorflow::HandleFromInput(ctx, 0), out);
}

// `bytes` of device scratch owned by *holder (freed, stream-ordered, when the op ends).
absl::Status Scratch(OpKernelContext* ctx, size_t bytes, Tensor* holder, void** ptr) {
  const int64_t size = static_cast<int64_t>(bytes > 0 ? bytes : 1);
  TF_RETURN_IF_ERROR(ctx->allocate_temp(tensorflow::DT_INT8, TensorShape({size}), holder));
  *ptr = holder->flat<int8_t>().data();
  return absl::OkStatus();
}

template <typename T>
T ReadBack(const T* device, cudaStream_t stream) {
  T value{};
  HCTR_CUDA_CHECK(cudaMemcpyAsync(&value, device, sizeof(T), cudaMemcpyDeviceToHost, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  return value;
}

// Sets `count` "first bad position" counters to "none" (all ones, above any position), so the
// checks that lower them need no host value and no synchronisation.
void ResetCounters(unsigned long long* counters, int count, cudaStream_t stream) {
  HCTR_CUDA_CHECK(cudaMemsetAsync(counters, 0xFF, count * sizeof(unsigned long long), stream));
}

class TableCreateOp : public OpKernel {
 public:
  explicit TableCreateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    embedding_kernels::ReadTableOptions(ctx, options_);
  }

  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    GpuEmbeddingTableResource* resource = nullptr;
    HCTR_OP_REQUIRES_CORE(ctx,
                          resource = new GpuEmbeddingTableResource(options_, StreamOf(ctx)));
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

// Host-side checks of (values, row_splits), as the CPU kernels; returns the number of bags.

// The checks both lookups share: vec, CSR shapes and, for one-hot tables, the slot count.
bool CheckLookup(OpKernelContext* ctx, GpuEmbeddingTableResource* res, int64_t vec,
                 int64_t slot_num, int64_t* num_rows) {
  if (res->options().vec != vec) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "lookup asks for embedding_vec_size=" + std::to_string(vec) + " but the table has " +
        std::to_string(res->options().vec)));
    return false;
  }
  if (!CheckCsr(ctx, ctx->input(1), ctx->input(2), slot_num, num_rows)) return false;
  const auto& slot_sizes = res->options().slot_size_array;
  if (res->is_one_hot() && slot_num != static_cast<int64_t>(slot_sizes.size())) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "LocalizedSlotSparseEmbeddingOneHot has slot_size_array of " +
        std::to_string(slot_sizes.size()) +
        " slots but the input has slot_num=" + std::to_string(slot_num)));
    return false;
  }
  return true;
}

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
  int64_t slot_num_ = 0, vec_ = 0;
  Combiner combiner_ = Combiner::kSum;
};

class LookupTrainOp : public LookupOpBase {
 public:
  using LookupOpBase::LookupOpBase;

  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    int64_t num_rows = 0;
    if (!CheckLookup(ctx, res.get(), vec_, slot_num_, &num_rows)) return;
    const Tensor& values = ctx->input(1);
    const Tensor& splits = ctx->input(2);
    const int64_t n = values.NumElements();
    Tensor* emb = nullptr;
    Tensor* inverse = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {num_rows / slot_num_, slot_num_, vec_}, &emb));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, values.shape(), &inverse));
    const cudaStream_t stream = StreamOf(ctx);
    const int64_t* keys = values.flat<int64_t>().data();
    const int64_t* row_splits = splits.flat<int64_t>().data();

    // Scratch: table keys of the one-hot positions, the batch's sorted unique (keys, positions,
    // segments, count), rows of the unique keys, a counter, and SortedUnique's workspace.
    const size_t m = static_cast<size_t>(n > 0 ? n : 1);
    size_t unique_ws = 0;
    HCTR_OP_REQUIRES_CORE(ctx, unique_ws = cuda::SortedUniqueWorkspaceBytes(n));
    using cuda::Carver;
    const size_t bytes = 3 * Carver::Align(m * 8) + Carver::Align(m * 4) +
                         Carver::Align((m + 1) * 4) + 2 * Carver::Align(8) + unique_ws;
    Tensor scratch;
    void* base = nullptr;
    OP_REQUIRES_OK(ctx, Scratch(ctx, bytes, &scratch, &base));
    Carver carve(base);
    int64_t* one_hot_keys = carve.take<int64_t>(m);
    cuda::UniqueOutputs u{carve.take<int64_t>(m), carve.take<int32_t>(m),
                          carve.take<int32_t>(m + 1), carve.take<int64_t>(1)};
    int64_t* unique_rows = carve.take<int64_t>(m);
    auto* counter = carve.take<unsigned long long>(1);
    void* ws = carve.take<char>(unique_ws);

    int64_t num_unique = 0;
    HCTR_OP_REQUIRES_CORE(ctx, {
      if (res->hash() != nullptr && res->capacity() == 0 && n > 0) {
        ThrowTableFull(res.get(), keys, n, row_splits, num_rows, emb->flat<float>().data(), u,
                       ws, unique_ws, stream);
      }
      const int64_t old_size = res->table()->rows_in_use();
      // Validates row_splits (and the one-hot key ranges), inserts new keys, combines rows.
      if (res->hash() != nullptr) {
        res->hash()->Forward(keys, n, row_splits, num_rows, combiner_, /*training=*/true,
                             emb->flat<float>().data(), stream);
      } else {
        res->one_hot()->Forward(keys, n, row_splits, num_rows, combiner_, /*training=*/true,
                                emb->flat<float>().data(), stream);
        // The table keys of a one-hot table are the rows (key + slot offset), as on the CPU;
        // the ranges were checked by Forward, so the bad-key counter is not read back.
        ResetCounters(counter, 1, stream);
        cuda::OneHotRows(keys, n, row_splits, num_rows, static_cast<int>(slot_num_),
                         res->slot_offsets_device(), one_hot_keys, counter, stream);
        keys = one_hot_keys;
      }
      cuda::SortedUnique(keys, n, ws, unique_ws, u, stream);
      num_unique = ReadBack(u.num_unique, stream);
      cuda::InverseFromUnique(keys, n, u.unique_keys, num_unique,
                              inverse->flat<int64_t>().data(), stream);
      if (res->hash() != nullptr && res->hash()->rows_in_use() > old_size) {
        // New rows remember the slot of their key's first occurrence (export's slot_ids).
        res->hash()->LookupRows(u.unique_keys, num_unique, /*training=*/false, unique_rows,
                                stream);
        cuda::RecordNewRowSlots(unique_rows, u, num_unique, row_splits, num_rows, slot_num_,
                                old_size, res->slot_ids(), stream);
      }
    });
    Tensor* unique_out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {num_unique}, &unique_out));
    HCTR_OP_REQUIRES_CORE(ctx, {
      if (num_unique > 0) {
        HCTR_CUDA_CHECK(cudaMemcpyAsync(unique_out->flat<int64_t>().data(), u.unique_keys,
                                        num_unique * sizeof(int64_t), cudaMemcpyDeviceToDevice,
                                        stream));
      }
      // The scratch is released when the op returns: stream order keeps it alive for the copy.
    });
  }

 private:
  // A table whose workspace holds no row (the device table keeps one): after the input checks,
  // fails as the CPU core does when the batch brings new keys.
  static void ThrowTableFull(GpuEmbeddingTableResource* res, const int64_t* keys, int64_t n,
                             const int64_t* row_splits, int64_t num_rows, float* emb,
                             const cuda::UniqueOutputs& u, void* ws, size_t ws_bytes,
                             cudaStream_t stream) {
    // An inference pass runs the lookup's input checks (row_splits, reserved key).
    res->hash()->Forward(keys, n, row_splits, num_rows, Combiner::kSum, /*training=*/false, emb,
                         stream);
    cuda::SortedUnique(keys, n, ws, ws_bytes, u, stream);
    const int64_t new_keys = ReadBack(u.num_unique, stream);
    const TableOptions& o = res->options();
    HCTR_FAIL(ErrorCode::kResourceExhausted,
              "embedding table is full: it holds 0 keys, this batch adds "
                  << new_keys << " new keys and workspace_size_per_gpu_in_mb=" << o.workspace_mb
                  << " allows 0 rows of " << EmbeddingTable::BytesPerRow(o.vec, o.optimizer.type)
                  << " bytes; the table needs at least "
                  << EmbeddingTable::MegabytesFor(new_keys, o.vec, o.optimizer.type)
                  << " MB: raise workspace_size_per_gpu_in_mb");
  }
};

class LookupInferenceOp : public LookupOpBase {
 public:
  using LookupOpBase::LookupOpBase;

  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    int64_t num_rows = 0;
    if (!CheckLookup(ctx, res.get(), vec_, slot_num_, &num_rows)) return;
    const Tensor& values = ctx->input(1);
    const Tensor& splits = ctx->input(2);
    Tensor* emb = nullptr;
    Tensor* misses = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {num_rows / slot_num_, slot_num_, vec_}, &emb));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {}, &misses));  // host memory
    const cudaStream_t stream = StreamOf(ctx);
    HCTR_OP_REQUIRES_CORE(ctx, {
      const int64_t* keys = values.flat<int64_t>().data();
      const int64_t* row_splits = splits.flat<int64_t>().data();
      int64_t missing = 0;
      if (res->hash() != nullptr) {
        missing = res->hash()->Forward(keys, values.NumElements(), row_splits, num_rows,
                                       combiner_, /*training=*/false, emb->flat<float>().data(),
                                       stream);
      } else {
        missing = res->one_hot()->Forward(keys, values.NumElements(), row_splits, num_rows,
                                          combiner_, /*training=*/false,
                                          emb->flat<float>().data(), stream);
      }
      res->AddMisses(missing);
      misses->scalar<int64_t>()() = missing;
    });
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
    const Tensor& grad = ctx->input(0);
    const Tensor& splits = ctx->input(1);
    const Tensor& inverse = ctx->input(2);
    const Tensor& keys = ctx->input(3);
    OP_REQUIRES(ctx, grad.dims() == 3,
                absl::InvalidArgumentError("grad must be (batch, slot_num, vec). Received shape " +
                                           grad.shape().DebugString()));
    const int64_t num_rows = grad.dim_size(0) * grad.dim_size(1);
    const int64_t vec = grad.dim_size(2);
    OP_REQUIRES(ctx, splits.dims() == 1 && splits.NumElements() == num_rows + 1,
                absl::InvalidArgumentError(
                    "row_splits must have batch * slot_num + 1 = " + std::to_string(num_rows + 1) +
                    " entries. Received shape " + splits.shape().DebugString()));
    OP_REQUIRES(ctx, inverse.dims() == 1 && keys.dims() == 1,
                absl::InvalidArgumentError("inverse and unique_keys must be vectors"));
    OP_REQUIRES(ctx, vec <= INT_MAX,
                absl::InvalidArgumentError("grad's last dimension must be at most " +
                                           std::to_string(INT_MAX) + " on the GPU. Received " +
                                           std::to_string(vec)));
    const int64_t num_keys = keys.NumElements();
    const int64_t n = inverse.NumElements();
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {num_keys, vec}, &out));
    const cudaStream_t stream = StreamOf(ctx);

    using cuda::Carver;
    const size_t m = static_cast<size_t>(n > 0 ? n : 1);
    size_t ws_bytes = 0;
    HCTR_OP_REQUIRES_CORE(ctx, ws_bytes = cuda::BackwardByIdsWorkspaceBytes(n, vec));
    Tensor scratch;
    void* base = nullptr;
    OP_REQUIRES_OK(ctx, Scratch(ctx, Carver::Align(m * 8) + 2 * Carver::Align(16) + ws_bytes,
                                &scratch, &base));
    Carver carve(base);
    int64_t* unique_ids = carve.take<int64_t>(m);
    auto* num_unique_dev = carve.take<int64_t>(1);
    auto* first_bad = carve.take<unsigned long long>(2);  // row_splits, inverse
    void* ws = carve.take<char>(ws_bytes);
    const int64_t* row_splits = splits.flat<int64_t>().data();
    const int64_t* ids = inverse.flat<int64_t>().data();
    float* grads = out->flat<float>().data();

    int64_t num_unique = 0;
    HCTR_OP_REQUIRES_CORE(ctx, {
      HCTR_CHECK(num_rows < (int64_t{1} << 31),  // bags are int32 inside the GPU backward
                 "a batch may hold at most 2^31-1 (sample, slot) bags; received " << num_rows);
      // The CPU core's checks: row_splits, then every inverse entry in [0, len(unique_keys)).
      // One read-back for both.
      ResetCounters(first_bad, 2, stream);
      cuda::ValidateRowSplitsAsync(row_splits, num_rows, n, first_bad, stream);
      cuda::FirstOutOfRange(ids, n, 0, num_keys, first_bad + 1, stream);
      unsigned long long found[2];
      HCTR_CUDA_CHECK(
          cudaMemcpyAsync(found, first_bad, sizeof(found), cudaMemcpyDeviceToHost, stream));
      HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
      cuda::ReportBadRowSplits(row_splits, num_rows, n, found[0]);
      const unsigned long long bad = found[1];
      if (bad < static_cast<unsigned long long>(n)) {
        const int64_t p = static_cast<int64_t>(bad);
        HCTR_FAIL(ErrorCode::kInvalidArgument, "inverse[" << p << "]=" << ReadBack(ids + p, stream)
                                                          << " is outside [0, " << num_keys
                                                          << ")");
      }
      // Keys no position refers to get a zero gradient, as on the CPU.
      if (num_keys * vec > 0) {
        HCTR_CUDA_CHECK(cudaMemsetAsync(grads, 0, num_keys * vec * sizeof(float), stream));
      }
      if (n > 0 && vec > 0) {
        // Ids are in [0, num_keys), so at most num_keys gradient rows are written.
        cuda::BackwardByIds(ids, n, row_splits, num_rows, combiner_, grad.flat<float>().data(),
                            static_cast<int>(vec), ws, ws_bytes, unique_ids, grads,
                            num_unique_dev, stream);
        num_unique = ReadBack(num_unique_dev, stream);
      } else {
        num_unique = num_keys;  // nothing to move
      }
    });
    if (num_unique < num_keys) {
      // Some key index never occurs: row j holds the gradient of unique_ids[j]; move rows to
      // their places (a copy, so that no row is overwritten before it is read).
      Tensor moved;
      void* copy = nullptr;
      OP_REQUIRES_OK(ctx, Scratch(ctx, num_unique * vec * sizeof(float), &moved, &copy));
      HCTR_OP_REQUIRES_CORE(ctx, {
        HCTR_CUDA_CHECK(cudaMemcpyAsync(copy, grads, num_unique * vec * sizeof(float),
                                        cudaMemcpyDeviceToDevice, stream));
        HCTR_CUDA_CHECK(cudaMemsetAsync(grads, 0, num_keys * vec * sizeof(float), stream));
        cuda::ScatterRows(static_cast<const float*>(copy), unique_ids, num_unique, vec, grads,
                          stream);
      });
    }
  }

 private:
  Combiner combiner_ = Combiner::kSum;
};

class ApplyGradientsOp : public OpKernel {
 public:
  explicit ApplyGradientsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    const int64_t vec = res->options().vec;
    const Tensor& keys = ctx->input(1);
    const Tensor& grads = ctx->input(2);
    const Tensor& lr = ctx->input(3);  // host memory
    OP_REQUIRES(ctx,
                keys.dims() == 1 && grads.dims() == 2 &&
                    grads.dim_size(0) == keys.NumElements() && grads.dim_size(1) == vec,
                absl::InvalidArgumentError(
                    "key_grads must be (len(unique_keys), embedding_vec_size=" +
                    std::to_string(vec) + "). Received shapes " + keys.shape().DebugString() +
                    " and " + grads.shape().DebugString()));
    OP_REQUIRES(ctx, lr.NumElements() == 1,
                absl::InvalidArgumentError("learning_rate must be a scalar. Received shape " +
                                           lr.shape().DebugString()));
    Tensor* zero = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &zero));
    Tensor scratch;
    void* base = nullptr;
    OP_REQUIRES_OK(ctx, Scratch(ctx, sizeof(unsigned long long), &scratch, &base));
    auto* first_bad = static_cast<unsigned long long*>(base);
    const cudaStream_t stream = StreamOf(ctx);
    const float rate = lr.flat<float>()(0);
    const int64_t num = keys.NumElements();
    const int64_t* k = keys.flat<int64_t>().data();
    HCTR_OP_REQUIRES_CORE(ctx, {
      HCTR_CHECK(std::isfinite(rate), "the learning rate must be finite. Received: lr=" << rate);
      // Distinct keys make the row updates independent, as on the CPU: strictly ascending.
      ResetCounters(first_bad, 1, stream);
      cuda::FirstNotAscending(k, num, first_bad, stream);
      const auto bad = ReadBack(first_bad, stream);
      if (bad < static_cast<unsigned long long>(num)) {
        const int64_t i = static_cast<int64_t>(bad);
        HCTR_FAIL(ErrorCode::kInvalidArgument,
                  "gradient keys must be strictly ascending (as the backward op returns them). "
                  "Received: keys["
                      << i - 1 << "]=" << ReadBack(k + i - 1, stream) << ", keys[" << i
                      << "]=" << ReadBack(k + i, stream));
      }
      if (res->hash() != nullptr) {
        // Throws naming the count of keys not in the table, before any change.
        res->hash()->Apply(k, grads.flat<float>().data(), num, rate, stream);
      } else {
        ResetCounters(first_bad, 1, stream);
        cuda::FirstAbsentRow(k, num, res->one_hot()->max_rows(), res->one_hot()->seen(),
                             first_bad, stream);
        const auto absent = ReadBack(first_bad, stream);
        HCTR_CHECK(absent >= static_cast<unsigned long long>(num),
                   "gradient for key " << ReadBack(k + absent, stream)
                                       << " which is not in the table; run the training lookup "
                                          "on the batch first");
        res->one_hot()->ApplyRows(k, grads.flat<float>().data(), num, rate, stream);
      }
      res->AddStep(rate);
      HCTR_CUDA_CHECK(cudaMemsetAsync(zero->flat<float>().data(), 0, sizeof(float), stream));
    });
  }
};

class TableSizeOp : public OpKernel {
 public:
  explicit TableSizeOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &out));  // host memory
    HCTR_OP_REQUIRES_CORE(ctx, out->scalar<int64_t>()() = res->Size(StreamOf(ctx)));
  }
};

class TableStatsOp : public OpKernel {
 public:
  explicit TableStatsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    int64_t size = 0;
    HCTR_OP_REQUIRES_CORE(ctx, size = res->Size(StreamOf(ctx)));
    const int64_t values[4] = {size, res->capacity(), res->table()->step(), res->misses()};
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
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    TableState st;
    HCTR_OP_REQUIRES_CORE(ctx, st = res->Export(StreamOf(ctx)));
    OP_REQUIRES(ctx, static_cast<int64_t>(st.lr_history.size()) == st.step,
                absl::InternalError("the GPU table's step counter (" + std::to_string(st.step) +
                                    ") and learning-rate history (" +
                                    std::to_string(st.lr_history.size()) +
                                    " steps) disagree after a failed update"));
    const int64_t n = static_cast<int64_t>(st.keys.size());
    const int64_t vec = res->options().vec;
    const int64_t slots = NumOptimizerSlots(res->options().optimizer.type);
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
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    const Tensor& keys = ctx->input(1);  // host memory, as the other inputs
    const Tensor& rows = ctx->input(2);
    const Tensor& slot_ids = ctx->input(3);
    const int64_t n = keys.NumElements();
    const int64_t vec = res->options().vec;
    if (!CheckImportRows(ctx, keys, rows, slot_ids, vec)) return;
    HCTR_OP_REQUIRES_CORE(
        ctx, res->ImportRows(keys.flat<int64_t>().data(), n, rows.flat<float>().data(),
                             slot_ids.NumElements() ? slot_ids.flat<int64_t>().data() : nullptr,
                             StreamOf(ctx)));
  }
};

class TableImportOptimizerStateOp : public OpKernel {
 public:
  explicit TableImportOptimizerStateOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const auto activation = ActivateDevice(ctx);
    RefCountPtr<GpuEmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    std::lock_guard<std::mutex> lock(res->mu());
    const Tensor& keys = ctx->input(1);  // host memory, as the other inputs
    const Tensor& slots = ctx->input(2);
    const Tensor& last_step = ctx->input(3);
    const Tensor& step = ctx->input(4);
    const Tensor& lr_history = ctx->input(5);
    const int64_t n = keys.NumElements();
    const int64_t per_row = NumOptimizerSlots(res->options().optimizer.type) * res->options().vec;
    if (!CheckOptimizerState(ctx, n, per_row, slots, last_step, step, lr_history)) return;
    const int64_t s = step.flat<int64_t>()(0);
    HCTR_OP_REQUIRES_CORE(
        ctx, res->ImportOptimizerState(keys.flat<int64_t>().data(), n, slots.flat<float>().data(),
                                       last_step.flat<int64_t>().data(), s,
                                       lr_history.flat<float>().data(), StreamOf(ctx)));
  }
};

#define HCTR_GPU_KERNEL(name) Name("HugeCTR>" name).Device(DEVICE_GPU)

REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingTableCreate").HostMemory("table"),
                        TableCreateOp);
REGISTER_KERNEL_BUILDER(HCTR_GPU_KERNEL("EmbeddingLookupTrain").HostMemory("table"),
                        LookupTrainOp);
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
