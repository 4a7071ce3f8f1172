// Owner-side kernels of the sharded table (see shard_owner.cuh).

#include <algorithm>

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/shard_owner.cuh"
#include "cc/cuda/vec_math.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

// One group of `group` lanes per item.
#define HCTR_GROUP_LOOP(k, n)                                                                 \
  const int lane = threadIdx.x % group;                                                       \
  const int64_t groups_per_grid = (int64_t)gridDim.x * (blockDim.x / group);                  \
  for (int64_t k = blockIdx.x * (int64_t)(blockDim.x / group) + threadIdx.x / group; k < (n); \
       k += groups_per_grid)

__device__ inline int BlockOf(const ShardOffsets& blocks, int num_blocks, int64_t i) {
  int b = 0;
  while (b + 1 < num_blocks && blocks.at[b + 1] <= i) ++b;
  return b;
}

// The own block's entries [own_first, own_first + own_count): entry i takes id i - own_first
// (its rows are distinct). Also sets *count = own_count (the next free id).
__global__ void ClaimOwnKernel(const int64_t* __restrict__ rows, const int64_t* __restrict__ keys,
                               int64_t own_first, int64_t own_count, int32_t* uid_of_row,
                               unsigned int* count, int64_t* __restrict__ owner_rows,
                               int64_t* __restrict__ owner_keys, int32_t* __restrict__ first_turn) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *count = static_cast<unsigned int>(own_count);
  HCTR_GRID_LOOP(u, own_count) {
    const int64_t r = rows[own_first + u];
    uid_of_row[r] = static_cast<int32_t>(u);
    owner_rows[u] = r;
    owner_keys[u] = keys[own_first + u];
    first_turn[u] = 0;  // BlockTurn of the own block
  }
}

// The other blocks' entries: the first entry of a row no block claimed yet claims it, with its
// block's turn (a later kernel lowers it to the first turn of the row's blocks).
__global__ void ClaimKernel(const int64_t* __restrict__ rows, const int64_t* __restrict__ keys,
                            int64_t n, ShardOffsets blocks, int num_blocks, int own_block,
                            int32_t* uid_of_row, unsigned int* count,
                            int64_t* __restrict__ owner_rows, int64_t* __restrict__ owner_keys,
                            int32_t* __restrict__ first_turn) {
  HCTR_GRID_LOOP(i, n) {
    const int b = BlockOf(blocks, num_blocks, i);
    if (b == own_block) continue;
    const int64_t r = rows[i];
    if (atomicCAS(&uid_of_row[r], -1, -2) == -1) {  // first entry of this row claims it
      const unsigned int u = atomicAdd(count, 1u);
      uid_of_row[r] = static_cast<int32_t>(u);
      owner_rows[u] = r;
      owner_keys[u] = keys[i];
      first_turn[u] = b + 1;  // BlockTurn of another block
    }
  }
}

__global__ void FirstTurnKernel(const int64_t* __restrict__ rows, int64_t n, ShardOffsets blocks,
                                int num_blocks, int own_block,
                                const int32_t* __restrict__ uid_of_row, int32_t* first_turn) {
  HCTR_GRID_LOOP(i, n) {
    const int b = BlockOf(blocks, num_blocks, i);
    if (b == own_block) continue;                        // turn 0, set by ClaimOwnKernel
    atomicMin(&first_turn[uid_of_row[rows[i]]], b + 1);  // BlockTurn
  }
}

template <typename VecT>
__global__ void AddBlockKernel(const int64_t* __restrict__ rows, int64_t count,
                               const VecT* __restrict__ grads, int turn,
                               const int32_t* __restrict__ uid_of_row,
                               const int32_t* __restrict__ first_turn, int64_t units, int group,
                               VecT* __restrict__ owner_grads) {
  HCTR_GROUP_LOOP(k, count) {
    const int64_t u = uid_of_row[rows[k]];
    const bool first = first_turn[u] == turn;
    for (int64_t uu = lane; uu < units; uu += group) {
      const VecT g = grads[k * units + uu];
      if (first) {
        owner_grads[u * units + uu] = g;
      } else {
        VecT acc = owner_grads[u * units + uu];
        AddTo(acc, g);
        owner_grads[u * units + uu] = acc;
      }
    }
  }
}

__global__ void ReleaseKernel(const int64_t* __restrict__ owner_rows, const unsigned int* count,
                              int64_t max_count, int32_t* __restrict__ uid_of_row) {
  const int64_t c = *count < max_count ? *count : max_count;
  HCTR_GRID_LOOP(u, c) { uid_of_row[owner_rows[u]] = -1; }
}

