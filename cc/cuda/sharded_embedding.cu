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
#include "cc/cuda/shard_owner.cuh"
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

// The vector and gradient exchanges go in chunks of every GPU-to-GPU block (set_exchange_chunks),
// each sent as soon as its rows are gathered (forward) or summed (backward): the link starts
// after the first chunk's computation instead of after all of it, and the rest overlaps.
constexpr int kMaxExchangeChunks = 64;

// Chunk c of `chunks` of a block of `count` items starts at item ChunkStart(count, c, chunks)
// (c = 0..chunks, the last the block's end). Sender and receiver derive the same bounds from
// the same count.
int64_t ChunkStart(int64_t count, int c, int chunks) { return count * c / chunks; }

std::vector<int64_t> Offsets(const std::vector<int64_t>& counts) {
  std::vector<int64_t> at(counts.size() + 1, 0);
  for (size_t i = 0; i < counts.size(); ++i) at[i + 1] = at[i] + counts[i];
  return at;
}

// Each rank's read-backs land in pinned host words (so the copies are asynchronous and every
// GPU is awaited together): [0, G) positions per owner, G the first reserved key, G + 1 the
// first bad row_splits entry, then the words below, then the rank's distinct keys per owner
// (its row of the G x G count matrix, which the host assembles from every rank's row).
constexpr int kFind = kMaxShards + 2;  // misses, reserved-key flag
constexpr int kRowCount = kFind + 2;
constexpr int kOwnerCount = kRowCount + 1;
constexpr int kMisses = kOwnerCount + 1;
constexpr int kCounts = 32;
constexpr int kHostWords = kCounts + kMaxShards;

}  // namespace

struct ShardedGpuTable::Rank {
  int device = 0;
  cudaStream_t stream = nullptr;       // the caller's: computation
  cudaStream_t comm_stream = nullptr;  // ours, higher priority: NCCL
  cudaStream_t nccl_stream = nullptr;  // comm_stream, or `stream` with the overlap off
  ncclComm_t comm = nullptr;
  std::unique_ptr<GpuTable> table;
  cudaEvent_t start = nullptr, stop = nullptr;  // timing
  cudaEvent_t to_comm = nullptr, keys_done = nullptr, rows_done = nullptr, grads_done = nullptr;
  unsigned long long* host = nullptr;  // kHostWords, pinned

  // Requester side, kept from the forward for the backward.
  Batch batch{};
  std::vector<int64_t> send_counts, send_off;  // distinct keys this GPU sends each owner
  std::vector<int64_t> recv_counts, recv_off;  // keys this GPU (as owner) gets from each GPU
  DeviceBuffer owner, counters, route_ws, unique_keys, first_slots, ids, unique_counts, num_unique;
  DeviceBuffer sorted_positions, segment_starts, segments_ws, src, ret_vecs, ret_rows;
  DeviceBuffer send_grads, backward_ws, range_counts, bags;
  // Owner side: the keys of every GPU (own block included) in GPU order, their rows, and the
  // gradients per distinct row.
  DeviceBuffer recv_keys, recv_slots, recv_rows, gathered, recv_grads;
  DeviceBuffer uid_of_row, owner_rows, owner_keys, owner_grads, first_turn, owner_count_dev;
  int64_t owner_count = 0;
  const int64_t* owner_rows_ptr = nullptr;
  const int64_t* owner_keys_ptr = nullptr;
  const float* owner_grads_ptr = nullptr;

