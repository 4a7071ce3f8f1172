// tf.data adapter of cc/core/data/batch_pipeline: a dataset whose iterator owns one BatchPipeline.

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cc/core/data/batch_pipeline.h"
#include "cc/core/data/norm_codec.h"
#include "cc/tf/status_util.h"
#include "tensorflow/core/framework/dataset.h"

namespace hugectr_tf {
namespace {

using tensorflow::AttrValue;
using tensorflow::DataTypeVector;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::PartialTensorShape;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::data::DatasetBase;
using tensorflow::data::DatasetContext;
using tensorflow::data::DatasetIterator;
using tensorflow::data::DatasetOpKernel;
using tensorflow::data::IteratorBase;
using tensorflow::data::IteratorContext;
using tensorflow::data::IteratorStateReader;
using tensorflow::data::IteratorStateWriter;
using tensorflow::data::SerializationContext;

constexpr char kDatasetType[] = "HugeCTRBinaryReader";

class BinaryReaderDataset : public DatasetBase {
 public:
  BinaryReaderDataset(OpKernelContext* ctx, std::vector<std::string> paths, Tensor filenames,
                      FormatOptions format, PipelineOptions pipeline,
                      std::vector<std::pair<std::string, AttrValue>> attrs)
      : DatasetBase(DatasetContext(ctx)),
        paths_(std::move(paths)),
        filenames_(std::move(filenames)),
        format_(std::move(format)),
        pipeline_(pipeline),
        attrs_(std::move(attrs)) {
    dtypes_ = {tensorflow::DT_FLOAT, tensorflow::DT_FLOAT};
    shapes_ = {PartialTensorShape({-1, format_.label_dim}),
               PartialTensorShape({-1, format_.dense_dim})};
    for (int k = 0; k < 2; ++k) {
      for (size_t i = 0; i < format_.slots_per_input.size(); ++i) {
        dtypes_.push_back(tensorflow::DT_INT64);
        shapes_.push_back(PartialTensorShape({-1}));
      }
    }
  }

  std::unique_ptr<IteratorBase> MakeIteratorInternal(const std::string& prefix) const override;
  const DataTypeVector& output_dtypes() const override { return dtypes_; }
  const std::vector<PartialTensorShape>& output_shapes() const override { return shapes_; }
  std::string DebugString() const override { return kDatasetType; }
  int64_t CardinalityInternal(tensorflow::data::CardinalityOptions) const override {
    if (pipeline_.repeat) return tensorflow::data::kInfiniteCardinality;
    // Norm: batches of the records the headers count (read once, on first request).
    std::call_once(norm_records_once_, [this] {
      if (format_.format == BinaryFormat::kNorm) norm_records_ = NormRecordCount(paths_, format_);
    });
    if (norm_records_ < 0) return tensorflow::data::kUnknownCardinality;
    return (norm_records_ + pipeline_.batch_size - 1) / pipeline_.batch_size;
  }
  absl::Status InputDatasets(std::vector<const DatasetBase*>*) const override {
    return absl::OkStatus();
  }
  absl::Status CheckExternalState() const override { return absl::OkStatus(); }

 protected:
  absl::Status AsGraphDefInternal(SerializationContext*, DatasetGraphDefBuilder* b,
                                  tensorflow::Node** output) const override {
    tensorflow::Node* filenames = nullptr;
    TF_RETURN_IF_ERROR(b->AddTensor(filenames_, &filenames));
    std::vector<std::pair<absl::string_view, AttrValue>> attrs;
    for (const auto& [name, value] : attrs_) attrs.emplace_back(name, value);
    return b->AddDataset(this, {filenames}, attrs, output);
  }

 private:
  class Iterator;
  friend class Iterator;

  const std::vector<std::string> paths_;
  const Tensor filenames_;
  const FormatOptions format_;
  const PipelineOptions pipeline_;
  const std::vector<std::pair<std::string, AttrValue>> attrs_;
  DataTypeVector dtypes_;
  std::vector<PartialTensorShape> shapes_;
  mutable std::once_flag norm_records_once_;
  mutable int64_t norm_records_ = -1;  // -1: unknown (not Norm, or a header the reader rejects)
};

class BinaryReaderDataset::Iterator : public DatasetIterator<BinaryReaderDataset> {
 public:
  explicit Iterator(const Params& params) : DatasetIterator<BinaryReaderDataset>(params) {}

  absl::Status Initialize(IteratorContext*) override {
    const auto& ds = *dataset();
    return RunCore([&] {
      // Raw files are split into record ranges so several threads decode one file.
      const int64_t chunk = std::max<int64_t>(ds.pipeline_.batch_size, 1 << 16);
      pipeline_ = std::make_unique<BatchPipeline>(PlanTasks(ds.paths_, ds.format_, chunk),
                                                  ds.format_, ds.pipeline_);
    });
  }

