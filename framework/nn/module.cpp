#include <ds/nn/module.h>

#include <ostream>
#include <sstream>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/factory.h>

namespace ds::nn {

Tensor Module::forward(const Tensor&) {
  DS_FAIL(type_name_, "has no single-input forward(x); call its own forward signature");
}

void Module::register_parameter(std::string name, Tensor& slot, bool requires_grad) {
  DS_CHECK(name.find('.') == std::string::npos && !name.empty(), type_name_, "bad parameter name '{}'", name);
  if (slot.defined()) {
    DS_CHECK(is_floating(slot.dtype()) || !requires_grad, type_name_, "parameter '{}' must be floating, got {}", name,
             dtype_name(slot.dtype()));
    slot.detach_();
    if (requires_grad) slot.requires_grad_(true);
  }
  params_.push_back({std::move(name), &slot, true});
}

void Module::register_buffer(std::string name, Tensor& slot, bool persistent) {
  DS_CHECK(name.find('.') == std::string::npos && !name.empty(), type_name_, "bad buffer name '{}'", name);
  buffers_.push_back({std::move(name), &slot, persistent});
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  DS_CHECK(module != nullptr, type_name_, "child module '{}' is null", name);
  for (const auto& [n, _] : children_) DS_CHECK(n != name, type_name_, "a child named '{}' exists already", name);
  children_.emplace_back(std::move(name), std::move(module));
}

// f(dotted name, slot, is_parameter) over this module's tensors, then (recurse) its children's.
template <typename F>
void Module::visit(const std::string& prefix, bool recurse, F&& f) const {
  for (const Slot& s : params_) f(prefix + s.name, s, true);
  for (const Slot& s : buffers_) f(prefix + s.name, s, false);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->visit(prefix + name + ".", true, f);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  visit("", recurse, [&](const std::string& n, const Slot& s, bool param) {
    if (param && s.tensor->defined()) out.emplace_back(n, *s.tensor);
  });
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  visit("", recurse, [&](const std::string& n, const Slot& s, bool param) {
    if (!param && s.tensor->defined()) out.emplace_back(n, *s.tensor);
  });
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [_, c] : children_) out.push_back(c);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (auto& [n, m] : child->named_modules()) out.emplace_back(n.empty() ? name : name + "." + n, m);
  return out;
}

int64_t Module::parameter_count(bool trainable_only) const {
  int64_t n = 0;
  for (const Tensor& p : parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

StateDict Module::state_dict() const {
  StateDict d;
  visit("", true, [&](const std::string& n, const Slot& s, bool param) {
    if (s.tensor->defined() && (param || s.persistent)) d.set(n, s.tensor->detach());
  });
  return d;
}

Module::LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  LoadResult r;
  std::vector<std::pair<std::string, const Slot*>> slots;
  visit("", true, [&](const std::string& n, const Slot& s, bool param) {
    if (s.tensor->defined() && (param || s.persistent)) slots.emplace_back(n, &s);
  });
  // Check everything first, so a failed load leaves the module untouched.
  for (const auto& [name, slot] : slots) {
    const StateDict::Value* v = state.find(name);
    if (v == nullptr) {
      r.missing_keys.push_back(name);
      continue;
    }
    const Tensor* t = std::get_if<Tensor>(v);
    DS_CHECK(t != nullptr && t->defined(), "load_state_dict", "key '{}' holds {}, expected a tensor", name,
             state_kind_name(*v));
    DS_CHECK(t->sizes() == slot->tensor->sizes(), "load_state_dict",
             "size mismatch for '{}': the checkpoint has shape {}, the module {} has shape {}", name,
             shape_str(t->sizes()), type_name_, shape_str(slot->tensor->sizes()));
  }
  for (const auto& [name, _] : state) {
    bool known = false;
    for (const auto& [n, s] : slots) known |= n == name;
    if (!known) r.unexpected_keys.push_back(name);
  }
  if (strict && (!r.missing_keys.empty() || !r.unexpected_keys.empty())) {
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (size_t i = 0; i < v.size() && i < 8; ++i) s += (i ? ", '" : "'") + v[i] + "'";
      if (v.size() > 8) s += fmt::format(" and {} more", v.size() - 8);
      return s.empty() ? std::string("none") : s;
    };
    DS_FAIL("load_state_dict", "keys do not match {}: missing {}; unexpected {}", type_name_, list(r.missing_keys),
            list(r.unexpected_keys));
  }
  NoGradGuard no_grad;
  for (const auto& [name, slot] : slots)
    if (const StateDict::Value* v = state.find(name)) slot->tensor->detach().copy_(std::get<Tensor>(*v));
  return r;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, c] : children_) c->train(on);
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [_, c] : children_) c->apply(fn);
  fn(*this);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    if (!p.grad().defined()) continue;
    if (set_to_none) p.set_grad(Tensor());
    else p.grad().zero_();
  }
}

void Module::to(DType dtype) {
  DS_CHECK(is_floating(dtype), type_name_, "to({}): modules convert to floating dtypes only", dtype_name(dtype));
  NoGradGuard no_grad;
  visit("", true, [&](const std::string&, const Slot& s, bool) {
    Tensor& t = *s.tensor;
    if (!t.defined() || !is_floating(t.dtype()) || t.dtype() == dtype) return;
    const bool rg = t.requires_grad();
    t = t.detach().to(dtype);
    if (rg) t.requires_grad_(true);
  });
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  visit("", true, [&](const std::string&, const Slot& s, bool) {
    Tensor& t = *s.tensor;
    if (!t.defined() || t.device() == device) return;
    const bool rg = t.requires_grad();
    t = t.detach().to(device);
    if (rg) t.requires_grad_(true);
  });
}

std::string Module::to_string() const {
  std::string head = type_name_ + "(" + extra_repr();
  if (children_.empty()) return head + ")";
  std::ostringstream os;
  os << head << (extra_repr().empty() ? "" : ",") << "\n";
  for (const auto& [name, child] : children_) {
    std::string body = child->to_string();
    std::string indented;
    for (char ch : body) {
      indented += ch;
      if (ch == '\n') indented += "  ";
    }
    os << "  (" << name << "): " << indented << "\n";
  }
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.to_string(); }

}  // namespace ds::nn
