// The sharded GPU table (see sharded_embedding.cuh). Compiled only with HUGECTR_TF_WITH_NCCL.

#if defined(HUGECTR_TF_WITH_NCCL)

#include <algorithm>
#include <sstream>
#include <string>

#include "cc/core/check.h"
#include "cc/core/embedding/table_checks.h"
#include "cc/cuda/csr.cuh"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/embedding_backward.cuh"
#include "cc/cuda/embedding_forward.cuh"
#include "cc/cuda/shard_routing.cuh"
#include "cc/cuda/sharded_embedding.cuh"
#include "cc/cuda/types.cuh"
#include "cc/cuda/unique.cuh"

#define HCTR_NCCL_CHECK(call)                                                                  \
  do {                                                                                         \
    const ncclResult_t hctr_nccl_err_ = (call);                                                \
    if (hctr_nccl_err_ != ncclSuccess) {                                                       \
      std::ostringstream hctr_nccl_os_;                                                        \
      hctr_nccl_os_ << "NCCL call `" #call "` failed: " << ncclGetErrorString(hctr_nccl_err_); \
      ::hugectr_tf::detail::Throw(::hugectr_tf::ErrorCode::kInternal, __FILE__, __LINE__,      \
                                  hctr_nccl_os_.str());                                        \
    }                                                                                          \
  } while (0)

namespace hugectr_tf {
namespace cuda {
namespace {

// Makes `device` current for the scope (the CUDA runtime calls of one rank).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    HCTR_CUDA_CHECK(cudaGetDevice(&previous_));
    HCTR_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

void Grow(DeviceBuffer& buffer, size_t bytes) { buffer.Reserve(std::max<size_t>(bytes, 8)); }

std::vector<int64_t> Offsets(const std::vector<int64_t>& counts) {
  std::vector<int64_t> at(counts.size() + 1, 0);
  for (size_t i = 0; i < counts.size(); ++i) at[i + 1] = at[i] + counts[i];
  return at;
}

}  // namespace

struct ShardedGpuTable::Rank {
  int device = 0;
  cudaStream_t stream = nullptr;
  ncclComm_t comm = nullptr;
  std::unique_ptr<GpuTable> table;
  cudaEvent_t start = nullptr, stop = nullptr;

  // Requester side, kept from the forward for the backward.
  Batch batch{};
  std::vector<int64_t> send_counts, send_off;  // distinct keys this GPU sends each owner
  std::vector<int64_t> recv_counts, recv_off;  // keys this GPU (as owner) gets from each GPU
  DeviceBuffer owner, perm, grouped_keys, seg_keys, seg_positions, seg_starts, unique_counts;
  DeviceBuffer merged_keys, merged_positions, merged_starts, merged_count;
  DeviceBuffer value_rows, first_slots, counters, all_counts, ret_vecs, ret_rows, send_grads;
  // Owner side.
  DeviceBuffer recv_keys, recv_slots, recv_rows, gathered, recv_grads, iota_splits;
  DeviceBuffer owner_keys, owner_grads, owner_count_dev;
  int64_t owner_count = 0;
  DeviceBuffer scratch;

