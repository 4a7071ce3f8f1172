// GPU embedding table resource: creation checks, size, export and import (see the header).
// Export and import are checkpoint paths, not the training loop: they stage through host
// memory and reuse the CPU core's order of checks and messages.

#if GOOGLE_CUDA

#include "cc/tf/kernels/embedding_gpu_resource.h"

#include <algorithm>
#include <climits>
#include <numeric>

#include "cc/core/check.h"
#include "cc/core/checked_math.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/op_support.cuh"

namespace hugectr_tf {
namespace {

template <typename T>
std::vector<T> ToHost(const T* device, int64_t count, cudaStream_t stream) {
  std::vector<T> host(static_cast<size_t>(count));
  if (count > 0) {
    HCTR_CUDA_CHECK(cudaMemcpyAsync(host.data(), device, count * sizeof(T),
                                    cudaMemcpyDeviceToHost, stream));
  }
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

// A device copy of a host array (at least one element, so the pointer is never null).
template <typename T>
cuda::DeviceBuffer ToDevice(const T* host, int64_t count, cudaStream_t stream) {
  cuda::DeviceBuffer buf(static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T));
  if (count > 0) {
    HCTR_CUDA_CHECK(cudaMemcpyAsync(buf.as<T>(), host, count * sizeof(T), cudaMemcpyHostToDevice,
                                    stream));
    HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // `host` may be a temporary
  }
  return buf;
}

// The CPU EmbeddingTable constructor's checks (same messages); returns its row capacity.
int64_t CheckedCapacity(const TableOptions& o) {
  HCTR_CHECK(o.vec > 0, "`embedding_vec_size` must be a positive integer. Received: "
                        "embedding_vec_size="
                            << o.vec);
  HCTR_CHECK(o.vec <= INT_MAX, "the GPU table supports embedding_vec_size up to "
                                   << INT_MAX << ". Received: embedding_vec_size=" << o.vec);
  HCTR_CHECK(o.workspace_mb > 0, "`workspace_size_per_gpu_in_mb` must be positive. Received: "
                                 "workspace_size_per_gpu_in_mb="
                                     << o.workspace_mb);
  const int64_t per_row = EmbeddingTable::BytesPerRow(o.vec, o.optimizer.type);
  const int64_t capacity = EmbeddingTable::WorkspaceRows(o.workspace_mb, o.vec, o.optimizer.type);
  if (o.type == TableType::kLocalizedSlotSparseEmbeddingOneHot) {
    HCTR_CHECK(!o.slot_size_array.empty(),
               "`slot_size_array` must be given for LocalizedSlotSparseEmbeddingOneHot. "
               "Received: slot_size_array=[]");
    int64_t total = 0;
    for (size_t s = 0; s < o.slot_size_array.size(); ++s) {
      HCTR_CHECK(o.slot_size_array[s] > 0, "`slot_size_array` entries must be positive. "
                                           "Received: slot_size_array["
                                               << s << "]=" << o.slot_size_array[s]);
      total = CheckedAdd(total, o.slot_size_array[s], "sum of slot_size_array");
    }
    HCTR_CHECK_CODE(total <= capacity, ErrorCode::kResourceExhausted,
                    "LocalizedSlotSparseEmbeddingOneHot needs "
                        << total << " rows (sum of slot_size_array) but "
                        << "workspace_size_per_gpu_in_mb=" << o.workspace_mb << " holds "
                        << capacity << " rows of " << per_row << " bytes; it needs at least "
                        << EmbeddingTable::MegabytesFor(total, o.vec, o.optimizer.type)
                        << " MB: raise workspace_size_per_gpu_in_mb");
  }
  return capacity;
}

}  // namespace

GpuEmbeddingTableResource::GpuEmbeddingTableResource(const TableOptions& options,
                                                     cudaStream_t stream)
    : options_(options) {
  capacity_ = CheckedCapacity(options_);
  HCTR_CUDA_CHECK(cudaGetDevice(&device_));
  const int vec = static_cast<int>(options_.vec);
  if (options_.type == TableType::kLocalizedSlotSparseEmbeddingOneHot) {
    auto table = std::make_unique<cuda::GpuOneHotEmbedding>(options_.slot_size_array, vec,
                                                            options_.seed, options_.optimizer,
                                                            stream);
    one_hot_ = table.get();
    table_ = std::move(table);
    slot_offsets_.assign(1, 0);
    for (int64_t s : options_.slot_size_array) slot_offsets_.push_back(slot_offsets_.back() + s);
    slot_offsets_dev_ = ToDevice(slot_offsets_.data(), slot_offsets_.size(), stream);
  } else {
    // A table the workspace gives no row still needs one device row; the kernels keep the
    // CPU core's limit of 0 (every insert fails).
    const int64_t rows = std::max<int64_t>(capacity_, 1);
    auto table = std::make_unique<cuda::GpuHashEmbedding>(rows, vec, options_.seed,
                                                          options_.optimizer, stream);
    hash_ = table.get();
    table_ = std::move(table);
    slot_ids_.Reserve(static_cast<size_t>(rows) * sizeof(int64_t));
    // Defined contents even for a row whose lookup failed after inserting it.
    HCTR_CUDA_CHECK(cudaMemsetAsync(slot_ids_.as<int64_t>(), 0, rows * sizeof(int64_t), stream));
    HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  counter_.Reserve(256);
}

GpuEmbeddingTableResource::~GpuEmbeddingTableResource() {
  // The last handle may die on any thread: free on the device that holds the memory.
  int previous = -1;
  const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != device_ &&
                        cudaSetDevice(device_) == cudaSuccess;
  table_.reset();
  slot_ids_ = cuda::DeviceBuffer();
  slot_offsets_dev_ = cuda::DeviceBuffer();
  counter_ = cuda::DeviceBuffer();
  if (switched) cudaSetDevice(previous);
}

int64_t GpuEmbeddingTableResource::Size(cudaStream_t stream) {
  if (hash_ != nullptr) return hash_->rows_in_use();
  auto* count = counter_.as<unsigned long long>();
  HCTR_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(*count), stream));
  cuda::CountNonZero(one_hot_->seen(), one_hot_->max_rows(), count, stream);
  return static_cast<int64_t>(ToHost(count, 1, stream)[0]);
}

