#pragma once
// Gradient accumulation: k micro-batches of size b stand in for one batch of size k*b. Gradients sum over
// backward calls, so each micro-batch's loss (a mean over its b samples) is divided by k; after the k-th backward
// the summed gradient equals that of the mean loss over all k*b samples, and the optimizer steps:
//
//   GradAccumulation acc(4);
//   for (auto& batch : loader) {
//     acc.scale(loss_fn(model(batch.x), batch.y)).backward();
//     if (acc.micro_step()) { optimizer.step(); scheduler.step(); optimizer.zero_grad(); }
//   }
//
// Schedulers and step counters then advance once per optimizer step, not per micro-batch. A loss that sums over
// samples (not a mean) needs no scaling: use micro_step() alone.
#include <cstdint>

#include <ds/ops/state_dict.h>
#include <ds/ops/tensor.h>

namespace ds::optim {

class GradAccumulation {
 public:
  // steps: micro-batches per optimizer step (>= 1; 1 means no accumulation).
  explicit GradAccumulation(int64_t steps);

  int64_t steps() const { return steps_; }
  // 1 / steps: the factor each micro-batch's loss is multiplied by.
  double loss_scale() const { return 1.0 / static_cast<double>(steps_); }
  // loss * loss_scale() (a new tensor in the graph; call backward on it).
  Tensor scale(const Tensor& loss) const;
  // Counts one micro-batch (call it after its backward); true when it completes a window of `steps`: time to step
  // the optimizer and zero the gradients.
  bool micro_step();
  // Micro-batches counted in the current window (0 right after a window completes).
  int64_t position() const { return position_; }
  // Whether the next micro_step() completes a window: a data-parallel wrapper syncs gradients only then.
  bool is_last_micro_step() const { return position_ + 1 == steps_; }

  // "position" (integer), so that a run resumed mid-window completes it.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  int64_t steps_;
  int64_t position_ = 0;
};

}  // namespace ds::optim
