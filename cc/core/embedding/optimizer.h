#pragma once
// Element-wise sparse-optimizer math on one embedding row (docs/EMBEDDING_SEMANTICS.md,
// "Optimizers").
// Header-only, no library calls in the per-element code, so the CUDA core can share it.
//
// A row owns `NumOptimizerSlots(type)` slot vectors of `vec` floats, laid out (slot, vec):
//   Adam: m, v     Adagrad: accumulator     MomentumSGD / Nesterov: momentum     SGD: none.
// All element arithmetic is float32. Adam's bias-corrected rate lr_t is computed once per step in
// double and rounded to float (StepScalars), so every row of a step uses the same lr_t.

#include <cmath>
#include <cstdint>

#if !defined(__CUDACC__) && defined(__SSE2__)
#include <emmintrin.h>
#define HCTR_ADAM_SSE 1
#endif

#include "cc/core/embedding/row_init.h"  // HCTR_HOST_DEVICE

namespace hugectr_tf {

// Values match hugectr_tf.api.enums order used by the Python wrappers.
enum class OptimizerType : int {
  kAdam = 0,
  kAdagrad = 1,
  kMomentumSGD = 2,
  kNesterov = 3,
  kSGD = 4,
};
enum class UpdateType : int { kLocal = 0, kGlobal = 1, kLazyGlobal = 2 };

struct OptimizerOptions {
  OptimizerType type = OptimizerType::kAdam;
  UpdateType update = UpdateType::kGlobal;
  float beta1 = 0.9f;               // Adam first-moment decay
  float beta2 = 0.999f;             // Adam second-moment decay
  float epsilon = 1e-7f;            // Adam / Adagrad denominator offset
  float momentum_factor = 0.0f;     // MomentumSGD / Nesterov mu
  float initial_accu_value = 0.0f;  // Adagrad accumulator of a new row
};

HCTR_HOST_DEVICE inline int NumOptimizerSlots(OptimizerType type) {
  switch (type) {
    case OptimizerType::kAdam:
      return 2;
    case OptimizerType::kAdagrad:
    case OptimizerType::kMomentumSGD:
    case OptimizerType::kNesterov:
      return 1;
    case OptimizerType::kSGD:
      return 0;
  }
  return 0;
}

// Value of every element of every slot of a new row.
HCTR_HOST_DEVICE inline float InitialSlotValue(const OptimizerOptions& opt) {
  return opt.type == OptimizerType::kAdagrad ? opt.initial_accu_value : 0.0f;
}

// Per-step scalars shared by all rows of step t (t >= 1).
struct StepScalars {
  float lr = 0.0f;        // the learning rate given for this step
  float adam_lr_t = 0.f;  // lr * sqrt(1 - beta2^t) / (1 - beta1^t), computed in double
};

inline StepScalars MakeStepScalars(const OptimizerOptions& opt, int64_t t, float lr) {
  StepScalars s;
  s.lr = lr;
  if (opt.type == OptimizerType::kAdam) {
    const double td = static_cast<double>(t);
    const double c2 = std::sqrt(1.0 - std::pow(static_cast<double>(opt.beta2), td));
    const double c1 = 1.0 - std::pow(static_cast<double>(opt.beta1), td);
    s.adam_lr_t = static_cast<float>(static_cast<double>(lr) * c2 / c1);
  }
  return s;
}

// True when a zero gradient leaves the row and its slots unchanged (no replay needed).
HCTR_HOST_DEVICE inline bool ZeroGradientIsNoOp(OptimizerType type) {
  return type == OptimizerType::kSGD || type == OptimizerType::kAdagrad;
}

#ifdef HCTR_ADAM_SSE
// Adam on elements [0, vec - vec % 4) of a row with a gradient, four at a time: the same float
// operations in the same order as the scalar loop of UpdateRow (each SSE operation is the IEEE
// operation of every lane, and sqrtps rounds as sqrtf does), so the result is bit-identical; the
// compiler does not vectorise the scalar loop itself because sqrtf may set errno.
// Returns the number of elements done.
inline int64_t AdamRowSse(float b1, float b2, float lr_t, float eps, int64_t vec, const float* g,
                          float* w, float* m, float* v) {
  const __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2);
  const __m128 vomb1 = _mm_set1_ps(1.0f - b1), vomb2 = _mm_set1_ps(1.0f - b2);
  const __m128 vlr = _mm_set1_ps(lr_t), veps = _mm_set1_ps(eps);
  const int64_t done = vec - vec % 4;
  for (int64_t j = 0; j < done; j += 4) {
    const __m128 gj = _mm_loadu_ps(g + j);
    const __m128 mj = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + j)), _mm_mul_ps(vomb1, gj));
    const __m128 vj =
        _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + j)), _mm_mul_ps(_mm_mul_ps(vomb2, gj), gj));
    _mm_storeu_ps(m + j, mj);
    _mm_storeu_ps(v + j, vj);
    const __m128 step = _mm_div_ps(_mm_mul_ps(vlr, mj), _mm_add_ps(_mm_sqrt_ps(vj), veps));
    _mm_storeu_ps(w + j, _mm_sub_ps(_mm_loadu_ps(w + j), step));
  }
  return done;
}
#endif

