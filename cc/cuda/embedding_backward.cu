// Backward kernels (see embedding_backward.cuh for the summation order).

#include <cub/device/device_scan.cuh>

#include "cc/core/check.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/embedding_backward.cuh"
#include "cc/cuda/unique.cuh"
#include "cc/cuda/vec_math.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

constexpr int kBatch = 8;  // occurrences whose loads are issued together inside a piece

__global__ void BagOfValueKernel(const int64_t* __restrict__ row_splits, int64_t num_bags,
                                 int64_t n, int32_t* __restrict__ bag_of_value) {
  for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < n;
       p += (int64_t)gridDim.x * blockDim.x) {
    bag_of_value[p] = static_cast<int32_t>(BagOfPosition(row_splits, num_bags, p));
  }
}

__device__ inline float MeanScale(const int64_t* row_splits, int32_t bag) {
  return 1.0f / static_cast<float>(row_splits[bag + 1] - row_splits[bag]);
}

// Sums occurrences [begin, end) of the sorted order into acc, left to right. Loads for kBatch
// occurrences are issued before their adds, so the dependent add chain does not wait on memory
// one occurrence at a time.
template <typename VecT>
__device__ inline VecT SumRange(const VecT* __restrict__ dout, int64_t units, int64_t uu,
                                const int64_t* __restrict__ row_splits, bool mean,
                                const int32_t* __restrict__ bag_of_value,
                                const int32_t* __restrict__ sorted_positions, int64_t begin,
                                int64_t end) {
  VecT acc;
  Zero(acc);
  int64_t i = begin;
  for (; i + kBatch <= end; i += kBatch) {
    int32_t bag[kBatch];
    VecT d[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) bag[b] = bag_of_value[sorted_positions[i + b]];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) d[b] = dout[static_cast<int64_t>(bag[b]) * units + uu];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      AddTo(acc, mean ? Scaled(d[b], MeanScale(row_splits, bag[b])) : d[b]);
    }
  }
  for (; i < end; ++i) {
    const int32_t bag = bag_of_value[sorted_positions[i]];
    const VecT d = dout[static_cast<int64_t>(bag) * units + uu];
    AddTo(acc, mean ? Scaled(d, MeanScale(row_splits, bag)) : d);
  }
  return acc;
}

// One group of G lanes per unique id with at most kBackwardPiece occurrences; hotter ids are
// queued for the piece kernels.
template <typename VecT>
__global__ void ShortKernel(const VecT* __restrict__ dout, int64_t units,
                            const int64_t* __restrict__ row_splits, bool mean,
                            const int32_t* __restrict__ bag_of_value, UniqueOutputs u, int group,
                            VecT* __restrict__ grads, int32_t* long_list,
                            unsigned int* long_count) {
  const int lane = threadIdx.x % group;
  const int64_t num_unique = *u.num_unique;
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);
  for (int64_t k = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group; k < num_unique;
       k += groups_per_grid) {
    const int64_t begin = u.segment_starts[k];
    const int64_t end = u.segment_starts[k + 1];
    if (end - begin > kBackwardPiece) {
      if (lane == 0) long_list[atomicAdd(long_count, 1u)] = static_cast<int32_t>(k);
      continue;
    }
    for (int64_t uu = lane; uu < units; uu += group) {
      grads[k * units + uu] =
          SumRange(dout, units, uu, row_splits, mean, bag_of_value, u.sorted_positions, begin, end);
    }
  }
}

// pieces[i] = number of kBackwardPiece pieces of queued id i (0 past the queue's end).
__global__ void PieceCountKernel(const int32_t* __restrict__ long_list,
                                 const unsigned int* long_count, UniqueOutputs u, int64_t max_long,
                                 int32_t* __restrict__ pieces) {
  const unsigned int count = *long_count;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i <= max_long;
       i += (int64_t)gridDim.x * blockDim.x) {
    int32_t c = 0;
    if (i < count) {
      const int32_t k = long_list[i];
      const int32_t len = u.segment_starts[k + 1] - u.segment_starts[k];
      c = (len + kBackwardPiece - 1) / kBackwardPiece;
    }
    pieces[i] = c;
  }
}

