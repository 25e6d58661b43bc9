#pragma once
// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an interpolated momentum,
// so every coordinate moves by exactly lr; the decay is decoupled as in AdamW:
//   p *= 1 - lr * weight_decay
//   p -= lr * sign(beta1 * m + (1 - beta1) * g)
//   m = beta2 * m + (1 - beta2) * g
// Because its steps are larger than Adam's, Lion wants a learning rate 3-10x smaller and a weight decay 3-10x
// larger. State per parameter: "exp_avg" (m).
#include <ds/optim/optimizer.h>

namespace ds::optim {

struct LionOptions {
  double lr = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double weight_decay = 0;
};

class Lion : public Optimizer {
 public:
  explicit Lion(std::vector<Tensor> params, LionOptions options = {});
  // Several groups; options a group does not name come from `defaults`.
  explicit Lion(std::vector<ParamGroup> groups, LionOptions defaults = {});

 protected:
  void check_options(const Options& options, size_t group_index) const override;
  std::vector<std::string> buffer_names(const Options& options) const override;
  void update(const Options& options, Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace ds::optim
