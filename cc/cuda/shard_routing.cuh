#pragma once
// Routing of a batch's keys to the shards of a sharded table (docs/EMBEDDING_SEMANTICS.md,
// "Sharding"): the owner rule, and the device steps that turn a requester's CSR batch into one
// ascending list of distinct keys per owner, each position pointing at its key's entry. No
// communication here (sharded_embedding.cu moves the lists with NCCL), so these steps are
// tested on one GPU.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cc/core/embedding/row_init.h"  // HCTR_HOST_DEVICE
#include "cc/cuda/unique.cuh"

namespace hugectr_tf {
namespace cuda {

constexpr int kMaxShards = 16;

// Distributed hash tables: key k lives on shard k mod num_shards, the non-negative remainder
// (key -7 of 2 shards lives on shard 1).
HCTR_HOST_DEVICE inline int ShardOfKey(int64_t key, int num_shards) {
  const int64_t r = key % num_shards;
  return static_cast<int>(r < 0 ? r + num_shards : r);
}

// Localized hash tables: every key of slot s lives on shard s mod num_shards.
HCTR_HOST_DEVICE inline int ShardOfSlot(int64_t slot, int num_shards) {
  return static_cast<int>(slot % num_shards);
}

// Prefix sums over the shards, passed to kernels by value.
struct ShardOffsets {
  int64_t at[kMaxShards + 1];
};

// owner[p] = shard of position p (by key, or by slot = bag % slot_num when by_slot), and
// counts[s] += positions owned by s (counts zeroed by the caller). Lowers *reserved_first
// (start it at all ones) to the first position holding INT64_MAX, the GPU table's empty key.
void OwnersOfPositions(const int64_t* values, int64_t n,
                       const int64_t* row_splits,  // (num_bags + 1)
                       int64_t num_bags, int64_t slot_num, bool by_slot, int num_shards,
                       int32_t* owner,              // (n)
                       unsigned long long* counts,  // (num_shards)
                       unsigned long long* reserved_first, cudaStream_t stream);

// perm (n): the positions grouped by owner, ascending within each owner; keys (n) the values
// in that order. Owners in [0, num_shards).
size_t GroupByOwnerWorkspaceBytes(int64_t n, int num_shards);
void GroupByOwner(const int32_t* owner, const int64_t* values, int64_t n, int num_shards,
                  void* workspace, size_t workspace_bytes, int32_t* perm, int64_t* keys,
                  cudaStream_t stream);

// After SortedUnique of each owner's keys (owner s's positions at [at[s], at[s + 1]) of the
// grouped order; its outputs at unique_keys + at[s], sorted_positions + at[s] (positions
// relative to at[s]), segment_starts + at[s] + s, count at unique_counts[s]): one merged
// UniqueOutputs in owner-major order (owner 0's ascending keys, then owner 1's, ...), whose
// sorted_positions are positions of the original batch, ascending within each key.
void MergeOwnerUniques(const ShardOffsets& positions, int num_shards, const int64_t* unique_keys,
                       const int32_t* sorted_positions, const int32_t* segment_starts,
                       const int64_t* unique_counts, const int32_t* perm, int64_t n,
                       const UniqueOutputs& merged, cudaStream_t stream);

// value_rows[p] = index of position p's key in `merged`; first_slots[j] = slot
// (bag % slot_num) of the first position of key j.
void IndexPositions(const UniqueOutputs& merged, int64_t n, const int64_t* row_splits,
                    int64_t num_bags, int64_t slot_num, int64_t* value_rows, int64_t* first_slots,
                    cudaStream_t stream);

// Inference: value_rows[p] = -1 where found_rows[value_rows[p]] < 0 (a key its owner does not
// hold); *misses += such positions.
void DropMissing(const int64_t* found_rows, int64_t n, int64_t* value_rows,
                 unsigned long long* misses, cudaStream_t stream);

// splits[i] = i for i in [0, n] (n one-value bags).
void IotaSplits(int64_t* splits, int64_t n, cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