  int64_t num_unique_host() const { return send_off.empty() ? 0 : send_off.back(); }
  int64_t num_received() const { return recv_off.empty() ? 0 : recv_off.back(); }
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
  try {
    for (size_t i = 0; i < g; ++i) {
      ranks_.push_back(std::make_unique<Rank>());
      Rank* rank = ranks_.back().get();
      rank->device = devices[i];
      rank->stream = streams[i];
      rank->comm = comms[i];
      DeviceGuard guard(rank->device);
      rank->table = std::make_unique<GpuTable>(options, rank->stream);
      int least = 0, greatest = 0;
      HCTR_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
      HCTR_CUDA_CHECK(
          cudaStreamCreateWithPriority(&rank->comm_stream, cudaStreamNonBlocking, greatest));
      rank->nccl_stream = rank->comm_stream;
      HCTR_CUDA_CHECK(cudaEventCreate(&rank->start));
      HCTR_CUDA_CHECK(cudaEventCreate(&rank->stop));
      for (cudaEvent_t* e :
           {&rank->to_comm, &rank->keys_done, &rank->rows_done, &rank->grads_done}) {
        HCTR_CUDA_CHECK(cudaEventCreateWithFlags(e, cudaEventDisableTiming));
      }
      HCTR_CUDA_CHECK(cudaMallocHost(&rank->host, kHostWords * sizeof(unsigned long long)));
      std::fill(rank->host, rank->host + kHostWords, 0ull);
      // The owner's row -> owner id scratch: -1 between backward passes.
      const int64_t rows = std::max<int64_t>(rank->table->capacity(), 1);
      rank->uid_of_row.Reserve(static_cast<size_t>(rows) * sizeof(int32_t));
      HCTR_CUDA_CHECK(
          cudaMemsetAsync(rank->uid_of_row.as<void>(), 0xFF, rows * sizeof(int32_t), rank->stream));
      HCTR_CUDA_CHECK(cudaStreamSynchronize(rank->stream));
    }
  } catch (...) {
    Release();
    throw;
  }
}

ShardedGpuTable::~ShardedGpuTable() { Release(); }

void ShardedGpuTable::Release() noexcept {
  for (auto& rank : ranks_) {  // no throw: runs in the destructor
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(rank->device);
    if (rank->stream) cudaStreamSynchronize(rank->stream);
    if (rank->comm_stream) cudaStreamSynchronize(rank->comm_stream);
    for (cudaEvent_t e : {rank->start, rank->stop, rank->to_comm, rank->keys_done, rank->rows_done,
                          rank->grads_done}) {
      if (e) cudaEventDestroy(e);
    }
    if (rank->comm_stream) cudaStreamDestroy(rank->comm_stream);
    if (rank->host) cudaFreeHost(rank->host);
    rank.reset();  // buffers are freed on the rank's device
    cudaSetDevice(previous);
  }
  ranks_.clear();
}

GpuTable& ShardedGpuTable::shard(int g) {
  HCTR_CHECK(g >= 0 && g < num_shards(), "shard " << g << " of " << num_shards());
  return *ranks_[g]->table;
}

cudaStream_t ShardedGpuTable::stream(int g) const { return ranks_.at(g)->stream; }

void ShardedGpuTable::set_exchange_chunks(int chunks) {
  HCTR_CHECK(chunks >= 1 && chunks <= kMaxExchangeChunks,
             "exchange chunks must be 1 to " << kMaxExchangeChunks << "; received " << chunks);
  chunks_ = chunks;
}

void ShardedGpuTable::set_overlap(bool on) {
  SyncAll();
  for (auto& r : ranks_) r->nccl_stream = on ? r->comm_stream : r->stream;
}

int64_t ShardedGpuTable::owner_count(int g) {
  ReadOwnerCounts();
  return ranks_.at(g)->owner_count;
}
const int64_t* ShardedGpuTable::owner_keys(int g) { return ranks_.at(g)->owner_keys_ptr; }
const float* ShardedGpuTable::owner_grads(int g) { return ranks_.at(g)->owner_grads_ptr; }

void ShardedGpuTable::SyncAll() {
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaStreamSynchronize(r->stream));
    HCTR_CUDA_CHECK(cudaStreamSynchronize(r->comm_stream));
  }
}

void ShardedGpuTable::ReadOwnerCounts() {
  if (!owner_counts_pending_) return;
  SyncAll();
  for (auto& r : ranks_) r->owner_count = static_cast<int64_t>(r->host[kOwnerCount]);
  owner_counts_pending_ = false;
}

