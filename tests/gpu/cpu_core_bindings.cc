// The framework-free CPU core (cc/core/embedding) in the same pybind11 module as the CUDA core,
// so tests/gpu compares both on identical inputs without TensorFlow.

#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/table.h"
#include "tests/gpu/harness_util.h"

using hugectr_tf::EmbeddingTable;
using hugectr_tf::ParallelFor;

namespace {

// Splits [0, total) over the machine's cores (the core's loops write disjoint outputs).
ParallelFor ThreadFor() {
  return [](int64_t total, int64_t cost, const std::function<void(int64_t, int64_t)>& work) {
    if (total <= 0) return;
    const int64_t threads = std::max(1u, std::thread::hardware_concurrency());
    const int64_t parts = std::min<int64_t>(threads, std::max<int64_t>(1, total * cost / 100000));
    if (parts <= 1) {
      work(0, total);
      return;
    }
    std::vector<std::thread> pool;
    for (int64_t i = 0; i < parts; ++i) {
      const int64_t b = total * i / parts, e = total * (i + 1) / parts;
      if (b < e) pool.emplace_back([&work, b, e] { work(b, e); });
    }
    for (auto& t : pool) t.join();
  };
}

}  // namespace

void BindCpuCore(py::module_& m) {
  py::class_<EmbeddingTable>(m, "CpuTable")
      .def(py::init([](int64_t vec, double workspace_mb, const std::string& type,
                       const std::vector<int64_t>& slot_sizes, uint64_t seed,
                       const std::string& optimizer, const std::string& update, float b1, float b2,
                       float eps, float accu, float mu) {
             return std::make_unique<EmbeddingTable>(
                 MakeTableOptions(vec, workspace_mb, type, slot_sizes, seed, optimizer, update, b1,
                                  b2, eps, accu, mu));
           }),
           TABLE_ARGS)
      .def_property_readonly("capacity", &EmbeddingTable::capacity)
      .def_property_readonly("size", &EmbeddingTable::size)
      .def_property_readonly("step", &EmbeddingTable::step)
      .def("lookup_train",
           [](EmbeddingTable& t, const Array<int64_t>& values, const Array<int64_t>& splits,
              int64_t slot_num, const std::string& combiner) {
             const int64_t bags = Bags(splits), vec = t.options().vec;
             Array<float> out({bags, vec});
             Array<int64_t> inverse({static_cast<py::ssize_t>(values.size())});
             std::vector<int64_t> unique;
             t.LookupTrain(values.data(), values.size(), splits.data(), bags, slot_num,
                           ParseCombiner(combiner), out.mutable_data(), &unique,
                           inverse.mutable_data(), ThreadFor());
             return py::make_tuple(
                 out, VectorToArray(unique, {static_cast<py::ssize_t>(unique.size())}), inverse);
           })
      .def("lookup_inference",
           [](EmbeddingTable& t, const Array<int64_t>& values, const Array<int64_t>& splits,
              int64_t slot_num, const std::string& combiner) {
             const int64_t bags = Bags(splits), vec = t.options().vec;
             Array<float> out({bags, vec});
             const int64_t misses =
                 t.LookupInference(values.data(), values.size(), splits.data(), bags, slot_num,
                                   ParseCombiner(combiner), out.mutable_data(), ThreadFor());
             return py::make_tuple(out, misses);
           })
      .def("backward",
           [](EmbeddingTable& t, const Array<int64_t>& splits, const Array<int64_t>& inverse,
              int64_t num_unique, const std::string& combiner, const Array<float>& dout) {
             const int64_t vec = t.options().vec;
             Array<float> grads({num_unique, vec});
             hugectr_tf::AggregateGradients(
                 dout.data(), splits.data(), Bags(splits), inverse.data(), num_unique, vec,
                 ParseCombiner(combiner), grads.mutable_data(), ThreadFor());
             return grads;
           })
      .def("apply",
           [](EmbeddingTable& t, const Array<int64_t>& keys, const Array<float>& grads, float lr) {
             t.ApplyGradients(keys.data(), keys.size(), grads.data(), lr, ThreadFor());
           })
      .def_property_readonly("misses", &EmbeddingTable::misses)
      .def("export",
           [](EmbeddingTable& t) {
             return StateToDict(t.Export(ThreadFor()), t.options().vec,
                                hugectr_tf::NumOptimizerSlots(t.options().optimizer.type));
           })
      .def(
          "import_rows",
          [](EmbeddingTable& t, const Array<int64_t>& keys, const Array<float>& rows,
             std::optional<Array<int64_t>> slot_ids) {
            t.ImportRows(keys.data(), keys.size(), rows.data(),
                         slot_ids ? slot_ids->data() : nullptr, ThreadFor());
          },
          py::arg("keys"), py::arg("rows"), py::arg("slot_ids") = py::none())
      .def("import_optimizer_state",
           [](EmbeddingTable& t, const Array<int64_t>& keys, const Array<float>& opt_slots,
              const Array<int64_t>& last_step, int64_t step, const Array<float>& lr_history) {
             t.ImportOptimizerState(keys.data(), keys.size(), opt_slots.data(), last_step.data(),
                                    step, lr_history.data(), ThreadFor());
           });
}
