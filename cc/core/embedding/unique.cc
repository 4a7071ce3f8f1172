#include "cc/core/embedding/unique.h"

#include <algorithm>
#include <cstring>

#include "cc/core/embedding/row_init.h"  // SplitMix64

namespace hugectr_tf {

namespace {

// The positions are split into partitions by the top bits of their key's hash and every
// partition is deduplicated by one task in ascending position order, in a small hash table that
// stays in cache. The distinct keys are then sorted by an LSD radix sort. Every step is stable
// and its splits depend on n alone, so the result never depends on the thread count.
int PartitionBits(int64_t n) { return n < (1 << 15) ? 0 : 4; }
constexpr int64_t kChunks = 16;  // fixed position chunks of the parallel counting sorts

uint64_t Hash(int64_t key) { return SplitMix64(static_cast<uint64_t>(key)); }

// Signed keys as unsigned integers in the same order.
uint64_t Ordered(int64_t key) { return static_cast<uint64_t>(key) ^ (uint64_t{1} << 63); }

int64_t ChunkBegin(int64_t c, int64_t n) { return n * c / kChunks; }

// Scratch reused by the calls of one thread: no per-call allocation once it has grown.
struct Scratch {
  std::vector<uint8_t> part_of;     // (n) partition of each position
  std::vector<int64_t> elem_key;    // (n) keys grouped by partition, positions ascending
  std::vector<int64_t> elem_pos;    // (n) their positions
  std::vector<int64_t> elem_id;     // (n) their id among the partition's distinct keys
  std::vector<int64_t> first_key;   // (n) a partition's distinct keys at its element offset
  std::vector<int64_t> first_pos;   // (n) their first positions
  std::vector<uint64_t> sort_key;   // (u) radix sort buffers: key and global id
  std::vector<int64_t> sort_id;     // (u)
  std::vector<uint64_t> sort_key2;  // (u)
  std::vector<int64_t> sort_id2;    // (u)
  std::vector<int64_t> rank;        // (u) sorted index of each global id
};

template <typename T>
void Fit(std::vector<T>* v, int64_t n) {
  if (static_cast<int64_t>(v->size()) < n) v->resize(n);
}

// An open-addressing key -> id map for one partition, sized for the partition's expected distinct
// keys and grown at load 1/2; cleared by bumping a generation number instead of rewriting its
// buckets.
class PartitionMap {
 public:
  void Reset(int64_t expected_keys) {
    size_ = 0;
    if (generation_ == UINT32_MAX) {  // before the generation numbers wrap
      buckets_.assign(buckets_.size(), Bucket{0, 0, 0});
      generation_ = 0;
    }
    ++generation_;
    const int64_t want = BucketsFor(expected_keys);
    if (want > static_cast<int64_t>(buckets_.size())) {
      buckets_.assign(want, Bucket{0, 0, 0});
      generation_ = 1;
    }
    mask_ = static_cast<uint64_t>(want) - 1;
  }
  // The id of key, or `next` after inserting it when absent (ids are dense: next == size()).
  int32_t FindOrInsert(int64_t key, uint64_t hash, int32_t next) {
    if (2 * (size_ + 1) > static_cast<int64_t>(mask_ + 1)) Size(size_ + 1);
    uint64_t i = hash & mask_;
    while (true) {
      Bucket& b = buckets_[i];
      if (b.generation != generation_) {
        b = Bucket{key, next, generation_};
        ++size_;
        return next;
      }
      if (b.key == key) return b.id;
      i = (i + 1) & mask_;
    }
  }

