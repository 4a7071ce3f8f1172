#include "cc/core/dense/adam.h"

#include <algorithm>
#include <cmath>

namespace hugectr_tf {
namespace {

constexpr int64_t kBlock = 8192;  // elements per parallel block

// Each statement rounds once, in Keras' order (see adam.h): no reassociation, no contraction.
void UpdateRange(const AdamSlice& s, int64_t begin, int64_t end, const AdamStep& step) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = s.grad[i];
    const float dm = (g - s.m[i]) * step.one_minus_beta1;
    const float m = s.m[i] + dm;
    const float dv = (g * g - s.v[i]) * step.one_minus_beta2;
    const float v = s.v[i] + dv;
    const float num = m * step.alpha;
    const float den = std::sqrt(v) + step.epsilon;
    s.m[i] = m;
    s.v[i] = v;
    s.weight[i] = s.weight[i] - num / den;
  }
}

}  // namespace

void AdamUpdate(const std::vector<AdamSlice>& slices, const AdamStep& step,
                const ParallelFor& parallel_for) {
  // Blocks over all slices: (slice, first element) pairs, so small biases and large kernels
  // share the threads.
  std::vector<std::pair<int, int64_t>> blocks;
  for (int k = 0; k < static_cast<int>(slices.size()); ++k) {
    for (int64_t begin = 0; begin < slices[k].size; begin += kBlock) blocks.emplace_back(k, begin);
  }
  parallel_for(static_cast<int64_t>(blocks.size()), kBlock * 8, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      const AdamSlice& s = slices[blocks[b].first];
      const int64_t begin = blocks[b].second;
      UpdateRange(s, begin, std::min(begin + kBlock, s.size), step);
    }
  });
}

}  // namespace hugectr_tf
