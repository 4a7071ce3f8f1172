#pragma once
// key -> row index map of a hash table: open addressing with linear probing, load factor <= 1/2.
// Not synchronised: the table guards it (readers share, writers exclude).

#include <cstdint>
#include <vector>

namespace hugectr_tf {

class KeyIndex {
 public:
  // Bytes the map spends per stored key at its highest load (two 16-byte buckets per key at
  // load 1/2); part of the capacity formula.
  static constexpr int64_t kBytesPerKey = 32;

  int64_t Find(int64_t key) const;      // row index, or -1 when absent
  void Insert(int64_t key, int64_t row);  // key must be absent
  // Returns the row of `key`, inserting (key, row_if_absent) first when it is absent.
  int64_t FindOrInsert(int64_t key, int64_t row_if_absent);
  void Clear();
  void Reserve(int64_t keys);  // makes room for `keys` keys without further rehashing
  int64_t size() const { return size_; }

 private:
  struct Bucket {
    int64_t key;
    int64_t row;  // -1: empty
  };
  void Rehash(int64_t buckets);
  std::vector<Bucket> buckets_;
  uint64_t mask_ = 0;
  int64_t size_ = 0;
};

}  // namespace hugectr_tf
