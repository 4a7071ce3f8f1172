#include <string>

#include "cc/core/checksum.h"
#include "tensorflow/core/framework/op_kernel.h"

// setup.py defines HUGECTR_TF_BUILT_FOR_TF: the pip headers lack TF_VERSION_STRING's parts.
#ifndef HUGECTR_TF_BUILT_FOR_TF
#define HUGECTR_TF_BUILT_FOR_TF "unknown"
#endif

namespace hugectr_tf {
namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::tstring;

class BuildInfoOp : public OpKernel {
 public:
  explicit BuildInfoOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
#if HUGECTR_TF_WITH_CUDA
    const char* cuda = "true";
#else
    const char* cuda = "false";
#endif
    std::string json = std::string("{\"tensorflow_version\": \"") + HUGECTR_TF_BUILT_FOR_TF +
                       "\", \"cuda\": " + cuda + ", \"compiler\": \"" + __VERSION__ + "\"}";
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &out));
    out->scalar<tstring>()() = json;
  }
};

class SumChecksumOp : public OpKernel {
 public:
  explicit SumChecksumOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& data = ctx->input(0);
    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, data.shape(), &out));
    auto in = data.flat<tstring>();
    auto sums = out->flat<int32_t>();
    for (int64_t i = 0; i < in.size(); ++i) sums(i) = SumChecksum(in(i).data(), in(i).size());
  }
};

REGISTER_KERNEL_BUILDER(Name("HugeCTR>BuildInfo").Device(tensorflow::DEVICE_CPU), BuildInfoOp);
REGISTER_KERNEL_BUILDER(Name("HugeCTR>SumChecksum").Device(tensorflow::DEVICE_CPU), SumChecksumOp);

}  // namespace
}  // namespace hugectr_tf
