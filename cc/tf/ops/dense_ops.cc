// Fused CPU kernels of dense layers (MultiCross, DLRM dot interaction) with their gradients.
// Math: cc/core/dense/*.h. The Python wrappers (hugectr_tf/ops/dense_ops.py) register the
// gradients; the Keras layers use these ops where they were measured faster (docs/benchmarks.md).

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("HugeCTR>MultiCross")
    .Input("x0: T")
    .Input("weights: T")
    .Input("biases: T")
    .Output("y: T")
    .Output("dots: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x0, w, b;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &x0));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &w));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &b));
      TF_RETURN_IF_ERROR(c->Merge(w, b, &w));
      DimensionHandle width;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(x0, 1), c->Dim(w, 1), &width));
      c->set_output(0, c->Matrix(c->Dim(x0, 0), width));
      c->set_output(1, c->Matrix(c->Dim(x0, 0), c->Dim(w, 0)));
      return absl::OkStatus();
    })
    .Doc(R"doc(
All layers of a DCN-v1 cross network: x_{l+1} = x0 * (x_l . w_l) + b_l + x_l for the rows w_l,
b_l of weights and biases (layers, width). dots (batch, layers) = x0 . w_l, for the gradient.
)doc");

REGISTER_OP("HugeCTR>MultiCrossGrad")
    .Input("x0: T")
    .Input("weights: T")
    .Input("biases: T")
    .Input("dots: T")
    .Input("dy: T")
    .Output("dx0: T")
    .Output("dweights: T")
    .Output("dbiases: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      c->set_output(2, c->input(2));
      return absl::OkStatus();
    })
    .Doc("Gradients of HugeCTR>MultiCross with respect to x0, weights and biases.");

REGISTER_OP("HugeCTR>DotInteraction")
    .Input("mlp: T")
    .Input("embeddings: T")
    .Output("out: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle mlp, emb;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &mlp));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &emb));
      DimensionHandle width = c->UnknownDim();
      if (c->ValueKnown(c->Dim(emb, 1)) && c->ValueKnown(c->Dim(mlp, 1))) {
        const int64_t f = c->Value(c->Dim(emb, 1)), w = c->Value(c->Dim(mlp, 1));
        width = c->MakeDim(w + (f + 1) * f / 2 + 1);
      }
      c->set_output(0, c->Matrix(c->Dim(mlp, 0), width));
      return absl::OkStatus();
    })
    .Doc(R"doc(
DLRM dot interaction as HugeCTR's Interaction layer: with z = [mlp, embeddings_0, ...], the row
[mlp, z_i . z_j for i > j in row-major order of the strict lower triangle, 0].
)doc");

REGISTER_OP("HugeCTR>DotInteractionGrad")
    .Input("mlp: T")
    .Input("embeddings: T")
    .Input("dout: T")
    .Output("dmlp: T")
    .Output("dembeddings: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      return absl::OkStatus();
    })
    .Doc("Gradients of HugeCTR>DotInteraction with respect to mlp and embeddings.");

REGISTER_OP("HugeCTR>InnerProduct")
    .Input("x: T")
    .Input("kernel: T")
    .Input("bias: T")
    .Output("y: T")
    .Attr("relu: bool = false")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x, kernel, bias;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &kernel));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &bias));
      DimensionHandle unused;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(x, 1), c->Dim(kernel, 0), &unused));
      DimensionHandle out;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(kernel, 1), c->Dim(bias, 0), &out));
      c->set_output(0, c->Matrix(c->Dim(x, 0), out));
      return absl::OkStatus();
    })
    .Doc("y = x kernel + bias, then max(y, 0) when relu (HugeCTR's FusedInnerProduct).");

REGISTER_OP("HugeCTR>InnerProductGrad")
    .Input("x: T")
    .Input("kernel: T")
    .Input("y: T")
    .Input("dy: T")
    .Output("dx: T")
    .Output("dkernel: T")
    .Output("dbias: T")
    .Attr("relu: bool = false")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      c->set_output(2, c->Vector(c->Dim(c->input(1), 1)));
      return absl::OkStatus();
    })
    .Doc("Gradients of HugeCTR>InnerProduct; y is its output (the ReLU mask).");

REGISTER_OP("HugeCTR>FusedAdam")
    .Input("weights: N * resource")
    .Input("ms: N * resource")
    .Input("vs: N * resource")
    .Input("grads: N * float")
    .Input("alpha: float")
    .Attr("N: int >= 1")
    .Attr("one_minus_beta1: float")
    .Attr("one_minus_beta2: float")
    .Attr("epsilon: float")
    .SetIsStateful()
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle unused;
      return c->WithRank(c->input(c->num_inputs() - 1), 0, &unused);
    })
    .Doc(R"doc(
Adam's update of N float32 variables in one op, with Keras 3 Adam's arithmetic (one rounding per
operation): m += (g - m) * one_minus_beta1; v += (g * g - v) * one_minus_beta2;
w -= (m * alpha) / (sqrt(v) + epsilon), alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t).
)doc");
