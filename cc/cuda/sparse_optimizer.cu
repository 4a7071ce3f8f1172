// Element-wise sparse optimizer kernels (one thread per (row, column)).

#include <cmath>

#include "cc/core/embedding/row_init.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/sparse_optimizer.cuh"
#include "cc/cuda/vec_math.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

struct Hyper {
  OptimizerType type;
  float beta1, beta2, epsilon, mu;
  bool zero_noop;  // SGD / Adagrad: a zero gradient changes nothing, skip it (as the CPU core)
};

// One optimizer step of one element; lr is the step's effective rate. Written operation by
// operation as the CPU core's UpdateRow, with explicitly rounded intrinsics so that no build flag
// (nvcc contracts a*b+c into one fused multiply-add by default) changes the float32 result:
// GPU and CPU rows stay bit-identical.
__device__ inline void Step(const Hyper& h, float g, float lr, float& w, float* s0, float* s1) {
  switch (h.type) {
    case OptimizerType::kSGD:
      w = __fsub_rn(w, __fmul_rn(lr, g));
      break;
    case OptimizerType::kMomentumSGD: {
      const float m = __fsub_rn(__fmul_rn(h.mu, *s0), __fmul_rn(lr, g));
      *s0 = m;
      w = __fadd_rn(w, m);
      break;
    }
    case OptimizerType::kNesterov: {
      const float m_old = *s0;
      const float m = __fsub_rn(__fmul_rn(h.mu, m_old), __fmul_rn(lr, g));
      *s0 = m;
      w = __fadd_rn(w, __fadd_rn(__fmul_rn(-h.mu, m_old), __fmul_rn(__fadd_rn(1.0f, h.mu), m)));
      break;
    }
    case OptimizerType::kAdagrad: {
      const float a = __fadd_rn(*s0, __fmul_rn(g, g));
      *s0 = a;
      w = __fsub_rn(w, __fdiv_rn(__fmul_rn(lr, g), __fadd_rn(__fsqrt_rn(a), h.epsilon)));
      break;
    }
    case OptimizerType::kAdam: {
      const float m = __fadd_rn(__fmul_rn(h.beta1, *s0), __fmul_rn(__fsub_rn(1.0f, h.beta1), g));
      const float v =
          __fadd_rn(__fmul_rn(h.beta2, *s1), __fmul_rn(__fmul_rn(__fsub_rn(1.0f, h.beta2), g), g));
      *s0 = m;
      *s1 = v;
      w = __fsub_rn(w, __fdiv_rn(__fmul_rn(lr, m), __fadd_rn(__fsqrt_rn(v), h.epsilon)));
      break;
    }
  }
}

// Row kernels: a group of G lanes per row, each lane owning VecT-wide columns (16-byte accesses
// when vec % 4 == 0). Slot pointers are null when the optimizer has fewer slots.
template <typename VecT>
struct RowPtrs {
  VecT* w;
  VecT* s0;
  VecT* s1;
};

template <typename VecT>
__device__ inline void UpdateUnit(const Hyper& h, const RowPtrs<VecT>& t, int64_t idx, VecT g,
                                  float lr) {
  VecT w = t.w[idx], s0, s1;
  if (t.s0) s0 = t.s0[idx];
  if (t.s1) s1 = t.s1[idx];
  ForEach(w, s0, s1, g,
          [&](float& wc, float& a, float& b, float gc) { Step(h, gc, lr, wc, &a, &b); });
  t.w[idx] = w;
  if (t.s0) t.s0[idx] = s0;
  if (t.s1) t.s1[idx] = s1;
}

// The rows to apply: num, or fewer when the count lives on the device.
__device__ inline int64_t RowsToApply(int64_t num, const unsigned int* device_num) {
  if (device_num == nullptr) return num;
  const int64_t d = static_cast<int64_t>(*device_num);
  return d < num ? d : num;
}

#define HCTR_FOR_EACH_GROUP(index, limit)                                                \
  const int lane = threadIdx.x % group;                                                  \
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);             \
  for (int64_t index = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group; \
       index < (limit); index += groups_per_grid)

