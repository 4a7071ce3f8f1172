#pragma once
// A hash embedding table sharded over G GPUs of one process (model parallelism), exchanging
// keys, vectors and gradients with NCCL (docs/EMBEDDING_SEMANTICS.md, "Sharding"; docs/gpu.md).
//
// Each GPU g holds shard g, a GpuTable of the full workspace_size_per_gpu_in_mb, and feeds its
// own part of the global batch (data parallelism of the input). A training step:
//   LookupTrain: each GPU finds the distinct keys of its batch per owner (Distributed: key mod
//     G, Localized: slot mod G) with a hash, sends each owner its keys (all-to-all of
//     ncclSend/ncclRecv pairs in one group); owners look up / insert and send the rows of other
//     GPUs' keys back (all-to-all), and each GPU combines the rows per (sample, slot) as the
//     single table does, reading its own keys' rows straight from its shard.
//   Backward: each GPU sums the gradient per distinct key of its batch and sends the sums to
//     the owners (all-to-all); an owner adds the sums of one key, its own first, then the
//     others' in GPU order (shard_owner.cuh).
//   ApplyGradients: every shard takes one optimizer step on the keys it owns.
// G GPUs give the single table's result on the same global batch (GPU g's batch being the
// g-th block of samples): lookups exactly, per-key gradients up to the order of one addition
// per GPU, and the optimizer step exactly on the same gradients; one GPU gives it bit for bit
// (tests/gpu).
//
// One host thread drives all GPUs (NCCL's group calls across communicators) without waiting
// on one GPU while others could work: every read-back is queued on all GPUs first and awaited
// together. Each GPU has the caller's stream for computation and an internal stream of higher
// priority for NCCL, so the exchanges overlap computation that does not need them: the
// combine of bags with no remote key and the backward's segment sort run while the rows are in
// transit; the sums of a GPU's own keys, and their share of the owner's gradients, while the
// gradients are. The rows and the gradients go in chunks, each sent once it is gathered or
// summed, so the link starts after the first chunk's computation. The host reads the owners'
// counts only where it must size a transfer: the optimizer step reads them on the device.
// Compiled only where
// HUGECTR_TF_WITH_NCCL is defined (the harness build finds NCCL; the TensorFlow library does not
// use this file: its multi-device path is tf.distribute).

#if defined(HUGECTR_TF_WITH_NCCL)

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cc/core/embedding/table.h"
#include "cc/cuda/gpu_table.cuh"

namespace hugectr_tf {
namespace cuda {

class ShardedGpuTable {
 public:
  // One GPU's part of the global batch (device arrays on that GPU). They must stay valid from
  // LookupTrain until Backward (the backward reads row_splits again).
  struct Batch {
    const int64_t* values;  // (n)
    int64_t n;
    const int64_t* row_splits;  // (num_rows + 1), num_rows = samples * slot_num
    int64_t num_rows;
  };

  // Exchange timings of the last forward and backward (when timing is on): per phase, the
  // slowest GPU's time and the bytes each GPU sent to other GPUs (the most any GPU sent).
  struct Timing {
    double keys_ms = 0, vectors_ms = 0, grads_ms = 0;
    int64_t keys_bytes = 0, vectors_bytes = 0, grads_bytes = 0;
  };

  // devices[g] runs shard g on streams[g] with comms[g], the NCCL communicator of rank g
  // (ncclCommInitAll over devices). The caller owns streams and communicators.
  ShardedGpuTable(const TableOptions& options, const std::vector<int>& devices,
                  const std::vector<ncclComm_t>& comms, const std::vector<cudaStream_t>& streams);
  ~ShardedGpuTable();

  int num_shards() const { return static_cast<int>(ranks_.size()); }
  GpuTable& shard(int g);
  cudaStream_t stream(int g) const;
  int64_t misses() const { return misses_; }

  // Training forward: out[g] (batches[g].num_rows, vec) on GPU g.
  void LookupTrain(const std::vector<Batch>& batches, int64_t slot_num, Combiner combiner,
                   const std::vector<float*>& out);
  // Inference forward (never inserts); returns the missing positions over all GPUs.
  int64_t LookupInference(const std::vector<Batch>& batches, int64_t slot_num, Combiner combiner,
                          const std::vector<float*>& out);
  // After LookupTrain: dout[g] (num_rows, vec) on GPU g. Leaves on each owner its distinct keys
  // (in no particular order) and their summed gradients.
  void Backward(const std::vector<const float*>& dout);
  int64_t owner_count(int g);
  const int64_t* owner_keys(int g);  // (owner_count) on GPU g
  const float* owner_grads(int g);   // (owner_count, vec) on GPU g
  // One optimizer step on every shard with the owner gradients of the last Backward.
  void ApplyGradients(float lr);

  // With timing on, each exchange runs alone (streams drained before it, no overlap) between
  // events, for the benchmark.
  void set_timing(bool on) { timing_ = on; }
  // Off: the exchanges run on each GPU's compute stream, one after the other with the
  // computation (the benchmark's measure of what the overlap gains). On by default.
  void set_overlap(bool on);
  // The vector and gradient exchanges go in `chunks` pieces of every GPU-to-GPU block (1 to
  // 64; default 1), each sent once gathered or summed. Changes no result (the benchmark's A/B).
  void set_exchange_chunks(int chunks);
  int exchange_chunks() const { return chunks_; }
  const Timing& timing() const { return last_; }

 private:
  struct Rank;
  void Release() noexcept;  // every GPU's resources (the destructor, a failed constructor)
  void Route(const std::vector<Batch>& batches, int64_t slot_num);
  void ExchangeKeys(bool with_slots);
  void OwnersLookUp(bool training);
  void ExchangeRows(bool training);
  void BackwardRange(Rank& r, const float* dout, int64_t first, int64_t last, int part,
                     float* out = nullptr);
  void OwnerClaimsRows(Rank& r, int g);
  void OwnerAddsReceived(Rank& r, int g);
  void ReadOwnerCounts();
  void SyncAll();
  template <typename F>
  double Exchange(F&& nccl_calls);

  TableOptions options_;
  std::vector<std::unique_ptr<Rank>> ranks_;
  bool by_slot_ = false;
  bool have_forward_ = false;
  bool owner_counts_pending_ = false;
  Combiner combiner_ = Combiner::kSum;
  int64_t misses_ = 0;
  bool timing_ = false;
  int chunks_ = 1;  // 4 measured slower on 2 H200s (docs/benchmarks.md, run7)
  Timing last_;
};

}  // namespace cuda
}  // namespace hugectr_tf

#endif  // HUGECTR_TF_WITH_NCCL
