#pragma once
// HugeCTR's Norm format. A file is a 64-byte header of eight little-endian int64 (error_check,
// number_of_records, label_dim, dense_dim, slot_num, 3 reserved) followed by records:
// float label[label_dim], float dense[dense_dim], then per slot int32 nnz and nnz keys (uint32,
// or int64 with i64_input_key). With Check_t.Sum the header and every record are framed as
// int32 N, N payload bytes, one byte = wrapping int8 sum of the payload.

#include <cstdint>
#include <string>

#include "cc/core/data/file_buffer.h"
#include "cc/core/data/record_decoder.h"

namespace hugectr_tf {

constexpr int64_t kNormHeaderBytes = 64;

class NormDecoder : public RecordDecoder {
 public:
  // Opens `path`, reads and validates the header against `options`.
  NormDecoder(const std::string& path, const FormatOptions& options);
  int64_t Decode(int64_t max_records, RecordBlock* out) override;

 private:
  void ReadHeader();
  // After the header's last record the file must end: anything more (trailing records, a second
  // file appended with `cat`) is an error naming both counts, never silently dropped.
  void CheckFileEnds();
  // "the file holds ..." for the bytes after the header's last record (error path only).
  std::string DescribeTrailingData();
  [[noreturn]] void Fail(const std::string& field, const std::string& what) const;

  std::string path_;
  FormatOptions options_;
  FileBuffer file_;
  int64_t number_of_records_ = 0;
  int64_t next_record_ = 0;  // index of the record being parsed (for messages)
  int64_t key_bytes_ = 4;
  bool end_checked_ = false;
};

}  // namespace hugectr_tf