template <typename VecT>
__global__ void LocalKernel(Hyper h, RowPtrs<VecT> t, int64_t units, int group,
                            const float* __restrict__ step_lr, int64_t step,
                            const int64_t* __restrict__ rows, const VecT* __restrict__ grads,
                            int64_t num, const unsigned int* device_num) {
  const float lr = step_lr[step];
  const int64_t count = RowsToApply(num, device_num);
  HCTR_FOR_EACH_GROUP(k, count) {
    const int64_t r = rows[k];
    for (int64_t uu = lane; uu < units; uu += group) {
      UpdateUnit(h, t, r * units + uu, grads[k * units + uu], lr);
    }
  }
}

__global__ void ScatterGradIndexKernel(const int64_t* __restrict__ rows, int64_t num,
                                       const unsigned int* device_num,
                                       int32_t* __restrict__ row_to_grad) {
  const int64_t count = RowsToApply(num, device_num);
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < count;
       k += (int64_t)gridDim.x * blockDim.x) {
    row_to_grad[rows[k]] = static_cast<int32_t>(k);
  }
}

template <typename VecT>
__global__ void GlobalKernel(Hyper h, RowPtrs<VecT> t, int64_t units, int group,
                             int64_t* __restrict__ last_step, const float* __restrict__ step_lr,
                             int64_t step, const VecT* __restrict__ grads,
                             const int32_t* __restrict__ row_to_grad, int64_t table_rows) {
  const float lr = step_lr[step];
  HCTR_FOR_EACH_GROUP(r, table_rows) {
    const int32_t k = row_to_grad[r];
    if (k >= 0 || !h.zero_noop) {
      for (int64_t uu = lane; uu < units; uu += group) {
        VecT g;
        if (k >= 0) {
          g = grads[static_cast<int64_t>(k) * units + uu];
        } else {
          Zero(g);
        }
        UpdateUnit(h, t, r * units + uu, g, lr);
      }
    }
    if (lane == 0) last_step[r] = step;  // as the CPU core: every row is now up to date
  }
}

// Replays the zero-gradient steps a row missed, then applies this step's gradient.
template <typename VecT>
__global__ void LazyGlobalKernel(Hyper h, RowPtrs<VecT> t, int64_t units, int group,
                                 const int64_t* __restrict__ last_step,
                                 const float* __restrict__ step_lr, int64_t step,
                                 const int64_t* __restrict__ rows, const VecT* __restrict__ grads,
                                 int64_t num, const unsigned int* device_num) {
  const int64_t count = RowsToApply(num, device_num);
  HCTR_FOR_EACH_GROUP(k, count) {
    const int64_t r = rows[k];
    const int64_t first_missed = h.zero_noop ? step : last_step[r] + 1;
    for (int64_t uu = lane; uu < units; uu += group) {
      const int64_t idx = r * units + uu;
      VecT zero;
      Zero(zero);
      for (int64_t s = first_missed; s < step; ++s) UpdateUnit(h, t, idx, zero, step_lr[s]);
      UpdateUnit(h, t, idx, grads[k * units + uu], step_lr[step]);
    }
  }
}

// Separate launch: every lane of a row must have read last_step before it changes.
__global__ void MarkStepKernel(int64_t* last_step, const int64_t* __restrict__ rows, int64_t num,
                               const unsigned int* device_num, int64_t step) {
  const int64_t count = RowsToApply(num, device_num);
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < count;
       k += (int64_t)gridDim.x * blockDim.x) {
    last_step[rows[k]] = step;
  }
}

__global__ void InitRowsKernel(TableView t, const int64_t* __restrict__ row_keys, int64_t begin,
                               int64_t end, uint64_t seed,
                               const int64_t* __restrict__ one_hot_offsets, int64_t num_slots,
                               float accu, int64_t step_now) {
  const int64_t total = (end - begin) * t.vec;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = begin + e / t.vec, j = e % t.vec;
    const int64_t idx = r * t.vec + j;
    const int64_t key = row_keys[r];
    const float bound = one_hot_offsets != nullptr
                            ? ::hugectr_tf::OneHotInitBound(key, one_hot_offsets, num_slots)
                            : ::hugectr_tf::kHashInitBound;
    t.weights[idx] = ::hugectr_tf::InitialRowValue(key, seed, j, bound);
    if (t.slot0) t.slot0[idx] = accu;
    if (t.slot1) t.slot1[idx] = 0.f;
    if (j == 0) t.last_step[r] = step_now;
  }
}

Hyper MakeHyper(const OptimizerParams& p) {
  return Hyper{p.type,    p.beta1,           p.beta2,
               p.epsilon, p.momentum_factor, ::hugectr_tf::ZeroGradientIsNoOp(p.type)};
}

}  // namespace