// Queues `nccl_calls` (one NCCL group on the comm streams) after the computation queued so
// far on every GPU. With timing on, the streams are drained first and the group runs alone
// between events; returns the slowest GPU's milliseconds.
template <typename F>
double ShardedGpuTable::Exchange(F&& nccl_calls) {
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaEventRecord(r->to_comm, r->stream));
    HCTR_CUDA_CHECK(cudaStreamWaitEvent(r->nccl_stream, r->to_comm, 0));
  }
  if (!timing_) {
    nccl_calls();
    return 0;
  }
  SyncAll();
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaEventRecord(r->start, r->nccl_stream));
  }
  nccl_calls();
  double slowest = 0;
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaEventRecord(r->stop, r->nccl_stream));
    HCTR_CUDA_CHECK(cudaEventSynchronize(r->stop));
    float ms = 0;
    HCTR_CUDA_CHECK(cudaEventElapsedTime(&ms, r->start, r->stop));
    slowest = std::max(slowest, static_cast<double>(ms));
  }
  return slowest;
}

void ShardedGpuTable::Route(const std::vector<Batch>& batches, int64_t slot_num) {
  const int G = num_shards();
  HCTR_CHECK(static_cast<int>(batches.size()) == G, "the sharded table takes one batch per GPU ("
                                                        << G << "); received " << batches.size());
  have_forward_ = false;
  // 1. Owner of every position, the owners' counts and the input checks: one read-back.
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
    HCTR_CUDA_CHECK(cudaMemcpyAsync(r.host, counts, (G + 2) * 8, cudaMemcpyDeviceToHost, r.stream));
  }
  SyncAll();
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    const Batch& b = r.batch;
    DeviceGuard guard(r.device);
    try {
      ReportBadRowSplits(b.row_splits, b.num_rows, b.n, r.host[G + 1]);
    } catch (const Error& e) {
      throw Error(e.code(), "the batch of GPU " + std::to_string(g) + ": " + e.what());
    }
    HCTR_CHECK(r.host[G] >= static_cast<unsigned long long>(b.n),
               "the batch of GPU " << g << ": key " << kEmptyKey
                                   << " (INT64_MAX) is reserved by the GPU hash table as its "
                                      "empty marker and cannot be looked up; remap it");
  }
  // 2. Each owner's distinct keys (a hash region per owner), owner-major; the count matrix.
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    const Batch& b = r.batch;
    DeviceGuard guard(r.device);
    int64_t positions[kMaxShards] = {};
    for (int s = 0; s < G; ++s) positions[s] = static_cast<int64_t>(r.host[s]);
    const ShardOffsets regions = DedupRegions(positions, G);
    const size_t ws = DedupWorkspaceBytes(b.n, regions, G);
    const size_t n = static_cast<size_t>(b.n);
    Grow(r.route_ws, ws);
    Grow(r.unique_keys, n * 8);
    Grow(r.first_slots, n * 8);
    Grow(r.ids, n * 4);
    Grow(r.unique_counts, G * 8);
    Grow(r.num_unique, 8);
    const RouteOutputs out{r.unique_keys.as<int64_t>(), r.first_slots.as<int64_t>(),
                           r.ids.as<int32_t>(), r.unique_counts.as<int64_t>(),
                           r.num_unique.as<int64_t>()};
    DedupByOwner(b.values, b.n, r.owner.as<int32_t>(), b.row_splits, b.num_rows, slot_num, G,
                 regions, r.route_ws.as<void>(), r.route_ws.bytes(), out, r.stream);
    // One host thread drives every GPU, so the host assembles the G x G count matrix from
    // each GPU's row: no NCCL all-gather (and no wait on the NCCL stream) to size the exchange.
    HCTR_CUDA_CHECK(cudaMemcpyAsync(r.host + kCounts, r.unique_counts.as<int64_t>(), G * 8,
                                    cudaMemcpyDeviceToHost, r.stream));
  }
  SyncAll();
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    r.send_counts.assign(G, 0);
    r.recv_counts.assign(G, 0);
    for (int s = 0; s < G; ++s) {
      // GPU g's counts per owner s are its row; its column is every GPU's count for owner g.
      r.send_counts[s] = static_cast<int64_t>(r.host[kCounts + s]);
      r.recv_counts[s] = static_cast<int64_t>(ranks_[s]->host[kCounts + g]);
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
                                    r.unique_keys.as<int64_t>() + r.send_off[g],
                                    r.send_counts[g] * 8, cudaMemcpyDeviceToDevice, r.stream));
    if (with_slots) {
      HCTR_CUDA_CHECK(cudaMemcpyAsync(r.recv_slots.as<int64_t>() + r.recv_off[g],
                                      r.first_slots.as<int64_t>() + r.send_off[g],
                                      r.send_counts[g] * 8, cudaMemcpyDeviceToDevice, r.stream));
    }
  }
  if (G == 1) return;
  last_.keys_ms = Exchange([&] {
    HCTR_NCCL_CHECK(ncclGroupStart());
    for (int g = 0; g < G; ++g) {
      Rank& r = *ranks_[g];
      for (int o = 0; o < G; ++o) {
        if (o == g) continue;
        if (r.send_counts[o] > 0) {
          HCTR_NCCL_CHECK(ncclSend(r.unique_keys.as<int64_t>() + r.send_off[o], r.send_counts[o],
                                   ncclInt64, o, r.comm, r.nccl_stream));
          if (with_slots) {
            HCTR_NCCL_CHECK(ncclSend(r.first_slots.as<int64_t>() + r.send_off[o], r.send_counts[o],
                                     ncclInt64, o, r.comm, r.nccl_stream));
          }
        }
        if (r.recv_counts[o] > 0) {
          HCTR_NCCL_CHECK(ncclRecv(r.recv_keys.as<int64_t>() + r.recv_off[o], r.recv_counts[o],
                                   ncclInt64, o, r.comm, r.nccl_stream));
          if (with_slots) {
            HCTR_NCCL_CHECK(ncclRecv(r.recv_slots.as<int64_t>() + r.recv_off[o], r.recv_counts[o],
                                     ncclInt64, o, r.comm, r.nccl_stream));
          }
        }
      }
    }
    HCTR_NCCL_CHECK(ncclGroupEnd());
  });
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaEventRecord(r->keys_done, r->nccl_stream));
    HCTR_CUDA_CHECK(cudaStreamWaitEvent(r->stream, r->keys_done, 0));
  }
}

