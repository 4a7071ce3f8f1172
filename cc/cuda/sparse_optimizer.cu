// Element-wise sparse optimizer kernels (one thread per (row, column)).

#include <cmath>

#include "cc/core/embedding/row_init.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/sparse_optimizer.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

struct Hyper {
  OptimizerType type;
  float beta1, beta2, epsilon, mu;
  bool zero_noop;  // SGD / Adagrad: a zero gradient changes nothing, skip it (as the CPU core)
};

// One optimizer step of one element; lr is the step's effective rate. Written operation by
// operation as in EMBEDDING_SEMANTICS.md so the float32 rounding follows the CPU core.
__device__ inline void Step(const Hyper& h, float g, float lr, float& w, float* s0, float* s1) {
  switch (h.type) {
    case OptimizerType::kSGD:
      w = w - lr * g;
      break;
    case OptimizerType::kMomentumSGD: {
      const float m = h.mu * *s0 - lr * g;
      *s0 = m;
      w = w + m;
      break;
    }
    case OptimizerType::kNesterov: {
      const float m_old = *s0;
      const float m = h.mu * m_old - lr * g;
      *s0 = m;
      w = w + (-h.mu * m_old + (1.0f + h.mu) * m);
      break;
    }
    case OptimizerType::kAdagrad: {
      const float a = *s0 + g * g;
      *s0 = a;
      w = w - lr * g / (sqrtf(a) + h.epsilon);
      break;
    }
    case OptimizerType::kAdam: {
      const float m = h.beta1 * *s0 + (1.0f - h.beta1) * g;
      const float v = h.beta2 * *s1 + (1.0f - h.beta2) * g * g;
      *s0 = m;
      *s1 = v;
      w = w - lr * m / (sqrtf(v) + h.epsilon);
      break;
    }
  }
}

__device__ inline void UpdateElement(const Hyper& h, const TableView& t, int64_t idx, float g,
                                     float lr) {
  float w = t.weights[idx];
  float s0 = t.slot0 ? t.slot0[idx] : 0.f;
  float s1 = t.slot1 ? t.slot1[idx] : 0.f;
  Step(h, g, lr, w, &s0, &s1);
  t.weights[idx] = w;
  if (t.slot0) t.slot0[idx] = s0;
  if (t.slot1) t.slot1[idx] = s1;
}

__global__ void LocalKernel(Hyper h, TableView t, const float* __restrict__ step_lr, int64_t step,
                            const int64_t* __restrict__ rows, const float* __restrict__ grads,
                            int64_t num) {
  const float lr = step_lr[step];
  const int64_t total = num * t.vec;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = e / t.vec, j = e - k * t.vec;
    UpdateElement(h, t, rows[k] * t.vec + j, grads[e], lr);
  }
}

__global__ void ScatterGradIndexKernel(const int64_t* __restrict__ rows, int64_t num,
                                       int32_t* __restrict__ row_to_grad) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < num;
       k += (int64_t)gridDim.x * blockDim.x) {
    row_to_grad[rows[k]] = static_cast<int32_t>(k);
  }
}

__global__ void GlobalKernel(Hyper h, TableView t, const float* __restrict__ step_lr, int64_t step,
                             const float* __restrict__ grads,
                             const int32_t* __restrict__ row_to_grad, int64_t table_rows) {
  const float lr = step_lr[step];
  const int64_t total = table_rows * t.vec;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = e / t.vec, j = e - r * t.vec;
    const int32_t k = row_to_grad[r];
    if (k >= 0) {
      UpdateElement(h, t, e, grads[static_cast<int64_t>(k) * t.vec + j], lr);
    } else if (!h.zero_noop) {
      UpdateElement(h, t, e, 0.f, lr);
    }
    if (j == 0) t.last_step[r] = step;  // as the CPU core: every row is now up to date
  }
}

// Replays the zero-gradient steps a row missed, then applies this step's gradient.
__global__ void LazyGlobalKernel(Hyper h, TableView t, const float* __restrict__ step_lr,
                                 int64_t step, const int64_t* __restrict__ rows,
                                 const float* __restrict__ grads, int64_t num) {
  const int64_t total = num * t.vec;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t k = e / t.vec, j = e - k * t.vec;
    const int64_t r = rows[k];
    const int64_t idx = r * t.vec + j;
    float w = t.weights[idx];
    float s0 = t.slot0 ? t.slot0[idx] : 0.f;
    float s1 = t.slot1 ? t.slot1[idx] : 0.f;
    if (!h.zero_noop) {
      for (int64_t s = t.last_step[r] + 1; s < step; ++s) Step(h, 0.f, step_lr[s], w, &s0, &s1);
    }
    Step(h, grads[e], step_lr[step], w, &s0, &s1);
    t.weights[idx] = w;
    if (t.slot0) t.slot0[idx] = s0;
    if (t.slot1) t.slot1[idx] = s1;
  }
}

