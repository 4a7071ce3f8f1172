#pragma once
// Small device helpers of the GPU table (gpu_table.cu) and the sharded table around the verified
// kernels: the lookup's `inverse`, slot ids of new rows, input checks that name the first bad
// position, a row scatter, and a count.

#include <cuda_runtime.h>

#include <cstdint>

#include "cc/cuda/unique.cuh"

namespace hugectr_tf {
namespace cuda {

// inverse[p] = index of ids[p] in unique[0 .. num_unique) (ascending, holding every id).
void InverseFromUnique(const int64_t* ids, int64_t n, const int64_t* unique, int64_t num_unique,
                       int64_t* inverse, cudaStream_t stream);

// For every unique key u whose row (rows_of_unique[u]) is >= first_new_row: slot_ids[row] =
// slot of the key's first occurrence (bag % slot_num), as the CPU core records it. `u` is the
// batch's SortedUnique output (positions ascending within a key).
void RecordNewRowSlots(const int64_t* rows_of_unique, const UniqueOutputs& u, int64_t num_unique,
                       const int64_t* row_splits, int64_t num_bags, int64_t slot_num,
                       int64_t first_new_row, int64_t* slot_ids, cudaStream_t stream);

// Lowers *first_bad (start it above n - 1, e.g. all ones) to the first i with values[i]
// outside [lo, hi).
void FirstOutOfRange(const int64_t* values, int64_t n, int64_t lo, int64_t hi,
                     unsigned long long* first_bad, cudaStream_t stream);

// Lowers *first_bad (start above n - 1) to the first i >= 1 with keys[i] <= keys[i - 1].
void FirstNotAscending(const int64_t* keys, int64_t n, unsigned long long* first_bad,
                       cudaStream_t stream);

// Lowers *first_bad (start above n - 1) to the first i whose one-hot row keys[i] is outside
// [0, num_rows) or not seen (not in the table).
void FirstAbsentRow(const int64_t* keys, int64_t n, int64_t num_rows, const uint8_t* seen,
                    unsigned long long* first_bad, cudaStream_t stream);

// dst[index[i] * width + j] = src[i * width + j] for i < n, j < width (indices distinct).
void ScatterRows(const float* src, const int64_t* index, int64_t n, int64_t width, float* dst,
                 cudaStream_t stream);
void ScatterRows(const int64_t* src, const int64_t* index, int64_t n, int64_t width, int64_t* dst,
                 cudaStream_t stream);

// For each new row r in [first_new_row, first_new_row + num_new) that rows (n) refers to:
// slot_ids[r] = slots[i] for the smallest i with rows[i] == r. first_index: num_new scratch.
void RecordFirstSlots(const int64_t* rows, const int64_t* slots, int64_t n, int64_t first_new_row,
                      int64_t num_new, unsigned long long* first_index, int64_t* slot_ids,
                      cudaStream_t stream);

// *count += number of nonzero flags[0 .. n).
void CountNonZero(const uint8_t* flags, int64_t n, unsigned long long* count, cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