void ShardedGpuTable::OwnersLookUp(bool training) {
  const int G = num_shards();
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    Grow(r->recv_rows, r->num_received() * 8);
    r->table->FindKeysAsync(r->recv_keys.as<int64_t>(), r->num_received(),
                            r->recv_rows.as<int64_t>(), r->host + kFind, r->stream);
  }
  if (!training) return;  // misses stay -1; nothing to read back
  SyncAll();
  // Every shard has room for its new keys before any shard inserts: a full shard fails the
  // whole lookup and leaves every shard as it was.
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    HCTR_CHECK(r.host[kFind + 1] == 0, "shard " << g << ": a routed key is the reserved key");
    r.table->CheckRoomForMisses(
        r.recv_keys.as<int64_t>(), r.num_received(), static_cast<int64_t>(r.host[kFind]),
        "shard " + std::to_string(g) + " of " + std::to_string(G), r.stream);
  }
  bool inserting = false;
  for (auto& r : ranks_) {
    if (r->host[kFind] == 0) continue;
    DeviceGuard guard(r->device);
    r->table->InsertMissingAsync(r->recv_keys.as<int64_t>(), r->num_received(),
                                 r->recv_rows.as<int64_t>(),
                                 reinterpret_cast<long long*>(r->host + kRowCount), r->stream);
    inserting = true;
  }
  if (!inserting) return;
  SyncAll();
  for (auto& r : ranks_) {
    if (r->host[kFind] == 0) continue;
    DeviceGuard guard(r->device);
    // A new row takes the slot of its first entry: the lowest GPU that sent its key.
    r->table->FinishInsert(r->recv_rows.as<int64_t>(), r->recv_slots.as<int64_t>(),
                           r->num_received(), static_cast<int64_t>(r->host[kRowCount]), r->stream);
  }
}

