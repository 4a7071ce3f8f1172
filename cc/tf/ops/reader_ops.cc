// The binary data readers (Norm, Raw) as a tf.data source.

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"

REGISTER_OP("HugeCTR>BinaryReaderDataset")
    .Input("filenames: string")
    .Output("handle: variant")
    .Attr("format: {'norm', 'raw'}")
    .Attr("label_dim: int >= 1")
    .Attr("dense_dim: int >= 0")
    .Attr("slots_per_input: list(int) >= 0")
    .Attr("max_nnz: list(int) >= 0")
    .Attr("fixed_length: list(bool) >= 0")
    .Attr("input_names: list(string) >= 0")
    .Attr("check_sum: bool = false")
    .Attr("key_i64: bool = false")
    .Attr("float_label_dense: bool = true")
    .Attr("slot_sizes: list(int) = []")
    .Attr("num_samples: int = 0")
    .Attr("batch_size: int >= 1")
    .Attr("num_workers: int >= 1 = 1")
    .Attr("repeat: bool = false")
    .SetDoNotOptimize()
    .SetShapeFn(tensorflow::shape_inference::ScalarShape)
    .Doc(R"doc(
Reads HugeCTR Norm or Raw files in order (decoded in parallel by num_workers threads) and yields
batches of label float [B, label_dim], dense float [B, dense_dim], then for every sparse input the
row_splits int64 [B * slots + 1], then for every sparse input the keys int64 [nnz]. Rows are
(record, slot) pairs, record-major. Bad data fails with DataLoss naming file, record and field.
)doc");

REGISTER_OP("HugeCTR>ReadNormHeader")
    .Input("filename: string")
    .Output("check_sum: bool")
    .Output("number_of_records: int64")
    .Output("label_dim: int64")
    .Output("dense_dim: int64")
    .Output("slot_num: int64")
    .SetIsStateful()
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      for (int i = 0; i < c->num_outputs(); ++i) c->set_output(i, c->Scalar());
      return absl::OkStatus();
    })
    .Doc(R"doc(
The header of a Norm file, whichever Check_t wrote it (check_sum: framed, Check_t.Sum), parsed by
the reader's own code (cc/core/data/norm_codec.h). A short file, a bad frame or checksum, or
fields no Norm file has fail with DataLoss naming the file and field.
)doc");
