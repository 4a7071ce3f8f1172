// Forward kernel: a group of G lanes (G = power of two <= 32) per bag, each lane owning `VecT`
// wide columns, so a 128-float row is read by one warp as 32 coalesced 16-byte loads.

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/embedding_forward.cuh"
#include "cc/cuda/vec_math.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

template <typename VecT>
__global__ void ForwardKernel(const VecT* __restrict__ weights, int64_t units,
                              const int64_t* __restrict__ value_rows,
                              const int64_t* __restrict__ row_splits, int64_t num_bags, int group,
                              bool mean, VecT* __restrict__ out) {
  const int lane = threadIdx.x % group;
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);
  for (int64_t bag = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group;
       bag < num_bags; bag += groups_per_grid) {
    const int64_t begin = row_splits[bag];
    const int64_t end = row_splits[bag + 1];
    for (int64_t u = lane; u < units; u += group) {
      VecT acc;
      Zero(acc);
#pragma unroll 4
      for (int64_t p = begin; p < end; ++p) {
        const int64_t r = value_rows[p];
        if (r >= 0) AddTo(acc, weights[r * units + u]);
      }
      if (mean && end > begin) Divide(acc, static_cast<float>(end - begin));
      out[bag * units + u] = acc;
    }
  }
}

// As ForwardKernel, with rows from two arrays (see EmbeddingForwardSources). filter: 0 all
// bags, 1 bags with no remote position, 2 bags with one.
template <typename VecT>
__global__ void SourcesForwardKernel(const VecT* __restrict__ weights,
                                     const VecT* __restrict__ remote, int64_t units,
                                     const int64_t* __restrict__ src,
                                     const int64_t* __restrict__ row_splits, int64_t num_bags,
                                     int group, bool mean, int filter, VecT* __restrict__ out) {
  const int lane = threadIdx.x % group;
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);
  for (int64_t bag = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group;
       bag < num_bags; bag += groups_per_grid) {
    const int64_t begin = row_splits[bag];
    const int64_t end = row_splits[bag + 1];
    if (filter != 0) {
      bool has_remote = false;
      for (int64_t p = begin; p < end && !has_remote; ++p) has_remote = src[p] <= -2;
      if (has_remote != (filter == 2)) continue;  // the same for every lane of the group
    }
    for (int64_t u = lane; u < units; u += group) {
      VecT acc;
      Zero(acc);
#pragma unroll 4
      for (int64_t p = begin; p < end; ++p) {
        const int64_t r = src[p];
        if (r >= 0) {
          AddTo(acc, weights[r * units + u]);
        } else if (r <= -2) {
          AddTo(acc, remote[(-r - 2) * units + u]);
        }
      }
      if (mean && end > begin) Divide(acc, static_cast<float>(end - begin));
      out[bag * units + u] = acc;
    }
  }
}

}  // namespace

void EmbeddingForwardSources(const float* weights, const float* remote, int vec, const int64_t* src,
                             const int64_t* row_splits, int64_t num_bags, Combiner combiner,
                             BagFilter bags, float* out, cudaStream_t stream) {
  if (num_bags == 0) return;
  const bool mean = combiner == Combiner::kMean;
  const int filter = bags == BagFilter::kAll ? 0 : bags == BagFilter::kLocalOnly ? 1 : 2;
  const bool wide = vec % 4 == 0 && reinterpret_cast<uintptr_t>(weights) % 16 == 0 &&
                    reinterpret_cast<uintptr_t>(remote) % 16 == 0 &&
                    reinterpret_cast<uintptr_t>(out) % 16 == 0;
  const int64_t units = wide ? vec / 4 : vec;
  const int group = GroupSize(units);
  const int grid = GridFor(num_bags, kBlock / group, int64_t{1} << 24);
  if (wide) {
    SourcesForwardKernel<float4><<<grid, kBlock, 0, stream>>>(
        reinterpret_cast<const float4*>(weights), reinterpret_cast<const float4*>(remote), units,
        src, row_splits, num_bags, group, mean, filter, reinterpret_cast<float4*>(out));
  } else {
    SourcesForwardKernel<float><<<grid, kBlock, 0, stream>>>(
        weights, remote, units, src, row_splits, num_bags, group, mean, filter, out);
  }
  HCTR_CUDA_CHECK_LAUNCH();
}

void EmbeddingForward(const float* weights, int vec, const int64_t* value_rows,
                      const int64_t* row_splits, int64_t num_bags, Combiner combiner, float* out,
                      cudaStream_t stream) {
  if (num_bags == 0) return;
  const bool mean = combiner == Combiner::kMean;
  const bool wide = vec % 4 == 0 && reinterpret_cast<uintptr_t>(weights) % 16 == 0 &&
                    reinterpret_cast<uintptr_t>(out) % 16 == 0;
  const int64_t units = wide ? vec / 4 : vec;
  const int group = GroupSize(units);
  const int bags_per_block = kBlock / group;
  const int grid = GridFor(num_bags, bags_per_block, int64_t{1} << 24);
  if (wide) {
    ForwardKernel<float4><<<grid, kBlock, 0, stream>>>(reinterpret_cast<const float4*>(weights),
                                                       units, value_rows, row_splits, num_bags,
                                                       group, mean, reinterpret_cast<float4*>(out));
  } else {
    ForwardKernel<float><<<grid, kBlock, 0, stream>>>(weights, units, value_rows, row_splits,
                                                      num_bags, group, mean, out);
  }
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
