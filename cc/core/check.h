#pragma once
// Error reporting for the framework-free core. The core throws hugectr_tf::Error; the TensorFlow
// glue (cc/tf/status_util.h) turns it into an absl::Status, so nothing ever aborts the process.

#include <sstream>
#include <stdexcept>
#include <string>

namespace hugectr_tf {

// kOutOfRange is a value outside its valid range; the TensorFlow glue reports it as
// InvalidArgument (TensorFlow's own OutOfRange means end of input, which Keras takes as the end of
// the data and stops silently).
enum class ErrorCode { kInvalidArgument, kOutOfRange, kResourceExhausted, kDataLoss, kInternal };

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
[[noreturn]] inline void Throw(ErrorCode code, const char* file, int line, const std::string& msg) {
  std::ostringstream os;
  os << msg << " [" << file << ":" << line << "]";
  throw Error(code, os.str());
}
}  // namespace detail

}  // namespace hugectr_tf

// HCTR_CHECK(cond, stream-expression): throws InvalidArgument with the message and file:line.
#define HCTR_CHECK(cond, msg) HCTR_CHECK_CODE(cond, ::hugectr_tf::ErrorCode::kInvalidArgument, msg)

#define HCTR_CHECK_CODE(cond, code, msg)                                           \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::ostringstream hctr_check_os_;                                           \
      hctr_check_os_ << msg;                                                       \
      ::hugectr_tf::detail::Throw(code, __FILE__, __LINE__, hctr_check_os_.str()); \
    }                                                                              \
  } while (0)

#define HCTR_FAIL(code, msg) HCTR_CHECK_CODE(false, code, msg)
