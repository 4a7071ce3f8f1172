// The GPU embedding table (see gpu_table.cuh): lookups, apply and the backward here; export and
// import in gpu_table_checkpoint.cu.

#include <algorithm>
#include <climits>

#include "cc/core/check.h"
#include "cc/core/embedding/table_checks.h"
#include "cc/cuda/csr.cuh"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/embedding_backward.cuh"
#include "cc/cuda/gpu_table.cuh"
#include "cc/cuda/gpu_table_util.cuh"
#include "cc/cuda/one_hot.cuh"
#include "cc/cuda/op_support.cuh"
#include "cc/cuda/unique.cuh"

namespace hugectr_tf {
namespace cuda {

GpuTable::GpuTable(const TableOptions& options, cudaStream_t stream) : options_(options) {
  const bool one_hot = options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot;
  capacity_ = CheckedTableCapacity(options_.vec, options_.workspace_mb, options_.optimizer.type,
                                   one_hot, options_.slot_size_array);
  HCTR_CHECK(options_.vec <= INT_MAX, "the GPU table supports embedding_vec_size up to "
                                          << INT_MAX
                                          << ". Received: embedding_vec_size=" << options_.vec);
  HCTR_CUDA_CHECK(cudaGetDevice(&device_));
  const int vec = static_cast<int>(options_.vec);
  if (one_hot) {
    auto table = std::make_unique<GpuOneHotEmbedding>(options_.slot_size_array, vec, options_.seed,
                                                      options_.optimizer, stream);
    one_hot_ = table.get();
    table_ = std::move(table);
    slot_offsets_.assign(1, 0);
    for (int64_t s : options_.slot_size_array) slot_offsets_.push_back(slot_offsets_.back() + s);
  } else {
    // A workspace that holds no row still gets one device row; capacity_ stays 0, so every
    // insert fails as on the CPU.
    const int64_t rows = std::max<int64_t>(capacity_, 1);
    auto table =
        std::make_unique<GpuHashEmbedding>(rows, vec, options_.seed, options_.optimizer, stream);
    hash_ = table.get();
    table_ = std::move(table);
    slot_ids_.Reserve(static_cast<size_t>(rows) * sizeof(int64_t));
    // Defined contents even for a row whose lookup failed after inserting it.
    HCTR_CUDA_CHECK(cudaMemsetAsync(slot_ids_.as<int64_t>(), 0, rows * sizeof(int64_t), stream));
  }
  counters_.Reserve(256);
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
}

GpuTable::~GpuTable() {
  // The owner may drop the table on any thread: free on the device that holds the memory.
  int previous = -1;
  const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != device_ &&
                        cudaSetDevice(device_) == cudaSuccess;
  table_.reset();
  slot_ids_ = DeviceBuffer();
  scratch_ = DeviceBuffer();
  counters_ = DeviceBuffer();
  if (switched) cudaSetDevice(previous);
}

void* GpuTable::Scratch(size_t bytes) {
  scratch_.Reserve(std::max<size_t>(bytes, 1));
  return scratch_.as<void>();
}

int64_t GpuTable::device_bytes() const {
  return table_->max_rows() * TableBytesPerRow(options_.vec, options_.optimizer.type);
}

int64_t GpuTable::size(cudaStream_t stream) {
  if (hash_ != nullptr) return hash_->rows_in_use();
  auto* count = counters_.as<unsigned long long>();
  HCTR_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(*count), stream));
  CountNonZero(one_hot_->seen(), one_hot_->max_rows(), count, stream);
  return static_cast<int64_t>(ReadScalar(count, stream));
}

void GpuTable::CheckRoomFor(const int64_t* keys, int64_t n, const std::string& where,
                            cudaStream_t stream) {
  HCTR_CHECK(hash_ != nullptr, "CheckRoomFor is defined for hash tables only");
  const int64_t held = hash_->rows_in_use();
  if (held + n <= capacity_) return;  // n bounds the new keys
  const int64_t adding = hash_->CountNewKeys(keys, n, stream);
  CheckTableRoom(held, adding, capacity_, options_.vec, options_.workspace_mb,
                 options_.optimizer.type, where);
}

