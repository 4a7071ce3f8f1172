// CPU kernels of the fused dense ops: shape checks, then one call into cc/core/dense.

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cc/core/dense/adam.h"
#include "cc/core/dense/inner_product.h"
#include "cc/core/dense/interaction.h"
#include "cc/core/dense/multi_cross.h"
#include "cc/tf/kernels/pool_parallel_for.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/tensor.h"

namespace hugectr_tf {
namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;

std::string ShapeOf(const Tensor& t) { return t.shape().DebugString(); }

// x0 (batch, width), weights and biases (layers, width).
bool CheckCross(OpKernelContext* ctx, const Tensor& x0, const Tensor& w, const Tensor& b) {
  const bool ok = x0.dims() == 2 && w.dims() == 2 && w.shape() == b.shape() &&
                  w.dim_size(1) == x0.dim_size(1) && w.dim_size(0) > 0;
  if (!ok) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "MultiCross needs x0 (batch, width) and weights, biases (layers, width). Received "
        "shapes " +
        ShapeOf(x0) + ", " + ShapeOf(w) + ", " + ShapeOf(b)));
  }
  return ok;
}

template <typename T>
class MultiCrossOp : public OpKernel {
 public:
  explicit MultiCrossOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x0 = ctx->input(0);
    const Tensor& w = ctx->input(1);
    const Tensor& b = ctx->input(2);
    if (!CheckCross(ctx, x0, w, b)) return;
    const int64_t batch = x0.dim_size(0), width = x0.dim_size(1), layers = w.dim_size(0);
    Tensor *y = nullptr, *dots = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x0.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {batch, layers}, &dots));
    HCTR_OP_REQUIRES_CORE(
        ctx, MultiCrossForward<T>(x0.flat<T>().data(), w.flat<T>().data(), b.flat<T>().data(),
                                  batch, width, layers, y->flat<T>().data(), dots->flat<T>().data(),
                                  PoolParallelFor(ctx)));
  }
};

template <typename T>
class MultiCrossGradOp : public OpKernel {
 public:
  explicit MultiCrossGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x0 = ctx->input(0);
    const Tensor& w = ctx->input(1);
    const Tensor& b = ctx->input(2);
    const Tensor& dots = ctx->input(3);
    const Tensor& dy = ctx->input(4);
    if (!CheckCross(ctx, x0, w, b)) return;
    const int64_t batch = x0.dim_size(0), width = x0.dim_size(1), layers = w.dim_size(0);
    OP_REQUIRES(ctx,
                dy.shape() == x0.shape() && dots.dims() == 2 && dots.dim_size(0) == batch &&
                    dots.dim_size(1) == layers,
                absl::InvalidArgumentError("MultiCrossGrad needs dy shaped as x0 " + ShapeOf(x0) +
                                           " and dots (batch, layers). Received shapes " +
                                           ShapeOf(dy) + " and " + ShapeOf(dots)));
    Tensor *dx0 = nullptr, *dw = nullptr, *db = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x0.shape(), &dx0));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, w.shape(), &dw));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, b.shape(), &db));
    HCTR_OP_REQUIRES_CORE(
        ctx, MultiCrossBackward<T>(x0.flat<T>().data(), w.flat<T>().data(), b.flat<T>().data(),
                                   dots.flat<T>().data(), dy.flat<T>().data(), batch, width, layers,
                                   dx0->flat<T>().data(), dw->flat<T>().data(),
                                   db->flat<T>().data(), PoolParallelFor(ctx)));
  }
};

// mlp (batch, w), embeddings (batch, f, w).
bool CheckInteraction(OpKernelContext* ctx, const Tensor& mlp, const Tensor& emb) {
  const bool ok = mlp.dims() == 2 && emb.dims() == 3 && emb.dim_size(0) == mlp.dim_size(0) &&
                  emb.dim_size(2) == mlp.dim_size(1) && emb.dim_size(1) > 0 && mlp.dim_size(1) > 0;
  if (!ok) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "DotInteraction needs mlp (batch, w) and embeddings (batch, f, w) with f, w > 0. "
        "Received shapes " +
        ShapeOf(mlp) + " and " + ShapeOf(emb)));
  }
  return ok;
}

template <typename T>
class DotInteractionOp : public OpKernel {
 public:
  explicit DotInteractionOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& mlp = ctx->input(0);
    const Tensor& emb = ctx->input(1);
    if (!CheckInteraction(ctx, mlp, emb)) return;
    const int64_t batch = emb.dim_size(0), f = emb.dim_size(1), w = emb.dim_size(2);
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {batch, InteractionWidth(f, w)}, &out));
    HCTR_OP_REQUIRES_CORE(
        ctx, InteractionForward<T>(mlp.flat<T>().data(), emb.flat<T>().data(), batch, f, w,
                                   out->flat<T>().data(), PoolParallelFor(ctx)));
  }
};