double EffectiveLearningRate(const OptimizerParams& p, double lr, int64_t step) {
  if (p.type != OptimizerType::kAdam) return lr;
  const double t = static_cast<double>(step);
  return lr * std::sqrt(1.0 - std::pow(static_cast<double>(p.beta2), t)) /
         (1.0 - std::pow(static_cast<double>(p.beta1), t));
}

namespace {

template <typename VecT>
void LaunchApply(const Hyper& h, const TableView& t, const float* step_lr, int64_t step,
                 UpdateType update, const int64_t* rows, const float* grads_f, int64_t num,
                 const unsigned int* device_num, int64_t table_rows, int32_t* row_to_grad,
                 cudaStream_t stream) {
  const int64_t units = t.vec / (sizeof(VecT) / sizeof(float));
  const int group = GroupSize(units);
  const int per_block = kBlock / group;
  const RowPtrs<VecT> ptrs{reinterpret_cast<VecT*>(t.weights), reinterpret_cast<VecT*>(t.slot0),
                           reinterpret_cast<VecT*>(t.slot1)};
  const auto* grads = reinterpret_cast<const VecT*>(grads_f);
  switch (update) {
    case UpdateType::kLocal:
      if (num == 0) return;
      LocalKernel<VecT><<<GridFor(num, per_block), kBlock, 0, stream>>>(
          h, ptrs, units, group, step_lr, step, rows, grads, num, device_num);
      HCTR_CUDA_CHECK_LAUNCH();
      MarkStepKernel<<<GridFor(num), kBlock, 0, stream>>>(t.last_step, rows, num, device_num, step);
      HCTR_CUDA_CHECK_LAUNCH();
      return;
    case UpdateType::kLazyGlobal:
      if (num == 0) return;
      LazyGlobalKernel<VecT><<<GridFor(num, per_block), kBlock, 0, stream>>>(
          h, ptrs, units, group, t.last_step, step_lr, step, rows, grads, num, device_num);
      HCTR_CUDA_CHECK_LAUNCH();
      MarkStepKernel<<<GridFor(num), kBlock, 0, stream>>>(t.last_step, rows, num, device_num, step);
      HCTR_CUDA_CHECK_LAUNCH();
      return;
    case UpdateType::kGlobal:
      if (table_rows == 0) return;
      HCTR_CUDA_CHECK(cudaMemsetAsync(row_to_grad, 0xFF, table_rows * sizeof(int32_t), stream));
      if (num > 0) {
        ScatterGradIndexKernel<<<GridFor(num), kBlock, 0, stream>>>(rows, num, device_num,
                                                                    row_to_grad);
        HCTR_CUDA_CHECK_LAUNCH();
      }
      GlobalKernel<VecT><<<GridFor(table_rows, per_block), kBlock, 0, stream>>>(
          h, ptrs, units, group, t.last_step, step_lr, step, grads, row_to_grad, table_rows);
      HCTR_CUDA_CHECK_LAUNCH();
      return;
  }
}

}  // namespace

void SparseApply(const OptimizerParams& p, const TableView& t, const float* step_lr, int64_t step,
                 const int64_t* rows, const float* grads, int64_t num, int64_t table_rows,
                 int32_t* row_to_grad, cudaStream_t stream, const unsigned int* device_num) {
  const Hyper h = MakeHyper(p);
  const bool wide = t.vec % 4 == 0 && reinterpret_cast<uintptr_t>(grads) % 16 == 0;
  if (wide) {
    LaunchApply<float4>(h, t, step_lr, step, p.update, rows, grads, num, device_num, table_rows,
                        row_to_grad, stream);
  } else {
    LaunchApply<float>(h, t, step_lr, step, p.update, rows, grads, num, device_num, table_rows,
                       row_to_grad, stream);
  }
}

void InitRows(const OptimizerParams& p, const TableView& t, const int64_t* row_keys, int64_t begin,
              int64_t end, uint64_t seed, const int64_t* one_hot_offsets, int64_t num_slots,
              int64_t step_now, cudaStream_t stream) {
  if (end <= begin) return;
  const float accu = p.type == OptimizerType::kAdagrad ? p.initial_accu_value : 0.f;
  InitRowsKernel<<<GridFor((end - begin) * t.vec), kBlock, 0, stream>>>(
      t, row_keys, begin, end, seed, one_hot_offsets, num_slots, accu, step_now);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