int64_t GpuTable::HashLookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits,
                                  int64_t num_rows, int64_t slot_num, Combiner combiner, float* out,
                                  const int64_t** table_keys, cudaStream_t stream) {
  if (hash_->rows_in_use() + n > capacity_ && n > 0) {
    // Near the limit: the CPU core's order of errors (row_splits first), then the room check.
    auto* first_bad = counters_.as<unsigned long long>() + 8;
    const unsigned long long none = static_cast<unsigned long long>(num_rows) + 1;
    HCTR_CUDA_CHECK(
        cudaMemcpyAsync(first_bad, &none, sizeof(none), cudaMemcpyHostToDevice, stream));
    ValidateRowSplitsAsync(row_splits, num_rows, n, first_bad, stream);
    ThrowIfBadRowSplits(row_splits, num_rows, n, first_bad, stream);
    CheckRoomFor(values, n, "", stream);
  }
  const int64_t old_size = hash_->rows_in_use();
  // Validates row_splits and the reserved key, inserts new keys, combines rows.
  hash_->Forward(values, n, row_splits, num_rows, combiner, /*training=*/true, out, stream);
  *table_keys = values;
  return old_size;
}

int64_t GpuTable::OneHotLookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits,
                                    int64_t num_rows, int64_t slot_num, Combiner combiner,
                                    float* out, const int64_t** table_keys, cudaStream_t stream) {
  // Validates row_splits and the key ranges, marks rows seen, combines rows.
  one_hot_->Forward(values, n, row_splits, num_rows, combiner, /*training=*/true, out, stream);
  // The table keys of a one-hot table are the rows (key + slot offset), as on the CPU.
  lookup_keys_.Reserve(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
  auto* unused_bad = counters_.as<unsigned long long>() + 16;
  HCTR_CUDA_CHECK(cudaMemsetAsync(unused_bad, 0xFF, sizeof(*unused_bad), stream));
  OneHotRows(values, n, row_splits, num_rows, static_cast<int>(slot_num), one_hot_->slot_offsets(),
             one_hot_->slot_limits(), lookup_keys_.as<int64_t>(), unused_bad, stream);
  *table_keys = lookup_keys_.as<int64_t>();
  return 0;
}

int64_t GpuTable::LookupTrain(const int64_t* values, int64_t n, const int64_t* row_splits,
                              int64_t num_rows, int64_t slot_num, Combiner combiner, float* out,
                              int64_t* unique_keys, int64_t* inverse, cudaStream_t stream) {
  CheckSlotRows(num_rows, slot_num);
  if (one_hot_ != nullptr) CheckOneHotSlotNum(slot_num, options_.slot_size_array.size());
  const int64_t* keys = nullptr;
  const int64_t old_size =
      hash_ != nullptr
          ? HashLookupTrain(values, n, row_splits, num_rows, slot_num, combiner, out, &keys, stream)
          : OneHotLookupTrain(values, n, row_splits, num_rows, slot_num, combiner, out, &keys,
                              stream);
  if (n == 0) return 0;
  // The batch's ascending unique table keys and each position's index among them.
  const size_t m = static_cast<size_t>(n);
  const size_t unique_ws = SortedUniqueWorkspaceBytes(n);
  Carver carve(Scratch(Carver::Align(m * 4) + Carver::Align((m + 1) * 4) + Carver::Align(8) +
                       Carver::Align(m * 8) + unique_ws));
  UniqueOutputs u{unique_keys, carve.take<int32_t>(m), carve.take<int32_t>(m + 1),
                  carve.take<int64_t>(1)};
  int64_t* unique_rows = carve.take<int64_t>(m);
  SortedUnique(keys, n, carve.take<char>(unique_ws), unique_ws, u, stream);
  const int64_t num_unique = ReadScalar(u.num_unique, stream);
  InverseFromUnique(keys, n, unique_keys, num_unique, inverse, stream);
  if (hash_ != nullptr && hash_->rows_in_use() > old_size) {
    // New rows remember the slot of their key's first occurrence (export's slot_ids).
    hash_->LookupRows(unique_keys, num_unique, /*training=*/false, unique_rows, stream);
    RecordNewRowSlots(unique_rows, u, num_unique, row_splits, num_rows, slot_num, old_size,
                      slot_ids_.as<int64_t>(), stream);
  }
  // The scratch outlives the call (stream order keeps it valid for the queued kernels).
  return num_unique;
}

int64_t GpuTable::LookupInference(const int64_t* values, int64_t n, const int64_t* row_splits,
                                  int64_t num_rows, int64_t slot_num, Combiner combiner, float* out,
                                  cudaStream_t stream) {
  CheckSlotRows(num_rows, slot_num);
  int64_t missing = 0;
  if (hash_ != nullptr) {
    missing =
        hash_->Forward(values, n, row_splits, num_rows, combiner, /*training=*/false, out, stream);
  } else {
    CheckOneHotSlotNum(slot_num, options_.slot_size_array.size());
    missing = one_hot_->Forward(values, n, row_splits, num_rows, combiner, /*training=*/false, out,
                                stream);
  }
  misses_ += missing;
  return missing;
}

void GpuTable::ApplyGradients(const int64_t* unique_keys, int64_t num_unique, const float* grads,
                              float lr, cudaStream_t stream) {
  CheckLearningRate(lr);
  auto* first_bad = counters_.as<unsigned long long>() + 24;
  // Distinct keys make the row updates independent, as on the CPU: strictly ascending.
  HCTR_CUDA_CHECK(cudaMemsetAsync(first_bad, 0xFF, sizeof(*first_bad), stream));
  FirstNotAscending(unique_keys, num_unique, first_bad, stream);
  const auto bad = ReadScalar(first_bad, stream);
  if (bad < static_cast<unsigned long long>(num_unique)) {
    const int64_t i = static_cast<int64_t>(bad);
    ThrowGradientKeysNotAscending(i, ReadScalar(unique_keys + i - 1, stream),
                                  ReadScalar(unique_keys + i, stream));
  }
  const int64_t* rows = unique_keys;  // one-hot: table key == row
  HCTR_CUDA_CHECK(cudaMemsetAsync(first_bad, 0xFF, sizeof(*first_bad), stream));
  if (hash_ != nullptr) {
    lookup_keys_.Reserve(static_cast<size_t>(std::max<int64_t>(num_unique, 1)) * 8);
    hash_->LookupRows(unique_keys, num_unique, /*training=*/false, lookup_keys_.as<int64_t>(),
                      stream);
    rows = lookup_keys_.as<int64_t>();
    FirstOutOfRange(rows, num_unique, 0, INT64_MAX, first_bad, stream);
  } else {
    FirstAbsentRow(unique_keys, num_unique, one_hot_->max_rows(), one_hot_->seen(), first_bad,
                   stream);
  }
  const auto absent = ReadScalar(first_bad, stream);
  if (absent < static_cast<unsigned long long>(num_unique)) {
    ThrowGradientKeyNotInTable(ReadScalar(unique_keys + absent, stream));
  }
  table_->ApplyRows(rows, grads, num_unique, lr, stream);
  lr_history_.push_back(lr);
}

void GpuTable::FindKeysAsync(const int64_t* keys, int64_t n, int64_t* rows,
                             unsigned long long* host_out, cudaStream_t stream) {
  HCTR_CHECK(hash_ != nullptr, "FindKeysAsync is defined for hash tables only");
  hash_->FindRowsAsync(keys, n, rows, host_out, stream);
}

void GpuTable::CheckRoomForMisses(const int64_t* keys, int64_t n, int64_t misses,
                                  const std::string& where, cudaStream_t stream) {
  HCTR_CHECK(hash_ != nullptr, "CheckRoomForMisses is defined for hash tables only");
  const int64_t held = hash_->rows_in_use();
  if (held + misses <= capacity_) return;  // the missing positions bound the new keys
  const int64_t adding = hash_->CountNewKeys(keys, n, stream);
  CheckTableRoom(held, adding, capacity_, options_.vec, options_.workspace_mb,
                 options_.optimizer.type, where);
}

void GpuTable::InsertMissingAsync(const int64_t* keys, int64_t n, int64_t* rows,
                                  long long* host_rows_in_use, cudaStream_t stream) {
  HCTR_CHECK(hash_ != nullptr, "InsertMissingAsync is defined for hash tables only");
  hash_->InsertMissingAsync(keys, n, rows, host_rows_in_use, stream);
}

void GpuTable::FinishInsert(const int64_t* rows, const int64_t* slots, int64_t n,
                            int64_t new_rows_in_use, cudaStream_t stream) {
  HCTR_CHECK(hash_ != nullptr, "FinishInsert is defined for hash tables only");
  const int64_t old_size = hash_->rows_in_use();
  hash_->InitNewRows(new_rows_in_use, stream);
  const int64_t added = new_rows_in_use - old_size;
  if (added > 0) {
    Carver carve(Scratch(Carver::Align(static_cast<size_t>(added) * 8)));
    RecordFirstSlots(rows, slots, n, old_size, added, carve.take<unsigned long long>(added),
                     slot_ids_.as<int64_t>(), stream);
  }
}

void GpuTable::ApplyDistinctRows(const int64_t* rows, int64_t n, const float* grads, float lr,
                                 cudaStream_t stream, const unsigned int* device_n) {
  CheckLearningRate(lr);
  table_->ApplyRows(rows, grads, n, lr, stream, device_n);
  lr_history_.push_back(lr);
}

// ---------------------------------------------------------------------------------------------

size_t AggregateGradientsWorkspaceBytes(int64_t n, int64_t num_unique, int64_t vec) {
  HCTR_CHECK(vec >= 0 && vec <= INT_MAX, "grad's last dimension must be at most "
                                             << INT_MAX << " on the GPU. Received " << vec);
  return Carver::Align(2 * sizeof(unsigned long long)) +
         BackwardDenseIdsWorkspaceBytes(n, num_unique, static_cast<int>(vec));
}

void AggregateGradients(const float* dout, const int64_t* row_splits, int64_t num_rows,
                        const int64_t* inverse, int64_t n, int64_t num_unique, int64_t vec,
                        Combiner combiner, float* grads, void* workspace, size_t workspace_bytes,
                        cudaStream_t stream) {
  HCTR_CHECK(num_rows < (int64_t{1} << 31),  // bags are int32 inside the GPU backward
             "a batch may hold at most 2^31-1 (sample, slot) bags; received " << num_rows);
  const size_t need = AggregateGradientsWorkspaceBytes(n, num_unique, vec);
  HCTR_CHECK(workspace_bytes >= need,
             "AggregateGradients needs " << need << " workspace bytes, got " << workspace_bytes);
  Carver carve(workspace);
  auto* first_bad = carve.take<unsigned long long>(2);  // row_splits, inverse
  const size_t ws_bytes = workspace_bytes - carve.used();
  void* ws = carve.take<char>(ws_bytes);
  // The CPU core's checks in its order: row_splits, then every inverse entry in
  // [0, num_unique). One read-back for both.
  HCTR_CUDA_CHECK(cudaMemsetAsync(first_bad, 0xFF, 2 * sizeof(unsigned long long), stream));
  ValidateRowSplitsAsync(row_splits, num_rows, n, first_bad, stream);
  FirstOutOfRange(inverse, n, 0, num_unique, first_bad + 1, stream);
  unsigned long long found[2];
  HCTR_CUDA_CHECK(cudaMemcpyAsync(found, first_bad, sizeof(found), cudaMemcpyDeviceToHost, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  ReportBadRowSplits(row_splits, num_rows, n, found[0]);
  if (found[1] < static_cast<unsigned long long>(n)) {
    const int64_t p = static_cast<int64_t>(found[1]);
    HCTR_FAIL(ErrorCode::kInvalidArgument, "inverse[" << p
                                                      << "]=" << ReadScalar(inverse + p, stream)
                                                      << " is outside [0, " << num_unique << ")");
  }
  // Keys no position refers to get a zero gradient, as on the CPU.
  BackwardDenseIds(inverse, n, num_unique, row_splits, num_rows, combiner, dout,
                   static_cast<int>(vec), ws, ws_bytes, grads, stream);
}

}  // namespace cuda
}  // namespace hugectr_tf