void ShardedGpuTable::ExchangeRows(bool training) {
  const int G = num_shards();
  const int vec = static_cast<int>(options_.vec);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    Grow(r.src, r.batch.n * 8);
    if (training) {  // own keys read their shard's rows, the others the received rows
      PositionSources(r.ids.as<int32_t>(), r.batch.n, r.send_off[g], r.send_counts[g],
                      r.recv_rows.as<int64_t>() + r.recv_off[g], nullptr, r.src.as<int64_t>(),
                      nullptr, r.stream);
    }
    if (G == 1) continue;
    Grow(r.gathered, r.num_received() * vec * 4);
    Grow(r.ret_vecs, r.num_unique_host() * vec * 4);
    if (!training) Grow(r.ret_rows, r.num_unique_host() * 8);
  }
  if (G == 1) return;
  // Chunk by chunk: every owner gathers chunk c of the rows each other GPU asked for, then
  // chunk c goes out while chunk c + 1 is gathered.
  last_.vectors_ms = 0;
  for (int c = 0; c < chunks_; ++c) {
    for (int g = 0; g < G; ++g) {
      Rank& r = *ranks_[g];
      DeviceGuard guard(r.device);
      for (int o = 0; o < G; ++o) {
        if (o == g) continue;
        const int64_t first = r.recv_off[o] + ChunkStart(r.recv_counts[o], c, chunks_);
        const int64_t last = r.recv_off[o] + ChunkStart(r.recv_counts[o], c + 1, chunks_);
        GatherTableRows(r.table->weights(), vec, r.recv_rows.as<int64_t>() + first, last - first,
                        r.gathered.as<float>() + first * vec, r.stream);
      }
    }
    last_.vectors_ms += Exchange([&] {
      HCTR_NCCL_CHECK(ncclGroupStart());
      for (int g = 0; g < G; ++g) {
        Rank& r = *ranks_[g];
        for (int o = 0; o < G; ++o) {
          if (o == g) continue;
          // As owner: the rows of GPU o's keys go back to o; as requester: rows of my keys
          // come.
          const int64_t s0 = r.recv_off[o] + ChunkStart(r.recv_counts[o], c, chunks_);
          const int64_t s1 = r.recv_off[o] + ChunkStart(r.recv_counts[o], c + 1, chunks_);
          if (s1 > s0) {
            HCTR_NCCL_CHECK(ncclSend(r.gathered.as<float>() + s0 * vec, (s1 - s0) * vec,
                                     ncclFloat32, o, r.comm, r.nccl_stream));
            if (!training) {
              HCTR_NCCL_CHECK(ncclSend(r.recv_rows.as<int64_t>() + s0, s1 - s0, ncclInt64, o,
                                       r.comm, r.nccl_stream));
            }
          }
          const int64_t r0 = r.send_off[o] + ChunkStart(r.send_counts[o], c, chunks_);
          const int64_t r1 = r.send_off[o] + ChunkStart(r.send_counts[o], c + 1, chunks_);
          if (r1 > r0) {
            HCTR_NCCL_CHECK(ncclRecv(r.ret_vecs.as<float>() + r0 * vec, (r1 - r0) * vec,
                                     ncclFloat32, o, r.comm, r.nccl_stream));
            if (!training) {
              HCTR_NCCL_CHECK(ncclRecv(r.ret_rows.as<int64_t>() + r0, r1 - r0, ncclInt64, o, r.comm,
                                       r.nccl_stream));
            }
          }
        }
      }
      HCTR_NCCL_CHECK(ncclGroupEnd());
    });
  }
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    HCTR_CUDA_CHECK(cudaEventRecord(r->rows_done, r->nccl_stream));
  }
}