template <typename T>
class DotInteractionGradOp : public OpKernel {
 public:
  explicit DotInteractionGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& mlp = ctx->input(0);
    const Tensor& emb = ctx->input(1);
    const Tensor& dout = ctx->input(2);
    if (!CheckInteraction(ctx, mlp, emb)) return;
    const int64_t batch = emb.dim_size(0), f = emb.dim_size(1), w = emb.dim_size(2);
    OP_REQUIRES(
        ctx,
        dout.dims() == 2 && dout.dim_size(0) == batch && dout.dim_size(1) == InteractionWidth(f, w),
        absl::InvalidArgumentError("DotInteractionGrad needs dout (batch, " +
                                   std::to_string(InteractionWidth(f, w)) + "). Received shape " +
                                   ShapeOf(dout)));
    Tensor *dmlp = nullptr, *demb = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, mlp.shape(), &dmlp));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, emb.shape(), &demb));
    HCTR_OP_REQUIRES_CORE(
        ctx, InteractionBackward<T>(mlp.flat<T>().data(), emb.flat<T>().data(),
                                    dout.flat<T>().data(), batch, f, w, dmlp->flat<T>().data(),
                                    demb->flat<T>().data(), PoolParallelFor(ctx)));
  }
};

// x (batch, in), kernel (in, out), bias (out).
bool CheckInnerProduct(OpKernelContext* ctx, const Tensor& x, const Tensor& kernel,
                       const Tensor& bias) {
  const bool ok = x.dims() == 2 && kernel.dims() == 2 && bias.dims() == 1 &&
                  x.dim_size(1) == kernel.dim_size(0) && kernel.dim_size(1) == bias.dim_size(0) &&
                  kernel.dim_size(0) > 0 && kernel.dim_size(1) > 0;
  if (!ok) {
    ctx->SetStatus(absl::InvalidArgumentError(
        "InnerProduct needs x (batch, in), kernel (in, out) and bias (out) with in, out > 0. "
        "Received shapes " +
        ShapeOf(x) + ", " + ShapeOf(kernel) + ", " + ShapeOf(bias)));
  }
  return ok;
}

template <typename T>
class InnerProductOp : public OpKernel {
 public:
  explicit InnerProductOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("relu", &relu_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& kernel = ctx->input(1);
    const Tensor& bias = ctx->input(2);
    if (!CheckInnerProduct(ctx, x, kernel, bias)) return;
    const int64_t batch = x.dim_size(0), in = kernel.dim_size(0), out = kernel.dim_size(1);
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {batch, out}, &y));
    HCTR_OP_REQUIRES_CORE(ctx, InnerProductForward<T>(x.flat<T>().data(), kernel.flat<T>().data(),
                                                      bias.flat<T>().data(), batch, in, out, relu_,
                                                      y->flat<T>().data(), PoolParallelFor(ctx)));
  }

 private:
  bool relu_ = false;
};

template <typename T>
class InnerProductGradOp : public OpKernel {
 public:
  explicit InnerProductGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("relu", &relu_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& kernel = ctx->input(1);
    const Tensor& y = ctx->input(2);
    const Tensor& dy = ctx->input(3);
    OP_REQUIRES(ctx,
                x.dims() == 2 && kernel.dims() == 2 && x.dim_size(1) == kernel.dim_size(0) &&
                    y.dims() == 2 && y.dim_size(0) == x.dim_size(0) &&
                    y.dim_size(1) == kernel.dim_size(1) && dy.shape() == y.shape(),
                absl::InvalidArgumentError(
                    "InnerProductGrad needs x (batch, in), kernel (in, out), y and dy (batch, "
                    "out). Received shapes " +
                    ShapeOf(x) + ", " + ShapeOf(kernel) + ", " + ShapeOf(y) + ", " + ShapeOf(dy)));
    const int64_t batch = x.dim_size(0), in = kernel.dim_size(0), out = kernel.dim_size(1);
    Tensor *dx = nullptr, *dkernel = nullptr, *dbias = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, kernel.shape(), &dkernel));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, {out}, &dbias));
    HCTR_OP_REQUIRES_CORE(
        ctx, InnerProductBackward<T>(x.flat<T>().data(), kernel.flat<T>().data(),
                                     y.flat<T>().data(), dy.flat<T>().data(), batch, in, out, relu_,
                                     dx->flat<T>().data(), dkernel->flat<T>().data(),
                                     dbias->flat<T>().data(), PoolParallelFor(ctx)));
  }

 private:
  bool relu_ = false;
};

