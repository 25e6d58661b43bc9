#pragma once
// Whether autograd records ops on this thread. The flag lives in core because every op reads it; the RAII guards
// (NoGradGuard, EnableGradGuard) are the way to change it.
namespace ds {

namespace detail {
inline thread_local bool tls_grad_enabled = true;
}

inline bool is_grad_enabled() noexcept { return detail::tls_grad_enabled; }
inline void set_grad_enabled(bool enabled) noexcept { detail::tls_grad_enabled = enabled; }

// Turns recording off in a scope (torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() noexcept : prev_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
 private:
  bool prev_;
};

// Turns recording on in a scope (torch.enable_grad()), e.g. inside a no_grad region.
class EnableGradGuard {
 public:
  EnableGradGuard() noexcept : prev_(is_grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;
 private:
  bool prev_;
};

// Sets grad mode to `enabled` in a scope.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) noexcept : prev_(is_grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeGuard() { set_grad_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;
 private:
  bool prev_;
};

}  // namespace ds
