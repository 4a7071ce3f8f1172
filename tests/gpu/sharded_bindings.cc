// The sharded GPU table (cc/cuda/sharded_embedding.cuh) in the harness module: one process
// drives G GPUs, each with its own stream and NCCL communicator (ncclCommInitAll). numpy entry
// points take one batch per GPU; the *_ptr ones take device pointers for the benchmark. Built
// only when NCCL is found (tests/gpu/build.sh defines HUGECTR_TF_WITH_NCCL).

#if defined(HUGECTR_TF_WITH_NCCL)

#include <cuda_runtime.h>
#include <nccl.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/sharded_embedding.cuh"
#include "tests/gpu/harness_util.h"

using hugectr_tf::cuda::DeviceBuffer;
using hugectr_tf::cuda::ShardedGpuTable;

void ProbeCopy(const void* src, void* dst, int64_t bytes, cudaStream_t stream);  // .cu

namespace {

void NcclCheck(ncclResult_t r, const char* what) {
  HCTR_CHECK_CODE(r == ncclSuccess, hugectr_tf::ErrorCode::kInternal,
                  what << " failed: " << ncclGetErrorString(r));
}

class Device {
 public:
  explicit Device(int d) {
    HCTR_CUDA_CHECK(cudaGetDevice(&previous_));
    HCTR_CUDA_CHECK(cudaSetDevice(d));
  }
  ~Device() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

// NCCL communicators and streams over GPUs 0..gpus-1, made once per GPU count and kept for
// the process (communicator setup takes a while; tables come and go in the tests).
struct Comms {
  std::vector<int> devices;
  std::vector<ncclComm_t> comms;
  std::vector<cudaStream_t> streams;
};

const Comms& CommsFor(int gpus) {
  static std::map<int, Comms> cache;
  auto it = cache.find(gpus);
  if (it != cache.end()) return it->second;
  int count = 0;
  HCTR_CUDA_CHECK(cudaGetDeviceCount(&count));
  HCTR_CHECK(gpus >= 1 && gpus <= count,
             "asked for " << gpus << " GPUs; this machine has " << count);
  Comms c;
  for (int g = 0; g < gpus; ++g) c.devices.push_back(g);
  c.comms.resize(gpus);
  NcclCheck(ncclCommInitAll(c.comms.data(), gpus, c.devices.data()), "ncclCommInitAll");
  c.streams.resize(gpus);
  for (int g = 0; g < gpus; ++g) {
    Device on(g);
    HCTR_CUDA_CHECK(cudaStreamCreate(&c.streams[g]));
  }
  return cache.emplace(gpus, std::move(c)).first->second;
}

// Owns the table and the device copies of numpy batches (which must live from the forward to
// the backward).
class ShardedHarness {
 public:
  ShardedHarness(int gpus, const hugectr_tf::TableOptions& options) {
    const Comms& c = CommsFor(gpus);
    devices_ = c.devices;
    comms_ = c.comms;
    streams_ = c.streams;
    table_ = std::make_unique<ShardedGpuTable>(options, devices_, comms_, streams_);
    inputs_.resize(gpus);
  }
  ~ShardedHarness() {
    for (size_t g = 0; g < streams_.size(); ++g) {  // no throw from a destructor
      Device on(static_cast<int>(g));
      cudaStreamSynchronize(streams_[g]);
    }
    table_.reset();
    inputs_.clear();
  }

  ShardedGpuTable& table() { return *table_; }
  int gpus() const { return static_cast<int>(devices_.size()); }
  int64_t vec() const { return vec_; }
  void set_vec(int64_t v) { vec_ = v; }