// Applies one optimizer step to a row. `g` may be null: a zero gradient (Global / LazyGlobal
// steps of rows that were not hit). The expressions are identical for both cases, so a replayed
// zero step equals the step Global would have taken.
HCTR_HOST_DEVICE inline void UpdateRow(const OptimizerOptions& opt, const StepScalars& s,
                                       int64_t vec,
                                       const float* g,  // (vec) or null
                                       float* w,        // (vec)
                                       float* slots) {  // (NumOptimizerSlots, vec)
  switch (opt.type) {
    case OptimizerType::kSGD:
      if (g == nullptr) return;
      for (int64_t j = 0; j < vec; ++j) w[j] -= s.lr * g[j];
      return;
    case OptimizerType::kMomentumSGD: {
      float* m = slots;
      for (int64_t j = 0; j < vec; ++j) {
        const float gj = g ? g[j] : 0.0f;
        m[j] = opt.momentum_factor * m[j] - s.lr * gj;
        w[j] += m[j];
      }
      return;
    }
    case OptimizerType::kNesterov: {
      float* m = slots;
      const float mu = opt.momentum_factor;
      for (int64_t j = 0; j < vec; ++j) {
        const float gj = g ? g[j] : 0.0f;
        const float m_old = m[j];
        m[j] = mu * m[j] - s.lr * gj;
        w[j] += -mu * m_old + (1.0f + mu) * m[j];
      }
      return;
    }
    case OptimizerType::kAdagrad: {
      if (g == nullptr) return;
      float* a = slots;
      for (int64_t j = 0; j < vec; ++j) {
        a[j] += g[j] * g[j];
        w[j] -= s.lr * g[j] / (sqrtf(a[j]) + opt.epsilon);
      }
      return;
    }
    case OptimizerType::kAdam: {
      float* m = slots;
      float* v = slots + vec;
      const float b1 = opt.beta1, b2 = opt.beta2;
      const float one_minus_b1 = 1.0f - b1, one_minus_b2 = 1.0f - b2;
      int64_t j0 = 0;
#ifdef HCTR_ADAM_SSE
      if (g != nullptr) j0 = AdamRowSse(b1, b2, s.adam_lr_t, opt.epsilon, vec, g, w, m, v);
#endif
      for (int64_t j = j0; j < vec; ++j) {
        const float gj = g ? g[j] : 0.0f;
        m[j] = b1 * m[j] + one_minus_b1 * gj;
        v[j] = b2 * v[j] + one_minus_b2 * gj * gj;
        w[j] -= s.adam_lr_t * m[j] / (sqrtf(v[j]) + opt.epsilon);
      }
      return;
    }
  }
}

}  // namespace hugectr_tf
