#pragma once
// The core never owns threads: callers pass a ParallelFor (TensorFlow's intra-op pool in the
// kernels, a plain loop in tests). Every parallel loop in the core writes disjoint outputs per
// index, so results never depend on how the range is split.

#include <cstdint>
#include <functional>

namespace hugectr_tf {

// Calls work(begin, end) over disjoint sub-ranges that cover [0, total). cost_per_unit is a rough
// count of cycles per index, used by pools to pick the block size.
using ParallelFor = std::function<void(int64_t total, int64_t cost_per_unit,
                                       const std::function<void(int64_t, int64_t)>& work)>;

// A ParallelFor that runs everything on the calling thread.
inline ParallelFor SerialFor() {
  return [](int64_t total, int64_t, const std::function<void(int64_t, int64_t)>& work) {
    if (total > 0) work(0, total);
  };
}

}  // namespace hugectr_tf
