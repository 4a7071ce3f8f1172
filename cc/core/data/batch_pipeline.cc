#include "cc/core/data/batch_pipeline.h"

#include <algorithm>
#include <utility>

#include "cc/core/data/norm_codec.h"
#include "cc/core/data/raw_codec.h"

namespace hugectr_tf {

std::unique_ptr<RecordDecoder> MakeDecoder(const ReadTask& task, const FormatOptions& options) {
  if (options.format == BinaryFormat::kNorm) {
    return std::make_unique<NormDecoder>(task.path, options);
  }
  return std::make_unique<RawDecoder>(task.path, options, task.begin, task.end);
}

std::vector<ReadTask> PlanTasks(const std::vector<std::string>& paths, const FormatOptions& format,
                                int64_t raw_chunk_records) {
  std::vector<ReadTask> tasks;
  for (const auto& path : paths) {
    if (format.format == BinaryFormat::kNorm) {
      tasks.push_back({path, 0, -1});
      continue;
    }
    const int64_t count = RawRecordCount(path, format);
    for (int64_t b = 0; b < count; b += raw_chunk_records) {
      tasks.push_back({path, b, std::min(count, b + raw_chunk_records)});
    }
  }
  return tasks;
}

BatchPipeline::BatchPipeline(std::vector<ReadTask> tasks, FormatOptions format,
                             PipelineOptions options)
    : tasks_(std::move(tasks)), format_(std::move(format)), options_(options) {
  const size_t inputs = format_.slots_per_input.size();
  HCTR_CHECK(options_.batch_size > 0, "batch_size must be positive, got " << options_.batch_size);
  HCTR_CHECK(options_.num_workers > 0,
             "num_workers must be positive, got " << options_.num_workers);
  HCTR_CHECK(format_.fixed_length.size() == inputs && format_.input_names.size() == inputs,
             "one fixed_length flag and name per sparse input expected");
  HCTR_CHECK(static_cast<int64_t>(format_.max_nnz.size()) == format_.total_slots(),
             "max_nnz needs one entry per slot (" << format_.total_slots() << "), got "
                                                  << format_.max_nnz.size());
  HCTR_CHECK(format_.slot_sizes.empty() ||
                 static_cast<int64_t>(format_.slot_sizes.size()) == format_.total_slots(),
             "slot_size_array has " << format_.slot_sizes.size() << " entries but the Input has "
                                    << format_.total_slots() << " slots");
  cursor_key_.assign(inputs, 0);
  const int64_t threads =
      std::min<int64_t>(options_.num_workers, std::max<size_t>(tasks_.size(), 1));
  for (int64_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

BatchPipeline::~BatchPipeline() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  data_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void BatchPipeline::WorkerLoop() {
  const int64_t n = static_cast<int64_t>(tasks_.size());
  while (true) {
    int64_t seq;
    std::shared_ptr<TaskState> state;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stop_ || (next_claim_ < consume_seq_ + options_.num_workers &&
                         (options_.repeat || next_claim_ < n));
      });
      if (stop_) return;
      seq = next_claim_++;
      state = std::make_shared<TaskState>();
      inflight_[seq] = state;
    }
    auto finish = [&](bool failed, ErrorCode code, const std::string& message) {
      std::lock_guard<std::mutex> lock(mu_);
      state->done = true;
      state->failed = failed;
      state->code = code;
      state->message = message;
      data_cv_.notify_all();
    };
    try {
      auto decoder = MakeDecoder(tasks_[seq % n], format_);
      while (true) {
        RecordBlock block;
        block.Reset(format_.slots_per_input.size());
        if (decoder->Decode(options_.block_records, &block) == 0) break;
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] {
          return stop_ || static_cast<int64_t>(state->blocks.size()) < options_.max_blocks_per_task;
        });
        if (stop_) return;
        state->blocks.push_back(std::move(block));
        data_cv_.notify_all();
      }
      finish(false, ErrorCode::kInternal, "");
    } catch (const Error& e) {
      finish(true, e.code(), e.what());
    } catch (const std::bad_alloc&) {
      finish(true, ErrorCode::kResourceExhausted,
             "out of host memory while decoding `" + tasks_[seq % n].path + "`");
    } catch (const std::exception& e) {
      finish(true, ErrorCode::kInternal, e.what());
    }
  }
}