TableState GpuEmbeddingTableResource::Export(cudaStream_t stream) {
  const int64_t vec = options_.vec;
  const int num_slots = NumOptimizerSlots(options_.optimizer.type);
  const cuda::TableView& view = table_->view();
  // Device rows to read: the hash rows in use, or all one-hot rows (the seen ones are kept).
  const int64_t stored = hash_ != nullptr ? hash_->rows_in_use() : one_hot_->max_rows();
  std::vector<int64_t> keys_of_row, slot_of_row, order;
  if (hash_ != nullptr) {
    keys_of_row = ToHost(hash_->row_keys(), stored, stream);
    slot_of_row = ToHost(slot_ids(), stored, stream);
    order.resize(stored);
    std::iota(order.begin(), order.end(), int64_t{0});
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return keys_of_row[a] < keys_of_row[b]; });
  } else {
    const std::vector<uint8_t> seen = ToHost(one_hot_->seen(), stored, stream);
    for (int64_t r = 0; r < stored; ++r) {
      if (seen[r]) order.push_back(r);  // table key == row: ascending already
    }
  }
  const std::vector<float> weights = ToHost(view.weights, stored * vec, stream);
  const std::vector<float> slot0 =
      num_slots >= 1 ? ToHost(view.slot0, stored * vec, stream) : std::vector<float>();
  const std::vector<float> slot1 =
      num_slots >= 2 ? ToHost(view.slot1, stored * vec, stream) : std::vector<float>();
  const std::vector<int64_t> last_step = ToHost(view.last_step, stored, stream);

  const int64_t n = static_cast<int64_t>(order.size());
  TableState st;
  st.keys.resize(n);
  st.slot_ids.resize(n);
  st.last_step.resize(n);
  st.rows.resize(n * vec);
  st.opt_slots.resize(n * num_slots * vec);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = order[i];
    if (hash_ != nullptr) {
      st.keys[i] = keys_of_row[r];
      st.slot_ids[i] = slot_of_row[r];
    } else {
      st.keys[i] = r;
      st.slot_ids[i] = std::upper_bound(slot_offsets_.begin(), slot_offsets_.end(), r) -
                       slot_offsets_.begin() - 1;
    }
    st.last_step[i] = last_step[r];
    std::copy_n(weights.data() + r * vec, vec, st.rows.data() + i * vec);
    float* slots = st.opt_slots.data() + i * num_slots * vec;  // (slot, vec) per row
    if (num_slots >= 1) std::copy_n(slot0.data() + r * vec, vec, slots);
    if (num_slots >= 2) std::copy_n(slot1.data() + r * vec, vec, slots + vec);
  }
  st.step = table_->step();
  st.lr_history = lr_history_;
  return st;
}

