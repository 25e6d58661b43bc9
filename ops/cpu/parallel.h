#pragma once
// parallel_for over OpenMP threads. Work is split into contiguous ranges; below `grain` elements per thread it runs
// inline, so tiny ops never pay for a parallel region.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace ds::cpu {

inline constexpr int64_t kGrain = 32768;

template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain) {  // the common small case never touches the OpenMP runtime
    f(int64_t{0}, n);
    return;
  }
  const int max_threads = omp_get_max_threads();
  const int64_t want = std::min<int64_t>(max_threads, (n + grain - 1) / grain);
  if (want <= 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(want))
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t per = (n + nt - 1) / nt;
    const int64_t b = std::min(n, t * per), e = std::min(n, b + per);
    if (b < e) f(b, e);
  }
}

}  // namespace ds::cpu
