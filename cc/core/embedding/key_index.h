#pragma once
// key -> row index map of a hash table: open addressing with linear probing, load factor <= 1/2,
// split into kShards independent shards by the top bits of the key's hash, so that a batch of new
// keys is inserted by all threads at once (one shard per task) and a batch of lookups keeps many
// cache misses in flight (the buckets of later keys are prefetched while earlier ones are
// probed). Not synchronised: the table guards it (readers share, writers exclude).

#include <cstdint>
#include <vector>

#include "cc/core/embedding/parallel.h"

namespace hugectr_tf {

class KeyIndex {
 public:
  // Bytes the map spends per stored key at its highest load (two 16-byte buckets per key at
  // load 1/2); part of the capacity formula.
  static constexpr int64_t kBytesPerKey = 32;
  static constexpr int kShardBits = 4;
  static constexpr int kShards = 1 << kShardBits;

  int64_t Find(int64_t key) const;  // row index, or -1 when absent
  // rows[i] = Find(keys[i]) for i in [0, n).
  void FindMany(const int64_t* keys, int64_t n, int64_t* rows) const;
  void Insert(int64_t key, int64_t row);  // key must be absent
  // Inserts keys[i] -> first_row + i for n distinct absent keys, one shard per task. The
  // result does not depend on the number of threads.
  void InsertMany(const int64_t* keys, int64_t n, int64_t first_row,
                  const ParallelFor& parallel_for);
  // Returns the row of `key`, inserting (key, row_if_absent) first when it is absent.
  int64_t FindOrInsert(int64_t key, int64_t row_if_absent);
  void Clear();
  void Reserve(int64_t keys);  // room for about `keys` keys spread evenly over the shards
  int64_t size() const;

 private:
  struct Bucket {
    int64_t key;
    int64_t row;  // -1: empty
  };
  struct Shard {
    std::vector<Bucket> buckets;
    uint64_t mask = 0;
    int64_t size = 0;
    int64_t Find(int64_t key, uint64_t hash) const;
    void Insert(int64_t key, int64_t row, uint64_t hash);  // grows when needed
    void Rehash(int64_t num_buckets);
    void Grow(int64_t keys);  // room for `keys` keys
  };
  static int ShardOf(uint64_t hash) { return static_cast<int>(hash >> (64 - kShardBits)); }
  Shard shards_[kShards];
};

}  // namespace hugectr_tf
