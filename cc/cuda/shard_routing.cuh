#pragma once
// Routing of a batch's keys to the shards of a sharded table (docs/EMBEDDING_SEMANTICS.md,
// "Sharding"): the owner rule, and the device steps that turn a requester's CSR batch into one
// list of distinct keys per owner (owner-major), each position pointing at its key's entry,
// and the positions of every entry in ascending order (the backward's segments). Hashing, not
// sorting, finds the distinct keys; one short radix sort of the entry ids (not of the 64-bit
// keys) gives the segments. No communication here (sharded_embedding.cu moves the lists with
// NCCL), so these steps are tested on one GPU.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cc/core/embedding/row_init.h"  // HCTR_HOST_DEVICE

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

// The distinct keys of each owner, found in one open-addressing region per owner: owner s with
// positions[s] positions gets a power of two >= 2 * positions[s] slots (load <= 1/2). Host.
ShardOffsets DedupRegions(const int64_t* positions, int num_shards);

// Outputs of DedupByOwner (device arrays, capacity n unless said).
struct RouteOutputs {
  int64_t* unique_keys;    // owner 0's distinct keys, then owner 1's, ... (order within an
                           // owner unspecified: hash order)
  int64_t* first_slots;    // slot (bag % slot_num) of each entry's first position
  int32_t* ids;            // (n) ids[p] = entry of position p's key
  int64_t* unique_counts;  // (num_shards) entries per owner
  int64_t* num_unique;     // (1) entries in all
};

// n < 2^31 and regions.at[num_shards] < 2^31 (checked).
size_t DedupWorkspaceBytes(int64_t n, const ShardOffsets& regions, int num_shards);
void DedupByOwner(const int64_t* values, int64_t n, const int32_t* owner, const int64_t* row_splits,
                  int64_t num_bags, int64_t slot_num, int num_shards, const ShardOffsets& regions,
                  void* workspace, size_t workspace_bytes, const RouteOutputs& out,
                  cudaStream_t stream);

// The backward's segments of DedupByOwner's entries (every id in [0, *num_unique) is used):
// sorted_positions (n) the positions grouped by entry, ascending within an entry (a stable
// radix sort of the 32-bit ids over the bits n needs); entry j's positions at
// [segment_starts[j], segment_starts[j + 1]), segment_starts (n + 1).
size_t SegmentsWorkspaceBytes(int64_t n);
void SegmentsOfIds(const int32_t* ids, int64_t n, void* workspace, size_t workspace_bytes,
                   int32_t* sorted_positions, int32_t* segment_starts, cudaStream_t stream);

// Where the combine reads each position's row: src[p] = own_rows[ids[p] - own_first] for the
// entries [own_first, own_first + own_count) the requester owns itself (a table row, or -1
// for a key its table lacks at inference); else -(ids[p] + 2), the received row of entry
// ids[p], or -1 where remote_found (nullable) says the owner lacks the key. *misses (nullable)
// += positions with src -1.
void PositionSources(const int32_t* ids, int64_t n, int64_t own_first, int64_t own_count,
                     const int64_t* own_rows, const int64_t* remote_found, int64_t* src,
                     unsigned long long* misses, cudaStream_t stream);

// dst[i] = values[i] for i < count (count <= 4), through a kernel argument: no host memory
// has to outlive the call.
struct Int64Quad {
  int64_t v[4];
};
void SetDeviceValues(int64_t* dst, const Int64Quad& values, int count, cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
