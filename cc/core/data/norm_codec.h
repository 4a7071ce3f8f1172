#pragma once
// HugeCTR's Norm format. A file is a 64-byte header of eight little-endian int64 (error_check,
// number_of_records, label_dim, dense_dim, slot_num, 3 reserved) followed by records:
// float label[label_dim], float dense[dense_dim], then per slot int32 nnz and nnz keys (uint32,
// or int64 with i64_input_key). With Check_t.Sum the header and every record are framed as
// int32 N, N payload bytes, one byte = wrapping int8 sum of the payload.

#include <cstdint>
#include <string>
#include <vector>

#include "cc/core/data/file_buffer.h"
#include "cc/core/data/record_decoder.h"

namespace hugectr_tf {

constexpr int64_t kNormHeaderBytes = 64;

// The fields of a Norm header this project reads (the 3 reserved ones are ignored). This file
// is the one place that parses the header: the reader, the dataset's cardinality and (through
// the op HugeCTR>ReadNormHeader) Python's keyset tools all use the functions below.
struct NormHeader {
  int64_t error_check = 0;
  int64_t number_of_records = 0;
  int64_t label_dim = 0;
  int64_t dense_dim = 0;
  int64_t slot_num = 0;
};

// Bytes of the header at the start of a file: 64, or 4 + 64 + 1 framed (Check_t.Sum).
int64_t NormHeaderSize(bool check_sum);

// Reads the header at the start of `file` (`check_sum`: framed, as Check_t.Sum writes it) and
// checks the frame and its checksum; leaves `file` at the first record. A short file or a bad
// frame fails with DataLoss "Norm file `path`, header, field `...`: ...".
NormHeader ReadNormHeader(FileBuffer* file, const std::string& path, bool check_sum);

// Fails (DataLoss, as above) unless `header` is that of a file read with `options`: error_check
// of its Check_t, number_of_records >= 0, label_dim, dense_dim and slot_num of the Input.
void CheckNormHeader(const NormHeader& header, const FormatOptions& options,
                     const std::string& path);

// The header of Norm file `path` whichever Check_t wrote it (a framed header starts with its
// unit length, the int32 64; an unframed one with error_check, the int64 0); `*check_sum` says
// which. Fails as ReadNormHeader does, or when error_check disagrees with the framing, a count
// is negative or label_dim < 1.
NormHeader ReadNormHeader(const std::string& path, bool* check_sum);

// Records in the Norm files `paths` read with `options` (the sum of their headers' counts), or
// -1 when a header is unreadable, disagrees with `options` or counts more records than its file
// can hold: the reader reports that problem, naming file and field, when it reaches the file.
int64_t NormRecordCount(const std::vector<std::string>& paths, const FormatOptions& options);

class NormDecoder : public RecordDecoder {
 public:
  // Opens `path`, reads and validates the header against `options`.
  NormDecoder(const std::string& path, const FormatOptions& options);
  int64_t Decode(int64_t max_records, RecordBlock* out) override;

 private:
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
