#pragma once
// Size arithmetic on values that come from users or files. A product or sum that does not fit in
// int64 throws InvalidArgument naming what was being computed, instead of wrapping around into a
// small (or negative) size that later code would allocate and overrun.

#include <cmath>
#include <cstdint>

#include "cc/core/check.h"

namespace hugectr_tf {

// a * b; throws naming `what` (e.g. "rows * embedding_vec_size") when it overflows int64.
inline int64_t CheckedMul(int64_t a, int64_t b, const char* what) {
  int64_t out = 0;
  HCTR_CHECK(!__builtin_mul_overflow(a, b, &out),
             what << " = " << a << " * " << b << " does not fit in a 64-bit size");
  return out;
}

// a + b; throws naming `what` when it overflows int64.
inline int64_t CheckedAdd(int64_t a, int64_t b, const char* what) {
  int64_t out = 0;
  HCTR_CHECK(!__builtin_add_overflow(a, b, &out),
             what << " = " << a << " + " << b << " does not fit in a 64-bit size");
  return out;
}

// floor(x) as int64 for a finite, non-negative x below 2^63; throws naming `what` otherwise
// (converting an out-of-range double to an integer is undefined behaviour).
inline int64_t CheckedFloorToInt64(double x, const char* what) {
  constexpr double kTwoTo63 = 9223372036854775808.0;
  HCTR_CHECK(std::isfinite(x) && x >= 0 && x < kTwoTo63,
             what << " = " << x << " is not a size in [0, 2^63)");
  return static_cast<int64_t>(x);
}

}  // namespace hugectr_tf
