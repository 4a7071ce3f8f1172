#include "cc/core/embedding/key_index.h"

#include "cc/core/embedding/row_init.h"  // SplitMix64

namespace hugectr_tf {

int64_t KeyIndex::Find(int64_t key) const {
  if (buckets_.empty()) return -1;
  uint64_t i = SplitMix64(static_cast<uint64_t>(key)) & mask_;
  while (true) {
    const Bucket& b = buckets_[i];
    if (b.row < 0) return -1;
    if (b.key == key) return b.row;
    i = (i + 1) & mask_;
  }
}

void KeyIndex::Insert(int64_t key, int64_t row) {
  if ((size_ + 1) * 2 > static_cast<int64_t>(buckets_.size())) {
    Rehash(buckets_.empty() ? 1024 : static_cast<int64_t>(buckets_.size()) * 2);
  }
  uint64_t i = SplitMix64(static_cast<uint64_t>(key)) & mask_;
  while (buckets_[i].row >= 0) i = (i + 1) & mask_;
  buckets_[i] = {key, row};
  ++size_;
}

int64_t KeyIndex::FindOrInsert(int64_t key, int64_t row_if_absent) {
  if ((size_ + 1) * 2 > static_cast<int64_t>(buckets_.size())) {
    Rehash(buckets_.empty() ? 1024 : static_cast<int64_t>(buckets_.size()) * 2);
  }
  uint64_t i = SplitMix64(static_cast<uint64_t>(key)) & mask_;
  while (buckets_[i].row >= 0) {
    if (buckets_[i].key == key) return buckets_[i].row;
    i = (i + 1) & mask_;
  }
  buckets_[i] = {key, row_if_absent};
  ++size_;
  return row_if_absent;
}

void KeyIndex::Clear() {
  buckets_.clear();
  buckets_.shrink_to_fit();
  mask_ = 0;
  size_ = 0;
}

void KeyIndex::Reserve(int64_t keys) {
  int64_t want = 1024;
  while (want < keys * 2) want *= 2;
  if (want > static_cast<int64_t>(buckets_.size())) Rehash(want);
}

void KeyIndex::Rehash(int64_t buckets) {
  std::vector<Bucket> old;
  old.swap(buckets_);
  buckets_.assign(buckets, Bucket{0, -1});
  mask_ = static_cast<uint64_t>(buckets) - 1;
  size_ = 0;
  for (const Bucket& b : old) {
    if (b.row < 0) continue;
    uint64_t i = SplitMix64(static_cast<uint64_t>(b.key)) & mask_;
    while (buckets_[i].row >= 0) i = (i + 1) & mask_;
    buckets_[i] = b;
    ++size_;
  }
}

}  // namespace hugectr_tf
