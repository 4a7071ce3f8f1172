// Rows whose initial values come from the caller (a Keras initialiser) and rows read back by key:
// the ops SparseEmbedding uses for `embeddings_initializer` and `embeddings_regularizer`.
// Semantics: docs/embedding.md ("How the table follows Keras").

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

namespace {

// (len(keys), embedding_vec_size) for the op's input `keys_input`.
absl::Status RowsOfKeysShape(InferenceContext* c, int keys_input) {
  int64_t vec = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("embedding_vec_size", &vec));
  ShapeHandle keys;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(keys_input), 1, &keys));
  c->set_output(0, c->Matrix(c->Dim(keys, 0), vec));
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("HugeCTR>EmbeddingNewKeys")
    .Input("table: resource")
    .Input("values: int64")
    .Input("row_splits: int64")
    .Output("keys: int64")
    .Output("slot_ids: int64")
    .Attr("slot_num: int >= 1")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->Vector(c->UnknownDim()));
      c->set_output(1, c->Vector(c->UnknownDim()));
      return absl::OkStatus();
    })
    .Doc(R"doc(
The table keys a training lookup of this batch would insert (ascending, distinct; OneHot: key +
slot offset) and the slot of each key's first position. Inserts nothing.
)doc");

REGISTER_OP("HugeCTR>EmbeddingInsertRows")
    .Input("table: resource")
    .Input("keys: int64")
    .Input("rows: float")
    .Input("slot_ids: int64")
    .Output("inserted: int64")
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::ScalarShape)
    .Doc(R"doc(
Inserts the keys (ascending table keys) that the table does not hold yet, with the given rows as
their initial values and fresh optimizer state; keys already present are left alone. Returns
the number inserted.
)doc");

REGISTER_OP("HugeCTR>EmbeddingGatherRows")
    .Input("table: resource")
    .Input("keys: int64")
    .Output("rows: float")
    .Attr("embedding_vec_size: int >= 1")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) { return RowsOfKeysShape(c, 1); })
    .Doc(R"doc(
The rows of table keys the table holds (an error names a key it does not hold).
)doc");

REGISTER_OP("HugeCTR>EmbeddingKeyUniform")
    .Input("keys: int64")
    .Output("uniform: float")
    .Attr("seed: int = 0")
    .Attr("embedding_vec_size: int >= 1")
    .SetShapeFn([](InferenceContext* c) { return RowsOfKeysShape(c, 0); })
    .Doc(R"doc(
Uniform draws in (0, 1), (len(keys), embedding_vec_size), each a function of key, seed and
column alone; the random source of a new row (cc/core/embedding/row_init.h).
)doc");
