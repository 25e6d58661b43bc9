#pragma once
// Learning-rate schedulers (torch.optim.lr_scheduler): each sets the `lr` of every group of an optimizer from a
// closed form of the step count, so that a value never drifts from accumulated multiplications and a resumed run
// gets the same lrs as an uninterrupted one.
//
// As in PyTorch, constructing a scheduler records each group's current lr as its base lr and applies step 0
// (last_epoch() == 0); each step() advances one step and sets the lrs. Call it after optimizer.step(). A scheduler
// holds a reference to its optimizer, which must outlive it.
#include <cstdint>
#include <string>
#include <vector>

#include <ds/ops/state_dict.h>
#include <ds/optim/optimizer.h>

namespace ds::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one step and sets every group's lr to lr_at(group, last_epoch()).
  void step();
  // The lrs this scheduler set last, one per group.
  const std::vector<double>& last_lr() const { return last_lr_; }
  // Steps taken since construction (0 right after it).
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // The closed form: the lr of group `group` at step `step`.
  virtual double lr_at(size_t group, int64_t step) const = 0;
  // "StepLR", "OneCycleLR", ...: the component named in errors.
  const std::string& name() const { return name_; }

  // "last_epoch" (integer), "base_lrs.<g>" and "last_lr.<g>" (reals). The schedule's own settings are not saved:
  // build the same scheduler, then load.
  StateDict state_dict() const;
  // Restores the step count and lrs (not the optimizer's: its own state dict holds those); a missing key or a
  // number of groups other than the optimizer's is an error naming it.
  void load_state_dict(const StateDict& state);

 protected:
  LRScheduler(Optimizer& optimizer, std::string name);
  // Called last by each constructor (lr_at is virtual): records the base lrs and applies step 0.
  void start();
  [[noreturn]] void fail(const std::string& message) const;
  // Checks that step `step` exists in the schedule (OneCycleLR has a last one).
  virtual void check_step(int64_t step) const { (void)step; }

  Optimizer& optimizer_;

 private:
  void apply();
  std::string name_;
  int64_t last_epoch_ = 0;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
};

// base_lr * gamma^floor(step / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double lr_at(size_t group, int64_t step) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// base_lr * gamma^(number of milestones <= step); a milestone listed twice counts twice, as in PyTorch.
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(size_t group, int64_t step) const override;

 private:
  std::vector<int64_t> milestones_;  // sorted
  double gamma_;
};

// base_lr * gamma^step.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);
  double lr_at(size_t group, int64_t step) const override;

 private:
  double gamma_;
};

// eta_min + (base_lr - eta_min) * (1 + cos(pi * step / t_max)) / 2: the closed form of torch's CosineAnnealingLR
// (periodic past t_max, like it).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0);
  double lr_at(size_t group, int64_t step) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warmup from 0 to base_lr over warmup_steps, then a decay to min_lr at total_steps, held after it (as
// Megatron-LM's and Hugging Face's schedules):
//   step < warmup_steps:  base_lr * step / warmup_steps
//   then, with x = (step - warmup_steps) / (total_steps - warmup_steps) clamped to [0, 1]:
//     Cosine:   min_lr + (base_lr - min_lr) * (1 + cos(pi * x)) / 2
//     Linear:   min_lr + (base_lr - min_lr) * (1 - x)
//     Constant: base_lr (warmup only)
// min_lr is absolute (the same for every group) and must not exceed any group's base lr.
class WarmupDecayLR : public LRScheduler {
 public:
  enum class Decay { Cosine, Linear, Constant };
  WarmupDecayLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps, Decay decay = Decay::Cosine,
                double min_lr = 0);
  double lr_at(size_t group, int64_t step) const override;

 private:
  int64_t warmup_steps_, total_steps_;
  Decay decay_;
  double min_lr_;
};

struct OneCycleOptions {
  enum class Anneal { Cos, Linear };
  double pct_start = 0.3;  // fraction of the steps spent raising the lr
  Anneal anneal = Anneal::Cos;
  double div_factor = 25;         // initial lr = max_lr / div_factor
  double final_div_factor = 1e4;  // final lr = initial lr / final_div_factor
  bool three_phase = false;       // back down to the initial lr symmetrically, then to the final lr
};

// torch.optim.lr_scheduler.OneCycleLR (Smith & Topin 2018), lr only: up from max_lr / div_factor to max_lr over
// pct_start of total_steps, then down to the final lr. It replaces the groups' lrs with max_lr / div_factor at
// construction. Momentum (or beta1) cycling is not done: the optimizer's momentum stays as set. Stepping past
// total_steps is an error, as in PyTorch.
class OneCycleLR : public LRScheduler {
 public:
  // One max_lr for every group, or one per group.
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, OneCycleOptions options = {});
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps, OneCycleOptions options = {});
  double lr_at(size_t group, int64_t step) const override;

 protected:
  void check_step(int64_t step) const override;

 private:
  std::vector<double> max_lrs_;
  int64_t total_steps_;
  OneCycleOptions options_;
};

}  // namespace ds::optim
