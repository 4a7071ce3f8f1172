// Ops that prove the library chain and describe the build.

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"

REGISTER_OP("HugeCTR>BuildInfo")
    .Output("info: string")
    .SetShapeFn(tensorflow::shape_inference::ScalarShape)
    .Doc(R"doc(
JSON text describing the library: TensorFlow version it was compiled against and whether CUDA
kernels are compiled in.
)doc");

REGISTER_OP("HugeCTR>SumChecksum")
    .Input("data: string")
    .Output("checksum: int32")
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape)
    .Doc(R"doc(
HugeCTR's Check_t.Sum checksum of each byte string: the wrapping signed 8-bit sum of its bytes,
returned as int32 in [-128, 127].
)doc");
