#pragma once
// Validation shared by the codecs: nnz limits of the model's Input and slot key ranges. The *Ok
// checks are the per-value fast path; the *Message functions build the text only on failure
// (building strings per value would dominate decoding time).

#include <cstdint>
#include <sstream>
#include <string>

#include "cc/core/data/record_block.h"

namespace hugectr_tf {

// nnz of global slot `slot` (in input `input`); `input_total` accumulates the input's nnz so far.
inline bool NnzOk(const FormatOptions& o, size_t input, int64_t slot, int64_t nnz,
                  int64_t input_total, int64_t input_limit) {
  if (nnz < 0) return false;
  return o.fixed_length[input] ? nnz <= o.max_nnz[slot] : input_total + nnz <= input_limit;
}

inline std::string NnzMessage(const FormatOptions& o, size_t input, int64_t slot, int64_t nnz,
                              int64_t input_total, int64_t input_limit) {
  std::ostringstream os;
  if (nnz < 0) {
    os << "nnz=" << nnz << " is negative";
  } else if (o.fixed_length[input] && nnz > o.max_nnz[slot]) {
    os << "nnz=" << nnz << " exceeds nnz_per_slot=" << o.max_nnz[slot]
       << " of the fixed-length sparse input `" << o.input_names[input] << "`";
  } else if (!o.fixed_length[input] && input_total + nnz > input_limit) {
    os << "the record has " << input_total + nnz << " keys in sparse input `"
       << o.input_names[input] << "`, above its max_feature_num=" << input_limit
       << " (sum of nnz_per_slot)";
  }
  return os.str();
}

inline bool SlotKeyOk(const FormatOptions& o, int64_t slot, int64_t key) {
  return key >= 0 && (o.slot_sizes.empty() || key < o.slot_sizes[slot]);
}

inline std::string SlotKeyMessage(const FormatOptions& o, int64_t slot, int64_t key) {
  std::ostringstream os;
  if (key < 0) {
    os << "key=" << key << " is negative";
  } else if (!o.slot_sizes.empty() && key >= o.slot_sizes[slot]) {
    os << "key=" << key << " is outside the slot's range [0, " << o.slot_sizes[slot]
       << ") from slot_size_array";
  }
  return os.str();
}

}  // namespace hugectr_tf
