#pragma once
// LocalizedSlotSparseEmbeddingOneHot addressing: a value of slot s with key k uses dense row
// k + slot_offsets[s], where slot_offsets is the prefix sum of slot_size_array. A slot of size 0
// shares the offset and the key range of the next slot with a positive size (OneHotSlotKeyLimits).

#include <cuda_runtime.h>

#include <cstdint>

namespace hugectr_tf {
namespace cuda {

// rows[i] = keys[i] + slot_offsets[s] for the slot s = bag % slot_num of value i. A key outside
// [0, slot_limits[s]) leaves rows[i] = -1 and lowers *first_bad (init to n) to its position.
void OneHotRows(const int64_t* keys,  // (n)
                int64_t n,
                const int64_t* row_splits,  // (num_bags + 1), num_bags = batch * slot_num
                int64_t num_bags, int slot_num,
                const int64_t* slot_offsets,  // (slot_num + 1)
                const int64_t* slot_limits,   // (slot_num) keys of slot s lie in [0, limit)
                int64_t* rows,                // (n)
                unsigned long long* first_bad, cudaStream_t stream);

// Training: rows seen for the first time get seen[r] = 1 and last_step[r] = step (the CPU core
// creates one-hot rows on first sight; the GPU table holds them all but tracks the same set).
void OneHotMarkSeen(const int64_t* rows, int64_t n, uint8_t* seen, int64_t* last_step, int64_t step,
                    cudaStream_t stream);

// Inference: rows never seen in training count as misses (-1), as absent keys of the CPU core.
void OneHotInferenceRows(int64_t* rows, int64_t n, const uint8_t* seen,
                         unsigned long long* miss_count, cudaStream_t stream);

}  // namespace cuda
}  // namespace hugectr_tf
