// Parameter-server helpers for model oversubscription (hugectr_tf/ps). Semantics:
// cc/core/ps/catch_up.h and docs/embedding.md ("Parameter servers").

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("HugeCTR>PsCatchUp")
    .Input("rows: float")
    .Input("optimizer_slots: float")
    .Input("last_step: int64")
    .Input("step: int64")
    .Input("lr_history: float")
    .Output("rows_out: float")
    .Output("optimizer_slots_out: float")
    .Output("last_step_out: int64")
    .Attr("optimizer_type: int = 0")
    .Attr("beta1: float = 0.9")
    .Attr("beta2: float = 0.999")
    .Attr("epsilon: float = 1e-7")
    .Attr("momentum_factor: float = 0.0")
    .SetShapeFn([](InferenceContext* c) {
      for (int i = 0; i < 3; ++i) c->set_output(i, c->input(i));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Replays the zero-gradient optimizer steps last_step + 1 .. step of each row (update type Global:
the steps a row missed while it sat in a parameter server) and sets its last_step to step.
rows: (n, vec); optimizer_slots: (n, k, vec); last_step: (n); step: scalar; lr_history: (step).
optimizer_type: 0 Adam, 1 Adagrad, 2 MomentumSGD, 3 Nesterov, 4 SGD.
)doc");

REGISTER_OP("HugeCTR>PsImportTableState")
    .Input("table: resource")
    .Input("keys: int64")
    .Input("rows: float")
    .Input("slot_ids: int64")
    .Input("optimizer_slots: float")
    .Input("last_step: int64")
    .Input("step: int64")
    .Input("lr_history: float")
    .SetIsStateful()
    .SetShapeFn(tensorflow::shape_inference::NoOutputs)
    .Doc(R"doc(
Replaces every row of a CPU embedding table with the rows a parameter server read (model
oversubscription's load): EmbeddingTableImport then EmbeddingTableImportOptimizerState of the same
keys as one bulk write. keys: (n) distinct; rows: (n, vec); slot_ids: (n) or empty;
optimizer_slots: (n, k, vec); last_step: (n); step: scalar; lr_history: (step).
)doc");
