// The schedulers' closed forms and the shared step / state-dict logic.
#include "lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <span>

#include <ds/core/detail/check.h>

namespace ds::optim {

LRScheduler::LRScheduler(Optimizer& optimizer, std::string name) : optimizer_(optimizer), name_(std::move(name)) {}

void LRScheduler::fail(const std::string& message) const { DS_FAIL(name_, "{}", message); }

void LRScheduler::start() {
  for (const ParamGroup& g : optimizer_.param_groups()) base_lrs_.push_back(g.lr());
  last_epoch_ = 0;
  apply();
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  if (groups.size() != base_lrs_.size())
    fail(fmt::format("the optimizer has {} parameter groups, but the scheduler was made for {}", groups.size(),
                     base_lrs_.size()));
  last_lr_.resize(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    last_lr_[g] = lr_at(g, last_epoch_);
    groups[g].set_lr(last_lr_[g]);
  }
}

void LRScheduler::step() {
  check_step(last_epoch_ + 1);
  ++last_epoch_;
  apply();
}

StateDict LRScheduler::state_dict() const {
  StateDict sd;
  sd.set("last_epoch", last_epoch_);
  for (size_t g = 0; g < base_lrs_.size(); ++g) sd.set(fmt::format("base_lrs.{}", g), base_lrs_[g]);
  for (size_t g = 0; g < last_lr_.size(); ++g) sd.set(fmt::format("last_lr.{}", g), last_lr_[g]);
  return sd;
}

void LRScheduler::load_state_dict(const StateDict& sd) {
  const size_t n = optimizer_.param_groups().size();
  const auto get = [&](const std::string& key) -> const StateDict::Value& {
    const StateDict::Value* v = sd.find(key);
    if (!v) fail(fmt::format("load_state_dict: missing key '{}'", key));
    return *v;
  };
  const auto real = [&](const std::string& key) {
    const StateDict::Value& v = get(key);
    if (const double* d = std::get_if<double>(&v)) return *d;
    if (const int64_t* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
    fail(fmt::format("load_state_dict: key '{}' holds a {}, expected a real number", key, state_kind_name(v)));
  };
  const int64_t* epoch = std::get_if<int64_t>(&get("last_epoch"));
  if (!epoch || *epoch < 0) fail("load_state_dict: key 'last_epoch' must be a non-negative integer");
  std::vector<double> base(n), last(n);
  for (size_t g = 0; g < n; ++g) {
    base[g] = real(fmt::format("base_lrs.{}", g));
    last[g] = real(fmt::format("last_lr.{}", g));
  }
  if (sd.size() != 1 + 2 * n) {
    for (const auto& [key, value] : sd) {
      const bool known = key == "last_epoch" || [&] {
        for (size_t g = 0; g < n; ++g)
          if (key == fmt::format("base_lrs.{}", g) || key == fmt::format("last_lr.{}", g)) return true;
        return false;
      }();
      if (!known)
        fail(fmt::format("load_state_dict: unexpected key '{}' (the optimizer has {} parameter groups)", key, n));
    }
  }
  last_epoch_ = *epoch;
  base_lrs_ = std::move(base);
  last_lr_ = std::move(last);
}

// ---- StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) fail(fmt::format("step_size must be positive, got {}", step_size));
  start();
}
double StepLR::lr_at(size_t g, int64_t step) const {
  return base_lrs()[g] * std::pow(gamma_, static_cast<double>(step / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  start();
}
double MultiStepLR::lr_at(size_t g, int64_t step) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  return base_lrs()[g] * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  start();
}
double ExponentialLR::lr_at(size_t g, int64_t step) const {
  return base_lrs()[g] * std::pow(gamma_, static_cast<double>(step));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), t_max_(t_max), eta_min_(eta_min) {
  if (t_max <= 0) fail(fmt::format("t_max must be positive, got {}", t_max));
  start();
}
double CosineAnnealingLR::lr_at(size_t g, int64_t step) const {
  const double x = static_cast<double>(step) / static_cast<double>(t_max_);
  return eta_min_ + (base_lrs()[g] - eta_min_) * (1 + std::cos(std::numbers::pi * x)) / 2;
}

// ---- WarmupDecayLR

WarmupDecayLR::WarmupDecayLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps, Decay decay,
                             double min_lr)
    : LRScheduler(optimizer, "WarmupDecayLR"), warmup_steps_(warmup_steps), total_steps_(total_steps),
      decay_(decay), min_lr_(min_lr) {
  if (warmup_steps < 0) fail(fmt::format("warmup_steps must be non-negative, got {}", warmup_steps));
  if (decay != Decay::Constant && total_steps <= warmup_steps)
    fail(fmt::format("total_steps ({}) must exceed warmup_steps ({})", total_steps, warmup_steps));
  if (!(min_lr >= 0)) fail(fmt::format("min_lr must be non-negative, got {}", min_lr));
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g)
    if (decay != Decay::Constant && groups[g].lr() < min_lr)
      fail(fmt::format("min_lr {} exceeds the lr {} of parameter group {}", min_lr, groups[g].lr(), g));
  start();
}
double WarmupDecayLR::lr_at(size_t g, int64_t step) const {
  const double base = base_lrs()[g];
  if (step < warmup_steps_) return base * static_cast<double>(step) / static_cast<double>(warmup_steps_);
  if (decay_ == Decay::Constant) return base;
  const double x = std::clamp(static_cast<double>(step - warmup_steps_) /
                                  static_cast<double>(total_steps_ - warmup_steps_), 0.0, 1.0);
  const double coeff = decay_ == Decay::Cosine ? (1 + std::cos(std::numbers::pi * x)) / 2 : 1 - x;
  return min_lr_ + (base - min_lr_) * coeff;
}

