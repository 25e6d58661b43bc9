#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum, L2 weight decay and maximize, exactly as
// torch.optim.SGD: with d = (maximize ? -g : g) + weight_decay * p,
//   buf = d on the first step, then buf = momentum * buf + (1 - dampening) * d;
//   d = nesterov ? d + momentum * buf : buf;   (when momentum != 0)
//   p -= lr * d.
#include <ds/optim/optimizer.h>

namespace ds::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  // One group of `params` with `options`.
  explicit SGD(std::vector<Tensor> params, SGDOptions options = {});
  // Several groups; options a group does not name come from `defaults`.
  explicit SGD(std::vector<ParamGroup> groups, SGDOptions defaults = {});

 protected:
  void check_options(const Options& options, size_t group_index) const override;
  std::vector<std::string> buffer_names(const Options& options) const override;
  void update(const Options& options, Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace ds::optim
