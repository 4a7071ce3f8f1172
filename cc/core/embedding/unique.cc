#include "cc/core/embedding/unique.h"

#include <algorithm>

#include "cc/core/embedding/key_index.h"
#include "cc/core/embedding/row_init.h"  // SplitMix64

namespace hugectr_tf {

namespace {
// Keys are split into partitions by the top bits of their hash. Each partition is deduplicated
// by one task walking its positions in ascending order, so the result never depends on the
// thread count. The number of partitions depends on n alone.
int PartitionBits(int64_t n) {
  if (n < (1 << 15)) return 0;
  if (n < (1 << 18)) return 2;
  return 3;
}

struct Entry {
  int64_t key;
  int64_t first_pos;
  int64_t id;  // index within its partition
};
}  // namespace

void SortedUnique(const int64_t* values, int64_t n, UniqueKeys* out, int64_t* inverse,
                  const ParallelFor& parallel_for) {
  const int bits = PartitionBits(n);
  const int64_t parts = int64_t{1} << bits;
  std::vector<uint8_t> part_of(n, 0);
  if (bits > 0) {
    parallel_for(n, 6, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        part_of[p] = static_cast<uint8_t>(SplitMix64(static_cast<uint64_t>(values[p])) >>
                                          (64 - bits));
      }
    });
  }
  // Positions grouped by partition, ascending within each (counting sort).
  std::vector<int64_t> offsets(parts + 1, 0), positions(n);
  for (int64_t p = 0; p < n; ++p) ++offsets[part_of[p] + 1];
  for (int64_t q = 0; q < parts; ++q) offsets[q + 1] += offsets[q];
  {
    std::vector<int64_t> cursor(offsets.begin(), offsets.end() - 1);
    for (int64_t p = 0; p < n; ++p) positions[cursor[part_of[p]]++] = p;
  }
  // Per partition: distinct keys (first-seen order), local id of each position, then the
  // partition's entries sorted by key.
  std::vector<std::vector<Entry>> entries(parts);
  std::vector<int64_t> local(n);
  parallel_for(parts, (n / parts + 1) * 60, [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      KeyIndex index;
      index.Reserve((offsets[q + 1] - offsets[q]) / 2 + 16);
      std::vector<Entry>& e = entries[q];
      for (int64_t i = offsets[q]; i < offsets[q + 1]; ++i) {
        const int64_t p = positions[i];
        const int64_t next = static_cast<int64_t>(e.size());
        const int64_t id = index.FindOrInsert(values[p], next);
        if (id == next) e.push_back({values[p], p, id});
        local[p] = id;
      }
      std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });
    }
  });
  // Merge the sorted partitions pairwise (log2(parts) rounds) into one ascending list.
  std::vector<std::vector<Entry>> runs = std::move(entries);
  while (runs.size() > 1) {
    std::vector<std::vector<Entry>> merged(runs.size() / 2);
    parallel_for(static_cast<int64_t>(merged.size()), 1000, [&](int64_t begin, int64_t end) {
      for (int64_t m = begin; m < end; ++m) {
        const auto& a = runs[2 * m];
        const auto& b = runs[2 * m + 1];
        merged[m].resize(a.size() + b.size());
        std::merge(a.begin(), a.end(), b.begin(), b.end(), merged[m].begin(),
                   [](const Entry& x, const Entry& y) { return x.key < y.key; });
      }
    });
    runs.swap(merged);
  }
  const std::vector<Entry>& all = runs[0];
  const int64_t u = static_cast<int64_t>(all.size());
  out->keys.resize(u);
  out->first_pos.resize(u);
  // rank[partition][local id] = index in the ascending list.
  std::vector<std::vector<int64_t>> rank(parts);
  for (int64_t q = 0; q < parts; ++q) rank[q].resize(offsets[q + 1] - offsets[q]);
  for (int64_t i = 0; i < u; ++i) {
    out->keys[i] = all[i].key;
    out->first_pos[i] = all[i].first_pos;
    rank[part_of[all[i].first_pos]][all[i].id] = i;
  }
  parallel_for(n, 6, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) inverse[p] = rank[part_of[p]][local[p]];
  });
}

}  // namespace hugectr_tf