void GpuEmbeddingTableResource::ImportRows(const int64_t* keys, int64_t n, const float* rows,
                                           const int64_t* slot_ids_in, cudaStream_t stream) {
  // Checks in the CPU core's order, all before the table changes.
  std::vector<int64_t> sorted(keys, keys + n);
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 1; i < n; ++i) {
    HCTR_CHECK(sorted[i] != sorted[i - 1],
               "imported keys must be distinct. Received: key " << sorted[i] << " twice");
  }
  if (one_hot_ != nullptr && n > 0) {
    HCTR_CHECK_CODE(sorted.front() >= 0 && sorted.back() < slot_offsets_.back(),
                    ErrorCode::kInvalidArgument,
                    "imported LocalizedSlotSparseEmbeddingOneHot keys must lie in [0, "
                        << slot_offsets_.back() << ") (sum of slot_size_array). Received: key "
                        << (sorted.front() < 0 ? sorted.front() : sorted.back()));
  }
  if (hash_ != nullptr) {
    HCTR_CHECK_CODE(
        n <= capacity_, ErrorCode::kResourceExhausted,
        "embedding table is full: it holds 0 keys, this batch adds "
            << n << " new keys and workspace_size_per_gpu_in_mb=" << options_.workspace_mb
            << " allows " << capacity_ << " rows of "
            << EmbeddingTable::BytesPerRow(options_.vec, options_.optimizer.type)
            << " bytes; the table needs at least "
            << EmbeddingTable::MegabytesFor(n, options_.vec, options_.optimizer.type)
            << " MB: raise workspace_size_per_gpu_in_mb");
    HCTR_CHECK(n == 0 || sorted.back() != cuda::kEmptyKey,
               "key " << cuda::kEmptyKey << " (INT64_MAX) is reserved by the GPU hash table as "
                      << "its empty marker and cannot be imported; remap it");
  }
  const int64_t vec = options_.vec;
  cuda::DeviceBuffer keys_dev = ToDevice(keys, n, stream);
  cuda::DeviceBuffer rows_dev = ToDevice(rows, n * vec, stream);
  if (hash_ != nullptr) {
    std::vector<int64_t> slots(n, 0);
    if (slot_ids_in != nullptr) slots.assign(slot_ids_in, slot_ids_in + n);
    cuda::DeviceBuffer slots_dev = ToDevice(slots.data(), n, stream);
    cuda::DeviceBuffer where(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
    // Empty, then insert every key as a training lookup would: rows initialised from the seed
    // (optimizer slots fresh, last_step = step), then overwritten with the imported values.
    hash_->Clear(stream);
    hash_->LookupRows(keys_dev.as<int64_t>(), n, /*training=*/true, where.as<int64_t>(), stream);
    cuda::ScatterRows(rows_dev.as<float>(), where.as<int64_t>(), n, vec, table_->view().weights,
                      stream);
    cuda::ScatterRows(slots_dev.as<int64_t>(), where.as<int64_t>(), n, 1, slot_ids(), stream);
  } else {
    // The slot of a one-hot key follows from the key; rows not imported go back to their
    // initial values, as rows the CPU core would create afresh.
    one_hot_->ResetRows(stream);
    one_hot_->MarkSeen(keys_dev.as<int64_t>(), n, stream);
    cuda::ScatterRows(rows_dev.as<float>(), keys_dev.as<int64_t>(), n, vec,
                      table_->view().weights, stream);
  }
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // before the local buffers are freed
}

