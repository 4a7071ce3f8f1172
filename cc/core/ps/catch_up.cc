#include "cc/core/ps/catch_up.h"

#include <algorithm>
#include <vector>

#include "cc/core/check.h"

namespace hugectr_tf {

void CatchUpRows(const OptimizerOptions& opt, int64_t n, int64_t vec, float* rows, float* slots,
                 int64_t* last_step, int64_t step, const float* lr_history,
                 const ParallelFor& parallel_for) {
  HCTR_CHECK(vec > 0, "`embedding_vec_size` must be positive. Received: " << vec);
  HCTR_CHECK(step >= 0, "step must be >= 0. Received: step=" << step);
  int64_t oldest = step;
  for (int64_t i = 0; i < n; ++i) {
    HCTR_CHECK(
        last_step[i] >= 0 && last_step[i] <= step,
        "row " << i << " has last_step=" << last_step[i] << " outside [0, step=" << step << "]");
    oldest = std::min(oldest, last_step[i]);
  }
  if (ZeroGradientIsNoOp(opt.type) || oldest == step) {
    std::fill_n(last_step, n, step);
    return;
  }
  // Scalars of the steps oldest+1 .. step, shared by all rows (Adam's bias correction per step).
  std::vector<StepScalars> scalars;
  scalars.reserve(step - oldest);
  for (int64_t t = oldest + 1; t <= step; ++t) {
    scalars.push_back(MakeStepScalars(opt, t, lr_history[t - 1]));
  }
  const int64_t slot_stride = NumOptimizerSlots(opt.type) * vec;
  parallel_for(n, vec * 10 * (step - oldest), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t t = last_step[i] + 1; t <= step; ++t) {
        UpdateRow(opt, scalars[t - oldest - 1], vec, nullptr, rows + i * vec,
                  slots + i * slot_stride);
      }
      last_step[i] = step;
    }
  });
}

}  // namespace hugectr_tf
