// pybind11 bridge for verifying and timing the CUDA core (cc/cuda) without TensorFlow.
// Built by tests/gpu/build.sh: the .cu files with nvcc, this file with g++, linked with cudart.
// numpy entry points copy to and from the device; the *_ptr entry points take raw device
// pointers (e.g. torch tensors' data_ptr()) and a stream handle, for the benchmark.

#include <cuda_runtime.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cc/core/check.h"
#include "cc/cuda/cuda_check.cuh"
#include "cc/cuda/device_buffer.cuh"
#include "cc/cuda/embedding_table.cuh"
#include "cc/cuda/op_support.cuh"
#include "cc/cuda/unique.cuh"
#include "tests/gpu/harness_util.h"

using hugectr_tf::Error;
using hugectr_tf::ErrorCode;
using hugectr_tf::cuda::Combiner;
using hugectr_tf::cuda::DeviceBuffer;
using hugectr_tf::cuda::GpuEmbeddingTable;
using hugectr_tf::cuda::GpuHashEmbedding;
using hugectr_tf::cuda::GpuOneHotEmbedding;
using hugectr_tf::cuda::OptimizerParams;
using hugectr_tf::cuda::OptimizerType;
using hugectr_tf::cuda::UpdateType;

void BindCpuCore(py::module_& m);   // cpu_core_bindings.cc
void BindGpuTable(py::module_& m);  // gpu_table_bindings.cc
void BindSharded(py::module_& m);   // sharded_bindings.cc

