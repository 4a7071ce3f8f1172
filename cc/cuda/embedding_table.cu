// Host orchestration of the GPU embedding tables (see embedding_table.cuh).

#include <algorithm>
#include <cmath>

#include "cc/core/check.h"
#include "cc/core/embedding/row_init.h"
#include "cc/core/embedding/table_checks.h"
#include "cc/cuda/csr.cuh"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/embedding_backward.cuh"
#include "cc/cuda/embedding_forward.cuh"
#include "cc/cuda/embedding_table.cuh"
#include "cc/cuda/one_hot.cuh"
#include "cc/cuda/unique.cuh"

namespace hugectr_tf {
namespace cuda {

namespace {

template <typename T>
T ReadScalar(const void* device_ptr, cudaStream_t stream) {
  T value{};
  HCTR_CUDA_CHECK(cudaMemcpyAsync(&value, device_ptr, sizeof(T), cudaMemcpyDeviceToHost, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  return value;
}

void CheckBatch(int64_t n, int64_t num_bags) {
  HCTR_CHECK(n >= 0 && n < (int64_t{1} << 31),
             "a batch may hold at most 2^31-1 keys; received " << n << " keys");
  HCTR_CHECK(num_bags >= 0 && num_bags < (int64_t{1} << 31),
             "a batch may hold at most 2^31-1 (sample, slot) bags; received " << num_bags);
}

// The per-step learning rate goes to the device as a kernel argument: nothing on the host
// has to outlive the call, so ApplyRows does not wait for the stream.
__global__ void SetFloatKernel(float* dst, float value) { *dst = value; }

}  // namespace

GpuEmbeddingTable::GpuEmbeddingTable(int64_t max_rows, int vec, uint64_t seed,
                                     const OptimizerParams& opt)
    : vec_(vec), max_rows_(max_rows), seed_(seed), opt_(opt) {
  HCTR_CHECK(vec > 0, "embedding_vec_size must be positive; received " << vec);
  HCTR_CHECK(max_rows > 0, "the table must hold at least one row; received max_rows=" << max_rows);
  const size_t elems = static_cast<size_t>(max_rows) * vec;
  weights_.Reserve(elems * sizeof(float));
  const int slots = OptimizerSlotCount(opt.type);
  if (slots >= 1) slot0_.Reserve(elems * sizeof(float));
  if (slots >= 2) slot1_.Reserve(elems * sizeof(float));
  last_step_.Reserve(static_cast<size_t>(max_rows) * sizeof(int64_t));
  if (opt.update == UpdateType::kGlobal) {
    HCTR_CHECK(max_rows < (int64_t{1} << 31),
               "Global update supports up to 2^31-1 rows; received max_rows=" << max_rows);
    row_to_grad_.Reserve(static_cast<size_t>(max_rows) * sizeof(int32_t));
  }
  counters_.Reserve(256);
  view_ = TableView{weights_.as<float>(), slots >= 1 ? slot0_.as<float>() : nullptr,
                    slots >= 2 ? slot1_.as<float>() : nullptr, last_step_.as<int64_t>(), vec};
}

void GpuEmbeddingTable::CheckRowSplits(const int64_t* row_splits, int64_t num_bags, int64_t n,
                                       cudaStream_t stream) {
  auto* first_bad = counters_.as<unsigned long long>() + 8;
  const unsigned long long none = static_cast<unsigned long long>(num_bags) + 1;
  HCTR_CUDA_CHECK(cudaMemcpyAsync(first_bad, &none, sizeof(none), cudaMemcpyHostToDevice, stream));
  ValidateRowSplitsAsync(row_splits, num_bags, n, first_bad, stream);
  ThrowIfBadRowSplits(row_splits, num_bags, n, first_bad, stream);
}

int64_t GpuEmbeddingTable::Backward(const int64_t* ids, int64_t n, const int64_t* row_splits,
                                    int64_t num_bags, Combiner combiner, const float* dout,
                                    int64_t* unique_ids, float* grads, cudaStream_t stream) {
  CheckBatch(n, num_bags);
  CheckRowSplits(row_splits, num_bags, n, stream);
  if (n == 0) return 0;
  const size_t bytes = BackwardByIdsWorkspaceBytes(n, vec_) + Carver::Align(sizeof(int64_t));
  Carver carve(Scratch(bytes));
  auto* num_unique = carve.take<int64_t>(1);
  void* ws = carve.take<char>(bytes - Carver::Align(sizeof(int64_t)));
  BackwardByIds(ids, n, row_splits, num_bags, combiner, dout, vec_, ws,
                bytes - Carver::Align(sizeof(int64_t)), unique_ids, grads, num_unique, stream);
  return ReadScalar<int64_t>(num_unique, stream);
}

void GpuEmbeddingTable::ApplyRows(const int64_t* rows, const float* grads, int64_t num, float lr,
                                  cudaStream_t stream, const unsigned int* device_num) {
  HCTR_CHECK(num >= 0 && num <= max_rows_,
             "Apply got " << num << " rows for a table of at most " << max_rows_ << " rows");
  ++step_;
  if (step_ >= step_lr_capacity_) {  // the per-step rate history grows by doubling
    const int64_t capacity = std::max<int64_t>(1024, 2 * step_lr_capacity_);
    DeviceBuffer grown(static_cast<size_t>(capacity) * sizeof(float));
    if (step_lr_capacity_ > 0) {
      HCTR_CUDA_CHECK(cudaMemcpyAsync(grown.as<float>(), step_lr_.as<float>(),
                                      step_lr_capacity_ * sizeof(float), cudaMemcpyDeviceToDevice,
                                      stream));
      HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    step_lr_ = std::move(grown);
    step_lr_capacity_ = capacity;
  }
  const float effective = static_cast<float>(EffectiveLearningRate(opt_, lr, step_));
  SetFloatKernel<<<1, 1, 0, stream>>>(step_lr_.as<float>() + step_, effective);
  HCTR_CUDA_CHECK_LAUNCH();
  SparseApply(opt_, view_, step_lr_.as<float>(), step_, rows, grads, num, rows_in_use(),
              row_to_grad_.as<int32_t>(), stream, device_num);
}

void GpuEmbeddingTable::RestoreSteps(int64_t step, const float* lr_history, cudaStream_t stream) {
  HCTR_CHECK(step >= 0, "optimizer state step must be >= 0. Received: step=" << step);
  const int64_t capacity = std::max<int64_t>(1024, step + 1);
  std::vector<float> rates(static_cast<size_t>(capacity), 0.0f);  // [0] unused, as in ApplyRows
  for (int64_t t = 1; t <= step; ++t) {
    rates[t] = static_cast<float>(EffectiveLearningRate(opt_, lr_history[t - 1], t));
  }
  DeviceBuffer grown(static_cast<size_t>(capacity) * sizeof(float));
  HCTR_CUDA_CHECK(cudaMemcpyAsync(grown.as<float>(), rates.data(), rates.size() * sizeof(float),
                                  cudaMemcpyHostToDevice, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // `rates` is a local
  step_lr_ = std::move(grown);
  step_lr_capacity_ = capacity;
  step_ = step;
}

// ---------------------------------------------------------------------------------------------

GpuHashEmbedding::GpuHashEmbedding(int64_t max_rows, int vec, uint64_t seed,
                                   const OptimizerParams& opt, cudaStream_t stream)
    : GpuEmbeddingTable(max_rows, vec, seed, opt) {
  const int64_t capacity = HashCapacityFor(max_rows);
  slots_.Reserve(static_cast<size_t>(capacity) * sizeof(HashSlot));
  row_keys_.Reserve(static_cast<size_t>(max_rows) * sizeof(int64_t));
  row_count_.Reserve(sizeof(long long));
  hash_ = HashTableView{slots_.as<HashSlot>(), capacity, row_count_.as<long long>(),
                        row_keys_.as<int64_t>(), max_rows};
  HashTableClear(hash_, stream);
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
}

int64_t GpuHashEmbedding::LookupRows(const int64_t* keys, int64_t n, bool training, int64_t* rows,
                                     cudaStream_t stream) {
  return LookupRowsImpl(keys, n, training, rows, nullptr, 0, stream);
}

int64_t GpuHashEmbedding::LookupRowsImpl(const int64_t* keys, int64_t n, bool training,
                                         int64_t* rows, const int64_t* row_splits, int64_t num_bags,
                                         cudaStream_t stream) {
  CheckBatch(n, num_bags);
  if (n == 0) {
    if (row_splits != nullptr) CheckRowSplits(row_splits, num_bags, n, stream);
    return 0;
  }
  // One read-back for: misses, reserved-key flag, first bad row_splits entry.
  auto* miss_count = counters_.as<unsigned long long>();
  int* bad_key = reinterpret_cast<int*>(miss_count + 1);
  unsigned long long* first_bad = miss_count + 2;
  unsigned long long init[3] = {0, 0, static_cast<unsigned long long>(num_bags) + 1};
  HCTR_CUDA_CHECK(cudaMemcpyAsync(miss_count, init, sizeof(init), cudaMemcpyHostToDevice, stream));
  if (row_splits != nullptr) ValidateRowSplitsAsync(row_splits, num_bags, n, first_bad, stream);
  HashTableFind(hash_, keys, n, rows, miss_count, bad_key, stream);
  unsigned long long host[3];
  HCTR_CUDA_CHECK(cudaMemcpyAsync(host, miss_count, sizeof(host), cudaMemcpyDeviceToHost, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (row_splits != nullptr) ReportBadRowSplits(row_splits, num_bags, n, host[2]);
  HCTR_CHECK(static_cast<int>(host[1]) == 0,
             "key " << kEmptyKey << " (INT64_MAX) is reserved by the GPU hash table as its empty "
                    << "marker and cannot be looked up; remap it");
  const int64_t misses = static_cast<int64_t>(host[0]);
  if (!training || misses == 0) return training ? 0 : misses;

  if (size_ + misses > max_rows_) {
    // The occurrence count overstates new rows when a new key repeats: count distinct ones.
    const int64_t distinct = DistinctMissing(keys, rows, n, misses, stream);
    if (size_ + distinct > max_rows_) {
      HCTR_FAIL(ErrorCode::kResourceExhausted,
                "the embedding table is full: it holds "
                    << size_ << " of at most " << max_rows_ << " rows and this batch brings "
                    << distinct << " new keys, so it needs " << size_ + distinct
                    << " rows; raise workspace_size_per_gpu_in_mb (nothing was inserted)");
    }
  }
  HashTableInsertMissing(hash_, keys, n, rows, stream);
  HashTableResolveSlots(hash_, n, rows, stream);
  InitNewRows(ReadScalar<long long>(hash_.row_count, stream), stream);
  return 0;
}

void GpuHashEmbedding::FindRowsAsync(const int64_t* keys, int64_t n, int64_t* rows,
                                     unsigned long long* host_out, cudaStream_t stream) {
  CheckBatch(n, 0);
  auto* miss_count = counters_.as<unsigned long long>() + 4;
  HCTR_CUDA_CHECK(cudaMemsetAsync(miss_count, 0, 2 * sizeof(unsigned long long), stream));
  HashTableFind(hash_, keys, n, rows, miss_count, reinterpret_cast<int*>(miss_count + 1), stream);
  HCTR_CUDA_CHECK(cudaMemcpyAsync(host_out, miss_count, 2 * sizeof(unsigned long long),
                                  cudaMemcpyDeviceToHost, stream));
}

void GpuHashEmbedding::InsertMissingAsync(const int64_t* keys, int64_t n, int64_t* rows,
                                          long long* host_rows_in_use, cudaStream_t stream) {
  HashTableInsertMissing(hash_, keys, n, rows, stream);
  HashTableResolveSlots(hash_, n, rows, stream);
  HCTR_CUDA_CHECK(cudaMemcpyAsync(host_rows_in_use, hash_.row_count, sizeof(long long),
                                  cudaMemcpyDeviceToHost, stream));
}

void GpuHashEmbedding::InitNewRows(int64_t new_rows_in_use, cudaStream_t stream) {
  HCTR_CHECK(new_rows_in_use >= size_ && new_rows_in_use <= max_rows_,
             "the hash table's row count went from " << size_ << " to " << new_rows_in_use
                                                     << " (at most " << max_rows_ << ")");
  InitRows(opt_, view_, row_keys_.as<int64_t>(), size_, new_rows_in_use, seed_, nullptr, 0, step_,
           stream);
  size_ = new_rows_in_use;
}

int64_t GpuHashEmbedding::Forward(const int64_t* keys, int64_t n, const int64_t* row_splits,
                                  int64_t num_bags, Combiner combiner, bool training, float* out,
                                  cudaStream_t stream) {
  CheckBatch(n, num_bags);
  lookup_rows_.Reserve(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
  const int64_t misses =
      LookupRowsImpl(keys, n, training, lookup_rows_.as<int64_t>(), row_splits, num_bags, stream);
  EmbeddingForward(view_.weights, vec_, lookup_rows_.as<int64_t>(), row_splits, num_bags, combiner,
                   out, stream);
  return misses;
}

void GpuHashEmbedding::Apply(const int64_t* keys, const float* grads, int64_t num, float lr,
                             cudaStream_t stream) {
  lookup_rows_.Reserve(static_cast<size_t>(std::max<int64_t>(num, 1)) * sizeof(int64_t));
  const int64_t misses = LookupRows(keys, num, false, lookup_rows_.as<int64_t>(), stream);
  HCTR_CHECK(misses == 0, "Apply got " << misses << " of " << num
                                       << " keys that are not in the table; gradients must "
                                          "come from this table's Backward");
  ApplyRows(lookup_rows_.as<int64_t>(), grads, num, lr, stream);
}

int64_t GpuHashEmbedding::DistinctMissing(const int64_t* keys, const int64_t* rows, int64_t n,
                                          int64_t misses, cudaStream_t stream) {
  const size_t m = static_cast<size_t>(misses);
  const size_t unique_bytes = SortedUniqueWorkspaceBytes(misses);
  Carver carve(Scratch(Carver::Align(m * 8) * 2 + Carver::Align(m * 4) +
                       Carver::Align((m + 1) * 4) + Carver::Align(8) * 2 + unique_bytes));
  int64_t* missing = carve.take<int64_t>(m);
  auto* count = carve.take<unsigned long long>(1);
  UniqueOutputs u{carve.take<int64_t>(m), carve.take<int32_t>(m), carve.take<int32_t>(m + 1),
                  carve.take<int64_t>(1)};
  HCTR_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(*count), stream));
  CompactMissingKeys(keys, rows, n, missing, count, stream);
  SortedUnique(missing, misses, carve.take<char>(unique_bytes), unique_bytes, u, stream);
  return ReadScalar<int64_t>(u.num_unique, stream);
}

int64_t GpuHashEmbedding::CountNewKeys(const int64_t* keys, int64_t n, cudaStream_t stream) {
  lookup_rows_.Reserve(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
  int64_t* rows = lookup_rows_.as<int64_t>();
  const int64_t misses = LookupRows(keys, n, /*training=*/false, rows, stream);
  return misses == 0 ? 0 : DistinctMissing(keys, rows, n, misses, stream);
}

void GpuHashEmbedding::Clear(cudaStream_t stream) {
  HashTableClear(hash_, stream);
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  size_ = 0;
}

// ---------------------------------------------------------------------------------------------

GpuOneHotEmbedding::GpuOneHotEmbedding(const std::vector<int64_t>& slot_sizes, int vec,
                                       uint64_t seed, const OptimizerParams& opt,
                                       cudaStream_t stream)
    : GpuEmbeddingTable(CheckedOneHotRows(slot_sizes), vec, seed, opt),
      slot_sizes_(slot_sizes),
      slot_key_limits_(OneHotSlotKeyLimits(slot_sizes)) {
  std::vector<int64_t> offsets(slot_sizes.size() + 1, 0);
  for (size_t s = 0; s < slot_sizes.size(); ++s) offsets[s + 1] = offsets[s] + slot_sizes[s];
  slot_offsets_.Reserve(offsets.size() * sizeof(int64_t));
  HCTR_CUDA_CHECK(cudaMemcpyAsync(slot_offsets_.as<int64_t>(), offsets.data(),
                                  offsets.size() * sizeof(int64_t), cudaMemcpyHostToDevice,
                                  stream));
  slot_limits_.Reserve(slot_key_limits_.size() * sizeof(int64_t));
  HCTR_CUDA_CHECK(cudaMemcpyAsync(slot_limits_.as<int64_t>(), slot_key_limits_.data(),
                                  slot_key_limits_.size() * sizeof(int64_t), cudaMemcpyHostToDevice,
                                  stream));
  // Row r is initialised as the hash table would initialise key r.
  std::vector<int64_t> ids(static_cast<size_t>(max_rows_));
  for (int64_t r = 0; r < max_rows_; ++r) ids[r] = r;
  row_ids_.Reserve(ids.size() * sizeof(int64_t));
  HCTR_CUDA_CHECK(cudaMemcpyAsync(row_ids_.as<int64_t>(), ids.data(), ids.size() * sizeof(int64_t),
                                  cudaMemcpyHostToDevice, stream));
  InitRows(opt_, view_, row_ids_.as<int64_t>(), 0, max_rows_, seed_, slot_offsets_.as<int64_t>(),
           slot_num(), 0, stream);
  seen_.Reserve(static_cast<size_t>(max_rows_));
  HCTR_CUDA_CHECK(cudaMemsetAsync(seen_.as<uint8_t>(), 0, max_rows_, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  row_ids_ = DeviceBuffer();  // only needed to initialise
}

void GpuOneHotEmbedding::ResetRows(cudaStream_t stream) {
  std::vector<int64_t> ids(static_cast<size_t>(max_rows_));
  for (int64_t r = 0; r < max_rows_; ++r) ids[r] = r;
  DeviceBuffer row_ids(ids.size() * sizeof(int64_t));
  HCTR_CUDA_CHECK(cudaMemcpyAsync(row_ids.as<int64_t>(), ids.data(), ids.size() * sizeof(int64_t),
                                  cudaMemcpyHostToDevice, stream));
  InitRows(opt_, view_, row_ids.as<int64_t>(), 0, max_rows_, seed_, slot_offsets_.as<int64_t>(),
           slot_num(), step_, stream);
  HCTR_CUDA_CHECK(cudaMemsetAsync(seen_.as<uint8_t>(), 0, max_rows_, stream));
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // `ids` and `row_ids` are locals
}

void GpuOneHotEmbedding::MarkSeen(const int64_t* rows, int64_t n, cudaStream_t stream) {
  OneHotMarkSeen(rows, n, seen_.as<uint8_t>(), view_.last_step, step_, stream);
}

void GpuOneHotEmbedding::Rows(const int64_t* keys, int64_t n, const int64_t* row_splits,
                              int64_t num_bags, int64_t* rows, cudaStream_t stream) {
  CheckBatch(n, num_bags);
  HCTR_CHECK(num_bags % slot_num() == 0,
             "the batch has " << num_bags << " bags, not a multiple of " << slot_num() << " slots");
  CheckRowSplits(row_splits, num_bags, n, stream);
  if (n == 0) return;
  auto* first_bad = counters_.as<unsigned long long>();
  const unsigned long long none = static_cast<unsigned long long>(n);
  HCTR_CUDA_CHECK(cudaMemcpyAsync(first_bad, &none, sizeof(none), cudaMemcpyHostToDevice, stream));
  OneHotRows(keys, n, row_splits, num_bags, slot_num(), slot_offsets_.as<int64_t>(),
             slot_limits_.as<int64_t>(), rows, first_bad, stream);
  const auto bad = ReadScalar<unsigned long long>(first_bad, stream);
  if (bad < none) {
    const int64_t key = ReadScalar<int64_t>(keys + bad, stream);
    std::vector<int64_t> splits(static_cast<size_t>(num_bags) + 1);
    HCTR_CUDA_CHECK(cudaMemcpy(splits.data(), row_splits, splits.size() * sizeof(int64_t),
                               cudaMemcpyDeviceToHost));
    const int64_t bag = std::upper_bound(splits.begin(), splits.end(), static_cast<int64_t>(bad)) -
                        splits.begin() - 1;
    const int64_t slot = bag % slot_num();
    ThrowOneHotKeyOutOfRange(key, slot, bag / slot_num(), slot_key_limits_[slot]);
  }
}

int64_t GpuOneHotEmbedding::Forward(const int64_t* keys, int64_t n, const int64_t* row_splits,
                                    int64_t num_bags, Combiner combiner, bool training, float* out,
                                    cudaStream_t stream) {
  lookup_rows_.Reserve(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
  int64_t* rows = lookup_rows_.as<int64_t>();
  Rows(keys, n, row_splits, num_bags, rows, stream);
  int64_t misses = 0;
  if (training) {
    OneHotMarkSeen(rows, n, seen_.as<uint8_t>(), view_.last_step, step_, stream);
  } else if (n > 0) {
    auto* miss_count = counters_.as<unsigned long long>() + 4;
    HCTR_CUDA_CHECK(cudaMemsetAsync(miss_count, 0, sizeof(*miss_count), stream));
    OneHotInferenceRows(rows, n, seen_.as<uint8_t>(), miss_count, stream);
    misses = static_cast<int64_t>(ReadScalar<unsigned long long>(miss_count, stream));
  }
  EmbeddingForward(view_.weights, vec_, rows, row_splits, num_bags, combiner, out, stream);
  return misses;
}

}  // namespace cuda
}  // namespace hugectr_tf
