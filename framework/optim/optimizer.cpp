// Optimizer: groups, the step loop, zero_grad and the state dict with its validation.
#include "optimizer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_set>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/factory.h>

namespace ds::optim {

double ParamGroup::option(std::string_view name) const {
  const auto it = options.find(name);
  DS_CHECK(it != options.end(), "optim", "the parameter group has no option '{}'", name);
  return it->second;
}

Tensor& ParamState::buffer(std::string_view name) {
  const auto it = buffers.find(name);
  DS_CHECK(it != buffers.end(), "optim", "the parameter state has no buffer '{}'", name);
  return it->second;
}

Optimizer::Optimizer(std::string name, Options defaults) : name_(std::move(name)), defaults_(std::move(defaults)) {}

void Optimizer::fail(const std::string& message) const { DS_FAIL(name_, "{}", message); }

void Optimizer::check_range(const Options& options, std::string_view key, size_t group_index, double lo, double hi,
                            bool hi_inclusive) const {
  const double v = options.at(std::string(key));
  const bool ok = v >= lo && (hi_inclusive ? v <= hi : v < hi);  // false for NaN too
  if (!ok)
    fail(fmt::format("invalid {} {} in parameter group {}: must be in [{}, {}{}", key, v, group_index, lo, hi,
                     hi_inclusive ? "]" : ")"));
}

void Optimizer::init_groups(std::vector<ParamGroup> groups) {
  size_t total = 0;
  for (const ParamGroup& g : groups) total += g.params.size();
  if (total == 0) fail("got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  const size_t gi = groups_.size();
  for (const auto& [key, value] : group.options) {
    if (defaults_.count(key)) continue;
    std::string known;
    for (const auto& [k, v] : defaults_) known += (known.empty() ? "" : ", ") + k;
    fail(fmt::format("parameter group {} has an unknown option '{}'; the options are {}", gi, key, known));
  }
  for (const auto& [key, value] : defaults_) group.options.try_emplace(key, value);
  check_options(group.options, gi);

  std::unordered_set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.impl());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    if (!p.defined()) fail(fmt::format("parameter {} of group {} is an undefined tensor", i, gi));
    if (!p.is_floating_point())
      fail(fmt::format("parameter {} of group {} is {} {}; only floating tensors can be optimized", i, gi,
                       dtype_name(p.dtype()), shape_str(p.sizes())));
    if (!p.is_leaf())
      fail(fmt::format("parameter {} of group {} ({}) is not a leaf tensor (it has grad_fn=<{}>)", i, gi,
                       shape_str(p.sizes()), p.grad_fn_name()));
    if (!seen.insert(p.impl()).second)
      fail(fmt::format("parameter {} of group {} ({}) appears in more than one parameter group (or twice)", i, gi,
                       shape_str(p.sizes())));
  }
  state_.resize(state_.size() + group.params.size());
  groups_.push_back(std::move(group));
}

const ParamState& Optimizer::state(size_t index) const {
  DS_CHECK(index < state_.size(), name_, "parameter index {} is out of range: the optimizer has {} parameters", index,
           state_.size());
  return state_[index];
}

void Optimizer::check_params_unchanged() const {
  size_t total = 0;
  for (const ParamGroup& g : groups_) total += g.params.size();
  if (total != state_.size())
    fail(fmt::format("the groups hold {} parameters but the optimizer has state slots for {}: parameters must be "
                     "added with add_param_group, not pushed into a group's list",
                     total, state_.size()));
}

void Optimizer::step() {
  check_params_unchanged();
  NoGradGuard no_grad;
  size_t index = 0;
  for (ParamGroup& g : groups_) {
    for (Tensor& p : g.params) {
      ParamState& s = state_[index++];
      const Tensor grad = p.grad();
      if (!grad.defined()) continue;
      // Host state: a traced step (ds::compile) runs this again on every replay, before the update's ops.
      run_host_effect([this, i = index - 1] { ++state_[i].step; });
      update(g.options, p, grad, s);
    }
  }
}

const Options& Optimizer::options_of(size_t param_index) const {
  for (const ParamGroup& g : groups_) {
    if (param_index < g.params.size()) return g.options;
    param_index -= g.params.size();
  }
  fail(fmt::format("no parameter {} (the optimizer has {})", param_index, state_.size()));
}

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  Tensor loss;
  {
    EnableGradGuard enable_grad;
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  if (set_to_none) {
    // Host state as well: a traced step (ds::compile) drops the gradients again at this point of every replay.
    std::vector<Tensor> params;
    for (ParamGroup& g : groups_) params.insert(params.end(), g.params.begin(), g.params.end());
    run_host_effect([params] {
      for (Tensor p : params)
        if (p.grad().defined()) p.set_grad(Tensor());
    });
    return;
  }
  for (ParamGroup& g : groups_) {
    for (Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      // A gradient made with create_graph carries history; zeroing it in place must not touch that graph.
      if (grad.requires_grad()) {
        grad = grad.detach();
        p.set_grad(grad);
      }
      grad.zero_();
    }
  }
}

StateDict Optimizer::state_dict() const {
  check_params_unchanged();
  StateDict sd;
  for (size_t i = 0; i < state_.size(); ++i) {
    const ParamState& s = state_[i];
    if (s.empty()) continue;
    sd.set(fmt::format("state.{}.step", i), s.step);
    for (const auto& [name, t] : s.buffers) sd.set(fmt::format("state.{}.{}", i, name), t);
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    sd.set(fmt::format("param_groups.{}.num_params", g), static_cast<int64_t>(groups_[g].params.size()));
    for (const auto& [name, v] : groups_[g].options) sd.set(fmt::format("param_groups.{}.{}", g, name), v);
  }
  return sd;
}