// One group per piece: its occurrences in position order, into partial[piece].
template <typename VecT>
__global__ void PieceKernel(const VecT* __restrict__ dout, int64_t units,
                            const int64_t* __restrict__ row_splits, bool mean,
                            const int32_t* __restrict__ bag_of_value, UniqueOutputs u, int group,
                            const int32_t* __restrict__ long_list, const unsigned int* long_count,
                            const int32_t* __restrict__ piece_offsets, VecT* __restrict__ partial) {
  const int lane = threadIdx.x % group;
  const unsigned int count = *long_count;
  const int64_t total = piece_offsets[count];
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);
  for (int64_t p = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group; p < total;
       p += groups_per_grid) {
    int64_t lo = 0, hi = count;  // last queued id whose first piece is <= p
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) >> 1;
      if (piece_offsets[mid] <= p) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const int32_t k = long_list[lo];
    const int64_t seg_begin = u.segment_starts[k], seg_end = u.segment_starts[k + 1];
    const int64_t begin = seg_begin + (p - piece_offsets[lo]) * kBackwardPiece;
    const int64_t end = begin + kBackwardPiece < seg_end ? begin + kBackwardPiece : seg_end;
    for (int64_t uu = lane; uu < units; uu += group) {
      partial[p * units + uu] =
          SumRange(dout, units, uu, row_splits, mean, bag_of_value, u.sorted_positions, begin, end);
    }
  }
}

// One group per hot id: its pieces added in piece order.
template <typename VecT>
__global__ void CombinePiecesKernel(int64_t units, const int32_t* __restrict__ long_list,
                                    const unsigned int* long_count,
                                    const int32_t* __restrict__ piece_offsets,
                                    const VecT* __restrict__ partial, int group,
                                    VecT* __restrict__ grads) {
  const int lane = threadIdx.x % group;
  const unsigned int count = *long_count;
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);
  for (int64_t i = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group; i < count;
       i += groups_per_grid) {
    const int64_t k = long_list[i];
    for (int64_t uu = lane; uu < units; uu += group) {
      VecT acc;
      Zero(acc);
      for (int64_t p = piece_offsets[i]; p < piece_offsets[i + 1]; ++p) {
        AddTo(acc, partial[p * units + uu]);
      }
      grads[k * units + uu] = acc;
    }
  }
}

// dense_starts[id] = start of id's occurrences for every id in [0, num_ids]: the segment start
// of the first unique id >= id (n past the last).
__global__ void DenseStartsKernel(UniqueOutputs u, int64_t num_ids, int64_t n,
                                  int32_t* __restrict__ dense_starts, int64_t* dense_count) {
  const int64_t present = *u.num_unique;
  if (blockIdx.x == 0 && threadIdx.x == 0) *dense_count = num_ids;
  for (int64_t id = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; id <= num_ids;
       id += (int64_t)gridDim.x * blockDim.x) {
    int64_t lo = 0, hi = present;  // first j with unique_keys[j] >= id
    while (lo < hi) {
      const int64_t mid = (lo + hi) >> 1;
      if (u.unique_keys[mid] < id) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    dense_starts[id] = lo < present ? u.segment_starts[lo] : static_cast<int32_t>(n);
  }
}

int64_t MaxLong(int64_t n) { return n / (kBackwardPiece + 1) + 1; }
int64_t MaxPieces(int64_t n) { return n / kBackwardPiece + MaxLong(n); }

size_t ScanBytes(int64_t items) {
  size_t bytes = 0;
  HCTR_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, static_cast<int32_t*>(nullptr),
                                                static_cast<int32_t*>(nullptr),
                                                static_cast<int>(items)));
  return bytes;
}

template <typename VecT>
void Launch(const float* dout_f, int vec, const int64_t* row_splits, bool mean, int64_t n,
            const UniqueOutputs& u, const int32_t* bag_of_value, int32_t* long_list,
            unsigned int* long_count, int32_t* pieces, int32_t* piece_offsets, void* scan_temp,
            size_t scan_bytes, float* partial_f, float* grads_f, cudaStream_t stream) {
  const int64_t units = vec / (sizeof(VecT) / sizeof(float));
  const int group = GroupSize(units);
  const auto* dout = reinterpret_cast<const VecT*>(dout_f);
  auto* partial = reinterpret_cast<VecT*>(partial_f);
  auto* grads = reinterpret_cast<VecT*>(grads_f);
  const int per_block = kBlock / group;
  const int64_t max_long = MaxLong(n);

  ShortKernel<VecT><<<GridFor(n, per_block, int64_t{1} << 24), kBlock, 0, stream>>>(
      dout, units, row_splits, mean, bag_of_value, u, group, grads, long_list, long_count);
  HCTR_CUDA_CHECK_LAUNCH();
  PieceCountKernel<<<GridFor(max_long + 1), kBlock, 0, stream>>>(long_list, long_count, u, max_long,
                                                                 pieces);
  HCTR_CUDA_CHECK_LAUNCH();
  HCTR_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scan_temp, scan_bytes, pieces, piece_offsets,
                                                static_cast<int>(max_long + 1), stream));
  PieceKernel<VecT><<<GridFor(MaxPieces(n), per_block), kBlock, 0, stream>>>(
      dout, units, row_splits, mean, bag_of_value, u, group, long_list, long_count, piece_offsets,
      partial);
  HCTR_CUDA_CHECK_LAUNCH();
  CombinePiecesKernel<VecT><<<GridFor(max_long, per_block), kBlock, 0, stream>>>(
      units, long_list, long_count, piece_offsets, partial, group, grads);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace

