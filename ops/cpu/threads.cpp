#include <ds/ops/threads.h>

#include <omp.h>

#include <ds/core/error.h>

namespace ds {

void set_num_threads(int n) {
  if (n < 1) throw_error("set_num_threads", "the thread count must be at least 1, got " + std::to_string(n));
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace ds