namespace {

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
  const int vec = static_cast<int>(options_.vec);
  last_ = Timing{};
  Route(batches, slot_num);
  ExchangeKeys(/*with_slots=*/true);
  last_.keys_bytes = RemoteBytes(ranks_, false, 2, 8);
  OwnersLookUp(/*training=*/true);
  ExchangeRows(/*training=*/true);
  last_.vectors_bytes = RemoteBytes(ranks_, true, vec, 4);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    const Batch& b = r.batch;
    DeviceGuard guard(r.device);
    const float* remote = G > 1 ? r.ret_vecs.as<float>() : nullptr;
    // While the rows travel: the bags of own keys only, and the backward's segments.
    EmbeddingForwardSources(r.table->weights(), remote, vec, r.src.as<int64_t>(), b.row_splits,
                            b.num_rows, combiner, G > 1 ? BagFilter::kLocalOnly : BagFilter::kAll,
                            out[g], r.stream);
    const size_t n = static_cast<size_t>(b.n);
    Grow(r.sorted_positions, n * 4);
    Grow(r.segment_starts, (n + 1) * 4);
    Grow(r.segments_ws, SegmentsWorkspaceBytes(b.n));
    SegmentsOfIds(r.ids.as<int32_t>(), b.n, r.segments_ws.as<void>(), r.segments_ws.bytes(),
                  r.sorted_positions.as<int32_t>(), r.segment_starts.as<int32_t>(), r.stream);
    if (G > 1) {
      HCTR_CUDA_CHECK(cudaStreamWaitEvent(r.stream, r.rows_done, 0));
      EmbeddingForwardSources(r.table->weights(), remote, vec, r.src.as<int64_t>(), b.row_splits,
                              b.num_rows, combiner, BagFilter::kWithRemote, out[g], r.stream);
    }
  }
  combiner_ = combiner;
  have_forward_ = true;
}

int64_t ShardedGpuTable::LookupInference(const std::vector<Batch>& batches, int64_t slot_num,
                                         Combiner combiner, const std::vector<float*>& out) {
  const int G = num_shards();
  HCTR_CHECK(static_cast<int>(out.size()) == G, "one output per GPU; received " << out.size());
  const int vec = static_cast<int>(options_.vec);
  Route(batches, slot_num);
  ExchangeKeys(/*with_slots=*/false);
  OwnersLookUp(/*training=*/false);
  ExchangeRows(/*training=*/false);
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    const Batch& b = r.batch;
    DeviceGuard guard(r.device);
    auto* count = r.counters.as<unsigned long long>();
    HCTR_CUDA_CHECK(cudaMemsetAsync(count, 0, 8, r.stream));
    if (G > 1) HCTR_CUDA_CHECK(cudaStreamWaitEvent(r.stream, r.rows_done, 0));
    PositionSources(r.ids.as<int32_t>(), b.n, r.send_off[g], r.send_counts[g],
                    r.recv_rows.as<int64_t>() + r.recv_off[g],
                    G > 1 ? r.ret_rows.as<int64_t>() : nullptr, r.src.as<int64_t>(), count,
                    r.stream);
    EmbeddingForwardSources(r.table->weights(), G > 1 ? r.ret_vecs.as<float>() : nullptr, vec,
                            r.src.as<int64_t>(), b.row_splits, b.num_rows, combiner,
                            BagFilter::kAll, out[g], r.stream);
    HCTR_CUDA_CHECK(cudaMemcpyAsync(r.host + kMisses, count, 8, cudaMemcpyDeviceToHost, r.stream));
  }
  SyncAll();
  int64_t total = 0;
  for (auto& r : ranks_) total += static_cast<int64_t>(r->host[kMisses]);
  misses_ += total;
  return total;
}

// The gradient sums of the batch's entries [first, last) (each in position order, as the
// single table sums a key), into out (null: their rows of send_grads); `part` picks the
// device word for the count.
void ShardedGpuTable::BackwardRange(Rank& r, const float* dout, int64_t first, int64_t last,
                                    int part, float* out) {
  if (last <= first) return;
  const int vec = static_cast<int>(options_.vec);
  Int64Quad count{};
  count.v[0] = last - first;
  int64_t* device_count = r.range_counts.as<int64_t>() + part;
  SetDeviceValues(device_count, count, 1, r.stream);
  const UniqueOutputs u{r.unique_keys.as<int64_t>() + first, r.sorted_positions.as<int32_t>(),
                        r.segment_starts.as<int32_t>() + first, device_count};
  EmbeddingBackward(dout, vec, r.batch.row_splits, r.batch.num_rows, combiner_, r.batch.n, u,
                    r.backward_ws.as<void>(), r.backward_ws.bytes(),
                    out != nullptr ? out : r.send_grads.as<float>() + first * vec, r.stream,
                    r.bags.as<int32_t>());
}

