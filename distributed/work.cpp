#include "work.h"

#include <ds/core/detail/check.h>

namespace ds::dist {

bool Work::is_completed() const {
  std::lock_guard lock(mu_);
  return done_;
}

void Work::wait(Timeout timeout) {
  std::unique_lock lock(mu_);
  if (timeout > Timeout::zero()) {
    const bool done = cv_.wait_for(lock, timeout, [&] { return done_; });
    DS_CHECK(done, "dist", "{} did not complete within {:.3f} s", description_,
             std::chrono::duration<double>(timeout).count());
  } else {
    cv_.wait(lock, [&] { return done_; });
  }
  if (error_) std::rethrow_exception(error_);
}

void Work::complete(std::exception_ptr error) {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    done_ = true;
    error_ = std::move(error);
    callbacks.swap(callbacks_);
  }
  cv_.notify_all();
  for (auto& fn : callbacks) fn();
}

void Work::on_complete(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (!done_) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

WorkPtr completed_work(std::string description) {
  auto w = std::make_shared<Work>(std::move(description));
  w->complete();
  return w;
}

void wait_all(const std::vector<WorkPtr>& works, Timeout timeout) {
  for (const WorkPtr& w : works)
    if (w) w->wait(timeout);
}

}  // namespace ds::dist
