#pragma once
// Parallel decode, ordered assembly. Worker threads decode tasks (a Norm file, or a record range
// of a Raw file) into bounded per-task queues of RecordBlocks; the consumer cuts batches from the
// tasks in order, so a batch may span files, only the very last batch of an epoch is partial, and
// the record order equals the file-list order whatever num_workers is. A decode error travels to
// the consumer in order and is thrown from Next() with the file, record and field.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/data/record_block.h"
#include "cc/core/data/record_decoder.h"

namespace hugectr_tf {

struct PipelineOptions {
  int64_t batch_size = 1;           // records per batch (the last of an epoch may have fewer)
  int64_t num_workers = 1;          // decoding threads = tasks decoded ahead
  bool repeat = false;              // cycle over the tasks forever instead of one epoch
  int64_t block_records = 4096;     // records per decoded block
  int64_t max_blocks_per_task = 8;  // queue bound per in-flight task (memory bound)
};

// Splits `paths` into tasks: one per Norm file; Raw files in ranges of `raw_chunk_records`.
std::vector<ReadTask> PlanTasks(const std::vector<std::string>& paths, const FormatOptions& format,
                                int64_t raw_chunk_records);

class BatchPipeline {
 public:
  BatchPipeline(std::vector<ReadTask> tasks, FormatOptions format, PipelineOptions options);
  ~BatchPipeline();
  BatchPipeline(const BatchPipeline&) = delete;
  BatchPipeline& operator=(const BatchPipeline&) = delete;

  // Fills `out` with the next batch. Returns false at the end of the epoch (never when
  // repeating). Throws hugectr_tf::Error on bad data; later calls throw the same error.
  bool Next(Batch* out);

 private:
  struct TaskState {
    std::deque<RecordBlock> blocks;
    bool done = false;
    bool failed = false;
    ErrorCode code = ErrorCode::kInternal;
    std::string message;
  };

  void WorkerLoop();
  void Append(const RecordBlock& block, int64_t count, Batch* out);

  const std::vector<ReadTask> tasks_;
  const FormatOptions format_;
  const PipelineOptions options_;

  std::mutex mu_;
  std::condition_variable work_cv_;  // workers: a task can be claimed or a queue has room
  std::condition_variable data_cv_;  // consumer: a block arrived or a task finished
  std::map<int64_t, std::shared_ptr<TaskState>> inflight_;
  int64_t next_claim_ = 0;   // sequence number of the next task a worker takes
  int64_t consume_seq_ = 0;  // sequence number of the task the consumer reads
  bool stop_ = false;
  bool failed_ = false;
  ErrorCode failed_code_ = ErrorCode::kInternal;
  std::string failed_message_;
  int64_t empty_tasks_in_a_row_ = 0;
  std::vector<std::thread> workers_;

  // Consumer cursor inside the front block of the current task.
  int64_t cursor_record_ = 0;
  std::vector<int64_t> cursor_key_;
};

}  // namespace hugectr_tf