  int64_t num_unique() const { return send_off.empty() ? 0 : send_off.back(); }
  int64_t num_received() const { return recv_off.empty() ? 0 : recv_off.back(); }
  UniqueOutputs merged() const {
    return UniqueOutputs{merged_keys.as<int64_t>(), merged_positions.as<int32_t>(),
                         merged_starts.as<int32_t>(), merged_count.as<int64_t>()};
  }
  void* Scratch(size_t bytes) {
    Grow(scratch, bytes);
    return scratch.as<void>();
  }
};

ShardedGpuTable::ShardedGpuTable(const TableOptions& options, const std::vector<int>& devices,
                                 const std::vector<ncclComm_t>& comms,
                                 const std::vector<cudaStream_t>& streams)
    : options_(options) {
  const size_t g = devices.size();
  HCTR_CHECK(g >= 1 && g <= static_cast<size_t>(kMaxShards),
             "a sharded table has 1 to " << kMaxShards << " GPUs; received " << g);
  HCTR_CHECK(comms.size() == g && streams.size() == g,
             "one NCCL communicator and one stream per GPU: received "
                 << g << " devices, " << comms.size() << " communicators, " << streams.size()
                 << " streams");
  HCTR_CHECK(options.type != TableType::kLocalizedSlotSparseEmbeddingOneHot,
             "LocalizedSlotSparseEmbeddingOneHot is not sharded over GPUs; use "
             "DistributedSlotSparseEmbeddingHash or LocalizedSlotSparseEmbeddingHash");
  by_slot_ = options.type == TableType::kLocalizedSlotSparseEmbeddingHash;
  for (size_t i = 0; i < g; ++i) {
    auto rank = std::make_unique<Rank>();
    rank->device = devices[i];
    rank->stream = streams[i];
    rank->comm = comms[i];
    DeviceGuard guard(rank->device);
    rank->table = std::make_unique<GpuTable>(options, rank->stream);
    HCTR_CUDA_CHECK(cudaEventCreate(&rank->start));
    HCTR_CUDA_CHECK(cudaEventCreate(&rank->stop));
    ranks_.push_back(std::move(rank));
  }
}

ShardedGpuTable::~ShardedGpuTable() {
  for (auto& rank : ranks_) {
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(rank->device);
    cudaStreamSynchronize(rank->stream);
    if (rank->start) cudaEventDestroy(rank->start);
    if (rank->stop) cudaEventDestroy(rank->stop);
    rank.reset();  // buffers are freed on the rank's device
    cudaSetDevice(previous);
  }
}

GpuTable& ShardedGpuTable::shard(int g) {
  HCTR_CHECK(g >= 0 && g < num_shards(), "shard " << g << " of " << num_shards());
  return *ranks_[g]->table;
}

cudaStream_t ShardedGpuTable::stream(int g) const { return ranks_.at(g)->stream; }
int64_t ShardedGpuTable::owner_count(int g) const { return ranks_.at(g)->owner_count; }
const int64_t* ShardedGpuTable::owner_keys(int g) const {
  return ranks_.at(g)->owner_keys.as<int64_t>();
}
const float* ShardedGpuTable::owner_grads(int g) const {
  return ranks_.at(g)->owner_grads.as<float>();
}

void ShardedGpuTable::SyncAll() {
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaStreamSynchronize(r->stream));
  }
}

