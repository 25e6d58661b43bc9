#pragma once
// Containers: Sequential (children called in order), ModuleList (indexed children), ModuleDict (named children).
#include <initializer_list>
#include <map>

#include <ds/nn/module.h>

namespace ds::nn {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  // Appends a child named by its position ("0", "1", ...), or by `name`.
  Sequential& push_back(std::shared_ptr<Module> module);
  Sequential& push_back(std::string name, std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return named_children().size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;
};

class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules);
  ModuleList& push_back(std::shared_ptr<Module> module);
  size_t size() const { return named_children().size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;
  template <typename M>
  std::shared_ptr<M> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    if (!m) throw_error("ModuleList", "child " + std::to_string(i) + " is not of the requested type");
    return m;
  }
};

class ModuleDict : public Module {
 public:
  ModuleDict() : Module("ModuleDict") {}
  ModuleDict& insert(std::string name, std::shared_ptr<Module> module);
  bool contains(const std::string& name) const;
  // The child named `name`; an error listing the keys when absent.
  const std::shared_ptr<Module>& operator[](const std::string& name) const;
  size_t size() const { return named_children().size(); }
};

}  // namespace ds::nn
