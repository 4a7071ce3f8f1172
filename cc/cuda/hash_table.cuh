#pragma once
// GPU open-addressing hash table key -> row index (linear probing, 16-byte slots). Host
// declarations only; kernels live in hash_table.cu.
//
// Concurrency: insertion claims a slot with a 64-bit atomicCAS on its key and takes a row index
// from a device counter, so any number of threads may insert the same or different keys at once.
// The claiming thread publishes the slot's row; other threads that met the key in the same launch
// record the slot instead (encoded as -(slot + 2)) and ResolveSlots turns it into the row after the
// launch, so no thread ever spins waiting for another.

#include <cuda_runtime.h>

#include <cstdint>

namespace hugectr_tf {
namespace cuda {

struct alignas(16) HashSlot {
  long long key;  // kEmptyKey when free
  long long row;  // row index of the key in the table's dense storage
};

struct HashTableView {
  HashSlot* slots;       // (capacity)
  int64_t capacity;      // a power of two, at least twice the row limit: probing always ends
  long long* row_count;  // device counter of rows handed out
  int64_t* row_keys;     // (max_rows) key of each row, for export and initialisation
  int64_t max_rows;      // hard row limit (checked on the host before inserting)
};

// Smallest power-of-two slot count that keeps the load factor <= 1/2 for max_rows rows.
int64_t HashCapacityFor(int64_t max_rows);

// Marks every slot free and resets the row counter.
void HashTableClear(const HashTableView& t, cudaStream_t stream);

// Find-only: rows[i] = row of keys[i] or -1. Adds the number of misses to *miss_count and sets
// *bad_key to 1 when a key equals the reserved kEmptyKey.
void HashTableFind(const HashTableView& t, const int64_t* keys,  // (n)
                   int64_t n, int64_t* rows,                     // (n)
                   unsigned long long* miss_count, int* bad_key, cudaStream_t stream);

// For every i with rows[i] == -1 (a miss of HashTableFind): insert-or-find keys[i]. The thread
// that inserts writes the new row; others write -(slot + 2). Call ResolveSlots next.
void HashTableInsertMissing(const HashTableView& t, const int64_t* keys,  // (n)
                            int64_t n, int64_t* rows,                     // (n) in/out
                            cudaStream_t stream);

// rows[i] <= -2 becomes the row published in slot -(rows[i] + 2).
void HashTableResolveSlots(const HashTableView& t, int64_t n, int64_t* rows, cudaStream_t stream);

// Writes the keys of rows whose rows[i] == -1 into out[0 .. *count) (order unspecified).
void CompactMissingKeys(const int64_t* keys, const int64_t* rows, int64_t n, int64_t* out,
                        unsigned long long* count, cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