  // Copies one (values, row_splits) per GPU to its device; returns the batches.
  std::vector<ShardedGpuTable::Batch> Upload(const std::vector<py::tuple>& batches) {
    HCTR_CHECK(static_cast<int>(batches.size()) == gpus(),
               "one (values, row_splits) per GPU (" << gpus() << "); received " << batches.size());
    std::vector<ShardedGpuTable::Batch> out(gpus());
    for (int g = 0; g < gpus(); ++g) {
      const auto values = batches[g][0].cast<Array<int64_t>>();
      const auto splits = batches[g][1].cast<Array<int64_t>>();
      Device on(g);
      inputs_[g].clear();
      inputs_[g].emplace_back(std::max<size_t>(values.size(), 1) * 8);
      inputs_[g].emplace_back(std::max<size_t>(splits.size(), 1) * 8);
      inputs_[g].emplace_back(std::max<int64_t>(Bags(splits), 1) * vec_ * 4);
      if (values.size() > 0) {
        HCTR_CUDA_CHECK(cudaMemcpy(inputs_[g][0].as<void>(), values.data(), values.size() * 8,
                                   cudaMemcpyHostToDevice));
      }
      HCTR_CUDA_CHECK(cudaMemcpy(inputs_[g][1].as<void>(), splits.data(), splits.size() * 8,
                                 cudaMemcpyHostToDevice));
      out[g] = {inputs_[g][0].as<int64_t>(), static_cast<int64_t>(values.size()),
                inputs_[g][1].as<int64_t>(), Bags(splits)};
    }
    return out;
  }
  std::vector<float*> Outputs() {
    std::vector<float*> out;
    for (auto& in : inputs_) out.push_back(in[2].as<float>());
    return out;
  }

  template <typename T>
  Array<T> Download(int g, const T* d, std::vector<py::ssize_t> shape) {
    Device on(g);
    HCTR_CUDA_CHECK(cudaStreamSynchronize(streams_[g]));
    Array<T> out(shape);
    if (out.size() > 0) {
      HCTR_CUDA_CHECK(
          cudaMemcpy(out.mutable_data(), d, out.size() * sizeof(T), cudaMemcpyDeviceToHost));
    }
    return out;
  }

  py::list Outs(const std::vector<ShardedGpuTable::Batch>& batches) {
    py::list outs;
    for (int g = 0; g < gpus(); ++g) {
      outs.append(Download(g, inputs_[g][2].as<float>(), {batches[g].num_rows, vec_}));
    }
    return outs;
  }

  void Sync() {
    for (int g = 0; g < gpus(); ++g) {
      Device on(g);
      HCTR_CUDA_CHECK(cudaStreamSynchronize(streams_[g]));
    }
  }

