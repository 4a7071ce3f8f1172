// Hash-table sparse embedding: the table resource, lookups, backward, sparse optimizer apply,
// export / import. Semantics: docs/EMBEDDING_SEMANTICS.md and docs/embedding.md.

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace hugectr_tf {
namespace {

using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

// embeddings: (num_rows / slot_num, slot_num, vec) with num_rows = len(row_splits) - 1.
absl::Status EmbeddingsShape(InferenceContext* c, int output) {
  int64_t slot_num = 0, vec = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("slot_num", &slot_num));
  TF_RETURN_IF_ERROR(c->GetAttr("embedding_vec_size", &vec));
  ShapeHandle values, splits;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 1, &values));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &splits));
  DimensionHandle batch = c->UnknownDim();
  if (c->ValueKnown(c->Dim(splits, 0)) && slot_num > 0) {
    batch = c->MakeDim((c->Value(c->Dim(splits, 0)) - 1) / slot_num);
  }
  c->set_output(output, c->MakeShape({batch, c->MakeDim(slot_num), c->MakeDim(vec)}));
  return absl::OkStatus();
}

}  // namespace
}  // namespace hugectr_tf

using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("HugeCTR>EmbeddingTableCreate")
    .Output("table: resource")
    .Attr("embedding_vec_size: int")
    .Attr("workspace_size_per_gpu_in_mb: float")
    .Attr("embedding_type: string = 'DistributedSlotSparseEmbeddingHash'")
    .Attr("slot_size_array: list(int) = []")
    .Attr("seed: int = 0")
    .Attr("optimizer_type: int = 0")
    .Attr("update_type: int = 1")
    .Attr("beta1: float = 0.9")
    .Attr("beta2: float = 0.999")
    .Attr("epsilon: float = 1e-7")
    .Attr("momentum_factor: float = 0.0")
    .Attr("initial_accu_value: float = 0.0")
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::ScalarShape)
    .Doc(R"doc(
Creates an empty embedding table and returns a handle that owns it (freed with the handle).
optimizer_type: 0 Adam, 1 Adagrad, 2 MomentumSGD, 3 Nesterov, 4 SGD.
update_type: 0 Local, 1 Global, 2 LazyGlobal.
)doc");

REGISTER_OP("HugeCTR>EmbeddingLookupTrain")
    .Input("table: resource")
    .Input("values: int64")
    .Input("row_splits: int64")
    .Output("embeddings: float")
    .Output("unique_keys: int64")
    .Output("inverse: int64")
    .Attr("slot_num: int >= 1")
    .Attr("embedding_vec_size: int >= 1")
    .Attr("combiner: {'sum', 'mean'} = 'sum'")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(hugectr_tf::EmbeddingsShape(c, 0));
      c->set_output(1, c->Vector(c->UnknownDim()));
      c->set_output(2, c->input(1));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Training lookup: inserts keys seen for the first time, combines rows per (sample, slot) and
returns the batch's ascending unique table keys with, for each key position, its unique index.
)doc");

REGISTER_OP("HugeCTR>EmbeddingLookupInference")
    .Input("table: resource")
    .Input("values: int64")
    .Input("row_splits: int64")
    .Output("embeddings: float")
    .Output("misses: int64")
    .Attr("slot_num: int >= 1")
    .Attr("embedding_vec_size: int >= 1")
    .Attr("combiner: {'sum', 'mean'} = 'sum'")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(hugectr_tf::EmbeddingsShape(c, 0));
      c->set_output(1, c->Scalar());
      return absl::OkStatus();
    })
    .Doc(R"doc(
Inference lookup: never inserts; a missing key adds a zero vector and counts in `misses`.
)doc");

REGISTER_OP("HugeCTR>EmbeddingBackward")
    .Input("grad: float")
    .Input("row_splits: int64")
    .Input("inverse: int64")
    .Input("unique_keys: int64")
    .Output("key_grads: float")
    .Attr("combiner: {'sum', 'mean'} = 'sum'")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle grad;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &grad));
      c->set_output(0, c->Matrix(c->Dim(c->input(3), 0), c->Dim(grad, 2)));
      return absl::OkStatus();
    })
    .Doc(R"doc(
One aggregated gradient per unique key (rows follow unique_keys), summed in ascending position.
)doc");

REGISTER_OP("HugeCTR>EmbeddingApplyGradients")
    .Input("table: resource")
    .Input("unique_keys: int64")
    .Input("key_grads: float")
    .Input("learning_rate: float")
    .Output("zero: float")
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::ScalarShape)
    .Doc(R"doc(
One sparse-optimizer step on the table. Returns a float 0: graphs use it as a data dependency
so that the update is never pruned.
)doc");

REGISTER_OP("HugeCTR>EmbeddingTableSize")
    .Input("table: resource")
    .Output("size: int64")
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::ScalarShape);

REGISTER_OP("HugeCTR>EmbeddingTableStats")
    .Input("table: resource")
    .Output("size: int64")
    .Output("capacity: int64")
    .Output("step: int64")
    .Output("misses: int64")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      for (int i = 0; i < 4; ++i) c->set_output(i, c->Scalar());
      return absl::OkStatus();
    });

REGISTER_OP("HugeCTR>EmbeddingTableExport")
    .Input("table: resource")
    .Output("keys: int64")
    .Output("rows: float")
    .Output("slot_ids: int64")
    .Output("optimizer_slots: float")
    .Output("last_step: int64")
    .Output("step: int64")
    .Output("lr_history: float")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->Vector(c->UnknownDim()));
      c->set_output(1, c->Matrix(c->UnknownDim(), c->UnknownDim()));
      c->set_output(2, c->Vector(c->UnknownDim()));
      c->set_output(3, c->UnknownShapeOfRank(3));
      c->set_output(4, c->Vector(c->UnknownDim()));
      c->set_output(5, c->Scalar());
      c->set_output(6, c->Vector(c->UnknownDim()));
      return absl::OkStatus();
    })
    .Doc(R"doc(
The whole table, rows ordered by ascending key: rows (n, vec), optimizer_slots (n, slots, vec).
)doc");

REGISTER_OP("HugeCTR>EmbeddingTableImport")
    .Input("table: resource")
    .Input("keys: int64")
    .Input("rows: float")
    .Input("slot_ids: int64")
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::NoOutputs)
    .Doc(R"doc(
Replaces all rows. slot_ids may be empty (then 0, or derived from the key for OneHot).
Optimizer slots start fresh; step and learning-rate history are kept.
)doc");

REGISTER_OP("HugeCTR>EmbeddingTableImportOptimizerState")
    .Input("table: resource")
    .Input("keys: int64")
    .Input("optimizer_slots: float")
    .Input("last_step: int64")
    .Input("step: int64")
    .Input("lr_history: float")
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::NoOutputs)
    .Doc(R"doc(
Sets the step counter, learning-rate history and the optimizer slots of keys in the table.
)doc");
