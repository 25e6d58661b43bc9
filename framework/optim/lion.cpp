// Lion's update.
#include "lion.h"

#include <cmath>

#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>

namespace ds::optim {

Lion::Lion(std::vector<Tensor> params, LionOptions options)
    : Lion(std::vector<ParamGroup>{{std::move(params)}}, options) {}

Lion::Lion(std::vector<ParamGroup> groups, LionOptions d)
    : Optimizer("Lion", {{"lr", d.lr}, {"beta1", d.beta1}, {"beta2", d.beta2}, {"weight_decay", d.weight_decay}}) {
  init_groups(std::move(groups));
}

void Lion::check_options(const Options& o, size_t g) const {
  check_range(o, "lr", g, 0, INFINITY);
  check_range(o, "beta1", g, 0, 1, true);  // beta = 1 is legal, as in the reference implementation
  check_range(o, "beta2", g, 0, 1, true);
  check_range(o, "weight_decay", g, 0, INFINITY);
}

std::vector<std::string> Lion::buffer_names(const Options&) const { return {"exp_avg"}; }

void Lion::update(const Options& o, Tensor& p, const Tensor& g, ParamState& state) {
  const double lr = o.at("lr"), beta1 = o.at("beta1"), beta2 = o.at("beta2");
  const double weight_decay = o.at("weight_decay");
  if (state.buffers.empty()) state.buffers.emplace("exp_avg", zeros_like(p));
  Tensor& m = state.buffer("exp_avg");
  if (weight_decay != 0) p.mul_(1 - lr * weight_decay);
  Tensor c = mul(m, beta1);
  c.add_(mul(g, 1 - beta1));
  p.add_(sign(c).mul_(-lr));
  m.mul_(beta2).add_(mul(g, 1 - beta2));
}

}  // namespace ds::optim