 private:
  struct Bucket {
    int64_t key;
    int32_t id;
    uint32_t generation;
  };
  static int64_t BucketsFor(int64_t keys) {
    int64_t want = 64;
    while (want < 2 * keys) want *= 2;
    return want;
  }
  // Room for `keys` keys at load <= 1/2, keeping the current ones.
  void Size(int64_t keys) {
    const int64_t want = BucketsFor(keys);
    const int64_t current = static_cast<int64_t>(mask_ + 1);
    if (want <= current) return;
    const std::vector<Bucket> old(buckets_.begin(), buckets_.begin() + current);
    const uint32_t live = generation_;
    if (want > static_cast<int64_t>(buckets_.size())) {
      buckets_.assign(want, Bucket{0, 0, 0});
      generation_ = 0;
    }
    mask_ = static_cast<uint64_t>(want) - 1;
    ++generation_;  // every bucket is empty under the new generation
    for (const Bucket& b : old) {
      if (b.generation != live) continue;
      uint64_t i = Hash(b.key) & mask_;
      while (buckets_[i].generation == generation_) i = (i + 1) & mask_;
      buckets_[i] = Bucket{b.key, b.id, generation_};
    }
  }
  std::vector<Bucket> buckets_;
  uint64_t mask_ = 0;
  int64_t size_ = 0;
  uint32_t generation_ = 0;
};

// Stable LSD radix sort of (key, id) by key, 8 bits per pass over the bytes where keys differ.
void RadixSort(int64_t u, Scratch* s, const ParallelFor& parallel_for) {
  if (u < 2) return;
  uint64_t differ = 0;
  for (int64_t i = 1; i < u; ++i) differ |= s->sort_key[i] ^ s->sort_key[0];
  uint64_t* key = s->sort_key.data();
  int64_t* id = s->sort_id.data();
  uint64_t* key2 = s->sort_key2.data();
  int64_t* id2 = s->sort_id2.data();
  std::vector<int64_t> count(kChunks * 256);
  for (int shift = 0; shift < 64; shift += 8) {
    if (((differ >> shift) & 0xff) == 0) continue;
    std::fill(count.begin(), count.end(), 0);
    parallel_for(kChunks, (u / kChunks + 1) * 4, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        int64_t* hist = count.data() + c * 256;
        for (int64_t i = ChunkBegin(c, u); i < ChunkBegin(c + 1, u); ++i) {
          ++hist[(key[i] >> shift) & 0xff];
        }
      }
    });
    // Exclusive offsets, digit-major then chunk: a stable scatter.
    int64_t total = 0;
    for (int d = 0; d < 256; ++d) {
      for (int64_t c = 0; c < kChunks; ++c) {
        const int64_t here = count[c * 256 + d];
        count[c * 256 + d] = total;
        total += here;
      }
    }
    parallel_for(kChunks, (u / kChunks + 1) * 6, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        int64_t* cursor = count.data() + c * 256;
        for (int64_t i = ChunkBegin(c, u); i < ChunkBegin(c + 1, u); ++i) {
          const int64_t at = cursor[(key[i] >> shift) & 0xff]++;
          key2[at] = key[i];
          id2[at] = id[i];
        }
      }
    });
    std::swap(key, key2);
    std::swap(id, id2);
  }
  if (key != s->sort_key.data()) {  // an odd number of passes: the result is in the spare
    std::memcpy(s->sort_key.data(), key, u * sizeof(uint64_t));
    std::memcpy(s->sort_id.data(), id, u * sizeof(int64_t));
  }
}

}  // namespace