void ShardedGpuTable::Route(const std::vector<Batch>& batches, int64_t slot_num) {
  const int G = num_shards();
  HCTR_CHECK(static_cast<int>(batches.size()) == G, "the sharded table takes one batch per GPU ("
                                                        << G << "); received " << batches.size());
  have_forward_ = false;
  // 1. Owner of every position, the owners' counts and the input checks: one read-back.
  std::vector<std::vector<unsigned long long>> found(G);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    const Batch& b = batches[g];
    HCTR_CHECK(
        b.n >= 0 && b.n < (int64_t{1} << 31) && b.num_rows >= 0 && b.num_rows < (int64_t{1} << 31),
        "the batch of GPU " << g << " has " << b.n << " keys in " << b.num_rows
                            << " (sample, slot) rows; at most 2^31-1 of each");
    CheckSlotRows(b.num_rows, slot_num);
    r.batch = b;
    DeviceGuard guard(r.device);
    Grow(r.owner, b.n * 4);
    Grow(r.counters, (G + 2) * 8);
    auto* counts = r.counters.as<unsigned long long>();
    HCTR_CUDA_CHECK(cudaMemsetAsync(counts, 0, G * 8, r.stream));
    HCTR_CUDA_CHECK(cudaMemsetAsync(counts + G, 0xFF, 2 * 8, r.stream));
    ValidateRowSplitsAsync(b.row_splits, b.num_rows, b.n, counts + G + 1, r.stream);
    OwnersOfPositions(b.values, b.n, b.row_splits, b.num_rows, slot_num, by_slot_, G,
                      r.owner.as<int32_t>(), counts, counts + G, r.stream);
    found[g].resize(G + 2);
    HCTR_CUDA_CHECK(
        cudaMemcpyAsync(found[g].data(), counts, (G + 2) * 8, cudaMemcpyDeviceToHost, r.stream));
  }
  SyncAll();
  for (int g = 0; g < G; ++g) {
    const Batch& b = batches[g];
    DeviceGuard guard(ranks_[g]->device);
    try {
      ReportBadRowSplits(b.row_splits, b.num_rows, b.n, found[g][G + 1]);
    } catch (const Error& e) {
      throw Error(e.code(), "the batch of GPU " + std::to_string(g) + ": " + e.what());
    }
    HCTR_CHECK(found[g][G] >= static_cast<unsigned long long>(b.n),
               "the batch of GPU " << g << ": key " << kEmptyKey
                                   << " (INT64_MAX) is reserved by the GPU hash table as its "
                                      "empty marker and cannot be looked up; remap it");
  }
  // 2. Each owner's distinct keys, ascending, merged owner-major; the count matrix.
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    const Batch& b = r.batch;
    DeviceGuard guard(r.device);
    ShardOffsets at{};
    for (int s = 0; s < G; ++s) at.at[s + 1] = at.at[s] + static_cast<int64_t>(found[g][s]);
    const size_t n = static_cast<size_t>(b.n);
    Grow(r.perm, n * 4);
    Grow(r.grouped_keys, n * 8);
    Grow(r.seg_keys, n * 8);
    Grow(r.seg_positions, n * 4);
    Grow(r.seg_starts, (n + G) * 4);
    Grow(r.unique_counts, G * 8);
    Grow(r.merged_keys, n * 8);
    Grow(r.merged_positions, n * 4);
    Grow(r.merged_starts, (n + 1) * 4);
    Grow(r.merged_count, 8);
    Grow(r.value_rows, n * 8);
    Grow(r.first_slots, n * 8);
    Grow(r.all_counts, G * G * 8);
    const size_t ws = std::max(GroupByOwnerWorkspaceBytes(b.n, G), SortedUniqueWorkspaceBytes(b.n));
    void* scratch = r.Scratch(ws);
    GroupByOwner(r.owner.as<int32_t>(), b.values, b.n, G, scratch, ws, r.perm.as<int32_t>(),
                 r.grouped_keys.as<int64_t>(), r.stream);
    int64_t* unique_counts = r.unique_counts.as<int64_t>();
    HCTR_CUDA_CHECK(cudaMemsetAsync(unique_counts, 0, G * 8, r.stream));
    for (int s = 0; s < G; ++s) {
      const int64_t first = at.at[s], count = at.at[s + 1] - first;
      if (count == 0) continue;
      const UniqueOutputs u{r.seg_keys.as<int64_t>() + first, r.seg_positions.as<int32_t>() + first,
                            r.seg_starts.as<int32_t>() + first + s, unique_counts + s};
      SortedUnique(r.grouped_keys.as<int64_t>() + first, count, scratch, ws, u, r.stream);
    }
    MergeOwnerUniques(at, G, r.seg_keys.as<int64_t>(), r.seg_positions.as<int32_t>(),
                      r.seg_starts.as<int32_t>(), unique_counts, r.perm.as<int32_t>(), b.n,
                      r.merged(), r.stream);
    IndexPositions(r.merged(), b.n, b.row_splits, b.num_rows, slot_num, r.value_rows.as<int64_t>(),
                   r.first_slots.as<int64_t>(), r.stream);
  }
  if (G > 1) {
    HCTR_NCCL_CHECK(ncclGroupStart());
    for (auto& r : ranks_) {
      HCTR_NCCL_CHECK(ncclAllGather(r->unique_counts.as<int64_t>(), r->all_counts.as<int64_t>(), G,
                                    ncclInt64, r->comm, r->stream));
    }
    HCTR_NCCL_CHECK(ncclGroupEnd());
  } else {
    HCTR_CUDA_CHECK(cudaMemcpyAsync(ranks_[0]->all_counts.as<int64_t>(),
                                    ranks_[0]->unique_counts.as<int64_t>(), 8,
                                    cudaMemcpyDeviceToDevice, ranks_[0]->stream));
  }
  std::vector<std::vector<int64_t>> matrix(G, std::vector<int64_t>(G * G));
  for (int g = 0; g < G; ++g) {
    DeviceGuard guard(ranks_[g]->device);
    HCTR_CUDA_CHECK(cudaMemcpyAsync(matrix[g].data(), ranks_[g]->all_counts.as<int64_t>(),
                                    G * G * 8, cudaMemcpyDeviceToHost, ranks_[g]->stream));
  }
  SyncAll();
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    r.send_counts.assign(G, 0);
    r.recv_counts.assign(G, 0);
    for (int s = 0; s < G; ++s) {
      r.send_counts[s] = matrix[g][g * G + s];  // row g: what GPU g sends each owner
      r.recv_counts[s] = matrix[g][s * G + g];  // column g: what each GPU sends GPU g
    }
    r.send_off = Offsets(r.send_counts);
    r.recv_off = Offsets(r.recv_counts);
  }
}

