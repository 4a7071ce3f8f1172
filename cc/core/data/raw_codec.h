#pragma once
// HugeCTR's Raw format: one file of fixed-size records, no header, each record
// (label_dim + dense_dim + slot_num) int32 words: label(s), dense, one key per slot. With
// float_label_dense the label and dense words are float32 bit patterns; otherwise they are int32
// counts converted to float, dense as log(x + 1) (HugeCTR's preprocessing). Keys are per-slot
// ids; with slot_sizes they must lie in [0, slot_sizes[s]) and get the slot's offset (prefix sum
// of the sizes) added, as HugeCTR's Raw reader does, so slots never share a key.

#include <cstdint>
#include <string>
#include <vector>

#include "cc/core/data/file_buffer.h"
#include "cc/core/data/record_decoder.h"

namespace hugectr_tf {

inline int64_t RawRecordBytes(const FormatOptions& o) {
  return 4 * (o.label_dim + o.dense_dim + o.total_slots());
}

// Number of records in a Raw file: options.num_samples if set (the file must be long enough),
// else its size / record size (which must divide evenly). Throws naming file and record otherwise.
int64_t RawRecordCount(const std::string& path, const FormatOptions& options);

class RawDecoder : public RecordDecoder {
 public:
  // Decodes records [begin, end) of `path`.
  RawDecoder(const std::string& path, const FormatOptions& options, int64_t begin, int64_t end);
  int64_t Decode(int64_t max_records, RecordBlock* out) override;

 private:
  std::string path_;
  FormatOptions options_;
  FileBuffer file_;
  int64_t next_ = 0;
  int64_t end_ = 0;
  std::vector<int64_t> slot_offsets_;  // (total slots) or empty
};

}  // namespace hugectr_tf
