#include "cc/core/embedding/combine.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
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

void AggregateGradients(const float* dout, const int64_t* row_splits, int64_t num_rows,
                        const int64_t* inverse, int64_t num_unique, int64_t vec, Combiner combiner,
                        float* grads, const ParallelFor& parallel_for) {
  const int64_t n = row_splits[num_rows];
  for (int64_t p = 0; p < n; ++p) {
    HCTR_CHECK(inverse[p] >= 0 && inverse[p] < num_unique,
               "inverse[" << p << "]=" << inverse[p] << " is outside [0, " << num_unique << ")");
  }
  // Each task owns a contiguous range of unique keys and walks all positions in ascending
  // order, adding only those of its keys: every key's sum runs in ascending position whatever
  // the split, and no two tasks write the same gradient row. So the split may follow the
  // machine: one task per core (each extra task costs one more scan of `inverse`), none smaller
  // than 16K keys.
  static const int64_t cores = std::max(1u, std::thread::hardware_concurrency());
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(cores, num_unique >> 14));
  const int64_t per_task = (num_unique + tasks - 1) / std::max<int64_t>(tasks, 1);
  parallel_for(tasks, n * (vec / tasks + 2), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t lo = task * per_task, hi = std::min(num_unique, lo + per_task);
      if (lo >= hi) continue;
      std::memset(grads + lo * vec, 0, sizeof(float) * (hi - lo) * vec);
      for (int64_t r = 0; r < num_rows; ++r) {
        const int64_t first = row_splits[r], last = row_splits[r + 1];
        if (first == last) continue;
        const float* d = dout + r * vec;
        const float scale = 1.0f / static_cast<float>(last - first);
        for (int64_t p = first; p < last; ++p) {
          if (p + kPrefetchDistance < n) {  // the gradient rows ahead, as in the forward
            const int64_t ahead = inverse[p + kPrefetchDistance];
            if (ahead >= lo && ahead < hi) PrefetchFloats(grads + ahead * vec, vec);
          }
          const int64_t u = inverse[p];
          if (u < lo || u >= hi) continue;
          float* g = grads + u * vec;
          if (combiner == Combiner::kMean) {
            for (int64_t j = 0; j < vec; ++j) g[j] += d[j] * scale;
          } else {
            for (int64_t j = 0; j < vec; ++j) g[j] += d[j];
          }
        }
      }
    }
  });
}

}  // namespace hugectr_tf