void ShardedGpuTable::ExchangeKeys(bool with_slots) {
  const int G = num_shards();
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    Grow(r.recv_keys, r.num_received() * 8);
    Grow(r.recv_slots, r.num_received() * 8);
    // A GPU's own keys are a local copy.
    HCTR_CUDA_CHECK(cudaMemcpyAsync(r.recv_keys.as<int64_t>() + r.recv_off[g],
                                    r.merged_keys.as<int64_t>() + r.send_off[g],
                                    r.send_counts[g] * 8, cudaMemcpyDeviceToDevice, r.stream));
    if (with_slots) {
      HCTR_CUDA_CHECK(cudaMemcpyAsync(r.recv_slots.as<int64_t>() + r.recv_off[g],
                                      r.first_slots.as<int64_t>() + r.send_off[g],
                                      r.send_counts[g] * 8, cudaMemcpyDeviceToDevice, r.stream));
    }
  }
  if (G == 1) return;
  HCTR_NCCL_CHECK(ncclGroupStart());
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    for (int o = 0; o < G; ++o) {
      if (o == g) continue;
      if (r.send_counts[o] > 0) {
        HCTR_NCCL_CHECK(ncclSend(r.merged_keys.as<int64_t>() + r.send_off[o], r.send_counts[o],
                                 ncclInt64, o, r.comm, r.stream));
        if (with_slots) {
          HCTR_NCCL_CHECK(ncclSend(r.first_slots.as<int64_t>() + r.send_off[o], r.send_counts[o],
                                   ncclInt64, o, r.comm, r.stream));
        }
      }
      if (r.recv_counts[o] > 0) {
        HCTR_NCCL_CHECK(ncclRecv(r.recv_keys.as<int64_t>() + r.recv_off[o], r.recv_counts[o],
                                 ncclInt64, o, r.comm, r.stream));
        if (with_slots) {
          HCTR_NCCL_CHECK(ncclRecv(r.recv_slots.as<int64_t>() + r.recv_off[o], r.recv_counts[o],
                                   ncclInt64, o, r.comm, r.stream));
        }
      }
    }
  }
  HCTR_NCCL_CHECK(ncclGroupEnd());
}

