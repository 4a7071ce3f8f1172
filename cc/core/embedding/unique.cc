#include "cc/core/embedding/unique.h"

#include <algorithm>
#include <utility>

namespace hugectr_tf {

void SortedUnique(const int64_t* values, int64_t n, UniqueKeys* out, int64_t* inverse,
                  const ParallelFor& parallel_for) {
  using Pair = std::pair<int64_t, int64_t>;  // (key, position)
  std::vector<Pair> a(n), b(n);
  constexpr int64_t kMinChunk = 1 << 14;
  int64_t chunks = 1;
  while (chunks < 64 && n / (chunks * 2) >= kMinChunk) chunks *= 2;
  const int64_t chunk = (n + chunks - 1) / chunks;

  parallel_for(chunks, chunk * 40, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t lo = std::min(n, c * chunk), hi = std::min(n, lo + chunk);
      for (int64_t p = lo; p < hi; ++p) a[p] = {values[p], p};
      std::sort(a.begin() + lo, a.begin() + hi);
    }
  });
  // Pairwise merge rounds: run width doubles each round.
  for (int64_t width = chunk; width < n; width *= 2) {
    const int64_t merges = (n + 2 * width - 1) / (2 * width);
    parallel_for(merges, 2 * width * 4, [&](int64_t begin, int64_t end) {
      for (int64_t m = begin; m < end; ++m) {
        const int64_t lo = m * 2 * width;
        const int64_t mid = std::min(n, lo + width), hi = std::min(n, lo + 2 * width);
        std::merge(a.begin() + lo, a.begin() + mid, a.begin() + mid, a.begin() + hi,
                   b.begin() + lo);
      }
    });
    a.swap(b);
  }

  out->keys.clear();
  out->first_pos.clear();
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || a[i].first != a[i - 1].first) {
      out->keys.push_back(a[i].first);
      out->first_pos.push_back(a[i].second);
    }
    inverse[a[i].second] = static_cast<int64_t>(out->keys.size()) - 1;
  }
}

}  // namespace hugectr_tf
