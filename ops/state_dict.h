#pragma once
// ds::StateDict: named tensors and scalars, in insertion order. The state of a module (parameters and buffers), an
// optimizer (per-parameter tensors, hyperparameters), a scheduler, a data loader or an RNG, and what a checkpoint
// stores. Names are dotted paths ("layer1.0.conv1.weight", "state.3.exp_avg", "param_groups.0.lr").
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <ds/ops/tensor.h>

namespace ds {

class StateDict {
 public:
  using Value = std::variant<Tensor, int64_t, double, std::string>;
  using Entry = std::pair<std::string, Value>;

  // Adds or replaces an entry (a replaced entry keeps its position).
  void set(std::string name, Value value);
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // The entry's value, or null.
  const Value* find(std::string_view name) const;
  // Typed access; a missing key or a value of another kind is an error naming the key:
  // "[state_dict] missing key 'fc.weight'", "[state_dict] key 'step' holds a tensor, not an integer".
  const Tensor& tensor(std::string_view name) const;
  int64_t integer(std::string_view name) const;
  double real(std::string_view name) const;  // an integer entry is also accepted
  const std::string& text(std::string_view name) const;
  bool erase(std::string_view name);

  // Every entry of `other` under "prefix.name" (prefix "" adds them as they are).
  void merge(std::string_view prefix, const StateDict& other);
  // The entries whose names start with "prefix.", with the prefix removed.
  StateDict sub(std::string_view prefix) const;

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Name of the kind of value an entry holds: "tensor", "integer", "real", "text".
std::string_view state_kind_name(const StateDict::Value& v);

}  // namespace ds
