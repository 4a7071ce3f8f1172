// Export and import of the GPU table (see gpu_table.cuh). Checkpoint paths, not the training
// loop: they stage through host memory and keep the CPU core's order of checks and messages.

#include <algorithm>
#include <numeric>

#include "cc/core/check.h"
#include "cc/core/embedding/table_checks.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/gpu_table.cuh"
#include "cc/cuda/gpu_table_util.cuh"
#include "cc/cuda/op_support.cuh"

namespace hugectr_tf {
namespace cuda {

TableState GpuTable::Export(cudaStream_t stream) {
  const int64_t vec = options_.vec;
  const int num_slots = NumOptimizerSlots(options_.optimizer.type);
  const TableView& view = table_->view();
  // Device rows to read: the hash rows in use, or all one-hot rows (the seen ones are kept).
  const int64_t stored = hash_ != nullptr ? hash_->rows_in_use() : one_hot_->max_rows();
  std::vector<int64_t> keys_of_row, slot_of_row, order;
  if (hash_ != nullptr) {
    keys_of_row = ToHost(hash_->row_keys(), stored, stream);
    slot_of_row = ToHost(slot_ids_.as<int64_t>(), stored, stream);
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
  HCTR_CHECK_CODE(static_cast<int64_t>(st.lr_history.size()) == st.step, ErrorCode::kInternal,
                  "the GPU table's step counter (" << st.step << ") and learning-rate history ("
                                                   << st.lr_history.size()
                                                   << " steps) disagree after a failed update");
  return st;
}

void GpuTable::ImportRows(const int64_t* keys, int64_t n, const float* rows,
                          const int64_t* slot_ids_in, cudaStream_t stream) {
  // Checks in the CPU core's order, all before the table changes.
  std::vector<int64_t> sorted(keys, keys + n);
  std::sort(sorted.begin(), sorted.end());
  CheckImportedKeys(sorted, one_hot_ != nullptr ? slot_offsets_.back() : -1);
  if (hash_ != nullptr) {
    CheckTableRoom(0, n, capacity_, options_.vec, options_.workspace_mb, options_.optimizer.type);
    HCTR_CHECK(n == 0 || sorted.back() != kEmptyKey,
               "key " << kEmptyKey << " (INT64_MAX) is reserved by the GPU hash table as "
                      << "its empty marker and cannot be imported; remap it");
  }
  const int64_t vec = options_.vec;
  DeviceBuffer keys_dev = ToDevice(keys, n, stream);
  DeviceBuffer rows_dev = ToDevice(rows, n * vec, stream);
  if (hash_ != nullptr) {
    std::vector<int64_t> slots(n, 0);
    if (slot_ids_in != nullptr) slots.assign(slot_ids_in, slot_ids_in + n);
    DeviceBuffer slots_dev = ToDevice(slots.data(), n, stream);
    DeviceBuffer where(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
    // Empty, then insert every key as a training lookup would: rows initialised from the seed
    // (optimizer slots fresh, last_step = step), then overwritten with the imported values.
    hash_->Clear(stream);
    hash_->LookupRows(keys_dev.as<int64_t>(), n, /*training=*/true, where.as<int64_t>(), stream);
    ScatterRows(rows_dev.as<float>(), where.as<int64_t>(), n, vec, table_->view().weights, stream);
    ScatterRows(slots_dev.as<int64_t>(), where.as<int64_t>(), n, 1, slot_ids_.as<int64_t>(),
                stream);
    HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // before the local buffers are freed
  } else {
    // The slot of a one-hot key follows from the key; rows not imported go back to their
    // initial values, as rows the CPU core would create afresh.
    one_hot_->ResetRows(stream);
    one_hot_->MarkSeen(keys_dev.as<int64_t>(), n, stream);
    ScatterRows(rows_dev.as<float>(), keys_dev.as<int64_t>(), n, vec, table_->view().weights,
                stream);
  }
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // before the local buffers are freed
}

void GpuTable::ImportOptimizerState(const int64_t* keys, int64_t n, const float* opt_slots,
                                    const int64_t* last_step, int64_t step, const float* lr_history,
                                    cudaStream_t stream) {
  CheckOptimizerStateSteps(keys, n, last_step, step);
  DeviceBuffer keys_dev = ToDevice(keys, n, stream);
  DeviceBuffer where(static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int64_t));
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
    if (rows[i] < 0) ThrowOptimizerStateKeyNotInTable(keys[i]);
  }
  table_->RestoreSteps(step, lr_history, stream);
  lr_history_.assign(lr_history, lr_history + step);

  const TableView& view = table_->view();
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
    DeviceBuffer one_dev = ToDevice(one.data(), n * vec, stream);
    ScatterRows(one_dev.as<float>(), where.as<int64_t>(), n, vec, device_slots[s], stream);
    HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // before one_dev is freed
  }
  HCTR_CUDA_CHECK(cudaStreamSynchronize(stream));  // `steps` is a local
}

}  // namespace cuda
}  // namespace hugectr_tf