size_t EmbeddingBackwardWorkspaceBytes(int64_t n, int vec) {
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  const size_t ml = static_cast<size_t>(MaxLong(n)) + 1;
  return Carver::Align(m * 4) + 3 * Carver::Align(ml * 4) + Carver::Align(sizeof(unsigned int)) +
         Carver::Align(ScanBytes(ml)) +
         Carver::Align(static_cast<size_t>(MaxPieces(n)) * vec * sizeof(float));
}

void BagsOfPositions(const int64_t* row_splits, int64_t num_bags, int64_t n, int32_t* bags,
                     cudaStream_t stream) {
  HCTR_CHECK(num_bags < (int64_t{1} << 31),
             "a batch may hold at most 2^31-1 (sample, slot) bags; received " << num_bags);
  if (n == 0) return;
  BagOfValueKernel<<<GridFor(n), kBlock, 0, stream>>>(row_splits, num_bags, n, bags);
  HCTR_CUDA_CHECK_LAUNCH();
}

void EmbeddingBackward(const float* dout, int vec, const int64_t* row_splits, int64_t num_bags,
                       Combiner combiner, int64_t n, const UniqueOutputs& u, void* workspace,
                       size_t workspace_bytes, float* grads, cudaStream_t stream,
                       const int32_t* bags) {
  HCTR_CHECK(workspace_bytes >= EmbeddingBackwardWorkspaceBytes(n, vec),
             "EmbeddingBackward needs " << EmbeddingBackwardWorkspaceBytes(n, vec)
                                        << " workspace bytes, got " << workspace_bytes);
  if (n == 0) return;
  const size_t ml = static_cast<size_t>(MaxLong(n)) + 1;
  Carver carve(workspace);
  int32_t* bag_of_value = carve.take<int32_t>(n);
  int32_t* long_list = carve.take<int32_t>(ml);
  int32_t* pieces = carve.take<int32_t>(ml);
  int32_t* piece_offsets = carve.take<int32_t>(ml);
  auto* long_count = carve.take<unsigned int>(1);
  const size_t scan_bytes = ScanBytes(ml);
  void* scan_temp = carve.take<char>(scan_bytes);
  float* partial = carve.take<float>(static_cast<size_t>(MaxPieces(n)) * vec);
  const bool mean = combiner == Combiner::kMean;

  HCTR_CUDA_CHECK(cudaMemsetAsync(long_count, 0, sizeof(unsigned int), stream));
  if (bags == nullptr) {
    BagOfValueKernel<<<GridFor(n), kBlock, 0, stream>>>(row_splits, num_bags, n, bag_of_value);
    HCTR_CUDA_CHECK_LAUNCH();
    bags = bag_of_value;
  }
  const bool wide = vec % 4 == 0 && reinterpret_cast<uintptr_t>(dout) % 16 == 0 &&
                    reinterpret_cast<uintptr_t>(grads) % 16 == 0;
  if (wide) {
    Launch<float4>(dout, vec, row_splits, mean, n, u, bags, long_list, long_count, pieces,
                   piece_offsets, scan_temp, scan_bytes, partial, grads, stream);
  } else {
    Launch<float>(dout, vec, row_splits, mean, n, u, bags, long_list, long_count, pieces,
                  piece_offsets, scan_temp, scan_bytes, partial, grads, stream);
  }
}

