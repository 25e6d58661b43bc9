#pragma once
// LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning"): Adam's direction rescaled per parameter
// tensor by a trust ratio, so that every layer moves by a step proportional to its own weight norm. With t the
// parameter's step count:
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
//   u = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + weight_decay * p
//   r = ||p|| / ||u||  (2-norms over the whole tensor; r = 1 when either norm is 0)
//   p -= lr * r * u
// The trust ratio is not clipped. The ratio stays on the tensor's device (no host synchronisation per tensor).
// State per parameter: "exp_avg" (m) and "exp_avg_sq" (v).
#include <ds/optim/optimizer.h>

namespace ds::optim {

struct LAMBOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-6;        // as the reference implementations (NVIDIA apex, timm)
  double weight_decay = 0;  // added to the update, so it is scaled by the trust ratio
};

class LAMB : public Optimizer {
 public:
  explicit LAMB(std::vector<Tensor> params, LAMBOptions options = {});
  // Several groups; options a group does not name come from `defaults`.
  explicit LAMB(std::vector<ParamGroup> groups, LAMBOptions defaults = {});

 protected:
  void check_options(const Options& options, size_t group_index) const override;
  std::vector<std::string> buffer_names(const Options& options) const override;
  void update(const Options& options, Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace ds::optim