void BatchPipeline::Append(const RecordBlock& block, int64_t count, Batch* out) {
  const int64_t r0 = cursor_record_;
  const int64_t l = format_.label_dim, d = format_.dense_dim;
  out->label.insert(out->label.end(), block.label.begin() + r0 * l,
                    block.label.begin() + (r0 + count) * l);
  out->dense.insert(out->dense.end(), block.dense.begin() + r0 * d,
                    block.dense.begin() + (r0 + count) * d);
  for (size_t i = 0; i < format_.slots_per_input.size(); ++i) {
    const int64_t slots = format_.slots_per_input[i];
    auto& splits = out->row_splits[i];
    const int64_t start = splits.back();
    int64_t running = start;
    const int32_t* nnz = block.nnz[i].data() + r0 * slots;
    for (int64_t j = 0; j < count * slots; ++j) {
      running += nnz[j];
      splits.push_back(running);
    }
    const int64_t keys = running - start;
    const int64_t* src = block.keys[i].data() + cursor_key_[i];
    out->values[i].insert(out->values[i].end(), src, src + keys);
    cursor_key_[i] += keys;
  }
  cursor_record_ += count;
  out->num_records += count;
}

bool BatchPipeline::Next(Batch* out) {
  const size_t inputs = format_.slots_per_input.size();
  const int64_t n = static_cast<int64_t>(tasks_.size());
  out->num_records = 0;
  out->label.clear();
  out->dense.clear();
  out->row_splits.assign(inputs, std::vector<int64_t>{0});
  out->values.assign(inputs, {});
  out->label.reserve(options_.batch_size * format_.label_dim);
  out->dense.reserve(options_.batch_size * format_.dense_dim);
  for (size_t i = 0; i < inputs; ++i) {
    out->row_splits[i].reserve(options_.batch_size * format_.slots_per_input[i] + 1);
  }
  if (n == 0) {
    HCTR_CHECK(!options_.repeat, "the source lists no data, so repeat_dataset would never yield");
    return false;
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (out->num_records < options_.batch_size) {
    if (failed_) throw Error(failed_code_, failed_message_);
    if (!options_.repeat && consume_seq_ >= n) break;
    std::shared_ptr<TaskState> state;
    data_cv_.wait(lock, [&] {
      auto it = inflight_.find(consume_seq_);
      if (it == inflight_.end()) return false;
      state = it->second;
      return !state->blocks.empty() || state->done;
    });
    if (!state->blocks.empty()) {
      // Only this thread pops, and deque::push_back keeps references valid: copy unlocked.
      const RecordBlock& block = state->blocks.front();
      const int64_t take =
          std::min(options_.batch_size - out->num_records, block.num_records - cursor_record_);
      lock.unlock();
      Append(block, take, out);
      lock.lock();
      if (cursor_record_ == block.num_records) {
        state->blocks.pop_front();
        cursor_record_ = 0;
        std::fill(cursor_key_.begin(), cursor_key_.end(), 0);
        empty_tasks_in_a_row_ = -1;  // this task produced records
        work_cv_.notify_all();
      }
      continue;
    }
    if (state->failed) {
      failed_ = true;
      failed_code_ = state->code;
      failed_message_ = state->message;
      throw Error(failed_code_, failed_message_);
    }
    inflight_.erase(consume_seq_);
    ++consume_seq_;
    empty_tasks_in_a_row_ += 1;
    if (options_.repeat && empty_tasks_in_a_row_ >= n) {
      failed_ = true;
      failed_code_ = ErrorCode::kDataLoss;
      failed_message_ =
          "every file of the source has 0 records, so repeat_dataset would never yield a batch";
      HCTR_FAIL(failed_code_, failed_message_);
    }
    work_cv_.notify_all();
  }
  return out->num_records > 0;
}

}  // namespace hugectr_tf