void SortedUnique(const int64_t* values, int64_t n, UniqueKeys* out, int64_t* inverse,
                  const ParallelFor& parallel_for) {
  thread_local Scratch scratch;
  Scratch& s = scratch;
  const int bits = PartitionBits(n);
  const int64_t parts = int64_t{1} << bits;
  Fit(&s.part_of, n);
  Fit(&s.elem_key, n);
  Fit(&s.elem_pos, n);
  Fit(&s.elem_id, n);
  Fit(&s.first_key, n);
  Fit(&s.first_pos, n);

  // 1. Group positions by partition (a stable counting sort over fixed chunks).
  std::vector<int64_t> count(kChunks * parts, 0);
  parallel_for(kChunks, (n / kChunks + 1) * 8, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int64_t* hist = count.data() + c * parts;
      for (int64_t p = ChunkBegin(c, n); p < ChunkBegin(c + 1, n); ++p) {
        const uint8_t q = bits == 0 ? 0 : static_cast<uint8_t>(Hash(values[p]) >> (64 - bits));
        s.part_of[p] = q;
        ++hist[q];
      }
    }
  });
  std::vector<int64_t> part_begin(parts + 1, 0);
  {
    int64_t total = 0;
    for (int64_t q = 0; q < parts; ++q) {
      part_begin[q] = total;
      for (int64_t c = 0; c < kChunks; ++c) {
        const int64_t here = count[c * parts + q];
        count[c * parts + q] = total;
        total += here;
      }
    }
    part_begin[parts] = total;
  }
  parallel_for(kChunks, (n / kChunks + 1) * 6, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int64_t* cursor = count.data() + c * parts;
      for (int64_t p = ChunkBegin(c, n); p < ChunkBegin(c + 1, n); ++p) {
        const int64_t at = cursor[s.part_of[p]]++;
        s.elem_key[at] = values[p];
        s.elem_pos[at] = p;
      }
    }
  });

  // 2. Distinct keys of each partition in first-seen order, written at the partition's offset.
  std::vector<int64_t> distinct(parts, 0);
  parallel_for(parts, (n / parts + 1) * 40, [&](int64_t begin, int64_t end) {
    thread_local PartitionMap map;
    for (int64_t q = begin; q < end; ++q) {
      const int64_t lo = part_begin[q], hi = part_begin[q + 1];
      map.Reset((hi - lo) / 4 + 16);
      int32_t next = 0;
      for (int64_t e = lo; e < hi; ++e) {
        const int64_t key = s.elem_key[e];
        const int32_t id = map.FindOrInsert(key, Hash(key), next);
        if (id == next) {
          s.first_key[lo + next] = key;
          s.first_pos[lo + next] = s.elem_pos[e];
          ++next;
        }
        s.elem_id[e] = id;
      }
      distinct[q] = next;
    }
  });
  std::vector<int64_t> global_begin(parts + 1, 0);
  for (int64_t q = 0; q < parts; ++q) global_begin[q + 1] = global_begin[q] + distinct[q];
  const int64_t u = global_begin[parts];

  // 3. Sort the distinct keys (global id = partition offset + id in the partition).
  Fit(&s.sort_key, u);
  Fit(&s.sort_id, u);
  Fit(&s.sort_key2, u);
  Fit(&s.sort_id2, u);
  Fit(&s.rank, u);
  parallel_for(parts, (u / parts + 1) * 2, [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      for (int64_t i = 0; i < distinct[q]; ++i) {
        s.sort_key[global_begin[q] + i] = Ordered(s.first_key[part_begin[q] + i]);
        s.sort_id[global_begin[q] + i] = global_begin[q] + i;
      }
    }
  });
  RadixSort(u, &s, parallel_for);

  // 4. The ascending keys, their first positions, and the inverse of every position.
  out->keys.resize(u);
  out->first_pos.resize(u);
  parallel_for(u, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t g = s.sort_id[i];
      // Partition of global id g, for its first position (partitions are few: a short search).
      const int64_t q =
          std::upper_bound(global_begin.begin(), global_begin.end(), g) - global_begin.begin() - 1;
      out->keys[i] = static_cast<int64_t>(s.sort_key[i] ^ (uint64_t{1} << 63));
      out->first_pos[i] = s.first_pos[part_begin[q] + g - global_begin[q]];
      s.rank[g] = i;
    }
  });
  parallel_for(parts, (n / parts + 1) * 4, [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      for (int64_t e = part_begin[q]; e < part_begin[q + 1]; ++e) {
        inverse[s.elem_pos[e]] = s.rank[global_begin[q] + s.elem_id[e]];
      }
    }
  });
}

}  // namespace hugectr_tf