// Adam over every dense weight of a model: inputs weights, ms, vs (N resource variables each),
// grads (N float tensors), alpha (scalar). All 3N variables are locked (in address order, each
// once) for the update; a variable whose buffer is shared with a pending read is copied first,
// as TensorFlow's own assign ops do, so that the read keeps the old values.
class FusedAdamOp : public OpKernel {
 public:
  explicit FusedAdamOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("one_minus_beta1", &step_.one_minus_beta1));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("one_minus_beta2", &step_.one_minus_beta2));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &step_.epsilon));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("N", &n_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& alpha = ctx->input(4 * n_);
    OP_REQUIRES(ctx, alpha.dims() == 0,
                absl::InvalidArgumentError("FusedAdam: alpha must be a scalar. Received shape " +
                                           ShapeOf(alpha)));
    AdamStep step = step_;
    step.alpha = alpha.scalar<float>()();
    std::vector<tensorflow::core::RefCountPtr<tensorflow::Var>> vars(3 * n_);
    for (int i = 0; i < 3 * n_; ++i) {
      OP_REQUIRES_OK(
          ctx, tensorflow::LookupResource(ctx, tensorflow::HandleFromInput(ctx, i), &vars[i]));
    }
    std::vector<tensorflow::mutex*> mutexes;
    for (auto& var : vars) mutexes.push_back(var->mu());
    std::sort(mutexes.begin(), mutexes.end());
    mutexes.erase(std::unique(mutexes.begin(), mutexes.end()), mutexes.end());
    std::vector<tensorflow::mutex_lock> locks;
    locks.reserve(mutexes.size());
    for (auto* mu : mutexes) locks.emplace_back(*mu);

    std::vector<AdamSlice> slices(n_);
    static const char* const kRoles[] = {"weight", "first moment", "second moment"};
    for (int k = 0; k < n_; ++k) {
      const Tensor& grad = ctx->input(3 * n_ + k);
      float* data[3];
      for (int role = 0; role < 3; ++role) {
        tensorflow::Var* var = vars[role * n_ + k].get();
        Tensor* t = var->tensor();
        OP_REQUIRES(
            ctx,
            var->is_initialized && t->dtype() == tensorflow::DT_FLOAT && t->shape() == grad.shape(),
            absl::InvalidArgumentError(
                std::string("FusedAdam: the ") + kRoles[role] + " variable of weight " +
                std::to_string(k) + " must be an initialized float32 variable of the " +
                "gradient's shape " + ShapeOf(grad) + ". Received " +
                (var->is_initialized
                     ? "shape " + ShapeOf(*t) + ", dtype " + tensorflow::DataTypeString(t->dtype())
                     : std::string("an uninitialized variable"))));
        if (var->copy_on_read_mode.load() || !t->RefCountIsOne()) {
          Tensor copy;
          OP_REQUIRES_OK(ctx, ctx->allocate_temp(t->dtype(), t->shape(), &copy));
          std::memcpy(copy.flat<float>().data(), t->flat<float>().data(),
                      t->NumElements() * sizeof(float));
          *t = copy;
        }
        data[role] = t->flat<float>().data();
      }
      slices[k] = {data[0], data[1], data[2], grad.flat<float>().data(), grad.NumElements()};
    }
    HCTR_OP_REQUIRES_CORE(ctx, AdamUpdate(slices, step, PoolParallelFor(ctx)));
  }

 private:
  AdamStep step_{};
  int n_ = 0;
};

REGISTER_KERNEL_BUILDER(Name("HugeCTR>FusedAdam").Device(DEVICE_CPU), FusedAdamOp);

#define HCTR_DENSE_KERNELS(T)                                                                     \
  REGISTER_KERNEL_BUILDER(Name("HugeCTR>MultiCross").Device(DEVICE_CPU).TypeConstraint<T>("T"),   \
                          MultiCrossOp<T>);                                                       \
  REGISTER_KERNEL_BUILDER(                                                                        \
      Name("HugeCTR>MultiCrossGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),                   \
      MultiCrossGradOp<T>);                                                                       \
  REGISTER_KERNEL_BUILDER(                                                                        \
      Name("HugeCTR>DotInteraction").Device(DEVICE_CPU).TypeConstraint<T>("T"),                   \
      DotInteractionOp<T>);                                                                       \
  REGISTER_KERNEL_BUILDER(                                                                        \
      Name("HugeCTR>DotInteractionGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),               \
      DotInteractionGradOp<T>);                                                                   \
  REGISTER_KERNEL_BUILDER(Name("HugeCTR>InnerProduct").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          InnerProductOp<T>);                                                     \
  REGISTER_KERNEL_BUILDER(                                                                        \
      Name("HugeCTR>InnerProductGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),                 \
      InnerProductGradOp<T>)

HCTR_DENSE_KERNELS(float);
HCTR_DENSE_KERNELS(double);

}  // namespace
}  // namespace hugectr_tf
