#pragma once
// ds::nn::Module: the base of every layer and model, as torch.nn.Module. A module owns parameters (tensors that
// require grad), buffers (running statistics and other state) and child modules, each under a name; state_dict
// names are dotted paths through the children ("layer1.0.bn1.running_mean").
//
// A module registers the tensor members it holds (register_parameter(name, weight_)), so the member and the
// registry are the same slot: to(dtype) and load_state_dict write through it. Modules therefore never move: they live
// behind std::shared_ptr (make them with std::make_shared or ds::nn::make<T>(...)) and are neither copied nor moved.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ds/ops/state_dict.h>
#include <ds/ops/tensor.h>

namespace ds::nn {

class Module;

// Sees every module call made through Module::operator() (or a ModuleScope) on this thread: the memory profiler's
// module stack. Null, the usual case, costs one thread-local load and branch per call.
class ModuleCallObserver {
 public:
  virtual ~ModuleCallObserver() = default;
  virtual void enter(Module& m) = 0;
  virtual void exit(Module& m) = 0;
};
namespace detail {
inline thread_local ModuleCallObserver* tls_module_observer = nullptr;
}
// Installs `observer` on this thread (null to remove); returns the previous one.
inline ModuleCallObserver* set_module_call_observer(ModuleCallObserver* observer) {
  ModuleCallObserver* prev = detail::tls_module_observer;
  detail::tls_module_observer = observer;
  return prev;
}

// Marks a module call for the observer, for modules whose forward has its own signature (call it first thing in
// that forward, or around the call): nn::ModuleScope scope(*this);
class ModuleScope {
 public:
  explicit ModuleScope(Module& m) : observer_(detail::tls_module_observer), m_(m) {
    if (observer_) [[unlikely]] observer_->enter(m_);
  }
  ~ModuleScope() {
    if (observer_) [[unlikely]] observer_->exit(m_);
  }
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;

 private:
  ModuleCallObserver* observer_;
  Module& m_;
};

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- the forward pass. Single-input modules override forward(x); others add their own signatures.
  virtual Tensor forward(const Tensor& x);
  // Calls forward(x), inside a ModuleScope when an observer (the memory profiler) is installed.
  Tensor operator()(const Tensor& x) {
    if (!detail::tls_module_observer) [[likely]] return forward(x);
    ModuleScope scope(*this);
    return forward(x);
  }

  // ---- what the module holds
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module and every descendant, depth first, with their dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules();
  // Number of parameter elements (trainable_only: those that require grad).
  int64_t parameter_count(bool trainable_only = false) const;

  // ---- state
  // Parameters and persistent buffers under their dotted names.
  StateDict state_dict() const;
  struct LoadResult {
    std::vector<std::string> missing_keys;     // in the module, not in the dict
    std::vector<std::string> unexpected_keys;  // in the dict, not in the module
  };
  // Copies values into the module's tensors (keeping their dtype). strict: every key must match both ways. A shape
  // mismatch is always an error naming the key and both shapes.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  // ---- modes and conversions
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Calls fn on every module, children first, then this one (torch's apply).
  void apply(const std::function<void(Module&)>& fn);
  // Sets the grads of all parameters to undefined (set_to_none) or to zero.
  void zero_grad(bool set_to_none = true);
  // Converts floating parameters and buffers to dtype (requires_grad kept).
  void to(DType dtype);
  void to(Device device);

  // ---- printing, as torch: "Linear(in_features=4, out_features=2, bias=True)", children indented.
  const std::string& type_name() const { return type_name_; }
  virtual std::string extra_repr() const { return ""; }
  std::string to_string() const;

 protected:
  // Registers a member tensor as a parameter (requires_grad set) / buffer; the member must outlive the registry
  // (it does: it is a member). An undefined tensor (e.g. no bias) is skipped in parameters() and state_dict().
  void register_parameter(std::string name, Tensor& slot, bool requires_grad = true);
  void register_buffer(std::string name, Tensor& slot, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }
  void add_child(std::string name, std::shared_ptr<Module> module);

 private:
  struct Slot {
    std::string name;
    Tensor* tensor;
    bool persistent = true;
  };
  template <typename F>
  void visit(const std::string& prefix, bool recurse, F&& f) const;

  std::string type_name_;
  std::vector<Slot> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// std::make_shared, for symmetry with torch's constructors: auto fc = nn::make<nn::Linear>(784, 10).
template <typename M, typename... Args>
std::shared_ptr<M> make(Args&&... args) {
  return std::make_shared<M>(std::forward<Args>(args)...);
}

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace ds::nn