void ShardedGpuTable::ExchangeRows(bool training) {
  const int G = num_shards();
  const int64_t vec = options_.vec;
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    Grow(r.ret_vecs, r.num_unique() * vec * 4);
    Grow(r.ret_rows, r.num_unique() * 8);
    HCTR_CUDA_CHECK(cudaMemcpyAsync(
        r.ret_vecs.as<float>() + r.send_off[g] * vec, r.gathered.as<float>() + r.recv_off[g] * vec,
        r.send_counts[g] * vec * 4, cudaMemcpyDeviceToDevice, r.stream));
    if (!training) {
      HCTR_CUDA_CHECK(cudaMemcpyAsync(r.ret_rows.as<int64_t>() + r.send_off[g],
                                      r.recv_rows.as<int64_t>() + r.recv_off[g],
                                      r.send_counts[g] * 8, cudaMemcpyDeviceToDevice, r.stream));
    }
  }
  if (G == 1) return;
  HCTR_NCCL_CHECK(ncclGroupStart());
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    for (int o = 0; o < G; ++o) {
      if (o == g) continue;
      // As owner: the rows of GPU o's keys go back to o; as requester: rows of my keys come.
      if (r.recv_counts[o] > 0) {
        HCTR_NCCL_CHECK(ncclSend(r.gathered.as<float>() + r.recv_off[o] * vec,
                                 r.recv_counts[o] * vec, ncclFloat32, o, r.comm, r.stream));
        if (!training) {
          HCTR_NCCL_CHECK(ncclSend(r.recv_rows.as<int64_t>() + r.recv_off[o], r.recv_counts[o],
                                   ncclInt64, o, r.comm, r.stream));
        }
      }
      if (r.send_counts[o] > 0) {
        HCTR_NCCL_CHECK(ncclRecv(r.ret_vecs.as<float>() + r.send_off[o] * vec,
                                 r.send_counts[o] * vec, ncclFloat32, o, r.comm, r.stream));
        if (!training) {
          HCTR_NCCL_CHECK(ncclRecv(r.ret_rows.as<int64_t>() + r.send_off[o], r.send_counts[o],
                                   ncclInt64, o, r.comm, r.stream));
        }
      }
    }
  }
  HCTR_NCCL_CHECK(ncclGroupEnd());
}

namespace {

// Runs `exchange` between events on every rank's stream (after draining the streams, so the
// time is the exchange's alone) when timing; returns the slowest rank's milliseconds.
template <typename Ranks, typename F>
double Timed(bool timing, Ranks& ranks, F&& exchange) {
  if (!timing) {
    exchange();
    return 0;
  }
  for (auto& r : ranks) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaStreamSynchronize(r->stream));
    HCTR_CUDA_CHECK(cudaEventRecord(r->start, r->stream));
  }
  exchange();
  double slowest = 0;
  for (auto& r : ranks) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaEventRecord(r->stop, r->stream));
    HCTR_CUDA_CHECK(cudaEventSynchronize(r->stop));
    float ms = 0;
    HCTR_CUDA_CHECK(cudaEventElapsedTime(&ms, r->start, r->stop));
    slowest = std::max(slowest, static_cast<double>(ms));
  }
  return slowest;
}

// The most any GPU sends to other GPUs, in items of `width` elements of `bytes` each.
template <typename Ranks>
int64_t RemoteBytes(const Ranks& ranks, bool owner_side, int64_t width, int64_t bytes) {
  int64_t most = 0;
  for (size_t g = 0; g < ranks.size(); ++g) {
    int64_t items = 0;
    for (size_t o = 0; o < ranks.size(); ++o) {
      if (o != g) items += owner_side ? ranks[g]->recv_counts[o] : ranks[g]->send_counts[o];
    }
    most = std::max(most, items * width * bytes);
  }
  return most;
}

}  // namespace

