// The whole GPU table (cc/cuda/gpu_table.cuh) and the sharding route (shard_routing.cuh) in
// the harness module, numpy in and out, with the CpuTable's Python signature so tests/gpu
// drives both tables the same way.

#include <cuda_runtime.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/gpu_table.cuh"
#include "cc/cuda/shard_routing.cuh"
#include "tests/gpu/harness_util.h"

using hugectr_tf::cuda::DeviceBuffer;
using hugectr_tf::cuda::GpuTable;

namespace {

template <typename T>
DeviceBuffer Upload(const Array<T>& a) {
  DeviceBuffer d(std::max<size_t>(a.size(), 1) * sizeof(T));
  if (a.size() > 0) {
    HCTR_CUDA_CHECK(cudaMemcpy(d.as<T>(), a.data(), a.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  return d;
}

template <typename T>
Array<T> Download(const T* d, std::vector<py::ssize_t> shape) {
  Array<T> out(shape);
  HCTR_CUDA_CHECK(cudaDeviceSynchronize());
  if (out.size() > 0) {
    HCTR_CUDA_CHECK(
        cudaMemcpy(out.mutable_data(), d, out.size() * sizeof(T), cudaMemcpyDeviceToHost));
  }
  return out;
}

void BindRouting(py::module_& m) {
  namespace c = hugectr_tf::cuda;
  m.def("shard_of_key", [](int64_t key, int shards) { return c::ShardOfKey(key, shards); });
  // The whole route of one requester: (owner per position, the distinct keys per owner in
  // owner-major order, each position's entry, the first slot per entry, per-owner entry counts,
  // the first reserved key or -1, the positions grouped by entry, the entries' segment starts).
  m.def("route", [](const Array<int64_t>& values, const Array<int64_t>& splits, int64_t slot_num,
                    bool by_slot, int shards) {
    const int64_t n = values.size(), bags = Bags(splits);
    const size_t m1 = std::max<int64_t>(n, 1);
    DeviceBuffer d_values = Upload(values), d_splits = Upload(splits), owner(m1 * 4),
                 counters((shards + 2) * 8), ucounts(shards * 8), keys(m1 * 8), slots(m1 * 8),
                 ids(m1 * 4), total(8), positions(m1 * 4), starts((m1 + 1) * 4);
    HCTR_CUDA_CHECK(cudaMemset(counters.as<void>(), 0, shards * 8));
    HCTR_CUDA_CHECK(cudaMemset(counters.as<char>() + shards * 8, 0xFF, 16));
    auto* cnt = counters.as<unsigned long long>();
    c::OwnersOfPositions(d_values.as<int64_t>(), n, d_splits.as<int64_t>(), bags, slot_num, by_slot,
                         shards, owner.as<int32_t>(), cnt, cnt + shards, nullptr);
    const auto host_counts = Download(cnt, {shards + 2});
    std::vector<int64_t> per_owner(shards);
    for (int s = 0; s < shards; ++s) per_owner[s] = static_cast<int64_t>(host_counts.at(s));
    const c::ShardOffsets regions = c::DedupRegions(per_owner.data(), shards);
    const size_t ws =
        std::max(c::DedupWorkspaceBytes(n, regions, shards), c::SegmentsWorkspaceBytes(n));
    DeviceBuffer scratch(ws);
    const c::RouteOutputs out{keys.as<int64_t>(), slots.as<int64_t>(), ids.as<int32_t>(),
                              ucounts.as<int64_t>(), total.as<int64_t>()};
    c::DedupByOwner(d_values.as<int64_t>(), n, owner.as<int32_t>(), d_splits.as<int64_t>(), bags,
                    slot_num, shards, regions, scratch.as<void>(), ws, out, nullptr);
    const int64_t num = Download(total.as<int64_t>(), {1}).at(0);
    const auto got_keys = Download(keys.as<int64_t>(), {num});
    const auto got_slots = Download(slots.as<int64_t>(), {num});
    c::SegmentsOfIds(ids.as<int32_t>(), n, scratch.as<void>(), ws, positions.as<int32_t>(),
                     starts.as<int32_t>(), nullptr);
    return py::make_tuple(
        Download(owner.as<int32_t>(), {n}), got_keys, Download(ids.as<int32_t>(), {n}), got_slots,
        Download(ucounts.as<int64_t>(), {shards}),
        host_counts.at(shards) == ~0ull ? int64_t{-1}
                                        : static_cast<int64_t>(host_counts.at(shards)),
        Download(positions.as<int32_t>(), {n}), Download(starts.as<int32_t>(), {num + 1}));
  });
}

}  // namespace

void BindGpuTable(py::module_& m) {
  py::class_<GpuTable>(m, "GpuTable")
      .def(py::init([](int64_t vec, double workspace_mb, const std::string& type,
                       const std::vector<int64_t>& slot_sizes, uint64_t seed,
                       const std::string& optimizer, const std::string& update, float b1, float b2,
                       float eps, float accu, float mu) {
             return std::make_unique<GpuTable>(
                 MakeTableOptions(vec, workspace_mb, type, slot_sizes, seed, optimizer, update, b1,
                                  b2, eps, accu, mu),
                 nullptr);
           }),
           TABLE_ARGS)
      .def_property_readonly("capacity", &GpuTable::capacity)
      .def_property_readonly("size", [](GpuTable& t) { return t.size(nullptr); })
      .def_property_readonly("step", &GpuTable::step)
      .def_property_readonly("misses", &GpuTable::misses)
      .def("lookup_train",
           [](GpuTable& t, const Array<int64_t>& values, const Array<int64_t>& splits,
              int64_t slot_num, const std::string& combiner) {
             const int64_t n = values.size(), bags = Bags(splits), vec = t.options().vec;
             const size_t m1 = std::max<int64_t>(n, 1);
             DeviceBuffer d_values = Upload(values), d_splits = Upload(splits),
                          out(std::max<int64_t>(bags, 1) * vec * 4), unique(m1 * 8),
                          inverse(m1 * 8);
             const int64_t nu =
                 t.LookupTrain(d_values.as<int64_t>(), n, d_splits.as<int64_t>(), bags, slot_num,
                               ParseCombiner(combiner), out.as<float>(), unique.as<int64_t>(),
                               inverse.as<int64_t>(), nullptr);
             return py::make_tuple(Download(out.as<float>(), {bags, vec}),
                                   Download(unique.as<int64_t>(), {nu}),
                                   Download(inverse.as<int64_t>(), {n}));
           })
      .def("lookup_inference",
           [](GpuTable& t, const Array<int64_t>& values, const Array<int64_t>& splits,
              int64_t slot_num, const std::string& combiner) {
             const int64_t bags = Bags(splits), vec = t.options().vec;
             DeviceBuffer d_values = Upload(values), d_splits = Upload(splits),
                          out(std::max<int64_t>(bags, 1) * vec * 4);
             const int64_t misses = t.LookupInference(
                 d_values.as<int64_t>(), values.size(), d_splits.as<int64_t>(), bags, slot_num,
                 ParseCombiner(combiner), out.as<float>(), nullptr);
             return py::make_tuple(Download(out.as<float>(), {bags, vec}), misses);
           })
      // The backward op (cuda::AggregateGradients), as CpuTable.backward.
      .def("backward",
           [](GpuTable& t, const Array<int64_t>& splits, const Array<int64_t>& inverse,
              int64_t num_unique, const std::string& combiner, const Array<float>& dout) {
             const int64_t bags = Bags(splits), vec = t.options().vec, n = inverse.size();
             HCTR_CHECK(dout.size() == bags * vec, "dout must hold " << bags * vec << " floats");
             const size_t bytes =
                 hugectr_tf::cuda::AggregateGradientsWorkspaceBytes(n, num_unique, vec);
             DeviceBuffer d_splits = Upload(splits), d_inverse = Upload(inverse),
                          d_dout = Upload(dout), grads(std::max<int64_t>(num_unique, 1) * vec * 4),
                          ws(bytes);
             hugectr_tf::cuda::AggregateGradients(d_dout.as<float>(), d_splits.as<int64_t>(), bags,
                                                  d_inverse.as<int64_t>(), n, num_unique, vec,
                                                  ParseCombiner(combiner), grads.as<float>(),
                                                  ws.as<void>(), bytes, nullptr);
             return Download(grads.as<float>(), {num_unique, vec});
           })
      .def("apply",
           [](GpuTable& t, const Array<int64_t>& keys, const Array<float>& grads, float lr) {
             DeviceBuffer d_keys = Upload(keys), d_grads = Upload(grads);
             t.ApplyGradients(d_keys.as<int64_t>(), keys.size(), d_grads.as<float>(), lr, nullptr);
             HCTR_CUDA_CHECK(cudaDeviceSynchronize());  // the step reads the uploads
           })
      .def("export",
           [](GpuTable& t) {
             return StateToDict(t.Export(nullptr), t.options().vec,
                                hugectr_tf::NumOptimizerSlots(t.options().optimizer.type));
           })
      .def(
          "import_rows",
          [](GpuTable& t, const Array<int64_t>& keys, const Array<float>& rows,
             std::optional<Array<int64_t>> slot_ids) {
            t.ImportRows(keys.data(), keys.size(), rows.data(),
                         slot_ids ? slot_ids->data() : nullptr, nullptr);
          },
          py::arg("keys"), py::arg("rows"), py::arg("slot_ids") = py::none())
      .def("import_optimizer_state",
           [](GpuTable& t, const Array<int64_t>& keys, const Array<float>& opt_slots,
              const Array<int64_t>& last_step, int64_t step, const Array<float>& lr_history) {
             t.ImportOptimizerState(keys.data(), keys.size(), opt_slots.data(), last_step.data(),
                                    step, lr_history.data(), nullptr);
           });
  BindRouting(m);
}
