#pragma once
// Deterministic mode (torch.use_deterministic_algorithms): while on, every op must run a kernel whose result does
// not depend on scheduling (no atomics racing to accumulate floats); an op that has no such kernel on the device
// it runs on raises an error naming it instead of running. CPU kernels are all deterministic for a given thread
// count; some CUDA ones (scatter_add, index_add, the backward of max_pool2d and of the convolution weight) are not.
#include <atomic>

namespace ds {

namespace detail {
inline std::atomic<bool> g_deterministic{false};
}

inline void set_deterministic(bool on) noexcept { detail::g_deterministic.store(on, std::memory_order_relaxed); }
inline bool is_deterministic() noexcept { return detail::g_deterministic.load(std::memory_order_relaxed); }

// Turns deterministic mode on (or off) in a scope.
class DeterministicGuard {
 public:
  explicit DeterministicGuard(bool on = true) noexcept : prev_(is_deterministic()) { set_deterministic(on); }
  ~DeterministicGuard() { set_deterministic(prev_); }
  DeterministicGuard(const DeterministicGuard&) = delete;
  DeterministicGuard& operator=(const DeterministicGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace ds