void GpuEmbeddingTableResource::ImportOptimizerState(const int64_t* keys, int64_t n,
                                                     const float* opt_slots,
                                                     const int64_t* last_step, int64_t step,
                                                     const float* lr_history,
                                                     cudaStream_t stream) {
  HCTR_CHECK(step >= 0, "optimizer state step must be >= 0. Received: step=" << step);
  for (int64_t i = 0; i < n; ++i) {
    HCTR_CHECK(last_step[i] >= 0 && last_step[i] <= step,
               "optimizer state of key " << keys[i] << " has last_step=" << last_step[i]
                                         << " outside [0, step=" << step << "]");
  }
  cuda::DeviceBuffer keys_dev = ToDevice(keys, n, stream);
  cuda::DeviceBuffer where(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
  std::vector<int64_t> rows(keys, keys + n);  // one-hot: table key == row
  if (hash_ != nullptr) {
    hash_->LookupRows(keys_dev.as<int64_t>(), n, /*training=*/false, where.as<int64_t>(), stream);
    rows = ToHost(where.as<int64_t>(), n, stream);
  } else {
    const std::vector<uint8_t> seen = ToHost(one_hot_->seen(), one_hot_->max_rows(), stream);
    for (int64_t i = 0; i < n; ++i) {
      if (rows[i] < 0 || rows[i] >= one_hot_->max_rows() || !seen[rows[i]]) rows[i] = -1;
    }
    HCTR_CUDA_CHECK(cudaMemcpyAsync(where.as<int64_t>(), keys, n * sizeof(int64_t),
                                    cudaMemcpyHostToDevice, stream));
  }
  for (int64_t i = 0; i < n; ++i) {
    HCTR_CHECK(rows[i] >= 0, "optimizer state holds key "
                                 << keys[i]
                                 << " which is not in the table; import the sparse model first");
  }
  table_->RestoreSteps(step, lr_history, stream);
  lr_history_.assign(lr_history, lr_history + step);

  const cuda::TableView& view = table_->view();
  const int64_t stored = hash_ != nullptr ? hash_->rows_in_use() : one_hot_->max_rows();
  std::vector<int64_t> steps = ToHost(view.last_step, stored, stream);
  for (auto& s : steps) s = std::min(s, step);
  for (int64_t i = 0; i < n; ++i) steps[rows[i]] = last_step[i];
  HCTR_CUDA_CHECK(cudaMemcpyAsync(view.last_step, steps.data(), stored * sizeof(int64_t),
                                  cudaMemcpyHostToDevice, stream));

  // (n, slots, vec) on the host; one (rows, vec) array per slot on the device.
  const int64_t vec = options_.vec;
  const int num_slots = NumOptimizerSlots(options_.optimizer.type);
  float* device_slots[2] = {view.slot0, view.slot1};
  for (int s = 0; s < num_slots; ++s) {
    std::vector<float> one(static_cast<size_t>(n * vec));
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(opt_slots + (i * num_slots + s) * vec, vec, one.data() + i * vec);
    }
    cuda::DeviceBuffer one_dev = ToDevice(one.data(), n * vec, stream);
    cuda::ScatterRows(one_dev.as<float>(), where.as<int64_t>(), n, vec, device_slots[s], stream);
    HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // before one_dev is freed
  }
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // `steps` is a local
}

std::string GpuEmbeddingTableResource::DebugString() const {
  return "HugeCTR GPU EmbeddingTable(device=" + std::to_string(device_) +
         ", capacity=" + std::to_string(capacity_) + ")";
}

int64_t GpuEmbeddingTableResource::MemoryUsed() const {
  // Device memory, reserved for the whole row limit when the table is created.
  return table_->max_rows() *
         EmbeddingTable::BytesPerRow(options_.vec, options_.optimizer.type);
}

}  // namespace hugectr_tf

#endif  // GOOGLE_CUDA
