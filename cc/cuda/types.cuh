#pragma once
// Types shared with the CPU core (cc/core/embedding): the GPU core takes the same optimizer
// options and combiner, so the TensorFlow kernels hand one options struct to either device.
// Host-visible only, no device code.

#include <cstdint>
#include <limits>

#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/optimizer.h"

namespace hugectr_tf {
namespace cuda {

using ::hugectr_tf::Combiner;
using ::hugectr_tf::OptimizerType;
using ::hugectr_tf::UpdateType;
using OptimizerParams = ::hugectr_tf::OptimizerOptions;

// Number of per-row float slots (each `vec` wide): m and v, or one accumulator / momentum.
inline int OptimizerSlotCount(OptimizerType t) { return ::hugectr_tf::NumOptimizerSlots(t); }

// The GPU hash table reserves this key as its empty-slot marker; a batch holding it is rejected
// with an error (the CPU core accepts it: it marks empty buckets by row -1 instead).
constexpr int64_t kEmptyKey = std::numeric_limits<int64_t>::max();

}  // namespace cuda
}  // namespace hugectr_tf
