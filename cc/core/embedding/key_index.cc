#include "cc/core/embedding/key_index.h"

#include <algorithm>

#include "cc/core/embedding/row_init.h"  // SplitMix64

namespace hugectr_tf {

namespace {
constexpr int64_t kMinBuckets = 64;
// Lookups ahead of the one being probed whose bucket is prefetched.
constexpr int64_t kPrefetchDistance = 12;

uint64_t Hash(int64_t key) { return SplitMix64(static_cast<uint64_t>(key)); }
}  // namespace

int64_t KeyIndex::Shard::Find(int64_t key, uint64_t hash) const {
  if (buckets.empty()) return -1;
  uint64_t i = hash & mask;
  while (true) {
    const Bucket& b = buckets[i];
    if (b.row < 0) return -1;
    if (b.key == key) return b.row;
    i = (i + 1) & mask;
  }
}

void KeyIndex::Shard::Insert(int64_t key, int64_t row, uint64_t hash) {
  Grow(size + 1);
  uint64_t i = hash & mask;
  while (buckets[i].row >= 0) i = (i + 1) & mask;
  buckets[i] = {key, row};
  ++size;
}

void KeyIndex::Shard::Grow(int64_t keys) {
  if (keys * 2 <= static_cast<int64_t>(buckets.size())) return;
  int64_t want = std::max<int64_t>(kMinBuckets, static_cast<int64_t>(buckets.size()));
  while (want < keys * 2) want *= 2;
  Rehash(want);
}

void KeyIndex::Shard::Rehash(int64_t num_buckets) {
  std::vector<Bucket> old;
  old.swap(buckets);
  buckets.assign(num_buckets, Bucket{0, -1});
  mask = static_cast<uint64_t>(num_buckets) - 1;
  for (const Bucket& b : old) {
    if (b.row < 0) continue;
    uint64_t i = Hash(b.key) & mask;
    while (buckets[i].row >= 0) i = (i + 1) & mask;
    buckets[i] = b;
  }
}

int64_t KeyIndex::Find(int64_t key) const {
  const uint64_t h = Hash(key);
  return shards_[ShardOf(h)].Find(key, h);
}

void KeyIndex::FindMany(const int64_t* keys, int64_t n, int64_t* rows) const {
  for (int64_t i = 0; i < n; ++i) {
    if (i + kPrefetchDistance < n) {
      const uint64_t ahead = Hash(keys[i + kPrefetchDistance]);
      const Shard& s = shards_[ShardOf(ahead)];
      if (!s.buckets.empty()) __builtin_prefetch(&s.buckets[ahead & s.mask]);
    }
    rows[i] = Find(keys[i]);
  }
}

void KeyIndex::Insert(int64_t key, int64_t row) {
  const uint64_t h = Hash(key);
  shards_[ShardOf(h)].Insert(key, row, h);
}

void KeyIndex::InsertMany(const int64_t* keys, int64_t n, int64_t first_row,
                          const ParallelFor& parallel_for) {
  // Group the keys by shard, ascending within each (a counting sort), then fill the shards in
  // parallel; each shard sees its keys in the same order whatever the thread count.
  std::vector<uint8_t> shard_of(n);
  std::vector<int64_t> start(kShards + 1, 0), order(n);
  for (int64_t i = 0; i < n; ++i) {
    shard_of[i] = static_cast<uint8_t>(ShardOf(Hash(keys[i])));
    ++start[shard_of[i] + 1];
  }
  for (int s = 0; s < kShards; ++s) start[s + 1] += start[s];
  {
    std::vector<int64_t> cursor(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i) order[cursor[shard_of[i]]++] = i;
  }
  parallel_for(kShards, (n / kShards + 1) * 100, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      Shard& shard = shards_[s];
      shard.Grow(shard.size + start[s + 1] - start[s]);
      for (int64_t j = start[s]; j < start[s + 1]; ++j) {
        const int64_t i = order[j];
        shard.Insert(keys[i], first_row + i, Hash(keys[i]));
      }
    }
  });
}

int64_t KeyIndex::FindOrInsert(int64_t key, int64_t row_if_absent) {
  const uint64_t h = Hash(key);
  Shard& s = shards_[ShardOf(h)];
  const int64_t found = s.Find(key, h);
  if (found >= 0) return found;
  s.Insert(key, row_if_absent, h);
  return row_if_absent;
}

void KeyIndex::Clear() {
  for (Shard& s : shards_) {
    s.buckets.clear();
    s.buckets.shrink_to_fit();
    s.mask = 0;
    s.size = 0;
  }
}

void KeyIndex::Reserve(int64_t keys) {
  // Hashes spread keys evenly; an eighth more than the even share absorbs the imbalance.
  const int64_t per_shard = keys / kShards + keys / (8 * kShards) + 1;
  for (Shard& s : shards_) s.Grow(per_shard);
}

int64_t KeyIndex::size() const {
  int64_t total = 0;
  for (const Shard& s : shards_) total += s.size;
  return total;
}

}  // namespace hugectr_tf
