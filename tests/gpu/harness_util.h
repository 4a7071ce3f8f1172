#pragma once
// Helpers shared by the pybind11 harness files (argument parsing, numpy aliases).

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/optimizer.h"
#include "cc/core/embedding/table.h"

namespace py = pybind11;

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

inline hugectr_tf::Combiner ParseCombiner(const std::string& c) {
  if (c == "sum") return hugectr_tf::Combiner::kSum;
  if (c == "mean") return hugectr_tf::Combiner::kMean;
  HCTR_FAIL(hugectr_tf::ErrorCode::kInvalidArgument,
            "combiner must be 'sum' or 'mean'; received '" << c << "'");
}

inline hugectr_tf::OptimizerOptions ParseOptimizer(const std::string& type,
                                                   const std::string& update, float beta1,
                                                   float beta2, float epsilon,
                                                   float initial_accu_value,
                                                   float momentum_factor) {
  hugectr_tf::OptimizerOptions p;
  p.update = hugectr_tf::UpdateType::kLocal;
  if (type == "sgd")
    p.type = hugectr_tf::OptimizerType::kSGD;
  else if (type == "momentum")
    p.type = hugectr_tf::OptimizerType::kMomentumSGD;
  else if (type == "nesterov")
    p.type = hugectr_tf::OptimizerType::kNesterov;
  else if (type == "adagrad")
    p.type = hugectr_tf::OptimizerType::kAdagrad;
  else if (type == "adam")
    p.type = hugectr_tf::OptimizerType::kAdam;
  else
    HCTR_FAIL(hugectr_tf::ErrorCode::kInvalidArgument, "unknown optimizer '" << type << "'");
  if (update == "local")
    p.update = hugectr_tf::UpdateType::kLocal;
  else if (update == "global")
    p.update = hugectr_tf::UpdateType::kGlobal;
  else if (update == "lazy_global")
    p.update = hugectr_tf::UpdateType::kLazyGlobal;
  else
    HCTR_FAIL(hugectr_tf::ErrorCode::kInvalidArgument, "unknown update type '" << update << "'");
  p.beta1 = beta1;
  p.beta2 = beta2;
  p.epsilon = epsilon;
  p.initial_accu_value = initial_accu_value;
  p.momentum_factor = momentum_factor;
  return p;
}

inline int64_t Bags(const Array<int64_t>& splits) {
  HCTR_CHECK(splits.ndim() == 1 && splits.size() >= 1,
             "row_splits must be 1-D with at least one entry; received size " << splits.size());
  return splits.size() - 1;
}

// TableOptions from the keyword arguments the harness tables share (CpuTable, GpuTable,
// ShardedTable).
inline hugectr_tf::TableOptions MakeTableOptions(int64_t vec, double workspace_mb,
                                                 const std::string& type,
                                                 const std::vector<int64_t>& slot_sizes,
                                                 uint64_t seed, const std::string& optimizer,
                                                 const std::string& update, float b1, float b2,
                                                 float eps, float accu, float mu) {
  hugectr_tf::TableOptions o;
  o.vec = vec;
  o.workspace_mb = workspace_mb;
  o.type = hugectr_tf::ParseTableType(type);
  o.slot_size_array = slot_sizes;
  o.seed = seed;
  o.optimizer = ParseOptimizer(optimizer, update, b1, b2, eps, accu, mu);
  return o;
}

#define TABLE_ARGS                                                                                \
  py::arg("vec"), py::arg("workspace_mb"),                                                        \
      py::arg("type") = "DistributedSlotSparseEmbeddingHash",                                     \
      py::arg("slot_sizes") = std::vector<int64_t>{}, py::arg("seed") = 0,                        \
      py::arg("optimizer") = "sgd", py::arg("update") = "local", py::arg("beta1") = 0.9f,         \
      py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-7f, py::arg("initial_accu_value") = 0.f, \
      py::arg("momentum_factor") = 0.f

template <typename T>
Array<T> VectorToArray(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  Array<T> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// A TableState as the dict both harness tables export (rows by ascending key).
inline py::dict StateToDict(const hugectr_tf::TableState& st, int64_t vec, int slots) {
  const auto n = static_cast<py::ssize_t>(st.keys.size());
  py::dict d;
  d["keys"] = VectorToArray(st.keys, {n});
  d["weights"] = VectorToArray(st.rows, {n, static_cast<py::ssize_t>(vec)});
  d["slot_ids"] = VectorToArray(st.slot_ids, {n});
  d["opt_slots"] = VectorToArray(st.opt_slots, {n, slots, static_cast<py::ssize_t>(vec)});
  d["last_step"] = VectorToArray(st.last_step, {n});
  d["step"] = st.step;
  d["lr_history"] = VectorToArray(st.lr_history, {static_cast<py::ssize_t>(st.lr_history.size())});
  return d;
}
