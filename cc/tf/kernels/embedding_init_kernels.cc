// CPU kernels of embedding_init_ops.cc: thin adapters over cc/core/embedding.

#include <cstring>
#include <string>
#include <vector>

#include "cc/core/embedding/row_init.h"
#include "cc/core/embedding/table.h"
#include "cc/tf/kernels/embedding_kernel_util.h"
#include "cc/tf/kernels/embedding_resource.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/tensor.h"

namespace hugectr_tf {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::core::RefCountPtr;

absl::Status GetTable(OpKernelContext* ctx, RefCountPtr<EmbeddingTableResource>* out) {
  return tensorflow::LookupResource(ctx, tensorflow::HandleFromInput(ctx, 0), out);
}

bool IsVector(OpKernelContext* ctx, const Tensor& t, const char* name) {
  if (t.dims() == 1) return true;
  ctx->SetStatus(absl::InvalidArgumentError(
      std::string(name) + " must be a vector. Received shape " + t.shape().DebugString()));
  return false;
}

void CopyVector(OpKernelContext* ctx, int output, const std::vector<int64_t>& values) {
  Tensor* out = nullptr;
  OP_REQUIRES_OK(ctx, ctx->allocate_output(output, {static_cast<int64_t>(values.size())}, &out));
  std::memcpy(out->flat<int64_t>().data(), values.data(), values.size() * sizeof(int64_t));
}

class NewKeysOp : public OpKernel {
 public:
  explicit NewKeysOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("slot_num", &slot_num_));
  }

  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    const Tensor& values = ctx->input(1);
    const Tensor& splits = ctx->input(2);
    int64_t num_rows = 0;
    if (!embedding_kernels::CheckCsr(ctx, values, splits, slot_num_, &num_rows)) return;
    std::vector<int64_t> keys, slots;
    HCTR_OP_REQUIRES_CORE(
        ctx, res->table()->NewKeys(values.flat<int64_t>().data(), values.NumElements(),
                                   splits.flat<int64_t>().data(), num_rows, slot_num_, &keys,
                                   &slots, PoolParallelFor(ctx)));
    CopyVector(ctx, 0, keys);
    CopyVector(ctx, 1, slots);
  }

 private:
  int64_t slot_num_ = 0;
};

class InsertRowsOp : public OpKernel {
 public:
  using OpKernel::OpKernel;

  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    const Tensor& keys = ctx->input(1);
    const Tensor& rows = ctx->input(2);
    const Tensor& slots = ctx->input(3);
    if (!IsVector(ctx, keys, "keys") || !IsVector(ctx, slots, "slot_ids")) return;
    const int64_t n = keys.NumElements();
    const int64_t vec = res->table()->options().vec;
    OP_REQUIRES(ctx, rows.dims() == 2 && rows.dim_size(0) == n && rows.dim_size(1) == vec,
                absl::InvalidArgumentError("rows must be (len(keys)=" + std::to_string(n) +
                                           ", embedding_vec_size=" + std::to_string(vec) +
                                           "). Received shape " + rows.shape().DebugString()));
    OP_REQUIRES(
        ctx, slots.NumElements() == n,
        absl::InvalidArgumentError("slot_ids must have len(keys)=" + std::to_string(n) +
                                   " entries. Received " + std::to_string(slots.NumElements())));
    int64_t inserted = 0;
    HCTR_OP_REQUIRES_CORE(ctx, inserted = res->table()->InsertWithRows(
                                   keys.flat<int64_t>().data(), n, rows.flat<float>().data(),
                                   slots.flat<int64_t>().data(), PoolParallelFor(ctx)));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({}), &out));
    out->scalar<int64_t>()() = inserted;
  }
};

class GatherRowsOp : public OpKernel {
 public:
  explicit GatherRowsOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("embedding_vec_size", &vec_));
  }

  void Compute(OpKernelContext* ctx) override {
    RefCountPtr<EmbeddingTableResource> res;
    OP_REQUIRES_OK(ctx, GetTable(ctx, &res));
    const int64_t table_vec = res->table()->options().vec;
    OP_REQUIRES(ctx, table_vec == vec_,
                absl::InvalidArgumentError(
                    "GatherRows asks for embedding_vec_size=" + std::to_string(vec_) +
                    " but the table has " + std::to_string(table_vec)));
    const Tensor& keys = ctx->input(1);
    if (!IsVector(ctx, keys, "keys")) return;
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {keys.NumElements(), vec_}, &out));
    HCTR_OP_REQUIRES_CORE(
        ctx, res->table()->GatherRows(keys.flat<int64_t>().data(), keys.NumElements(),
                                      out->flat<float>().data(), PoolParallelFor(ctx)));
  }

 private:
  int64_t vec_ = 0;
};

class KeyUniformOp : public OpKernel {
 public:
  explicit KeyUniformOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    int64_t seed = 0;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("seed", &seed));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("embedding_vec_size", &vec_));
    seed_ = static_cast<uint64_t>(seed);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& keys = ctx->input(0);
    if (!IsVector(ctx, keys, "keys")) return;
    const int64_t n = keys.NumElements();
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {n, vec_}, &out));
    const int64_t* k = keys.flat<int64_t>().data();
    float* u = out->flat<float>().data();
    const int64_t vec = vec_;
    const uint64_t seed = seed_;
    PoolParallelFor(ctx)(n, vec * 10, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t j = 0; j < vec; ++j) u[i * vec + j] = KeyUniform(k[i], seed, j);
      }
    });
  }

 private:
  int64_t vec_ = 0;
  uint64_t seed_ = 0;
};

REGISTER_KERNEL_BUILDER(Name("HugeCTR>EmbeddingNewKeys").Device(DEVICE_CPU), NewKeysOp);
REGISTER_KERNEL_BUILDER(Name("HugeCTR>EmbeddingInsertRows").Device(DEVICE_CPU), InsertRowsOp);
REGISTER_KERNEL_BUILDER(Name("HugeCTR>EmbeddingGatherRows").Device(DEVICE_CPU), GatherRowsOp);
REGISTER_KERNEL_BUILDER(Name("HugeCTR>EmbeddingKeyUniform").Device(DEVICE_CPU), KeyUniformOp);

}  // namespace
}  // namespace hugectr_tf
