#pragma once
// Bridges the core's exceptions into TensorFlow statuses.

#include "cc/core/check.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace hugectr_tf {

inline absl::Status ToStatus(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
      return absl::InvalidArgumentError(e.what());
    case ErrorCode::kOutOfRange:
      // A value outside its range is a bad argument to the op. TensorFlow's OutOfRange means
      // "end of input": tf.data and Keras stop reading on it without an error, so a core error
      // must never surface as OutOfRange.
      return absl::InvalidArgumentError(e.what());
    case ErrorCode::kResourceExhausted:
      return absl::ResourceExhaustedError(e.what());
    case ErrorCode::kDataLoss:
      return absl::DataLossError(e.what());
    case ErrorCode::kInternal:
      return absl::InternalError(e.what());
  }
  return absl::InternalError(e.what());
}

// Runs `body` (a callable) and converts a thrown core error into a Status.
template <typename F>
absl::Status RunCore(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return ToStatus(e);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("hugectr_tf: out of host memory");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
  return absl::OkStatus();
}

}  // namespace hugectr_tf

// Inside OpKernel::Compute: runs the statement(s) and fails the op cleanly on a core error.
#define HCTR_OP_REQUIRES_CORE(ctx, ...) \
  OP_REQUIRES_OK(ctx, ::hugectr_tf::RunCore([&]() { __VA_ARGS__; }))
