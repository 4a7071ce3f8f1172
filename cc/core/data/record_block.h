#pragma once
// Shared types of the binary readers: what a file holds (FormatOptions), a decoded run of records
// (RecordBlock, produced by one worker from one file) and an assembled batch (Batch).

#include <cstdint>
#include <string>
#include <vector>

namespace hugectr_tf {

enum class BinaryFormat { kNorm, kRaw };

struct FormatOptions {
  BinaryFormat format = BinaryFormat::kNorm;  // Norm (headered, variable nnz) or Raw (one-hot)
  int64_t label_dim = 1;                      // floats of label per record
  int64_t dense_dim = 0;                      // floats of dense features per record
  std::vector<int64_t> slots_per_input;       // slots of each sparse input, in declaration order
  std::vector<int64_t> max_nnz;               // nnz_per_slot of every slot (all inputs, in order)
  std::vector<bool> fixed_length;             // per input: nnz of each slot <= its max_nnz
  std::vector<std::string> input_names;       // per input: sparse_name (for error messages)
  bool check_sum = false;                     // Norm: Check_t.Sum framing of header and records
  bool key_i64 = false;                       // Norm: int64 keys instead of uint32
  bool float_label_dense = true;              // Raw: label/dense are float32 bits, else int32
  std::vector<int64_t> slot_sizes;            // Raw: key of slot s must be < slot_sizes[s]
  int64_t num_samples = 0;                    // Raw: records in the file (0 = from its size)

  int64_t total_slots() const {
    int64_t n = 0;
    for (int64_t s : slots_per_input) n += s;
    return n;
  }
};

// Records [0, num_records) decoded from one file: column blocks, keys split per sparse input.
struct RecordBlock {
  int64_t num_records = 0;
  std::vector<float> label;                // (num_records, label_dim)
  std::vector<float> dense;                // (num_records, dense_dim)
  std::vector<std::vector<int32_t>> nnz;   // per input: (num_records, slots of the input)
  std::vector<std::vector<int64_t>> keys;  // per input: concatenated keys of its slots

  void Reset(size_t num_inputs) {
    num_records = 0;
    label.clear();
    dense.clear();
    nnz.assign(num_inputs, {});
    keys.assign(num_inputs, {});
  }
};

// One batch in CSR form per sparse input (row = one (record, slot) pair, record-major).
struct Batch {
  int64_t num_records = 0;
  std::vector<float> label;                      // (num_records, label_dim)
  std::vector<float> dense;                      // (num_records, dense_dim)
  std::vector<std::vector<int64_t>> row_splits;  // per input: (num_records * slots + 1)
  std::vector<std::vector<int64_t>> values;      // per input: (row_splits.back())
};

}  // namespace hugectr_tf