size_t BackwardByIdsWorkspaceBytes(int64_t n, int vec) {
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  return Carver::Align(m * 4) + Carver::Align((m + 1) * 4) + SortedUniqueWorkspaceBytes(n) +
         EmbeddingBackwardWorkspaceBytes(n, vec);
}

void BackwardByIds(const int64_t* ids, int64_t n, const int64_t* row_splits, int64_t num_bags,
                   Combiner combiner, const float* dout, int vec, void* workspace,
                   size_t workspace_bytes, int64_t* unique_ids, float* grads, int64_t* num_unique,
                   cudaStream_t stream) {
  HCTR_CHECK(workspace_bytes >= BackwardByIdsWorkspaceBytes(n, vec),
             "BackwardByIds needs " << BackwardByIdsWorkspaceBytes(n, vec)
                                    << " workspace bytes, got " << workspace_bytes);
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  const size_t unique_bytes = SortedUniqueWorkspaceBytes(n);
  const size_t backward_bytes = EmbeddingBackwardWorkspaceBytes(n, vec);
  Carver carve(workspace);
  UniqueOutputs u{unique_ids, carve.take<int32_t>(m), carve.take<int32_t>(m + 1), num_unique};
  void* unique_ws = carve.take<char>(unique_bytes);
  void* backward_ws = carve.take<char>(backward_bytes);
  SortedUnique(ids, n, unique_ws, unique_bytes, u, stream);
  EmbeddingBackward(dout, vec, row_splits, num_bags, combiner, n, u, backward_ws, backward_bytes,
                    grads, stream);
}

size_t BackwardDenseIdsWorkspaceBytes(int64_t n, int64_t num_ids, int vec) {
  HCTR_CHECK(num_ids >= 0 && num_ids < (int64_t{1} << 31),
             "the GPU backward handles up to 2^31-1 keys; received " << num_ids);
  const size_t m = static_cast<size_t>(n > 0 ? n : 1);
  return Carver::Align(m * 8) + Carver::Align(m * 4) + Carver::Align((m + 1) * 4) +
         Carver::Align(8) + Carver::Align((static_cast<size_t>(num_ids) + 1) * 4) +
         Carver::Align(8) + SortedUniqueWorkspaceBytes(n) + EmbeddingBackwardWorkspaceBytes(n, vec);
}

void BackwardDenseIds(const int64_t* ids, int64_t n, int64_t num_ids, const int64_t* row_splits,
                      int64_t num_bags, Combiner combiner, const float* dout, int vec,
                      void* workspace, size_t workspace_bytes, float* grads, cudaStream_t stream) {
  const size_t need = BackwardDenseIdsWorkspaceBytes(n, num_ids, vec);
  HCTR_CHECK(workspace_bytes >= need,
             "BackwardDenseIds needs " << need << " workspace bytes, got " << workspace_bytes);
  if (num_ids == 0 || vec == 0) return;
  if (n == 0) {
    HCTR_CUDA_CHECK(cudaMemsetAsync(grads, 0, num_ids * vec * sizeof(float), stream));
    return;
  }
  const size_t m = static_cast<size_t>(n);
  Carver carve(workspace);
  UniqueOutputs u{carve.take<int64_t>(m), carve.take<int32_t>(m), carve.take<int32_t>(m + 1),
                  carve.take<int64_t>(1)};
  int32_t* dense_starts = carve.take<int32_t>(static_cast<size_t>(num_ids) + 1);
  int64_t* dense_count = carve.take<int64_t>(1);
  const size_t unique_bytes = SortedUniqueWorkspaceBytes(n);
  void* unique_ws = carve.take<char>(unique_bytes);
  const size_t backward_bytes = EmbeddingBackwardWorkspaceBytes(n, vec);
  void* backward_ws = carve.take<char>(backward_bytes);
  SortedUnique(ids, n, unique_ws, unique_bytes, u, stream);
  DenseStartsKernel<<<GridFor(num_ids + 1), kBlock, 0, stream>>>(u, num_ids, n, dense_starts,
                                                                 dense_count);
  HCTR_CUDA_CHECK_LAUNCH();
  // Every id gets a segment (empty ones sum to zero), so every gradient row is written.
  const UniqueOutputs dense{nullptr, u.sorted_positions, dense_starts, dense_count};
  EmbeddingBackward(dout, vec, row_splits, num_bags, combiner, n, dense, backward_ws,
                    backward_bytes, grads, stream);
}

}  // namespace cuda
}  // namespace hugectr_tf
