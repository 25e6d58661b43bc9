#pragma once
// ds::optim::GradScaler (torch.amp.GradScaler): dynamic loss scaling for mixed-precision training. The loss is
// multiplied by a scale before backward, so that small f16/bf16 gradients do not flush to zero; the gradients are
// divided by it again before the optimizer steps. A step whose gradients hold an inf or NaN is skipped and the scale
// is reduced (times backoff_factor); after growth_interval clean steps in a row it grows (times growth_factor).
//
//   GradScaler scaler;
//   scaler.scale(loss).backward();
//   scaler.unscale_(opt);            // optional: before clipping gradients
//   scaler.step(opt);                // skipped when a gradient is non-finite
//   scaler.update();
//
// With enabled = false every call is a pass-through (scale returns the loss, step calls optimizer.step()).
#include <cstdint>
#include <map>

#include <ds/ops/state_dict.h>
#include <ds/ops/tensor.h>
#include <ds/optim/optimizer.h>

namespace ds::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});

  // loss * scale (the loss itself when disabled).
  Tensor scale(const Tensor& loss) const;
  // Divides the gradients of the optimizer's parameters by the scale, in place, and records whether any is
  // non-finite (one host read per call). A second call for the same optimizer before update() is an error.
  void unscale_(Optimizer& optimizer);
  // Unscales (when unscale_ was not called) and calls optimizer.step() unless a gradient was non-finite; returns
  // whether it stepped. A second call for the same optimizer before update() is an error.
  bool step(Optimizer& optimizer);
  // Adjusts the scale for the next iteration from this iteration's steps: times backoff_factor when any optimizer
  // found a non-finite gradient, else counts a clean step and multiplies by growth_factor every growth_interval
  // clean steps. Needs a step (or unscale_) since the last update.
  void update();

  bool is_enabled() const { return options_.enabled; }
  double get_scale() const { return options_.enabled ? scale_ : 1.0; }
  int64_t growth_tracker() const { return growth_tracker_; }
  // Steps skipped because of non-finite gradients, over the scaler's life.
  int64_t skipped_steps() const { return skipped_steps_; }
  const GradScalerOptions& options() const { return options_; }

  // "scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker" (torch's keys) and
  // "skipped_steps". Loading checks that every key is present.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  struct PerOptimizer {
    bool unscaled = false;
    bool stepped = false;
    bool found_inf = false;
  };

  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0;
  int64_t skipped_steps_ = 0;
  std::map<const Optimizer*, PerOptimizer> per_optimizer_;  // this iteration's, cleared by update()
};

}  // namespace ds::optim
