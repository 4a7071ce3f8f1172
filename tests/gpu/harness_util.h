#pragma once
// Helpers shared by the pybind11 harness files (argument parsing, numpy aliases).

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "cc/core/check.h"
#include "cc/core/embedding/combine.h"
#include "cc/core/embedding/optimizer.h"

namespace py = pybind11;

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

inline hugectr_tf::Combiner ParseCombiner(const std::string& c) {
  if (c == "sum") return hugectr_tf::Combiner::kSum;
  if (c == "mean") return hugectr_tf::Combiner::kMean;
  HCTR_FAIL(hugectr_tf::ErrorCode::kInvalidArgument, "combiner must be 'sum' or 'mean'; received '" << c << "'");
}

inline hugectr_tf::OptimizerOptions ParseOptimizer(const std::string& type, const std::string& update, float beta1,
                               float beta2, float epsilon, float initial_accu_value,
                               float momentum_factor) {
  hugectr_tf::OptimizerOptions p;
  p.update = hugectr_tf::UpdateType::kLocal;
  if (type == "sgd") p.type = hugectr_tf::OptimizerType::kSGD;
  else if (type == "momentum") p.type = hugectr_tf::OptimizerType::kMomentumSGD;
  else if (type == "nesterov") p.type = hugectr_tf::OptimizerType::kNesterov;
  else if (type == "adagrad") p.type = hugectr_tf::OptimizerType::kAdagrad;
  else if (type == "adam") p.type = hugectr_tf::OptimizerType::kAdam;
  else HCTR_FAIL(hugectr_tf::ErrorCode::kInvalidArgument, "unknown optimizer '" << type << "'");
  if (update == "local") p.update = hugectr_tf::UpdateType::kLocal;
  else if (update == "global") p.update = hugectr_tf::UpdateType::kGlobal;
  else if (update == "lazy_global") p.update = hugectr_tf::UpdateType::kLazyGlobal;
  else HCTR_FAIL(hugectr_tf::ErrorCode::kInvalidArgument, "unknown update type '" << update << "'");
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