template <typename VecT>
__global__ void GatherKernel(const VecT* __restrict__ table, int64_t units,
                             const int64_t* __restrict__ rows, int64_t n, int group,
                             VecT* __restrict__ out) {
  HCTR_GROUP_LOOP(k, n) {
    const int64_t r = rows[k];
    for (int64_t uu = lane; uu < units; uu += group) {
      VecT v;
      if (r >= 0) {
        v = table[r * units + uu];
      } else {
        Zero(v);
      }
      out[k * units + uu] = v;
    }
  }
}

bool Wide(int vec, const void* a, const void* b) {
  return vec % 4 == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(b) % 16 == 0;
}

}  // namespace

void ClaimOwnerRows(const int64_t* rows, const int64_t* keys, int64_t n, const ShardOffsets& blocks,
                    int num_blocks, int own_block, int32_t* uid_of_row, unsigned int* count,
                    int64_t* owner_rows, int64_t* owner_keys, int32_t* first_turn,
                    cudaStream_t stream) {
  const int64_t own_first = blocks.at[own_block];
  const int64_t own_count = blocks.at[own_block + 1] - own_first;
  // The own block first (always launched: it also sets *count), then the other blocks.
  ClaimOwnKernel<<<GridFor(std::max<int64_t>(own_count, 1)), kBlock, 0, stream>>>(
      rows, keys, own_first, own_count, uid_of_row, count, owner_rows, owner_keys, first_turn);
  HCTR_CUDA_CHECK_LAUNCH();
  if (n == own_count) return;
  ClaimKernel<<<GridFor(n), kBlock, 0, stream>>>(rows, keys, n, blocks, num_blocks, own_block,
                                                 uid_of_row, count, owner_rows, owner_keys,
                                                 first_turn);
  HCTR_CUDA_CHECK_LAUNCH();
  if (num_blocks <= 2) return;  // one other block: the claimer's turn is the row's first
  FirstTurnKernel<<<GridFor(n), kBlock, 0, stream>>>(rows, n, blocks, num_blocks, own_block,
                                                     uid_of_row, first_turn);
  HCTR_CUDA_CHECK_LAUNCH();
}

void AddBlockGradients(const int64_t* rows, int64_t count, const float* grads, int turn,
                       const int32_t* uid_of_row, const int32_t* first_turn, int vec,
                       float* owner_grads, cudaStream_t stream) {
  if (count == 0 || vec == 0) return;
  if (Wide(vec, grads, owner_grads)) {
    const int64_t units = vec / 4;
    const int group = GroupSize(units);
    AddBlockKernel<float4><<<GridFor(count, kBlock / group), kBlock, 0, stream>>>(
        rows, count, reinterpret_cast<const float4*>(grads), turn, uid_of_row, first_turn, units,
        group, reinterpret_cast<float4*>(owner_grads));
  } else {
    const int group = GroupSize(vec);
    AddBlockKernel<float><<<GridFor(count, kBlock / group), kBlock, 0, stream>>>(
        rows, count, grads, turn, uid_of_row, first_turn, vec, group, owner_grads);
  }
  HCTR_CUDA_CHECK_LAUNCH();
}

void ReleaseOwnerRows(const int64_t* owner_rows, const unsigned int* count, int64_t max_count,
                      int32_t* uid_of_row, cudaStream_t stream) {
  if (max_count == 0) return;
  ReleaseKernel<<<GridFor(max_count), kBlock, 0, stream>>>(owner_rows, count, max_count,
                                                           uid_of_row);
  HCTR_CUDA_CHECK_LAUNCH();
}

void GatherTableRows(const float* table, int vec, const int64_t* rows, int64_t n, float* out,
                     cudaStream_t stream) {
  if (n == 0 || vec == 0) return;
  if (Wide(vec, table, out)) {
    const int64_t units = vec / 4;
    const int group = GroupSize(units);
    GatherKernel<float4><<<GridFor(n, kBlock / group), kBlock, 0, stream>>>(
        reinterpret_cast<const float4*>(table), units, rows, n, group,
        reinterpret_cast<float4*>(out));
  } else {
    const int group = GroupSize(vec);
    GatherKernel<float>
        <<<GridFor(n, kBlock / group), kBlock, 0, stream>>>(table, vec, rows, n, group, out);
  }
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
