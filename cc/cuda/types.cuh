#pragma once
// Enums and parameter structs shared by the GPU embedding kernels (host-visible, no device code).
// They mirror the HugeCTR names (Combiner, Optimizer_t, Update_t) and EMBEDDING_SEMANTICS.md.

#include <cstdint>
#include <limits>

namespace hugectr_tf {
namespace cuda {

enum class Combiner : int { kSum = 0, kMean = 1 };

enum class OptimizerType : int { kSgd = 0, kMomentumSgd = 1, kNesterov = 2, kAdagrad = 3, kAdam = 4 };

enum class UpdateType : int { kLocal = 0, kGlobal = 1, kLazyGlobal = 2 };

struct OptimizerParams {
  OptimizerType type = OptimizerType::kSgd;
  UpdateType update = UpdateType::kLocal;
  float beta1 = 0.9f;               // Adam first-moment decay
  float beta2 = 0.999f;             // Adam second-moment decay
  float epsilon = 1e-7f;            // Adam / Adagrad denominator guard
  float initial_accu_value = 0.f;   // Adagrad accumulator of a new row
  float momentum_factor = 0.f;      // MomentumSGD / Nesterov mu
};

// Number of per-row float slots (each `vec` wide) an optimizer keeps: m, v, accumulator.
inline int OptimizerSlotCount(OptimizerType t) {
  switch (t) {
    case OptimizerType::kSgd:
      return 0;
    case OptimizerType::kAdam:
      return 2;
    default:
      return 1;
  }
}

// The hash table reserves this key as its empty marker; a batch holding it is rejected.
constexpr int64_t kEmptyKey = std::numeric_limits<int64_t>::max();

}  // namespace cuda
}  // namespace hugectr_tf
