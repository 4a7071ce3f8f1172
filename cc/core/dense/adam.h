#pragma once
// Adam's update of dense weights, every weight of a model in one call, with the arithmetic of
// Keras 3's `keras.optimizers.Adam.update_step` (float32, one rounding per operation, in its
// order):
//   m += (g - m) * one_minus_beta1
//   v += (g * g - v) * one_minus_beta2
//   w -= (m * alpha) / (sqrt(v) + epsilon)
// where the caller computes alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t) as Keras does. The file
// is compiled for the baseline x86-64 (no FMA), so no product and sum are contracted into one
// rounding: the results equal Keras' op-by-op update bit for bit (tests/ops/test_fused_adam.py).

#include <cstdint>
#include <vector>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

// One weight tensor of the update: its values, Adam's two moments and its gradient, `size` each.
struct AdamSlice {
  float* weight;
  float* m;
  float* v;
  const float* grad;
  int64_t size;
};

struct AdamStep {
  float alpha;            // lr * sqrt(1 - beta2^t) / (1 - beta1^t)
  float one_minus_beta1;  // 1 - beta1, rounded once to float32 (as Keras' Python float is)
  float one_minus_beta2;
  float epsilon;
};

// Updates every slice; slices may have any sizes (blocks of a few thousand elements are spread
// over parallel_for; each element is written by one block only, so the split does not matter).
void AdamUpdate(const std::vector<AdamSlice>& slices, const AdamStep& step,
                const ParallelFor& parallel_for);

}  // namespace hugectr_tf
