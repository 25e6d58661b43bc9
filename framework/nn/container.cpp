#include <ds/nn/container.h>

#include <ds/core/detail/check.h>
#include <ds/nn/checkpoint.h>

namespace ds::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Sequential() {
  for (const auto& m : modules) push_back(m);
}

Sequential& Sequential::push_back(std::shared_ptr<Module> module) {
  return push_back(std::to_string(size()), std::move(module));
}

Sequential& Sequential::push_back(std::string name, std::shared_ptr<Module> module) {
  add_child(std::move(name), std::move(module));
  return *this;
}

// Children are called through operator() so that module observers (the memory profiler) see them; under a
// GradientCheckpointGuard the children run in checkpointed segments instead.
Tensor Sequential::forward(const Tensor& x) {
  if (gradient_checkpointing_applies()) [[unlikely]]
    return checkpoint_sequential(*this, gradient_checkpoint_segments(), x);
  Tensor y = x;
  for (const auto& [_, m] : named_children()) y = (*m)(y);
  return y;
}

const std::shared_ptr<Module>& Sequential::operator[](size_t i) const {
  DS_CHECK(i < size(), "Sequential", "index {} out of range for {} modules", i, size());
  return named_children()[i].second;
}

ModuleList::ModuleList(std::initializer_list<std::shared_ptr<Module>> modules) : ModuleList() {
  for (const auto& m : modules) push_back(m);
}

ModuleList& ModuleList::push_back(std::shared_ptr<Module> module) {
  add_child(std::to_string(size()), std::move(module));
  return *this;
}

const std::shared_ptr<Module>& ModuleList::operator[](size_t i) const {
  DS_CHECK(i < size(), "ModuleList", "index {} out of range for {} modules", i, size());
  return named_children()[i].second;
}

ModuleDict& ModuleDict::insert(std::string name, std::shared_ptr<Module> module) {
  add_child(std::move(name), std::move(module));
  return *this;
}

bool ModuleDict::contains(const std::string& name) const {
  for (const auto& [n, _] : named_children())
    if (n == name) return true;
  return false;
}

const std::shared_ptr<Module>& ModuleDict::operator[](const std::string& name) const {
  std::string keys;
  for (const auto& [n, m] : named_children()) {
    if (n == name) return m;
    keys += (keys.empty() ? "" : ", ") + n;
  }
  DS_FAIL("ModuleDict", "no module named '{}' (keys: {})", name, keys.empty() ? "none" : keys);
}

}  // namespace ds::nn