  absl::Status GetNextInternal(IteratorContext*, std::vector<Tensor>* out,
                               bool* end_of_sequence) override {
    tensorflow::mutex_lock lock(mu_);
    bool got = false;
    TF_RETURN_IF_ERROR(RunCore([&] { got = pipeline_->Next(&batch_); }));
    if (!got) {
      *end_of_sequence = true;
      return absl::OkStatus();
    }
    *end_of_sequence = false;
    const auto& f = dataset()->format_;
    const int64_t n = batch_.num_records;
    out->push_back(FloatTensor(batch_.label, n, f.label_dim));
    out->push_back(FloatTensor(batch_.dense, n, f.dense_dim));
    for (const auto& v : batch_.row_splits) out->push_back(Int64Tensor(v));
    for (const auto& v : batch_.values) out->push_back(Int64Tensor(v));
    return absl::OkStatus();
  }

 protected:
  absl::Status SaveInternal(SerializationContext*, IteratorStateWriter*) override {
    return absl::UnimplementedError(
        "saving the position of a HugeCTR Norm/Raw reader is not supported; checkpoint the "
        "model, not the input pipeline");
  }
  absl::Status RestoreInternal(IteratorContext*, IteratorStateReader*) override {
    return absl::UnimplementedError(
        "restoring a HugeCTR Norm/Raw reader position is not supported");
  }

 private:
  static Tensor FloatTensor(const std::vector<float>& v, int64_t rows, int64_t cols) {
    Tensor t(tensorflow::DT_FLOAT, TensorShape({rows, cols}));
    if (!v.empty()) std::memcpy(t.flat<float>().data(), v.data(), v.size() * sizeof(float));
    return t;
  }
  static Tensor Int64Tensor(const std::vector<int64_t>& v) {
    Tensor t(tensorflow::DT_INT64, TensorShape({static_cast<int64_t>(v.size())}));
    if (!v.empty()) std::memcpy(t.flat<int64_t>().data(), v.data(), v.size() * sizeof(int64_t));
    return t;
  }

  tensorflow::mutex mu_;
  std::unique_ptr<BatchPipeline> pipeline_;
  Batch batch_;
};

std::unique_ptr<IteratorBase> BinaryReaderDataset::MakeIteratorInternal(
    const std::string& prefix) const {
  return std::make_unique<Iterator>(Iterator::Params{this, prefix + "::" + kDatasetType});
}

class BinaryReaderDatasetOp : public DatasetOpKernel {
 public:
  explicit BinaryReaderDatasetOp(OpKernelConstruction* ctx) : DatasetOpKernel(ctx) {
    std::string format;
    std::vector<bool> fixed;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("format", &format));
    format_.format = format == "norm" ? BinaryFormat::kNorm : BinaryFormat::kRaw;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("label_dim", &format_.label_dim));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("dense_dim", &format_.dense_dim));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("slots_per_input", &format_.slots_per_input));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("max_nnz", &format_.max_nnz));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("fixed_length", &fixed));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("input_names", &format_.input_names));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("check_sum", &format_.check_sum));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("key_i64", &format_.key_i64));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("float_label_dense", &format_.float_label_dense));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("slot_sizes", &format_.slot_sizes));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("num_samples", &format_.num_samples));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("batch_size", &pipeline_.batch_size));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("num_workers", &pipeline_.num_workers));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("repeat", &pipeline_.repeat));
    format_.fixed_length.assign(fixed.begin(), fixed.end());
    pipeline_.block_records = std::min<int64_t>(pipeline_.batch_size, 8192);
    for (const auto& [name, value] : ctx->def().attr()) {
      if (!name.empty() && name[0] != '_') attrs_.emplace_back(name, value);
    }
  }

 protected:
  void MakeDataset(OpKernelContext* ctx, DatasetBase** output) override {
    const Tensor& filenames = ctx->input(0);
    OP_REQUIRES(ctx, filenames.dims() <= 1,
                absl::InvalidArgumentError("`filenames` must be a scalar or a vector"));
    std::vector<std::string> paths;
    auto flat = filenames.flat<tensorflow::tstring>();
    for (int64_t i = 0; i < flat.size(); ++i) paths.emplace_back(flat(i));
    *output = new BinaryReaderDataset(ctx, std::move(paths), filenames, format_, pipeline_, attrs_);
  }

 private:
  FormatOptions format_;
  PipelineOptions pipeline_;
  std::vector<std::pair<std::string, AttrValue>> attrs_;
};

REGISTER_KERNEL_BUILDER(Name("HugeCTR>BinaryReaderDataset").Device(tensorflow::DEVICE_CPU),
                        BinaryReaderDatasetOp);

}  // namespace
}  // namespace hugectr_tf