namespace {

cudaStream_t Stream(uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

template <typename T>
DeviceBuffer ToDevice(const Array<T>& a) {
  DeviceBuffer d(std::max<size_t>(a.size(), 1) * sizeof(T));
  if (a.size() > 0) {
    HCTR_CUDA_CHECK(cudaMemcpy(d.as<T>(), a.data(), a.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  return d;
}

template <typename T>
Array<T> ToHost(const T* d, std::vector<py::ssize_t> shape) {
  Array<T> out(shape);
  if (out.size() > 0) {
    HCTR_CUDA_CHECK(cudaDeviceSynchronize());
    HCTR_CUDA_CHECK(
        cudaMemcpy(out.mutable_data(), d, out.size() * sizeof(T), cudaMemcpyDeviceToHost));
  }
  return out;
}

// cc/cuda/op_support helpers (used by the TensorFlow GPU kernels), numpy in and out.
void BindOpSupport(py::module_& m) {
  namespace c = hugectr_tf::cuda;
  using Counter = unsigned long long;
  // Runs a first-bad-position check on a device counter started at all ones; -1 when none.
  auto first_bad = [](const std::function<void(Counter*)>& check) {
    DeviceBuffer d(sizeof(Counter));
    HCTR_CUDA_CHECK(cudaMemset(d.as<void>(), 0xFF, sizeof(Counter)));
    check(d.as<Counter>());
    const Counter bad = ToHost(d.as<Counter>(), {1}).at(0);
    return bad == ~Counter{0} ? int64_t{-1} : static_cast<int64_t>(bad);
  };
  // SortedUnique of ids, then inverse[p] = index of ids[p] among the unique ids.
  m.def("inverse_from_unique", [](const Array<int64_t>& ids) {
    const int64_t n = ids.size();
    const size_t m1 = std::max<int64_t>(n, 1), ws = c::SortedUniqueWorkspaceBytes(n);
    DeviceBuffer d_ids = ToDevice(ids), uk(m1 * 8), pos(m1 * 4), starts((m1 + 1) * 4), nu(8), w(ws),
                 inv(m1 * 8);
    c::UniqueOutputs u{uk.as<int64_t>(), pos.as<int32_t>(), starts.as<int32_t>(), nu.as<int64_t>()};
    c::SortedUnique(d_ids.as<int64_t>(), n, w.as<void>(), ws, u, nullptr);
    const int64_t num_unique = ToHost(nu.as<int64_t>(), {1}).at(0);
    c::InverseFromUnique(d_ids.as<int64_t>(), n, uk.as<int64_t>(), num_unique, inv.as<int64_t>(),
                         nullptr);
    return py::make_tuple(ToHost(uk.as<int64_t>(), {num_unique}), ToHost(inv.as<int64_t>(), {n}));
  });
  // SortedUnique of keys; slot_ids[rows_of_unique[u]] = slot of u's first position when that
  // row is >= first_new_row (slot_ids starts as `slot_ids`).
  m.def("new_row_slots", [](const Array<int64_t>& keys, const Array<int64_t>& splits,
                            int64_t slot_num, const Array<int64_t>& rows_of_unique,
                            int64_t first_new_row, const Array<int64_t>& slot_ids) {
    const int64_t n = keys.size(), bags = Bags(splits);
    const size_t m1 = std::max<int64_t>(n, 1), ws = c::SortedUniqueWorkspaceBytes(n);
    DeviceBuffer d_keys = ToDevice(keys), d_splits = ToDevice(splits), uk(m1 * 8), pos(m1 * 4),
                 starts((m1 + 1) * 4), nu(8), w(ws), d_rows = ToDevice(rows_of_unique),
                 d_slots = ToDevice(slot_ids);
    c::UniqueOutputs u{uk.as<int64_t>(), pos.as<int32_t>(), starts.as<int32_t>(), nu.as<int64_t>()};
    c::SortedUnique(d_keys.as<int64_t>(), n, w.as<void>(), ws, u, nullptr);
    const int64_t num_unique = ToHost(nu.as<int64_t>(), {1}).at(0);
    HCTR_CHECK(static_cast<int64_t>(rows_of_unique.size()) == num_unique,
               "rows_of_unique must hold one row per unique key (" << num_unique << ")");
    c::RecordNewRowSlots(d_rows.as<int64_t>(), u, num_unique, d_splits.as<int64_t>(), bags,
                         slot_num, first_new_row, d_slots.as<int64_t>(), nullptr);
    return ToHost(d_slots.as<int64_t>(), {static_cast<py::ssize_t>(slot_ids.size())});
  });
  m.def("first_out_of_range", [first_bad](const Array<int64_t>& v, int64_t lo, int64_t hi) {
    DeviceBuffer d = ToDevice(v);
    return first_bad(
        [&](Counter* c0) { c::FirstOutOfRange(d.as<int64_t>(), v.size(), lo, hi, c0, nullptr); });
  });
  m.def("first_not_ascending", [first_bad](const Array<int64_t>& v) {
    DeviceBuffer d = ToDevice(v);
    return first_bad(
        [&](Counter* c0) { c::FirstNotAscending(d.as<int64_t>(), v.size(), c0, nullptr); });
  });
  m.def("first_absent_row", [first_bad](const Array<int64_t>& v, int64_t num_rows,
                                        const Array<uint8_t>& seen) {
    DeviceBuffer d = ToDevice(v), d_seen = ToDevice(seen);
    return first_bad([&](Counter* c0) {
      c::FirstAbsentRow(d.as<int64_t>(), v.size(), num_rows, d_seen.as<uint8_t>(), c0, nullptr);
    });
  });
  m.def("scatter_rows",
        [](const Array<float>& src, const Array<int64_t>& index, const Array<float>& dst) {
          HCTR_CHECK(src.ndim() == 2 && dst.ndim() == 2 && src.shape(1) == dst.shape(1),
                     "src and dst must be 2-D with equal widths");
          DeviceBuffer d_src = ToDevice(src), d_index = ToDevice(index), d_dst = ToDevice(dst);
          c::ScatterRows(d_src.as<float>(), d_index.as<int64_t>(), index.size(), src.shape(1),
                         d_dst.as<float>(), nullptr);
          return ToHost(d_dst.as<float>(), {dst.shape(0), dst.shape(1)});
        });
  m.def("count_nonzero", [](const Array<uint8_t>& flags) {
    DeviceBuffer d = ToDevice(flags), count(8);
    HCTR_CUDA_CHECK(cudaMemset(count.as<void>(), 0, 8));
    c::CountNonZero(d.as<uint8_t>(), flags.size(), count.as<unsigned long long>(), nullptr);
    return static_cast<int64_t>(ToHost(count.as<unsigned long long>(), {1}).at(0));
  });
}

py::tuple BackwardNumpy(GpuEmbeddingTable& t, const Array<int64_t>& ids,
                        const Array<int64_t>& splits, const std::string& combiner,
                        const Array<float>& dout) {
  const int64_t n = ids.size(), bags = Bags(splits);
  HCTR_CHECK(dout.size() == bags * t.vec(), "dout must hold " << bags * t.vec() << " floats");
  DeviceBuffer d_ids = ToDevice(ids), d_splits = ToDevice(splits), d_dout = ToDevice(dout);
  DeviceBuffer d_unique(std::max<int64_t>(n, 1) * 8),
      d_grads(std::max<int64_t>(n, 1) * t.vec() * 4);
  const int64_t nu =
      t.Backward(d_ids.as<int64_t>(), n, d_splits.as<int64_t>(), bags, ParseCombiner(combiner),
                 d_dout.as<float>(), d_unique.as<int64_t>(), d_grads.as<float>(), nullptr);
  return py::make_tuple(ToHost(d_unique.as<int64_t>(), {nu}),
                        ToHost(d_grads.as<float>(), {nu, t.vec()}));
}

// Row-ordered state; the tests sort by key and lay the slots out as the CPU core's export.
py::dict ExportState(const GpuEmbeddingTable& t, int64_t rows) {
  const auto& v = t.view();
  py::dict d;
  d["weights"] = ToHost(v.weights, {rows, t.vec()});
  if (v.slot0) d["slot0"] = ToHost(v.slot0, {rows, t.vec()});
  if (v.slot1) d["slot1"] = ToHost(v.slot1, {rows, t.vec()});
  d["last_step"] = ToHost(v.last_step, {rows});
  d["step"] = t.step();
  return d;
}

#define OPTIMIZER_ARGS                                                                        \
  py::arg("optimizer") = "sgd", py::arg("update") = "local", py::arg("beta1") = 0.9f,         \
  py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-7f, py::arg("initial_accu_value") = 0.f, \
  py::arg("momentum_factor") = 0.f

}  // namespace

PYBIND11_MODULE(_hctr_cuda_harness, m) {
  m.doc() = "Test and benchmark bridge to hugectr_tf's CUDA embedding core (no TensorFlow).";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      switch (e.code()) {
        case ErrorCode::kInvalidArgument:
          PyErr_SetString(PyExc_ValueError, e.what());
          return;
        case ErrorCode::kOutOfRange:
          PyErr_SetString(PyExc_IndexError, e.what());
          return;
        case ErrorCode::kResourceExhausted:
          PyErr_SetString(PyExc_MemoryError, e.what());
          return;
        default:
          PyErr_SetString(PyExc_RuntimeError, e.what());
      }
    }
  });

  m.def("device_count", []() {
    int count = 0;
    HCTR_CUDA_CHECK(cudaGetDeviceCount(&count));
    return count;
  });
  m.def("device_info", []() {
    int dev = 0, driver = 0, runtime = 0;
    HCTR_CUDA_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp prop;
    HCTR_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    HCTR_CUDA_CHECK(cudaDriverGetVersion(&driver));
    HCTR_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    py::dict d;
    d["name"] = std::string(prop.name);
    d["sm_count"] = prop.multiProcessorCount;
    d["cc"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    d["l2_bytes"] = prop.l2CacheSize;
    d["global_mem_bytes"] = static_cast<int64_t>(prop.totalGlobalMem);
    d["driver_api"] = driver;
    d["runtime_api"] = runtime;
    return d;
  });

  py::class_<GpuHashEmbedding>(m, "HashTable")
      .def(py::init([](int64_t max_rows, int vec, uint64_t seed, const std::string& optimizer,
                       const std::string& update, float b1, float b2, float eps, float accu,
                       float mu) {
             return std::make_unique<GpuHashEmbedding>(
                 max_rows, vec, seed, ParseOptimizer(optimizer, update, b1, b2, eps, accu, mu),
                 nullptr);
           }),
           py::arg("max_rows"), py::arg("vec"), py::arg("seed"), OPTIMIZER_ARGS)
      .def_property_readonly("size", &GpuHashEmbedding::rows_in_use)
      .def_property_readonly("step", &GpuHashEmbedding::step)
      .def("forward",
           [](GpuHashEmbedding& t, const Array<int64_t>& keys, const Array<int64_t>& splits,
              const std::string& combiner, bool training) {
             const int64_t bags = Bags(splits);
             DeviceBuffer d_keys = ToDevice(keys), d_splits = ToDevice(splits);
             DeviceBuffer d_out(std::max<int64_t>(bags, 1) * t.vec() * 4);
             const int64_t misses =
                 t.Forward(d_keys.as<int64_t>(), keys.size(), d_splits.as<int64_t>(), bags,
                           ParseCombiner(combiner), training, d_out.as<float>(), nullptr);
             return py::make_tuple(ToHost(d_out.as<float>(), {bags, t.vec()}), misses);
           })
      .def("backward",
           [](GpuHashEmbedding& t, const Array<int64_t>& keys, const Array<int64_t>& splits,
              const std::string& combiner,
              const Array<float>& dout) { return BackwardNumpy(t, keys, splits, combiner, dout); })
      .def(
          "apply",
          [](GpuHashEmbedding& t, const Array<int64_t>& keys, const Array<float>& grads, float lr) {
            HCTR_CHECK(grads.size() == keys.size() * t.vec(), "grads must be (keys, vec)");
            DeviceBuffer d_keys = ToDevice(keys), d_grads = ToDevice(grads);
            t.Apply(d_keys.as<int64_t>(), d_grads.as<float>(), keys.size(), lr, nullptr);
            HCTR_CUDA_CHECK(cudaDeviceSynchronize());  // the step reads the uploads
          })
      .def("export",
           [](GpuHashEmbedding& t) {
             py::dict d = ExportState(t, t.rows_in_use());
             d["keys"] = ToHost(t.row_keys(), {t.rows_in_use()});
             return d;
           })
      .def("forward_ptr",
           [](GpuHashEmbedding& t, uintptr_t keys, int64_t n, uintptr_t splits, int64_t bags,
              const std::string& combiner, bool training, uintptr_t out, uintptr_t stream) {
             return t.Forward(reinterpret_cast<const int64_t*>(keys), n,
                              reinterpret_cast<const int64_t*>(splits), bags,
                              ParseCombiner(combiner), training, reinterpret_cast<float*>(out),
                              Stream(stream));
           })
      .def("backward_ptr",
           [](GpuHashEmbedding& t, uintptr_t keys, int64_t n, uintptr_t splits, int64_t bags,
              const std::string& combiner, uintptr_t dout, uintptr_t unique_out,
              uintptr_t grads_out, uintptr_t stream) {
             return t.Backward(reinterpret_cast<const int64_t*>(keys), n,
                               reinterpret_cast<const int64_t*>(splits), bags,
                               ParseCombiner(combiner), reinterpret_cast<const float*>(dout),
                               reinterpret_cast<int64_t*>(unique_out),
                               reinterpret_cast<float*>(grads_out), Stream(stream));
           })
      .def("apply_ptr",
           [](GpuHashEmbedding& t, uintptr_t keys, uintptr_t grads, int64_t num, float lr,
              uintptr_t stream) {
             t.Apply(reinterpret_cast<const int64_t*>(keys), reinterpret_cast<const float*>(grads),
                     num, lr, Stream(stream));
           })
      // Checkpoint paths of the TensorFlow GPU kernels.
      .def("clear", [](GpuHashEmbedding& t) { t.Clear(nullptr); })
      .def("lookup_rows",
           [](GpuHashEmbedding& t, const Array<int64_t>& keys, bool training) {
             DeviceBuffer d_keys = ToDevice(keys);
             DeviceBuffer d_rows(std::max<size_t>(keys.size(), 1) * 8);
             t.LookupRows(d_keys.as<int64_t>(), keys.size(), training, d_rows.as<int64_t>(),
                          nullptr);
             return ToHost(d_rows.as<int64_t>(), {static_cast<py::ssize_t>(keys.size())});
           })
      .def("restore_steps", [](GpuHashEmbedding& t, const Array<float>& lr_history) {
        t.RestoreSteps(lr_history.size(), lr_history.data(), nullptr);
      });

  py::class_<GpuOneHotEmbedding>(m, "OneHotTable")
      .def(py::init([](const std::vector<int64_t>& slot_sizes, int vec, uint64_t seed,
                       const std::string& optimizer, const std::string& update, float b1, float b2,
                       float eps, float accu, float mu) {
             return std::make_unique<GpuOneHotEmbedding>(
                 slot_sizes, vec, seed, ParseOptimizer(optimizer, update, b1, b2, eps, accu, mu),
                 nullptr);
           }),
           py::arg("slot_sizes"), py::arg("vec"), py::arg("seed"), OPTIMIZER_ARGS)
      .def_property_readonly("step", &GpuOneHotEmbedding::step)
      .def("rows",
           [](GpuOneHotEmbedding& t, const Array<int64_t>& keys, const Array<int64_t>& splits) {
             DeviceBuffer d_keys = ToDevice(keys), d_splits = ToDevice(splits);
             DeviceBuffer d_rows(std::max<int64_t>(keys.size(), 1) * 8);
             t.Rows(d_keys.as<int64_t>(), keys.size(), d_splits.as<int64_t>(), Bags(splits),
                    d_rows.as<int64_t>(), nullptr);
             return ToHost(d_rows.as<int64_t>(), {static_cast<py::ssize_t>(keys.size())});
           })
      .def("forward",
           [](GpuOneHotEmbedding& t, const Array<int64_t>& keys, const Array<int64_t>& splits,
              const std::string& combiner, bool training) {
             const int64_t bags = Bags(splits);
             DeviceBuffer d_keys = ToDevice(keys), d_splits = ToDevice(splits);
             DeviceBuffer d_out(std::max<int64_t>(bags, 1) * t.vec() * 4);
             const int64_t misses =
                 t.Forward(d_keys.as<int64_t>(), keys.size(), d_splits.as<int64_t>(), bags,
                           ParseCombiner(combiner), training, d_out.as<float>(), nullptr);
             return py::make_tuple(ToHost(d_out.as<float>(), {bags, t.vec()}), misses);
           })
      // Backward over dense rows (key + slot offset), as the one-hot table reports them.
      .def("backward",
           [](GpuOneHotEmbedding& t, const Array<int64_t>& rows, const Array<int64_t>& splits,
              const std::string& combiner,
              const Array<float>& dout) { return BackwardNumpy(t, rows, splits, combiner, dout); })
      .def("apply",
           [](GpuOneHotEmbedding& t, const Array<int64_t>& rows, const Array<float>& grads,
              float lr) {
             HCTR_CHECK(grads.size() == rows.size() * t.vec(), "grads must be (rows, vec)");
             DeviceBuffer d_rows = ToDevice(rows), d_grads = ToDevice(grads);
             t.ApplyRows(d_rows.as<int64_t>(), d_grads.as<float>(), rows.size(), lr, nullptr);
             HCTR_CUDA_CHECK(cudaDeviceSynchronize());  // the step reads the uploads
           })
      .def("export",
           [](GpuOneHotEmbedding& t) {
             py::dict d = ExportState(t, t.rows_in_use());
             d["seen"] = ToHost(t.seen(), {t.rows_in_use()});
             return d;
           })
      .def("reset_rows", [](GpuOneHotEmbedding& t) { t.ResetRows(nullptr); })
      .def("mark_seen",
           [](GpuOneHotEmbedding& t, const Array<int64_t>& rows) {
             DeviceBuffer d_rows = ToDevice(rows);
             t.MarkSeen(d_rows.as<int64_t>(), rows.size(), nullptr);
             HCTR_CUDA_CHECK(cudaDeviceSynchronize());
           })
      .def("restore_steps", [](GpuOneHotEmbedding& t, const Array<float>& lr_history) {
        t.RestoreSteps(lr_history.size(), lr_history.data(), nullptr);
      });

  BindOpSupport(m);
  BindCpuCore(m);
  BindGpuTable(m);
  BindSharded(m);
}