void ShardedGpuTable::Backward(const std::vector<const float*>& dout) {
  const int G = num_shards();
  HCTR_CHECK(have_forward_, "Backward needs the training lookup of the same batches first");
  HCTR_CHECK(static_cast<int>(dout.size()) == G, "one dout per GPU; received " << dout.size());
  const int vec = static_cast<int>(options_.vec);
  // Each GPU's gradient per entry of its batch (owner-major), other owners' entries first so
  // that their exchange can start. The bag of every position is found once for all ranges.
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    const int64_t all = r.num_unique_host();
    Grow(r.send_grads, all * vec * 4);
    Grow(r.backward_ws, EmbeddingBackwardWorkspaceBytes(r.batch.n, vec));
    Grow(r.range_counts, 4 * 8);
    Grow(r.bags, r.batch.n * 4);
    BagsOfPositions(r.batch.row_splits, r.batch.num_rows, r.batch.n, r.bags.as<int32_t>(),
                    r.stream);
    if (G == 1) BackwardRange(r, dout[g], 0, all, 0);
  }
  last_.grads_bytes = RemoteBytes(ranks_, false, vec, 4);
  if (G == 1) {  // the single shard owns every entry: its sums are the owner gradients
    Rank& r = *ranks_[0];
    r.owner_count = r.num_unique_host();
    r.owner_rows_ptr = r.recv_rows.as<int64_t>();
    r.owner_keys_ptr = r.recv_keys.as<int64_t>();
    r.owner_grads_ptr = r.send_grads.as<float>();
    owner_counts_pending_ = false;
    return;
  }
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    Grow(r->recv_grads, r->num_received() * vec * 4);
  }
  // Chunk by chunk: every GPU sums chunk c of its block for each other owner, then chunk c
  // goes out while chunk c + 1 is summed. A key's sum lies in one chunk: the same sums.
  last_.grads_ms = 0;
  for (int c = 0; c < chunks_; ++c) {
    for (int g = 0; g < G; ++g) {
      Rank& r = *ranks_[g];
      DeviceGuard guard(r.device);
      for (int o = 0; o < G; ++o) {
        if (o == g) continue;
        BackwardRange(r, dout[g], r.send_off[o] + ChunkStart(r.send_counts[o], c, chunks_),
                      r.send_off[o] + ChunkStart(r.send_counts[o], c + 1, chunks_), c % 2);
      }
    }
    last_.grads_ms += Exchange([&] {
      HCTR_NCCL_CHECK(ncclGroupStart());
      for (int g = 0; g < G; ++g) {
        Rank& r = *ranks_[g];
        for (int o = 0; o < G; ++o) {
          if (o == g) continue;
          const int64_t s0 = ChunkStart(r.send_counts[o], c, chunks_);
          const int64_t s1 = ChunkStart(r.send_counts[o], c + 1, chunks_);
          if (s1 > s0) {
            HCTR_NCCL_CHECK(ncclSend(r.send_grads.as<float>() + (r.send_off[o] + s0) * vec,
                                     (s1 - s0) * vec, ncclFloat32, o, r.comm, r.nccl_stream));
          }
          const int64_t r0 = ChunkStart(r.recv_counts[o], c, chunks_);
          const int64_t r1 = ChunkStart(r.recv_counts[o], c + 1, chunks_);
          if (r1 > r0) {
            HCTR_NCCL_CHECK(ncclRecv(r.recv_grads.as<float>() + (r.recv_off[o] + r0) * vec,
                                     (r1 - r0) * vec, ncclFloat32, o, r.comm, r.nccl_stream));
          }
        }
      }
      HCTR_NCCL_CHECK(ncclGroupEnd());
    });
  }
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    HCTR_CUDA_CHECK(cudaEventRecord(r.grads_done, r.nccl_stream));
    // While the gradients travel: owner ids for the rows asked for, the own block's first,
    // and the sums of the GPU's own entries straight into those ids (the owner's first term).
    OwnerClaimsRows(r, g);
    BackwardRange(r, dout[g], r.send_off[g], r.send_off[g + 1], 2, r.owner_grads.as<float>());
  }
  for (int g = 0; g < G; ++g) {
    Rank& r = *ranks_[g];
    DeviceGuard guard(r.device);
    HCTR_CUDA_CHECK(cudaStreamWaitEvent(r.stream, r.grads_done, 0));
    OwnerAddsReceived(r, g);
  }
  owner_counts_pending_ = true;
}