void ShardedGpuTable::LookupTrain(const std::vector<Batch>& batches, int64_t slot_num,
                                  Combiner combiner, const std::vector<float*>& out) {
  const int G = num_shards();
  HCTR_CHECK(static_cast<int>(out.size()) == G, "one output per GPU; received " << out.size());
  Route(batches, slot_num);
  last_ = Timing{};
  last_.keys_ms = Timed(timing_, ranks_, [&] { ExchangeKeys(/*with_slots=*/true); });
  last_.keys_bytes = RemoteBytes(ranks_, false, 2, 8);
  // Every shard has room for its new keys before any shard inserts: a full shard fails the
  // whole lookup and leaves every shard as it was.
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    r.table->CheckRoomFor(r.recv_keys.as<int64_t>(), r.num_received(),
                          "shard " + std::to_string(g) + " of " + std::to_string(G), r.stream);
  }
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    Grow(r.recv_rows, r.num_received() * 8);
    Grow(r.gathered, r.num_received() * options_.vec * 4);
    r.table->LookupKeys(r.recv_keys.as<int64_t>(), r.recv_slots.as<int64_t>(), r.num_received(),
                        /*training=*/true, r.recv_rows.as<int64_t>(), r.stream);
    r.table->GatherRows(r.recv_rows.as<int64_t>(), r.num_received(), r.gathered.as<float>(),
                        r.stream);
  }
  last_.vectors_ms = Timed(timing_, ranks_, [&] { ExchangeRows(/*training=*/true); });
  last_.vectors_bytes = RemoteBytes(ranks_, true, options_.vec, 4);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    EmbeddingForward(r.ret_vecs.as<float>(), static_cast<int>(options_.vec),
                     r.value_rows.as<int64_t>(), r.batch.row_splits, r.batch.num_rows, combiner,
                     out[g], r.stream);
  }
  combiner_ = combiner;
  have_forward_ = true;
}

int64_t ShardedGpuTable::LookupInference(const std::vector<Batch>& batches, int64_t slot_num,
                                         Combiner combiner, const std::vector<float*>& out) {
  const int G = num_shards();
  HCTR_CHECK(static_cast<int>(out.size()) == G, "one output per GPU; received " << out.size());
  Route(batches, slot_num);
  ExchangeKeys(/*with_slots=*/false);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    Grow(r.recv_rows, r.num_received() * 8);
    Grow(r.gathered, r.num_received() * options_.vec * 4);
    r.table->LookupKeys(r.recv_keys.as<int64_t>(), nullptr, r.num_received(),
                        /*training=*/false, r.recv_rows.as<int64_t>(), r.stream);
    r.table->GatherRows(r.recv_rows.as<int64_t>(), r.num_received(), r.gathered.as<float>(),
                        r.stream);
  }
  ExchangeRows(/*training=*/false);
  std::vector<unsigned long long> missing(G, 0);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    auto* count = r.counters.as<unsigned long long>();
    HCTR_CUDA_CHECK(cudaMemsetAsync(count, 0, 8, r.stream));
    DropMissing(r.ret_rows.as<int64_t>(), r.batch.n, r.value_rows.as<int64_t>(), count, r.stream);
    EmbeddingForward(r.ret_vecs.as<float>(), static_cast<int>(options_.vec),
                     r.value_rows.as<int64_t>(), r.batch.row_splits, r.batch.num_rows, combiner,
                     out[g], r.stream);
    HCTR_CUDA_CHECK(cudaMemcpyAsync(&missing[g], count, 8, cudaMemcpyDeviceToHost, r.stream));
  }
  SyncAll();
  int64_t total = 0;
  for (int g = 0; g < G; ++g) total += static_cast<int64_t>(missing[g]);
  misses_ += total;
  return total;
}

