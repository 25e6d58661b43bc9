#pragma once
// ds::optim::Optimizer: the base of every optimizer (torch.optim.Optimizer). It owns the parameter groups, the
// per-parameter state, zero_grad, step's loop and the state dict; a subclass writes only the update of one parameter.
//
// Hyperparameters live per group in a map of named numbers (`Options`), as in PyTorch's group dicts: a group given
// {{"lr", 0.01}} overrides the learning rate and takes every other option from the optimizer's defaults. Flags
// (nesterov, amsgrad, maximize) are stored as 0 or 1 so that a group is one kind of value, like its state dict.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <ds/ops/state_dict.h>
#include <ds/ops/tensor.h>

namespace ds::optim {

// Named hyperparameters of a group ("lr", "weight_decay", "momentum", "beta1", ...), sorted by name.
using Options = std::map<std::string, double, std::less<>>;

// A set of parameters sharing hyperparameters. `options` may name a subset of the optimizer's options: the rest
// come from its defaults when the group is added.
struct ParamGroup {
  ParamGroup() = default;
  ParamGroup(std::vector<Tensor> params_, Options options_ = {})  // NOLINT: {{w, b}, {{"lr", 0.1}}} reads well
      : params(std::move(params_)), options(std::move(options_)) {}

  std::vector<Tensor> params;
  Options options;

  double lr() const { return option("lr"); }
  void set_lr(double lr) { options["lr"] = lr; }
  // The option's value; a name the group lacks is an error naming it.
  double option(std::string_view name) const;
};

// The state an optimizer keeps for one parameter: the number of updates it received and named buffers of its
// shape ("exp_avg", "momentum_buffer", ...), created on its first update.
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor, std::less<>> buffers;

  bool empty() const { return step == 0 && buffers.empty(); }
  // The buffer; one the optimizer never made is an error naming it.
  Tensor& buffer(std::string_view name);
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter that has a gradient, in place and outside autograd (under NoGradGuard); parameters
  // without a gradient are skipped and keep their state. Virtual for wrappers that shard the work (ZeRO).
  virtual void step();
  // Re-evaluates the loss with autograd on (closure: zero the grads, forward, backward, return the loss), then
  // steps; returns the closure's loss.
  Tensor step(const std::function<Tensor()>& closure);
  // Drops every gradient (set_to_none, the default, frees them) or fills them with zeros.
  void zero_grad(bool set_to_none = true);

  // Adds a group; options it does not name come from the constructor's defaults. Unknown options, invalid values,
  // a parameter that is not a floating leaf tensor, or one already in a group, are errors.
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }
  // The state of parameter `index`, counting through the groups in order (the numbering of the state dict).
  const ParamState& state(size_t index) const;
  size_t num_params() const { return state_.size(); }
  // "SGD", "Adam", ...: the component named in errors.
  const std::string& name() const { return name_; }

  // The optimizer's state: "state.<i>.step" (integer) and "state.<i>.<buffer>" (tensors, shared with the optimizer
  // as in PyTorch: clone them to keep a snapshot) for every parameter i that has state, then
  // "param_groups.<g>.num_params" and "param_groups.<g>.<option>" for every group.
  virtual StateDict state_dict() const;
  // Restores a state saved by an optimizer of the same kind over parameters of the same shapes, in the same groups.
  // Everything is checked before anything changes: the number of groups and of parameters per group, missing and
  // unexpected keys, option values and buffer shapes; each error names the offending key. Buffers are copied (cast
  // to each parameter's dtype and device), so the optimizer never aliases `state`.
  virtual void load_state_dict(const StateDict& state);

 protected:
  // `defaults` names every option this optimizer has, with its default value.
  Optimizer(std::string name, Options defaults);
  // Adds the constructor's groups; the optimizer needs at least one parameter.
  void init_groups(std::vector<ParamGroup> groups);

  // Checks a complete group's values (ranges, combinations); errors name the group index.
  virtual void check_options(const Options& options, size_t group_index) const = 0;
  // The buffers a parameter of a group with these options keeps (used to validate loaded state).
  virtual std::vector<std::string> buffer_names(const Options& options) const = 0;
  // Updates `param` (a leaf, modified in place; grad mode is off) from `grad` and its `state`, whose step count
  // has already been incremented for this update. Buffers are created here on the first update.
  virtual void update(const Options& options, Tensor& param, const Tensor& grad, ParamState& state) = 0;

  // The number of a parameter's state (state(i)), and the options of the group parameter i is in: what a host
  // effect (run_host_effect) captures instead of references, which adding a group would invalidate.
  size_t state_index(const ParamState& s) const { return static_cast<size_t>(&s - state_.data()); }
  const Options& options_of(size_t param_index) const;

  // Errors from subclasses: "[<name>] message".
  [[noreturn]] void fail(const std::string& message) const;
  // Checks lo <= options[key] < hi (<= hi when hi_inclusive), with an error naming the option, its value and the
  // group: "[Adam] invalid beta2 1 in parameter group 0: must be in [0, 1)".
  void check_range(const Options& options, std::string_view key, size_t group_index, double lo, double hi,
                   bool hi_inclusive = false) const;

 private:
  void check_params_unchanged() const;

  std::string name_;
  Options defaults_;
  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // one per parameter, in group order
};

}  // namespace ds::optim
