// Dynamic loss scaling: scale, unscale with a non-finite check, skipped steps, scale growth and backoff.
#include "grad_scaler.h"

#include <cmath>
#include <utility>
#include <vector>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/reduce.h>

namespace ds::optim {

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale) {
  DS_CHECK(options_.init_scale > 0 && std::isfinite(options_.init_scale), "GradScaler",
           "init_scale must be positive and finite, got {}", options_.init_scale);
  DS_CHECK(options_.growth_factor > 1, "GradScaler", "growth_factor must be > 1, got {}", options_.growth_factor);
  DS_CHECK(options_.backoff_factor > 0 && options_.backoff_factor < 1, "GradScaler",
           "backoff_factor must be in (0, 1), got {}", options_.backoff_factor);
  DS_CHECK(options_.growth_interval > 0, "GradScaler", "growth_interval must be positive, got {}",
           options_.growth_interval);
}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!options_.enabled) return loss;
  return mul(loss, Scalar(scale_));
}

void GradScaler::unscale_(Optimizer& optimizer) {
  if (!options_.enabled) return;
  PerOptimizer& st = per_optimizer_[&optimizer];
  DS_CHECK(!st.unscaled, "GradScaler", "unscale_() has already been called on this optimizer ({}) since the last "
           "update()", optimizer.name());
  DS_CHECK(!st.stepped, "GradScaler", "unscale_() is being called after step() on this optimizer ({}); call it "
           "before step() and update()", optimizer.name());
  NoGradGuard no_grad;
  const double inv = 1.0 / scale_;
  // Per device, the sum over tensors of sum(g * 0): 0 when every element is finite, NaN otherwise.
  std::vector<std::pair<Device, Tensor>> flags;
  for (ParamGroup& group : optimizer.param_groups())
    for (Tensor& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      g.mul_(Scalar(inv));
      Tensor flag = sum(mul(g, Scalar(0.0))).to(kF64);
      bool added = false;
      for (auto& [device, acc] : flags)
        if (device == g.device()) {
          acc = add(acc, flag);
          added = true;
        }
      if (!added) flags.emplace_back(g.device(), flag);
    }
  bool found_inf = false;
  for (auto& [device, acc] : flags) found_inf |= !std::isfinite(acc.to(kCPU).item<double>());
  st.unscaled = true;
  st.found_inf = found_inf;
}

bool GradScaler::step(Optimizer& optimizer) {
  if (!options_.enabled) {
    optimizer.step();
    return true;
  }
  PerOptimizer& st = per_optimizer_[&optimizer];
  DS_CHECK(!st.stepped, "GradScaler", "step() has already been called on this optimizer ({}) since the last "
           "update()", optimizer.name());
  if (!st.unscaled) unscale_(optimizer);
  PerOptimizer& s = per_optimizer_[&optimizer];
  s.stepped = true;
  if (s.found_inf) {
    ++skipped_steps_;
    return false;
  }
  optimizer.step();
  return true;
}

void GradScaler::update() {
  if (!options_.enabled) return;
  DS_CHECK(!per_optimizer_.empty(), "GradScaler", "update() found no inf checks: call step() (or unscale_()) "
           "on an optimizer since the last update()");
  bool found_inf = false;
  for (const auto& [opt, st] : per_optimizer_) found_inf |= st.found_inf;
  if (found_inf) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == options_.growth_interval) {
    scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
  per_optimizer_.clear();
}

StateDict GradScaler::state_dict() const {
  StateDict sd;
  if (!options_.enabled) return sd;
  sd.set("scale", scale_);
  sd.set("growth_factor", options_.growth_factor);
  sd.set("backoff_factor", options_.backoff_factor);
  sd.set("growth_interval", options_.growth_interval);
  sd.set("_growth_tracker", growth_tracker_);
  sd.set("skipped_steps", skipped_steps_);
  return sd;
}

void GradScaler::load_state_dict(const StateDict& state) {
  if (!options_.enabled) return;
  DS_CHECK(!state.empty(), "GradScaler", "the state dict is empty (saved by a disabled GradScaler?)");
  // Read everything before changing anything: a missing key or a wrong kind is an error naming the key.
  const double scale = state.real("scale");
  const double growth = state.real("growth_factor");
  const double backoff = state.real("backoff_factor");
  const int64_t interval = state.integer("growth_interval");
  const int64_t tracker = state.integer("_growth_tracker");
  const int64_t skipped = state.contains("skipped_steps") ? state.integer("skipped_steps") : 0;
  DS_CHECK(scale > 0 && std::isfinite(scale), "GradScaler", "the saved scale {} is not positive and finite", scale);
  scale_ = scale;
  options_.growth_factor = growth;
  options_.backoff_factor = backoff;
  options_.growth_interval = interval;
  growth_tracker_ = tracker;
  skipped_steps_ = skipped;
}

}  // namespace ds::optim
