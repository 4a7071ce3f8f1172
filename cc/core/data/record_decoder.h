#pragma once
// The interface between the batch pipeline and the format codecs: a decoder turns one task (a
// file, or a record range of one) into successive RecordBlocks.

#include <cstdint>
#include <memory>
#include <string>

#include "cc/core/data/record_block.h"

namespace hugectr_tf {

class RecordDecoder {
 public:
  virtual ~RecordDecoder() = default;
  // Appends up to `max_records` records to `out` (after out->Reset). Returns the number appended;
  // 0 means the task is finished. Throws hugectr_tf::Error naming file, record and field.
  virtual int64_t Decode(int64_t max_records, RecordBlock* out) = 0;
};

// One unit of work: records [begin, end) of a file; end < 0 means "as many as the file has".
struct ReadTask {
  std::string path;
  int64_t begin = 0;
  int64_t end = -1;
};

std::unique_ptr<RecordDecoder> MakeDecoder(const ReadTask& task, const FormatOptions& options);

}  // namespace hugectr_tf
