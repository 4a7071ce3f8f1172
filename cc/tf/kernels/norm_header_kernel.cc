// HugeCTR>ReadNormHeader: a Norm file's header as the core parses it (cc/core/data/norm_codec).

#include <string>

#include "cc/core/data/norm_codec.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace hugectr_tf {
namespace {

class ReadNormHeaderOp : public tensorflow::OpKernel {
 public:
  explicit ReadNormHeaderOp(tensorflow::OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(tensorflow::OpKernelContext* ctx) override {
    const tensorflow::Tensor& filename = ctx->input(0);
    OP_REQUIRES(ctx, tensorflow::TensorShapeUtils::IsScalar(filename.shape()),
                absl::InvalidArgumentError("`filename` must be a scalar string"));
    const std::string path(filename.scalar<tensorflow::tstring>()());
    bool check_sum = false;
    NormHeader header;
    OP_REQUIRES_OK(ctx, RunCore([&] { header = ReadNormHeader(path, &check_sum); }));
    const int64_t fields[] = {header.number_of_records, header.label_dim, header.dense_dim,
                              header.slot_num};
    tensorflow::Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {}, &out));
    out->scalar<bool>()() = check_sum;
    for (int i = 0; i < 4; ++i) {
      OP_REQUIRES_OK(ctx, ctx->allocate_output(i + 1, {}, &out));
      out->scalar<int64_t>()() = fields[i];
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("HugeCTR>ReadNormHeader").Device(tensorflow::DEVICE_CPU),
                        ReadNormHeaderOp);

}  // namespace
}  // namespace hugectr_tf
