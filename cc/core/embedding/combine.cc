#include "cc/core/embedding/combine.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cc/core/check.h"
#include "cc/core/embedding/prefetch.h"

namespace hugectr_tf {

Combiner ParseCombiner(const char* name) {
  const std::string s(name);
  if (s == "sum") return Combiner::kSum;
  if (s == "mean") return Combiner::kMean;
  HCTR_FAIL(ErrorCode::kInvalidArgument,
            "`combiner` must be 'sum' or 'mean'. Received: combiner='" << s << "'");
}

void ValidateRowSplits(const int64_t* row_splits, int64_t num_rows, int64_t n) {
  HCTR_CHECK(row_splits[0] == 0,
             "row_splits must start at 0. Received: row_splits[0]=" << row_splits[0]);
  for (int64_t r = 0; r < num_rows; ++r) {
    HCTR_CHECK(row_splits[r + 1] >= row_splits[r],
               "row_splits must not decrease. Received: row_splits["
                   << r + 1 << "]=" << row_splits[r + 1] << " < row_splits[" << r
                   << "]=" << row_splits[r]);
  }
  HCTR_CHECK(row_splits[num_rows] == n, "row_splits must end at the number of keys "
                                            << n << ". Received: row_splits[" << num_rows
                                            << "]=" << row_splits[num_rows]);
}

void CombineForward(const float* rows, const int64_t* row_ids, const int64_t* row_splits,
                    int64_t num_rows, int64_t vec, Combiner combiner, float* out,
                    const ParallelFor& parallel_for) {
  const int64_t avg_nnz = num_rows > 0 ? row_splits[num_rows] / num_rows + 1 : 1;
  parallel_for(num_rows, avg_nnz * vec * 2, [&](int64_t begin, int64_t end) {
    const int64_t last = row_splits[end];
    for (int64_t r = begin; r < end; ++r) {
      float* o = out + r * vec;
      std::memset(o, 0, sizeof(float) * vec);
      const int64_t lo = row_splits[r], hi = row_splits[r + 1];
      for (int64_t p = lo; p < hi; ++p) {
        // Rows are scattered over the table: fetch those a few positions ahead meanwhile.
        if (p + kPrefetchDistance < last && row_ids[p + kPrefetchDistance] >= 0) {
          PrefetchFloats(rows + row_ids[p + kPrefetchDistance] * vec, vec);
        }
        if (row_ids[p] < 0) continue;
        const float* src = rows + row_ids[p] * vec;
        for (int64_t j = 0; j < vec; ++j) o[j] += src[j];
      }
      if (combiner == Combiner::kMean && hi > lo) {
        const float nnz = static_cast<float>(hi - lo);
        for (int64_t j = 0; j < vec; ++j) o[j] /= nnz;
      }
    }
  });
}

namespace {

// Scratch of AggregateGradients, reused by the calls of one thread (no per-step allocation once
// grown): the positions' CSR rows and unique ids grouped by task.
struct AggregateScratch {
  std::vector<int64_t> row, unique;
  std::vector<int64_t> count;  // (kAggregateChunks, tasks) histogram, then write cursors
};

constexpr int64_t kAggregateChunks = 16;            // fixed row chunks of the grouping passes
constexpr int64_t kAggregateTaskBytes = 256 << 10;  // gradient rows per task: fits in L2

}  // namespace

void AggregateGradients(const float* dout, const int64_t* row_splits, int64_t num_rows,
                        const int64_t* inverse, int64_t num_unique, int64_t vec, Combiner combiner,
                        float* grads, const ParallelFor& parallel_for) {
  const int64_t n = row_splits[num_rows];
  for (int64_t p = 0; p < n; ++p) {
    HCTR_CHECK(inverse[p] >= 0 && inverse[p] < num_unique,
               "inverse[" << p << "]=" << inverse[p] << " is outside [0, " << num_unique << ")");
  }
  if (num_unique == 0) return;
  // Each task owns a contiguous range of unique keys, small enough for its gradient rows to stay
  // in cache. The positions are first grouped by task with a stable counting sort (row chunks in
  // order, positions ascending within a chunk), so each task then adds only its own positions,
  // in ascending order: every key's sum runs in ascending position whatever the split, and no
  // two tasks write the same gradient row.
  const int64_t tasks = std::min<int64_t>(
      num_unique, std::max<int64_t>(1, num_unique * vec * static_cast<int64_t>(sizeof(float)) /
                                           kAggregateTaskBytes));
  const int64_t per_task = (num_unique + tasks - 1) / tasks;
  thread_local AggregateScratch scratch;
  AggregateScratch& s = scratch;
  if (static_cast<int64_t>(s.row.size()) < n) {
    s.row.resize(n);
    s.unique.resize(n);
  }
  s.count.assign(kAggregateChunks * tasks, 0);
  auto chunk_begin = [&](int64_t c) { return num_rows * c / kAggregateChunks; };
  parallel_for(kAggregateChunks, (n / kAggregateChunks + 1) * 4, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int64_t* hist = s.count.data() + c * tasks;
      for (int64_t p = row_splits[chunk_begin(c)]; p < row_splits[chunk_begin(c + 1)]; ++p) {
        ++hist[inverse[p] / per_task];
      }
    }
  });
  std::vector<int64_t> task_begin(tasks + 1, 0);
  int64_t total = 0;
  for (int64_t t = 0; t < tasks; ++t) {
    task_begin[t] = total;
    for (int64_t c = 0; c < kAggregateChunks; ++c) {
      const int64_t here = s.count[c * tasks + t];
      s.count[c * tasks + t] = total;
      total += here;
    }
  }
  task_begin[tasks] = total;
  parallel_for(kAggregateChunks, (n / kAggregateChunks + 1) * 8, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int64_t* cursor = s.count.data() + c * tasks;
      for (int64_t r = chunk_begin(c); r < chunk_begin(c + 1); ++r) {
        for (int64_t p = row_splits[r]; p < row_splits[r + 1]; ++p) {
          const int64_t at = cursor[inverse[p] / per_task]++;
          s.row[at] = r;
          s.unique[at] = inverse[p];
        }
      }
    }
  });
  parallel_for(tasks, (n / tasks + 1) * (vec + 4), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t lo = task * per_task, hi = std::min(num_unique, lo + per_task);
      if (lo >= hi) continue;
      std::memset(grads + lo * vec, 0, sizeof(float) * (hi - lo) * vec);
      const int64_t last = task_begin[task + 1];
      for (int64_t e = task_begin[task]; e < last; ++e) {
        if (e + kPrefetchDistance < last) {  // the incoming gradient rows are scattered
          PrefetchFloats(dout + s.row[e + kPrefetchDistance] * vec, vec);
        }
        const int64_t r = s.row[e];
        const float* d = dout + r * vec;
        float* g = grads + s.unique[e] * vec;
        if (combiner == Combiner::kMean) {
          const float scale = 1.0f / static_cast<float>(row_splits[r + 1] - row_splits[r]);
          for (int64_t j = 0; j < vec; ++j) g[j] += d[j] * scale;
        } else {
          for (int64_t j = 0; j < vec; ++j) g[j] += d[j];
        }
      }
    }
  });
}

}  // namespace hugectr_tf
