#include "cc/core/embedding/combine.h"

#include <cstring>
#include <string>
#include <vector>

#include "cc/core/check.h"

namespace hugectr_tf {

Combiner ParseCombiner(const char* name) {
  const std::string s(name);
  if (s == "sum") return Combiner::kSum;
  if (s == "mean") return Combiner::kMean;
  HCTR_FAIL(ErrorCode::kInvalidArgument,
            "`combiner` must be 'sum' or 'mean'. Received: combiner='" << s << "'");
}

void ValidateRowSplits(const int64_t* row_splits, int64_t num_rows, int64_t n) {
  HCTR_CHECK(row_splits[0] == 0, "row_splits must start at 0. Received: row_splits[0]="
                                     << row_splits[0]);
  for (int64_t r = 0; r < num_rows; ++r) {
    HCTR_CHECK(row_splits[r + 1] >= row_splits[r],
               "row_splits must not decrease. Received: row_splits[" << r + 1 << "]="
                                                                      << row_splits[r + 1]
                                                                      << " < row_splits[" << r
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
    for (int64_t r = begin; r < end; ++r) {
      float* o = out + r * vec;
      std::memset(o, 0, sizeof(float) * vec);
      const int64_t lo = row_splits[r], hi = row_splits[r + 1];
      for (int64_t p = lo; p < hi; ++p) {
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
                        const int64_t* inverse, int64_t num_unique, int64_t vec,
                        Combiner combiner, float* grads, const ParallelFor& parallel_for) {
  const int64_t n = row_splits[num_rows];
  // Position -> CSR row, then a counting sort of positions by unique index. The fill runs in
  // ascending position, so each unique key's positions come out in ascending order: the sum
  // order below is fixed whatever the thread count.
  std::vector<int64_t> row_of(n);
  parallel_for(num_rows, 8, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t p = row_splits[r]; p < row_splits[r + 1]; ++p) row_of[p] = r;
    }
  });
  std::vector<int64_t> offsets(num_unique + 1, 0);
  for (int64_t p = 0; p < n; ++p) {
    HCTR_CHECK(inverse[p] >= 0 && inverse[p] < num_unique,
               "inverse[" << p << "]=" << inverse[p] << " is outside [0, " << num_unique << ")");
    ++offsets[inverse[p] + 1];
  }
  for (int64_t u = 0; u < num_unique; ++u) offsets[u + 1] += offsets[u];
  std::vector<int64_t> cursor(offsets.begin(), offsets.end() - 1);
  std::vector<int64_t> positions(n);
  for (int64_t p = 0; p < n; ++p) positions[cursor[inverse[p]]++] = p;

  const int64_t avg = num_unique > 0 ? n / num_unique + 1 : 1;
  parallel_for(num_unique, avg * vec * 2, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      float* g = grads + u * vec;
      std::memset(g, 0, sizeof(float) * vec);
      for (int64_t i = offsets[u]; i < offsets[u + 1]; ++i) {
        const int64_t r = row_of[positions[i]];
        const float* d = dout + r * vec;
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