  // Every GPU sends `bytes` to every other GPU and receives as much (one NCCL group, as the
  // table's exchange); returns the median milliseconds of `iters` timed rounds.
  double AllToAllMs(int64_t bytes, int iters) {
    const int G = gpus();
    std::vector<DeviceBuffer> send, recv;
    std::vector<cudaEvent_t> start(G), stop(G);
    for (int g = 0; g < G; ++g) {
      Device on(g);
      send.emplace_back(std::max<int64_t>(bytes * G, 8));
      recv.emplace_back(std::max<int64_t>(bytes * G, 8));
      HCTR_CUDA_CHECK(cudaMemset(send.back().as<void>(), 1, bytes * G));
      HCTR_CUDA_CHECK(cudaEventCreate(&start[g]));
      HCTR_CUDA_CHECK(cudaEventCreate(&stop[g]));
    }
    std::vector<double> times;
    for (int it = -3; it < iters; ++it) {
      Sync();
      for (int g = 0; g < G; ++g) {
        Device on(g);
        HCTR_CUDA_CHECK(cudaEventRecord(start[g], streams_[g]));
      }
      NcclCheck(ncclGroupStart(), "ncclGroupStart");
      for (int g = 0; g < G; ++g) {
        for (int o = 0; o < G; ++o) {
          if (o == g) continue;
          NcclCheck(
              ncclSend(send[g].as<char>() + o * bytes, bytes, ncclInt8, o, comms_[g], streams_[g]),
              "ncclSend");
          NcclCheck(
              ncclRecv(recv[g].as<char>() + o * bytes, bytes, ncclInt8, o, comms_[g], streams_[g]),
              "ncclRecv");
        }
      }
      NcclCheck(ncclGroupEnd(), "ncclGroupEnd");
      double slowest = 0;
      for (int g = 0; g < G; ++g) {
        Device on(g);
        HCTR_CUDA_CHECK(cudaEventRecord(stop[g], streams_[g]));
        HCTR_CUDA_CHECK(cudaEventSynchronize(stop[g]));
        float ms = 0;
        HCTR_CUDA_CHECK(cudaEventElapsedTime(&ms, start[g], stop[g]));
        slowest = std::max(slowest, static_cast<double>(ms));
      }
      if (it >= 0) times.push_back(slowest);
    }
    for (int g = 0; g < G; ++g) {
      Device on(g);
      cudaEventDestroy(start[g]);
      cudaEventDestroy(stop[g]);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }

  // Can computation and the exchange overlap? Every GPU copies copy_bytes with an SM kernel on
  // its stream and/or sends nccl_bytes to every other GPU (one NCCL group on a second stream of
  // higher priority, as the table does). Median host milliseconds of `iters` rounds of: the
  // exchange alone, the copy alone, both at once.
  py::dict OverlapProbe(int64_t nccl_bytes, int64_t copy_bytes, int iters) {
    const int G = gpus();
    nccl_bytes = nccl_bytes / 16 * 16;
    copy_bytes = copy_bytes / 16 * 16;
    std::vector<DeviceBuffer> send, recv, src, dst;
    std::vector<cudaStream_t> side(G);
    for (int g = 0; g < G; ++g) {
      Device on(g);
      send.emplace_back(std::max<int64_t>(nccl_bytes * G, 16));
      recv.emplace_back(std::max<int64_t>(nccl_bytes * G, 16));
      src.emplace_back(std::max<int64_t>(copy_bytes, 16));
      dst.emplace_back(std::max<int64_t>(copy_bytes, 16));
      HCTR_CUDA_CHECK(cudaMemset(send.back().as<void>(), 1, nccl_bytes * G));
      HCTR_CUDA_CHECK(cudaMemset(src.back().as<void>(), 2, copy_bytes));
      int least = 0, greatest = 0;
      HCTR_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
      HCTR_CUDA_CHECK(cudaStreamCreateWithPriority(&side[g], cudaStreamNonBlocking, greatest));
    }
    auto exchange = [&] {
      NcclCheck(ncclGroupStart(), "ncclGroupStart");
      for (int g = 0; g < G; ++g) {
        for (int o = 0; o < G; ++o) {
          if (o == g) continue;
          NcclCheck(ncclSend(send[g].as<char>() + o * nccl_bytes, nccl_bytes, ncclInt8, o,
                             comms_[g], side[g]),
                    "ncclSend");
          NcclCheck(ncclRecv(recv[g].as<char>() + o * nccl_bytes, nccl_bytes, ncclInt8, o,
                             comms_[g], side[g]),
                    "ncclRecv");
        }
      }
      NcclCheck(ncclGroupEnd(), "ncclGroupEnd");
    };
    auto copy = [&] {
      for (int g = 0; g < G; ++g) {
        Device on(g);
        ProbeCopy(src[g].as<void>(), dst[g].as<void>(), copy_bytes, streams_[g]);
      }
    };
    auto wait_all = [&] {
      for (int g = 0; g < G; ++g) {
        Device on(g);
        HCTR_CUDA_CHECK(cudaStreamSynchronize(streams_[g]));
        HCTR_CUDA_CHECK(cudaStreamSynchronize(side[g]));
      }
    };
    auto median_ms = [&](auto&& round) {
      std::vector<double> times;
      for (int it = -3; it < iters; ++it) {
        wait_all();
        const auto t0 = std::chrono::steady_clock::now();
        round();
        wait_all();
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        if (it >= 0) times.push_back(ms);
      }
      std::sort(times.begin(), times.end());
      return times[times.size() / 2];
    };
    py::dict d;
    d["nccl_ms"] = median_ms(exchange);
    d["copy_ms"] = median_ms(copy);
    d["both_ms"] = median_ms([&] {
      exchange();
      copy();
    });
    for (int g = 0; g < G; ++g) {
      Device on(g);
      cudaStreamDestroy(side[g]);
    }
    return d;
  }

 private:
  std::vector<int> devices_;
  std::vector<ncclComm_t> comms_;
  std::vector<cudaStream_t> streams_;
  std::unique_ptr<ShardedGpuTable> table_;
  std::vector<std::vector<DeviceBuffer>> inputs_;  // per GPU: values, row_splits, out
  int64_t vec_ = 0;
};

std::vector<ShardedGpuTable::Batch> PtrBatches(const std::vector<py::tuple>& batches) {
  std::vector<ShardedGpuTable::Batch> out;
  for (const auto& b : batches) {
    out.push_back({reinterpret_cast<const int64_t*>(b[0].cast<uintptr_t>()), b[1].cast<int64_t>(),
                   reinterpret_cast<const int64_t*>(b[2].cast<uintptr_t>()), b[3].cast<int64_t>()});
  }
  return out;
}

}  // namespace

void BindSharded(py::module_& m) {
  m.attr("HAS_NCCL") = true;
  py::class_<ShardedHarness>(m, "ShardedTable")
      .def(py::init([](int gpus, int64_t vec, double workspace_mb, const std::string& type,
                       const std::vector<int64_t>& slot_sizes, uint64_t seed,
                       const std::string& optimizer, const std::string& update, float b1, float b2,
                       float eps, float accu, float mu) {
             auto h = std::make_unique<ShardedHarness>(
                 gpus, MakeTableOptions(vec, workspace_mb, type, slot_sizes, seed, optimizer,
                                        update, b1, b2, eps, accu, mu));
             h->set_vec(vec);
             return h;
           }),
           py::arg("gpus"), TABLE_ARGS)
      .def_property_readonly("num_shards", &ShardedHarness::gpus)
      .def_property_readonly("misses", [](ShardedHarness& h) { return h.table().misses(); })
      .def("lookup_train",
           [](ShardedHarness& h, const std::vector<py::tuple>& batches, int64_t slot_num,
              const std::string& combiner) {
             const auto b = h.Upload(batches);
             h.table().LookupTrain(b, slot_num, ParseCombiner(combiner), h.Outputs());
             return h.Outs(b);
           })
      .def("lookup_inference",
           [](ShardedHarness& h, const std::vector<py::tuple>& batches, int64_t slot_num,
              const std::string& combiner) {
             const auto b = h.Upload(batches);
             const int64_t misses =
                 h.table().LookupInference(b, slot_num, ParseCombiner(combiner), h.Outputs());
             return py::make_tuple(h.Outs(b), misses);
           })
      .def("backward",
           [](ShardedHarness& h, const std::vector<Array<float>>& dout) {
             HCTR_CHECK(static_cast<int>(dout.size()) == h.gpus(), "one dout per GPU");
             std::vector<DeviceBuffer> d;
             std::vector<const float*> ptrs;
             for (int g = 0; g < h.gpus(); ++g) {
               Device on(g);
               d.emplace_back(std::max<size_t>(dout[g].size(), 1) * 4);
               HCTR_CUDA_CHECK(cudaMemcpy(d.back().as<void>(), dout[g].data(), dout[g].size() * 4,
                                          cudaMemcpyHostToDevice));
               ptrs.push_back(d.back().as<float>());
             }
             h.table().Backward(ptrs);
             h.Sync();
           })
      // Per GPU: (the distinct keys it owns, in no particular order, their summed gradients)
      // from the last backward.
      .def("owner_gradients",
           [](ShardedHarness& h) {
             py::list out;
             for (int g = 0; g < h.gpus(); ++g) {
               const int64_t c = h.table().owner_count(g);
               out.append(py::make_tuple(h.Download(g, h.table().owner_keys(g), {c}),
                                         h.Download(g, h.table().owner_grads(g), {c, h.vec()})));
             }
             return out;
           })
      .def("apply", [](ShardedHarness& h, float lr) { h.table().ApplyGradients(lr); })
      // One shard's optimizer step on given gradients (tests feed every table the same ones).
      .def("apply_shard",
           [](ShardedHarness& h, int g, const Array<int64_t>& keys, const Array<float>& grads,
              float lr) {
             Device on(g);
             DeviceBuffer k(std::max<size_t>(keys.size(), 1) * 8);
             DeviceBuffer v(std::max<size_t>(grads.size(), 1) * 4);
             HCTR_CUDA_CHECK(
                 cudaMemcpy(k.as<void>(), keys.data(), keys.size() * 8, cudaMemcpyHostToDevice));
             HCTR_CUDA_CHECK(
                 cudaMemcpy(v.as<void>(), grads.data(), grads.size() * 4, cudaMemcpyHostToDevice));
             h.table().shard(g).ApplyGradients(k.as<int64_t>(), keys.size(), v.as<float>(), lr,
                                               h.table().stream(g));
             h.Sync();
           })
      .def("shard_export",
           [](ShardedHarness& h, int g) {
             Device on(g);
             auto& t = h.table().shard(g);
             return StateToDict(t.Export(h.table().stream(g)), t.options().vec,
                                hugectr_tf::NumOptimizerSlots(t.options().optimizer.type));
           })
      .def("shard_size",
           [](ShardedHarness& h, int g) {
             Device on(g);
             return h.table().shard(g).size(h.table().stream(g));
           })
      // Benchmark entry points: per GPU (values_ptr, n, row_splits_ptr, num_rows), out_ptrs.
      .def("lookup_train_ptr",
           [](ShardedHarness& h, const std::vector<py::tuple>& batches,
              const std::vector<uintptr_t>& out, int64_t slot_num, const std::string& combiner) {
             std::vector<float*> o;
             for (auto p : out) o.push_back(reinterpret_cast<float*>(p));
             h.table().LookupTrain(PtrBatches(batches), slot_num, ParseCombiner(combiner), o);
           })
      .def("backward_ptr",
           [](ShardedHarness& h, const std::vector<uintptr_t>& dout) {
             std::vector<const float*> d;
             for (auto p : dout) d.push_back(reinterpret_cast<const float*>(p));
             h.table().Backward(d);
           })
      .def("sync", &ShardedHarness::Sync)
      .def("set_timing", [](ShardedHarness& h, bool on) { h.table().set_timing(on); })
      .def("timing",
           [](ShardedHarness& h) {
             const auto& t = h.table().timing();
             py::dict d;
             d["keys_ms"] = t.keys_ms;
             d["vectors_ms"] = t.vectors_ms;
             d["grads_ms"] = t.grads_ms;
             d["keys_bytes"] = t.keys_bytes;
             d["vectors_bytes"] = t.vectors_bytes;
             d["grads_bytes"] = t.grads_bytes;
             return d;
           })
      .def("alltoall_ms", &ShardedHarness::AllToAllMs, py::arg("bytes_per_peer"),
           py::arg("iters") = 20)
      .def("set_overlap", [](ShardedHarness& h, bool on) { h.table().set_overlap(on); })
      .def("set_exchange_chunks",
           [](ShardedHarness& h, int chunks) { h.table().set_exchange_chunks(chunks); })
      .def("overlap_probe", &ShardedHarness::OverlapProbe, py::arg("nccl_bytes_per_peer"),
           py::arg("copy_bytes"), py::arg("iters") = 20);
}

#else  // no NCCL: the module says so, and the sharded tests skip

#include "tests/gpu/harness_util.h"

void BindSharded(py::module_& m) { m.attr("HAS_NCCL") = false; }

#endif  // HUGECTR_TF_WITH_NCCL
