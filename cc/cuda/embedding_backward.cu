// Backward kernels (see embedding_backward.cuh for the summation order).

#include "cc/core/check.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/embedding_backward.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

constexpr int kBackwardBlock = 256;

// bag_scale[p] = bag of value p; scale (1 or 1/nnz) is recomputed from row_splits when needed.
__global__ void BagOfValueKernel(const int64_t* __restrict__ row_splits, int64_t num_bags,
                                 int64_t n, int32_t* __restrict__ bag_of_value) {
  for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < n;
       p += (int64_t)gridDim.x * blockDim.x) {
    bag_of_value[p] = static_cast<int32_t>(BagOfPosition(row_splits, num_bags, p));
  }
}

__device__ inline float Scale(const int64_t* row_splits, int32_t bag, bool mean) {
  return mean ? 1.0f / static_cast<float>(row_splits[bag + 1] - row_splits[bag]) : 1.0f;
}

// One group of G lanes per unique key; long segments are queued for LongSegmentKernel.
__global__ void ShortSegmentKernel(const float* __restrict__ dout, int vec,
                                   const int64_t* __restrict__ row_splits, bool mean,
                                   const int32_t* __restrict__ bag_of_value, UniqueOutputs u,
                                   int group, float* __restrict__ grads, int32_t* long_list,
                                   unsigned int* long_count) {
  const int lane = threadIdx.x % group;
  const int64_t num_unique = *u.num_unique;
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);
  for (int64_t k = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group;
       k < num_unique; k += groups_per_grid) {
    const int32_t begin = u.segment_starts[k];
    const int32_t end = u.segment_starts[k + 1];
    if (end - begin > kLongSegment) {
      if (lane == 0) long_list[atomicAdd(long_count, 1u)] = static_cast<int32_t>(k);
      continue;
    }
    for (int j = lane; j < vec; j += group) {
      float acc = 0.f;
      for (int32_t i = begin; i < end; ++i) {
        const int32_t bag = bag_of_value[u.sorted_positions[i]];
        const float d = dout[static_cast<int64_t>(bag) * vec + j];
        acc += mean ? d * Scale(row_splits, bag, true) : d;
      }
      grads[k * vec + j] = acc;
    }
  }
}

// One block per long segment: each of the block's groups sums a contiguous piece, then the
// pieces are added in piece order (fixed for a given block shape: deterministic).
__global__ void LongSegmentKernel(const float* __restrict__ dout, int vec,
                                  const int64_t* __restrict__ row_splits, bool mean,
                                  const int32_t* __restrict__ bag_of_value, UniqueOutputs u,
                                  int group, float* __restrict__ grads,
                                  const int32_t* __restrict__ long_list,
                                  const unsigned int* long_count) {
  __shared__ float partial[kBackwardBlock];
  const int lane = threadIdx.x % group;
  const int g = threadIdx.x / group;
  const int num_groups = blockDim.x / group;
  const unsigned int count = *long_count;
  for (unsigned int q = blockIdx.x; q < count; q += gridDim.x) {
    const int64_t k = long_list[q];
    const int64_t begin = u.segment_starts[k];
    const int64_t len = u.segment_starts[k + 1] - begin;
    const int64_t piece_begin = begin + len * g / num_groups;
    const int64_t piece_end = begin + len * (g + 1) / num_groups;
    for (int j0 = 0; j0 < vec; j0 += group) {
      const int j = j0 + lane;
      float acc = 0.f;
      if (j < vec) {
        for (int64_t i = piece_begin; i < piece_end; ++i) {
          const int32_t bag = bag_of_value[u.sorted_positions[i]];
          const float d = dout[static_cast<int64_t>(bag) * vec + j];
          acc += mean ? d * Scale(row_splits, bag, true) : d;
        }
      }
      partial[threadIdx.x] = acc;
      __syncthreads();
      if (g == 0 && j < vec) {
        float total = 0.f;
        for (int h = 0; h < num_groups; ++h) total += partial[h * group + lane];
        grads[k * vec + j] = total;
      }
      __syncthreads();
    }
  }
}

}  // namespace

size_t EmbeddingBackwardWorkspaceBytes(int64_t n) {
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  return 2 * Carver::Align(m * 4) + Carver::Align(sizeof(unsigned int));
}

void EmbeddingBackward(const float* dout, int vec, const int64_t* row_splits, int64_t num_bags,
                       Combiner combiner, int64_t n, const UniqueOutputs& u, void* workspace,
                       size_t workspace_bytes, float* grads, cudaStream_t stream) {
  HCTR_CHECK(workspace_bytes >= EmbeddingBackwardWorkspaceBytes(n),
             "EmbeddingBackward needs " << EmbeddingBackwardWorkspaceBytes(n)
                                        << " workspace bytes, got " << workspace_bytes);
  if (n == 0) return;
  Carver carve(workspace);
  int32_t* bag_of_value = carve.take<int32_t>(n);
  int32_t* long_list = carve.take<int32_t>(n);
  unsigned int* long_count = carve.take<unsigned int>(1);
  const bool mean = combiner == Combiner::kMean;
  const int group = GroupSize(vec);

  HCTR_CUDA_CHECK(cudaMemsetAsync(long_count, 0, sizeof(unsigned int), stream));
  BagOfValueKernel<<<GridFor(n), kBlock, 0, stream>>>(row_splits, num_bags, n, bag_of_value);
  HCTR_CUDA_CHECK_LAUNCH();
  // n bounds the unique count, which is only known on the device.
  ShortSegmentKernel<<<GridFor(n, kBackwardBlock / group, int64_t{1} << 24), kBackwardBlock, 0,
                       stream>>>(dout, vec, row_splits, mean, bag_of_value, u, group, grads,
                                 long_list, long_count);
  HCTR_CUDA_CHECK_LAUNCH();
  const int long_grid = GridFor(n / kLongSegment + 1, 1, 4096);
  LongSegmentKernel<<<long_grid, kBackwardBlock, 0, stream>>>(
      dout, vec, row_splits, mean, bag_of_value, u, group, grads, long_list, long_count);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
