// LAMB's update.
#include "lamb.h"

#include <cmath>

#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/reduce.h>

namespace ds::optim {

LAMB::LAMB(std::vector<Tensor> params, LAMBOptions options)
    : LAMB(std::vector<ParamGroup>{{std::move(params)}}, options) {}

LAMB::LAMB(std::vector<ParamGroup> groups, LAMBOptions d)
    : Optimizer("LAMB", {{"lr", d.lr},
                         {"beta1", d.beta1},
                         {"beta2", d.beta2},
                         {"eps", d.eps},
                         {"weight_decay", d.weight_decay}}) {
  init_groups(std::move(groups));
}

void LAMB::check_options(const Options& o, size_t g) const {
  check_range(o, "lr", g, 0, INFINITY);
  check_range(o, "eps", g, 0, INFINITY);
  check_range(o, "beta1", g, 0, 1);
  check_range(o, "beta2", g, 0, 1);
  check_range(o, "weight_decay", g, 0, INFINITY);
}

std::vector<std::string> LAMB::buffer_names(const Options&) const { return {"exp_avg", "exp_avg_sq"}; }

void LAMB::update(const Options& o, Tensor& p, const Tensor& g, ParamState& state) {
  const double lr = o.at("lr"), beta1 = o.at("beta1"), beta2 = o.at("beta2"), eps = o.at("eps");
  const double weight_decay = o.at("weight_decay");
  if (state.buffers.empty()) {
    state.buffers.emplace("exp_avg", zeros_like(p));
    state.buffers.emplace("exp_avg_sq", zeros_like(p));
  }
  Tensor& m = state.buffer("exp_avg");
  Tensor& v = state.buffer("exp_avg_sq");
  m.mul_(beta1).add_(mul(g, 1 - beta1));
  Tensor g2 = square(g);
  v.mul_(beta2).add_(g2.mul_(1 - beta2));

  const double t = static_cast<double>(state.step);
  const double bias_correction1 = 1 - std::pow(beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, t));
  Tensor u = sqrt(v);
  u.div_(bias_correction2_sqrt).add_(eps);
  u = div(m, u).div_(bias_correction1);
  if (weight_decay != 0) u.add_(mul(p, weight_decay));

  // r * (-lr) as a 0-d tensor on the device: where() picks 1 where a norm is 0 (then w / u is 0/x or x/0).
  const Tensor w_norm = norm(p), u_norm = norm(u);
  Tensor scale = where((w_norm > 0) & (u_norm > 0), div(w_norm, u_norm), 1.0);
  scale.mul_(-lr);
  p.add_(u.mul_(scale));
}

}  // namespace ds::optim
