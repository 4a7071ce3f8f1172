#pragma once
// The owner side of the sharded backward (sharded_embedding.cu): an owner received, per GPU in
// GPU order, a block of distinct keys (with their table rows from the forward) and, in the
// backward, each GPU's gradient sum for every key of its block. One gradient per distinct row:
// the owner's own block first (it needs no transfer, so it is written while the others travel),
// then the other GPUs' blocks in GPU order (0 + g_first, then + g_next, ...). With 2 GPUs a key
// has at most two terms, whose sum does not depend on their order. No sort: the table's rows
// index a scratch array.

#include <cuda_runtime.h>

#include <cstdint>

#include "cc/cuda/shard_routing.cuh"

namespace hugectr_tf {
namespace cuda {

// The order in which the owner adds the blocks: its own first, then the others by GPU.
inline int BlockTurn(int block, int own_block) { return block == own_block ? 0 : block + 1; }

// uid_of_row (table rows, int32) is -1 everywhere between calls. Gives every distinct row of
// rows (n, all >= 0) an owner id u < *count (set here): owner_rows[u], owner_keys[u] = its row
// and key. first_turn[u] = the first BlockTurn among the blocks holding it (blocks: the
// entries [blocks.at[b], blocks.at[b + 1]) of GPU b). The own block's entries (distinct rows:
// one GPU's distinct keys) take ids 0, 1, ... in block order and turn 0, so the owner's own
// sums can be written straight into owner ids; the other rows take the next ids, in no order.
void ClaimOwnerRows(const int64_t* rows, const int64_t* keys, int64_t n, const ShardOffsets& blocks,
                    int num_blocks, int own_block, int32_t* uid_of_row, unsigned int* count,
                    int64_t* owner_rows, int64_t* owner_keys, int32_t* first_turn,
                    cudaStream_t stream);

// Adds the gradients (count, vec) of the block of turn `turn` (rows: its rows) into
// owner_grads (owner ids, vec): a row's first turn writes, later turns add. Launch the blocks
// in turn order.
void AddBlockGradients(const int64_t* rows, int64_t count, const float* grads, int turn,
                       const int32_t* uid_of_row, const int32_t* first_turn, int vec,
                       float* owner_grads, cudaStream_t stream);

// uid_of_row back to -1 for the *count rows of owner_rows (max_count bounds *count).
void ReleaseOwnerRows(const int64_t* owner_rows, const unsigned int* count, int64_t max_count,
                      int32_t* uid_of_row, cudaStream_t stream);

// out[i, :] = table[rows[i], :], zeros where rows[i] < 0: one group of lanes per row, 16-byte
// loads when vec % 4 == 0.
void GatherTableRows(const float* table, int vec, const int64_t* rows, int64_t n, float* out,
                     cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