namespace {

// Splits "<prefix><index>.<name>" into index and name; false when the key has another form.
bool split_key(std::string_view key, std::string_view prefix, size_t& index, std::string_view& name) {
  if (!key.starts_with(prefix)) return false;
  key.remove_prefix(prefix.size());
  const size_t dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == key.size()) return false;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + dot, index);
  if (ec != std::errc() || end != key.data() + dot) return false;
  name = key.substr(dot + 1);
  return true;
}

}  // namespace

void Optimizer::load_state_dict(const StateDict& sd) {
  check_params_unchanged();
  const size_t num_groups = groups_.size();
  std::vector<Options> options(num_groups);
  std::vector<int64_t> group_sizes(num_groups, -1);
  std::vector<ParamState> loaded(state_.size());
  std::vector<size_t> group_of(state_.size());  // parameter index -> group index
  for (size_t g = 0, i = 0; g < num_groups; ++g)
    for (size_t k = 0; k < groups_[g].params.size(); ++k) group_of[i++] = g;

  // First pass: sort the entries by kind, checking indices and value kinds.
  size_t dict_groups = 0;
  for (const auto& [key, value] : sd) {
    size_t index = 0;
    std::string_view name;
    const auto expect = [&](auto* ptr, std::string_view kind) {
      if (!ptr)
        fail(fmt::format("load_state_dict: key '{}' holds {} {}, expected {}", key,
                         state_kind_name(value) == "integer" ? "an" : "a", state_kind_name(value), kind));
      return *ptr;
    };
    if (split_key(key, "param_groups.", index, name)) {
      dict_groups = std::max(dict_groups, index + 1);
      if (index >= num_groups) continue;  // reported below with the group counts
      if (name == "num_params") {
        group_sizes[index] = expect(std::get_if<int64_t>(&value), "an integer");
      } else if (defaults_.count(name)) {
        const int64_t* as_int = std::get_if<int64_t>(&value);
        options[index][std::string(name)] = as_int ? static_cast<double>(*as_int)
                                                   : expect(std::get_if<double>(&value), "a real number");
      } else {
        fail(fmt::format("load_state_dict: unexpected key '{}': {} has no option '{}'", key, name_, name));
      }
    } else if (split_key(key, "state.", index, name)) {
      if (index >= state_.size())
        fail(fmt::format("load_state_dict: key '{}' is the state of parameter {}, but the optimizer has {} "
                         "parameters", key, index, state_.size()));
      if (name == "step") {
        loaded[index].step = expect(std::get_if<int64_t>(&value), "an integer");
        if (loaded[index].step < 0) fail(fmt::format("load_state_dict: key '{}' is negative", key));
      } else {
        loaded[index].buffers[std::string(name)] = expect(std::get_if<Tensor>(&value), "a tensor");
      }
    } else {
      fail(fmt::format("load_state_dict: unexpected key '{}'", key));
    }
  }
  if (dict_groups != num_groups)
    fail(fmt::format("load_state_dict: the state dict has {} parameter groups, this optimizer has {}", dict_groups,
                     num_groups));

  // Second pass: completeness and shapes, against the loaded options.
  for (size_t g = 0; g < num_groups; ++g) {
    if (group_sizes[g] < 0) fail(fmt::format("load_state_dict: missing key 'param_groups.{}.num_params'", g));
    if (group_sizes[g] != static_cast<int64_t>(groups_[g].params.size()))
      fail(fmt::format("load_state_dict: parameter group {} has {} parameters in the state dict, {} here", g,
                       group_sizes[g], groups_[g].params.size()));
    for (const auto& [opt, v] : defaults_)
      if (!options[g].count(opt)) fail(fmt::format("load_state_dict: missing key 'param_groups.{}.{}'", g, opt));
    check_options(options[g], g);
  }
  std::vector<const Tensor*> params;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) params.push_back(&p);
  for (size_t i = 0; i < loaded.size(); ++i) {
    ParamState& s = loaded[i];
    if (s.buffers.empty() && !sd.contains(fmt::format("state.{}.step", i))) continue;
    if (!sd.contains(fmt::format("state.{}.step", i)))
      fail(fmt::format("load_state_dict: missing key 'state.{}.step'", i));
    const std::vector<std::string> expected = buffer_names(options[group_of[i]]);
    for (const std::string& b : expected)
      if (!s.buffers.count(b)) fail(fmt::format("load_state_dict: missing key 'state.{}.{}'", i, b));
    const Tensor& p = *params[i];
    for (auto& [b, t] : s.buffers) {
      if (std::find(expected.begin(), expected.end(), b) == expected.end())
        fail(fmt::format("load_state_dict: unexpected key 'state.{}.{}'", i, b));
      if (!t.defined()) fail(fmt::format("load_state_dict: key 'state.{}.{}' is an undefined tensor", i, b));
      if (t.sizes() != p.sizes())
        fail(fmt::format("load_state_dict: key 'state.{}.{}' has shape {}, but parameter {} has shape {}", i, b,
                         shape_str(t.sizes()), i, shape_str(p.sizes())));
    }
  }

  // Everything checked: copy the buffers (so that the optimizer never aliases the dict) and commit.
  NoGradGuard no_grad;
  for (size_t i = 0; i < loaded.size(); ++i) {
    const Tensor& p = *params[i];
    for (auto& [b, t] : loaded[i].buffers) {
      Tensor copy = empty(p.sizes(), {.dtype = p.dtype(), .device = p.device()});
      copy.copy_(t.device() == p.device() ? t : t.to(p.device()));
      t = copy;
    }
  }
  for (size_t g = 0; g < num_groups; ++g) groups_[g].options = std::move(options[g]);
  state_ = std::move(loaded);
}

}  // namespace ds::optim
