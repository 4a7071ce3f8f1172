// Device helpers of the TensorFlow GPU kernels (see op_support.cuh).

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_util.cuh"
#include "cc/cuda/op_support.cuh"

namespace hugectr_tf {
namespace cuda {
namespace {

__global__ void InverseKernel(const int64_t* __restrict__ ids, int64_t n,
                              const int64_t* __restrict__ unique, int64_t num_unique,
                              int64_t* __restrict__ inverse) {
  HCTR_GRID_LOOP(p, n) {
    const int64_t key = ids[p];
    int64_t lo = 0, hi = num_unique;  // first index with unique[index] >= key
    while (lo < hi) {
      const int64_t mid = (lo + hi) >> 1;
      if (unique[mid] < key) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    inverse[p] = lo;
  }
}

__global__ void NewRowSlotsKernel(const int64_t* __restrict__ rows_of_unique, UniqueOutputs u,
                                  int64_t num_unique, const int64_t* __restrict__ row_splits,
                                  int64_t num_bags, int64_t slot_num, int64_t first_new_row,
                                  int64_t* __restrict__ slot_ids) {
  HCTR_GRID_LOOP(k, num_unique) {
    const int64_t row = rows_of_unique[k];
    if (row < first_new_row) continue;
    const int64_t first_position = u.sorted_positions[u.segment_starts[k]];
    slot_ids[row] = BagOfPosition(row_splits, num_bags, first_position) % slot_num;
  }
}

__global__ void OutOfRangeKernel(const int64_t* __restrict__ values, int64_t n, int64_t lo,
                                 int64_t hi, unsigned long long* first_bad) {
  HCTR_GRID_LOOP(i, n) {
    if (values[i] < lo || values[i] >= hi) atomicMin(first_bad, (unsigned long long)i);
  }
}

__global__ void NotAscendingKernel(const int64_t* __restrict__ keys, int64_t n,
                                   unsigned long long* first_bad) {
  HCTR_GRID_LOOP(i, n) {
    if (i > 0 && keys[i] <= keys[i - 1]) atomicMin(first_bad, (unsigned long long)i);
  }
}

__global__ void AbsentRowKernel(const int64_t* __restrict__ keys, int64_t n, int64_t num_rows,
                                const uint8_t* __restrict__ seen, unsigned long long* first_bad) {
  HCTR_GRID_LOOP(i, n) {
    const int64_t r = keys[i];
    if (r < 0 || r >= num_rows || !seen[r]) atomicMin(first_bad, (unsigned long long)i);
  }
}

template <typename T>
__global__ void ScatterKernel(const T* __restrict__ src, const int64_t* __restrict__ index,
                              int64_t n, int64_t width, T* __restrict__ dst) {
  HCTR_GRID_LOOP(e, n * width) {
    const int64_t i = e / width, j = e % width;
    dst[index[i] * width + j] = src[e];
  }
}

__global__ void CountKernel(const uint8_t* __restrict__ flags, int64_t n,
                            unsigned long long* count) {
  unsigned long long local = 0;
  HCTR_GRID_LOOP(i, n) { local += flags[i] != 0; }
  if (local) atomicAdd(count, local);
}

__global__ void FirstIndexOfNewRowKernel(const int64_t* __restrict__ rows, int64_t n,
                                         int64_t first_new_row, int64_t num_new,
                                         unsigned long long* first_index) {
  HCTR_GRID_LOOP(i, n) {
    const int64_t r = rows[i] - first_new_row;
    if (r >= 0 && r < num_new) atomicMin(first_index + r, (unsigned long long)i);
  }
}

__global__ void SlotOfFirstIndexKernel(const unsigned long long* __restrict__ first_index,
                                       const int64_t* __restrict__ slots, int64_t first_new_row,
                                       int64_t num_new, int64_t* __restrict__ slot_ids) {
  HCTR_GRID_LOOP(j, num_new) { slot_ids[first_new_row + j] = slots[first_index[j]]; }
}

template <typename T>
void Scatter(const T* src, const int64_t* index, int64_t n, int64_t width, T* dst,
             cudaStream_t stream) {
  if (n == 0 || width == 0) return;
  ScatterKernel<T><<<GridFor(n * width), kBlock, 0, stream>>>(src, index, n, width, dst);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace

void InverseFromUnique(const int64_t* ids, int64_t n, const int64_t* unique, int64_t num_unique,
                       int64_t* inverse, cudaStream_t stream) {
  if (n == 0) return;
  InverseKernel<<<GridFor(n), kBlock, 0, stream>>>(ids, n, unique, num_unique, inverse);
  HCTR_CUDA_CHECK_LAUNCH();
}

void RecordNewRowSlots(const int64_t* rows_of_unique, const UniqueOutputs& u, int64_t num_unique,
                       const int64_t* row_splits, int64_t num_bags, int64_t slot_num,
                       int64_t first_new_row, int64_t* slot_ids, cudaStream_t stream) {
  if (num_unique == 0) return;
  NewRowSlotsKernel<<<GridFor(num_unique), kBlock, 0, stream>>>(
      rows_of_unique, u, num_unique, row_splits, num_bags, slot_num, first_new_row, slot_ids);
  HCTR_CUDA_CHECK_LAUNCH();
}

void FirstOutOfRange(const int64_t* values, int64_t n, int64_t lo, int64_t hi,
                     unsigned long long* first_bad, cudaStream_t stream) {
  if (n == 0) return;
  OutOfRangeKernel<<<GridFor(n), kBlock, 0, stream>>>(values, n, lo, hi, first_bad);
  HCTR_CUDA_CHECK_LAUNCH();
}

void FirstNotAscending(const int64_t* keys, int64_t n, unsigned long long* first_bad,
                       cudaStream_t stream) {
  if (n < 2) return;
  NotAscendingKernel<<<GridFor(n), kBlock, 0, stream>>>(keys, n, first_bad);
  HCTR_CUDA_CHECK_LAUNCH();
}

void FirstAbsentRow(const int64_t* keys, int64_t n, int64_t num_rows, const uint8_t* seen,
                    unsigned long long* first_bad, cudaStream_t stream) {
  if (n == 0) return;
  AbsentRowKernel<<<GridFor(n), kBlock, 0, stream>>>(keys, n, num_rows, seen, first_bad);
  HCTR_CUDA_CHECK_LAUNCH();
}

void ScatterRows(const float* src, const int64_t* index, int64_t n, int64_t width, float* dst,
                 cudaStream_t stream) {
  Scatter(src, index, n, width, dst, stream);
}

void ScatterRows(const int64_t* src, const int64_t* index, int64_t n, int64_t width, int64_t* dst,
                 cudaStream_t stream) {
  Scatter(src, index, n, width, dst, stream);
}

void RecordFirstSlots(const int64_t* rows, const int64_t* slots, int64_t n, int64_t first_new_row,
                      int64_t num_new, unsigned long long* first_index, int64_t* slot_ids,
                      cudaStream_t stream) {
  if (num_new <= 0) return;
  HCTR_CUDA_CHECK(cudaMemsetAsync(first_index, 0xFF, num_new * sizeof(unsigned long long), stream));
  FirstIndexOfNewRowKernel<<<GridFor(n), kBlock, 0, stream>>>(rows, n, first_new_row, num_new,
                                                              first_index);
  HCTR_CUDA_CHECK_LAUNCH();
  SlotOfFirstIndexKernel<<<GridFor(num_new), kBlock, 0, stream>>>(first_index, slots, first_new_row,
                                                                  num_new, slot_ids);
  HCTR_CUDA_CHECK_LAUNCH();
}

void CountNonZero(const uint8_t* flags, int64_t n, unsigned long long* count, cudaStream_t stream) {
  if (n == 0) return;
  CountKernel<<<GridFor(n), kBlock, 0, stream>>>(flags, n, count);
  HCTR_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace hugectr_tf