void ShardedGpuTable::Backward(const std::vector<const float*>& dout) {
  const int G = num_shards();
  HCTR_CHECK(have_forward_, "Backward needs the training lookup of the same batches first");
  HCTR_CHECK(static_cast<int>(dout.size()) == G, "one dout per GPU; received " << dout.size());
  const int vec = static_cast<int>(options_.vec);
  // Each GPU's gradient per distinct key of its batch, in the merged (owner-major) order.
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    Grow(r.send_grads, r.num_unique() * vec * 4);
    const size_t ws = EmbeddingBackwardWorkspaceBytes(r.batch.n, vec);
    EmbeddingBackward(dout[g], vec, r.batch.row_splits, r.batch.num_rows, combiner_, r.batch.n,
                      r.merged(), r.Scratch(ws), ws, r.send_grads.as<float>(), r.stream);
    Grow(r.recv_grads, r.num_received() * vec * 4);
    HCTR_CUDA_CHECK(cudaMemcpyAsync(r.recv_grads.as<float>() + r.recv_off[g] * vec,
                                    r.send_grads.as<float>() + r.send_off[g] * vec,
                                    r.send_counts[g] * vec * 4, cudaMemcpyDeviceToDevice,
                                    r.stream));
  }
  last_.grads_ms = Timed(timing_, ranks_, [&] {
    if (G == 1) return;
    HCTR_NCCL_CHECK(ncclGroupStart());
    for (int g = 0; g < G; ++g) {
      Rank& r = *ranks_[g];
      for (int o = 0; o < G; ++o) {
        if (o == g) continue;
        if (r.send_counts[o] > 0) {
          HCTR_NCCL_CHECK(ncclSend(r.send_grads.as<float>() + r.send_off[o] * vec,
                                   r.send_counts[o] * vec, ncclFloat32, o, r.comm, r.stream));
        }
        if (r.recv_counts[o] > 0) {
          HCTR_NCCL_CHECK(ncclRecv(r.recv_grads.as<float>() + r.recv_off[o] * vec,
                                   r.recv_counts[o] * vec, ncclFloat32, o, r.comm, r.stream));
        }
      }
    }
    HCTR_NCCL_CHECK(ncclGroupEnd());
  });
  last_.grads_bytes = RemoteBytes(ranks_, false, vec, 4);
  // Owners: one gradient per key, the GPUs' sums added in GPU order (the received blocks are
  // in GPU order and the sort keeps that order within a key).
  std::vector<int64_t> counts(G, 0);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    const int64_t received = r.num_received();
    Grow(r.iota_splits, (received + 1) * 8);
    Grow(r.owner_keys, received * 8);
    Grow(r.owner_grads, received * vec * 4);
    Grow(r.owner_count_dev, 8);
    IotaSplits(r.iota_splits.as<int64_t>(), received, r.stream);
    const size_t ws = BackwardByIdsWorkspaceBytes(received, vec);
    BackwardByIds(r.recv_keys.as<int64_t>(), received, r.iota_splits.as<int64_t>(), received,
                  Combiner::kSum, r.recv_grads.as<float>(), vec, r.Scratch(ws), ws,
                  r.owner_keys.as<int64_t>(), r.owner_grads.as<float>(),
                  r.owner_count_dev.as<int64_t>(), r.stream);
    if (received == 0) {
      HCTR_CUDA_CHECK(cudaMemsetAsync(r.owner_count_dev.as<int64_t>(), 0, 8, r.stream));
    }
    HCTR_CUDA_CHECK(cudaMemcpyAsync(&counts[g], r.owner_count_dev.as<int64_t>(), 8,
                                    cudaMemcpyDeviceToHost, r.stream));
  }
  SyncAll();
  for (int g = 0; g < G; ++g) ranks_[g]->owner_count = counts[g];
}

void ShardedGpuTable::ApplyGradients(float lr) {
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    r->table->ApplyGradients(r->owner_keys.as<int64_t>(), r->owner_count,
                             r->owner_grads.as<float>(), lr, r->stream);
  }
}

}  // namespace cuda
}  // namespace hugectr_tf

#endif  // HUGECTR_TF_WITH_NCCL
