#pragma once
// parallel_for over OpenMP threads. Work is split into contiguous ranges; below `grain` elements per thread it runs
// inline, so tiny ops never pay for a parallel region.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace ds::cpu {

inline constexpr int64_t kGrain = 32768;

// Splits [0, n) into one range per thread, each starting at a multiple of `align` (0 for none).
template <typename F>
void parallel_ranges(int64_t n, int64_t grain, int64_t align, F&& f) {
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
    int64_t per = (n + nt - 1) / nt;
    if (align > 0) per = (per + align - 1) / align * align;
    const int64_t b = std::min(n, t * per), e = std::min(n, b + per);
    if (b < e) f(b, e);
  }
}

template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  parallel_ranges(n, grain, 0, std::forward<F>(f));
}

// For elementwise kernels: ranges start at multiples of `align` (a multiple of the widest SIMD packet), so Eigen
// computes each element in the same way (packet or scalar tail) whatever the thread count, and a fused group that
// walks the elements in aligned chunks (framework/graph) computes the same bits.
template <typename F>
void parallel_for_aligned(int64_t n, int64_t grain, int64_t align, F&& f) {
  parallel_ranges(n, grain, align, std::forward<F>(f));
}

}  // namespace ds::cpu
