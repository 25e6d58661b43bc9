// GradAccumulation's counter.
#include "grad_accumulation.h"

#include <ds/core/detail/check.h>
#include <ds/ops/elementwise.h>

namespace ds::optim {

GradAccumulation::GradAccumulation(int64_t steps) : steps_(steps) {
  DS_CHECK(steps >= 1, "GradAccumulation", "steps must be at least 1, got {}", steps);
}

Tensor GradAccumulation::scale(const Tensor& loss) const { return steps_ == 1 ? loss : mul(loss, loss_scale()); }

bool GradAccumulation::micro_step() {
  position_ = (position_ + 1) % steps_;
  return position_ == 0;
}

StateDict GradAccumulation::state_dict() const {
  StateDict sd;
  sd.set("position", position_);
  return sd;
}

void GradAccumulation::load_state_dict(const StateDict& state) {
  const StateDict::Value* v = state.find("position");
  DS_CHECK(v != nullptr, "GradAccumulation", "load_state_dict: missing key 'position'");
  const int64_t* p = std::get_if<int64_t>(v);
  DS_CHECK(p && *p >= 0 && *p < steps_, "GradAccumulation",
           "load_state_dict: key 'position' must be an integer in [0, {}) (steps = {})", steps_, steps_);
  position_ = *p;
}

}  // namespace ds::optim
