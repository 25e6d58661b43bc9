// SGD's update, in torch.optim.SGD's order of operations.
#include "sgd.h"

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/ops/elementwise.h>

namespace ds::optim {
namespace {

Options to_options(const SGDOptions& o) {
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"dampening", o.dampening},
          {"weight_decay", o.weight_decay},
          {"nesterov", o.nesterov ? 1.0 : 0.0},
          {"maximize", o.maximize ? 1.0 : 0.0}};
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, SGDOptions options) : SGD(std::vector<ParamGroup>{{std::move(params)}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions defaults) : Optimizer("SGD", to_options(defaults)) {
  init_groups(std::move(groups));
}

void SGD::check_options(const Options& o, size_t g) const {
  check_range(o, "lr", g, 0, INFINITY);
  check_range(o, "momentum", g, 0, INFINITY);
  check_range(o, "weight_decay", g, 0, INFINITY);
  if (o.at("nesterov") != 0 && (o.at("momentum") <= 0 || o.at("dampening") != 0))
    fail(fmt::format("Nesterov momentum needs momentum > 0 and dampening 0; parameter group {} has momentum {} and "
                     "dampening {}", g, o.at("momentum"), o.at("dampening")));
}

std::vector<std::string> SGD::buffer_names(const Options& o) const {
  if (o.at("momentum") != 0) return {"momentum_buffer"};
  return {};
}

void SGD::update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) {
  const double lr = o.at("lr"), momentum = o.at("momentum"), dampening = o.at("dampening");
  const double weight_decay = o.at("weight_decay");
  const bool nesterov = o.at("nesterov") != 0, maximize = o.at("maximize") != 0;

  // d: the descent direction. `owned` says whether d is a temporary of ours (never the caller's .grad).
  Tensor d = grad;
  bool owned = false;
  if (weight_decay != 0) {
    d = mul(p, weight_decay);
    maximize ? d.sub_(grad) : d.add_(grad);
    owned = true;
  } else if (maximize) {
    d = neg(grad);
    owned = true;
  }
  if (momentum != 0) {
    auto it = state.buffers.find("momentum_buffer");
    if (it == state.buffers.end()) {
      it = state.buffers.emplace("momentum_buffer", owned ? d : d.clone()).first;
    } else {
      Tensor& buf = it->second;
      buf.mul_(momentum);
      if (dampening == 0) buf.add_(d);
      else buf.add_(mul(d, 1 - dampening));
    }
    const Tensor& buf = it->second;
    if (nesterov) {
      Tensor n = mul(buf, momentum);
      n.add_(d);
      d = n;
    } else {
      d = buf;
    }
  }
  p.add_(mul(d, -lr));
}

}  // namespace ds::optim