// Owner g: an owner id per distinct row it was asked for (rows known since the forward); its
// own block's rows take ids 0, 1, ... in block order (ClaimOwnerRows), the order of the
// GPU's own entries in send_grads, so their sums can be written there directly.
void ShardedGpuTable::OwnerClaimsRows(Rank& r, int g) {
  const int G = num_shards();
  const int vec = static_cast<int>(options_.vec);
  const int64_t received = r.num_received();
  Grow(r.owner_rows, received * 8);
  Grow(r.owner_keys, received * 8);
  Grow(r.owner_grads, received * vec * 4);
  Grow(r.first_turn, received * 4);
  Grow(r.owner_count_dev, 8);
  auto* count = r.owner_count_dev.as<unsigned long long>();
  HCTR_CUDA_CHECK(cudaMemsetAsync(count, 0, 8, r.stream));  // the high word stays 0
  ShardOffsets blocks{};
  for (int o = 0; o <= G; ++o) blocks.at[o] = r.recv_off[o];
  // The count's low 32 bits (little-endian) are the kernels' counter.
  ClaimOwnerRows(r.recv_rows.as<int64_t>(), r.recv_keys.as<int64_t>(), received, blocks, G, g,
                 r.uid_of_row.as<int32_t>(), reinterpret_cast<unsigned int*>(count),
                 r.owner_rows.as<int64_t>(), r.owner_keys.as<int64_t>(), r.first_turn.as<int32_t>(),
                 r.stream);
  r.owner_rows_ptr = r.owner_rows.as<int64_t>();
  r.owner_keys_ptr = r.owner_keys.as<int64_t>();
  r.owner_grads_ptr = r.owner_grads.as<float>();
}

// Then the other GPUs' sums, in GPU order, once received.
void ShardedGpuTable::OwnerAddsReceived(Rank& r, int g) {
  const int G = num_shards();
  const int vec = static_cast<int>(options_.vec);
  for (int o = 0; o < G; ++o) {
    if (o == g) continue;
    AddBlockGradients(r.recv_rows.as<int64_t>() + r.recv_off[o], r.recv_counts[o],
                      r.recv_grads.as<float>() + r.recv_off[o] * vec, BlockTurn(o, g),
                      r.uid_of_row.as<int32_t>(), r.first_turn.as<int32_t>(), vec,
                      r.owner_grads.as<float>(), r.stream);
  }
  auto* count = r.owner_count_dev.as<unsigned long long>();
  ReleaseOwnerRows(r.owner_rows.as<int64_t>(), reinterpret_cast<const unsigned int*>(count),
                   r.num_received(), r.uid_of_row.as<int32_t>(), r.stream);
  HCTR_CUDA_CHECK(
      cudaMemcpyAsync(r.host + kOwnerCount, count, 8, cudaMemcpyDeviceToHost, r.stream));
}

void ShardedGpuTable::ApplyGradients(float lr) {
  CheckLearningRate(lr);  // before any shard steps
  for (auto& r : ranks_) {
    DeviceGuard guard(r->device);
    if (!owner_counts_pending_) {  // one GPU, or counts already read back
      r->table->ApplyDistinctRows(r->owner_rows_ptr, r->owner_count, r->owner_grads_ptr, lr,
                                  r->stream);
      continue;
    }
    // The owner's distinct rows are counted on the device (OwnerAddsOwnBlock): the step reads
    // the count there instead of the host waiting for every GPU between backward and apply.
    // The received keys bound it, and so do the shard's rows (every received key has one).
    const int64_t bound = std::min(r->num_received(), r->table->capacity());
    r->table->ApplyDistinctRows(r->owner_rows_ptr, bound, r->owner_grads_ptr, lr, r->stream,
                                r->owner_count_dev.as<unsigned int>());
  }
}

}  // namespace cuda
}  // namespace hugectr_tf

#endif  // HUGECTR_TF_WITH_NCCL