// ---- OneCycleLR

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, OneCycleOptions options)
    : OneCycleLR(optimizer, std::vector<double>(optimizer.param_groups().size(), max_lr), total_steps, options) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps,
                       OneCycleOptions options)
    : LRScheduler(optimizer, "OneCycleLR"), max_lrs_(std::move(max_lrs)), total_steps_(total_steps),
      options_(options) {
  auto& groups = optimizer.param_groups();
  if (max_lrs_.size() != groups.size())
    fail(fmt::format("got {} max_lrs for {} parameter groups", max_lrs_.size(), groups.size()));
  if (total_steps <= 0) fail(fmt::format("total_steps must be positive, got {}", total_steps));
  if (!(options.pct_start >= 0 && options.pct_start <= 1))
    fail(fmt::format("pct_start must be in [0, 1], got {}", options.pct_start));
  if (!(options.div_factor > 0) || !(options.final_div_factor > 0))
    fail(fmt::format("div_factor ({}) and final_div_factor ({}) must be positive", options.div_factor,
                     options.final_div_factor));
  for (size_t g = 0; g < groups.size(); ++g) {
    if (!(max_lrs_[g] >= 0)) fail(fmt::format("max_lr {} of parameter group {} is negative", max_lrs_[g], g));
    groups[g].set_lr(max_lrs_[g] / options.div_factor);
  }
  start();
}

void OneCycleLR::check_step(int64_t step) const {
  if (step > total_steps_)
    fail(fmt::format("tried to step {} times; the schedule has total_steps = {}", step, total_steps_));
}

double OneCycleLR::lr_at(size_t g, int64_t step) const {
  const double max_lr = max_lrs_[g];
  const double initial = max_lr / options_.div_factor;
  const double final_lr = initial / options_.final_div_factor;
  const double up_end = options_.pct_start * static_cast<double>(total_steps_) - 1;
  const double last = static_cast<double>(total_steps_ - 1);
  // Phases as torch builds them: (end step, start lr, end lr).
  struct Phase {
    double end, from, to;
  };
  const Phase two[] = {{up_end, initial, max_lr}, {last, max_lr, final_lr}};
  const Phase three[] = {{up_end, initial, max_lr}, {2 * up_end, max_lr, initial}, {last, initial, final_lr}};
  const std::span<const Phase> phases = options_.three_phase ? std::span<const Phase>(three) : two;
  const double t = static_cast<double>(step);
  double start_step = 0;
  for (size_t i = 0; i < phases.size(); ++i) {
    const Phase& p = phases[i];
    if (t <= p.end || i + 1 == phases.size()) {
      // A phase of zero length (tiny total_steps) is already complete.
      const double pct = p.end > start_step ? (t - start_step) / (p.end - start_step) : 1.0;
      if (options_.anneal == OneCycleOptions::Anneal::Cos)
        return p.to + (p.from - p.to) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
      return (p.to - p.from) * pct + p.from;
    }
    start_step = p.end;
  }
  return final_lr;  // not reached
}

}  // namespace ds::optim