// Separate launch: every column thread of a row must read last_step before it changes.
__global__ void MarkStepKernel(int64_t* last_step, const int64_t* __restrict__ rows, int64_t num,
                               int64_t step) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < num;
       k += (int64_t)gridDim.x * blockDim.x) {
    last_step[rows[k]] = step;
  }
}

__global__ void InitRowsKernel(TableView t, const int64_t* __restrict__ row_keys, int64_t begin,
                               int64_t end, uint64_t seed, float bound, float accu,
                               int64_t step_now) {
  const int64_t total = (end - begin) * t.vec;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = begin + e / t.vec, j = e % t.vec;
    const int64_t idx = r * t.vec + j;
    t.weights[idx] = ::hugectr_tf::InitialRowValue(row_keys[r], seed, j, bound);
    if (t.slot0) t.slot0[idx] = accu;
    if (t.slot1) t.slot1[idx] = 0.f;
    if (j == 0) t.last_step[r] = step_now;
  }
}

Hyper MakeHyper(const OptimizerParams& p) {
  return Hyper{p.type, p.beta1, p.beta2, p.epsilon, p.momentum_factor,
               ::hugectr_tf::ZeroGradientIsNoOp(p.type)};
}

}  // namespace

double EffectiveLearningRate(const OptimizerParams& p, double lr, int64_t step) {
  if (p.type != OptimizerType::kAdam) return lr;
  const double t = static_cast<double>(step);
  return lr * std::sqrt(1.0 - std::pow(static_cast<double>(p.beta2), t)) /
         (1.0 - std::pow(static_cast<double>(p.beta1), t));
}

void SparseApply(const OptimizerParams& p, const TableView& t, const float* step_lr, int64_t step,
                 const int64_t* rows, const float* grads, int64_t num, int64_t table_rows,
                 int32_t* row_to_grad, cudaStream_t stream) {
  const Hyper h = MakeHyper(p);
  switch (p.update) {
    case UpdateType::kLocal:
      if (num == 0) return;
      LocalKernel<<<GridFor(num * t.vec), kBlock, 0, stream>>>(h, t, step_lr, step, rows, grads,
                                                               num);
      HCTR_CUDA_CHECK_LAUNCH();
      MarkStepKernel<<<GridFor(num), kBlock, 0, stream>>>(t.last_step, rows, num, step);
      HCTR_CUDA_CHECK_LAUNCH();
      return;
    case UpdateType::kLazyGlobal:
      if (num == 0) return;
      LazyGlobalKernel<<<GridFor(num * t.vec), kBlock, 0, stream>>>(h, t, step_lr, step, rows,
                                                                     grads, num);
      HCTR_CUDA_CHECK_LAUNCH();
      MarkStepKernel<<<GridFor(num), kBlock, 0, stream>>>(t.last_step, rows, num, step);
      HCTR_CUDA_CHECK_LAUNCH();
      return;
    case UpdateType::kGlobal:
      if (table_rows == 0) return;
      HCTR_CUDA_CHECK(cudaMemsetAsync(row_to_grad, 0xFF, table_rows * sizeof(int32_t), stream));
      if (num > 0) {
        ScatterGradIndexKernel<<<GridFor(num), kBlock, 0, stream>>>(rows, num, row_to_grad);
        HCTR_CUDA_CHECK_LAUNCH();
      }
      GlobalKernel<<<GridFor(table_rows * t.vec), kBlock, 0, stream>>>(
          h, t, step_lr, step, grads, row_to_grad, table_rows);
      HCTR_CUDA_CHECK_LAUNCH();
      return;
  }
}

void InitRows(const OptimizerParams& p, const TableView& t, const int64_t* row_keys, int64_t begin,
              int64_t end, uint64_t seed, float bound, int64_t step_now, cudaStream_t stream) {
  if (end <= begin) return;
  const float accu = p.type == OptimizerType::kAdagrad ? p.initial_accu_value : 0.f;
  InitRowsKernel<<<GridFor((end - begin) * t.vec), kBlock, 0, stream>>>(t, row_keys, begin, end,
                                                                       seed, bound, accu, step_now);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
