#pragma once
// Work: the handle of one asynchronous collective (torch.distributed's Work). Every collective returns one at
// once; the operation runs on the process group's communication thread (CPU) or stream (CUDA).
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ds/distributed/types.h>

namespace ds::dist {

class Work {
 public:
  // description names the op, group, sequence number, dtype and shape ("allreduce #12 on group 'world' f32 [1024]").
  explicit Work(std::string description) : description_(std::move(description)) {}
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  bool is_completed() const;
  // Blocks until the operation has completed and rethrows its error, if any. With a timeout above zero, throws a
  // ds::Error naming the operation when it has not completed by then (the operation itself goes on; the process
  // group's own timeout, enforced by the watchdog, still ends the run if it never completes).
  void wait(Timeout timeout = Timeout::zero());
  const std::string& description() const { return description_; }

  // ---- for backends
  // Marks the work done (error: what failed, or null); wakes waiters, then runs the completion callbacks on the
  // calling thread (the communication thread), in the order added.
  void complete(std::exception_ptr error = nullptr);
  // Runs fn when the work completes (at once, on this thread, if it already has).
  void on_complete(std::function<void()> fn);

 private:
  std::string description_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
  std::vector<std::function<void()>> callbacks_;
};

using WorkPtr = std::shared_ptr<Work>;

// A work that is already complete (what a world of one rank returns).
WorkPtr completed_work(std::string description);
// Waits for every work in order (each with the timeout), rethrowing the first error.
void wait_all(const std::vector<WorkPtr>& works, Timeout timeout = Timeout::zero());

}  // namespace ds::dist
