#pragma once
// Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW. With t the parameter's step count and
// g = (maximize ? -grad : grad):
//   Adam:  g += weight_decay * p   (L2 penalty: the decay goes through the moments)
//   AdamW: p *= 1 - lr * weight_decay   (decoupled: the decay bypasses the moments)
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;  (amsgrad: v_max = max(v_max, v))
//   p -= lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps)
// State per parameter: "exp_avg" (m), "exp_avg_sq" (v), and "max_exp_avg_sq" (v_max) when amsgrad is on.
#include <map>

#include <ds/optim/optimizer.h>

namespace ds::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // L2 for Adam; AdamW's default is 1e-2 (AdamWOptions)
  bool amsgrad = false;
  bool maximize = false;
};

// AdamOptions with AdamW's default weight decay (a separate aggregate so that {.lr = ..., .weight_decay = ...} works).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p *= 1 - lr * weight_decay
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
  // Several groups; options a group does not name come from `defaults`.
  explicit Adam(std::vector<ParamGroup> groups, AdamOptions defaults = {});

 protected:
  // For AdamW: the same update with decoupled weight decay.
  Adam(std::string name, std::vector<ParamGroup> groups, const AdamOptions& defaults, bool decoupled);
  void check_options(const Options& options, size_t group_index) const override;
  std::vector<std::string> buffer_names(const Options& options) const override;
  void update(const Options& options, Tensor& param, const Tensor& grad, ParamState& state) override;

 private:
  bool decoupled_ = false;
  // Per parameter (by state index): the 0-d learning rate (f64) and step (int64) tensors the fused update reads,
  // refreshed by a host effect, so a traced step replays with the current values.
  std::map<size_t, std::pair<Tensor, Tensor>> live_;
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  explicit AdamW(std::vector<ParamGroup> groups, AdamWOptions defaults = {});
};

}  // namespace ds::optim
