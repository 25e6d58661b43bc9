#include <ds/ops/state_dict.h>

#include <ds/core/detail/check.h>

namespace ds {

std::string_view state_kind_name(const StateDict::Value& v) {
  switch (v.index()) {
    case 0: return "tensor";
    case 1: return "integer";
    case 2: return "real";
    default: return "text";
  }
}

void StateDict::set(std::string name, Value value) {
  const auto it = index_.find(name);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(name, entries_.size());
  entries_.emplace_back(std::move(name), std::move(value));
}

const StateDict::Value* StateDict::find(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

namespace {
template <typename T>
const T& typed(const StateDict& d, std::string_view name, std::string_view want) {
  const StateDict::Value* v = d.find(name);
  DS_CHECK(v != nullptr, "state_dict", "missing key '{}'", name);
  const T* p = std::get_if<T>(v);
  DS_CHECK(p != nullptr, "state_dict", "key '{}' holds {} {}, not {}", name,
           state_kind_name(*v) == "integer" ? "an" : "a", state_kind_name(*v), want);
  return *p;
}
}  // namespace

const Tensor& StateDict::tensor(std::string_view name) const { return typed<Tensor>(*this, name, "a tensor"); }
int64_t StateDict::integer(std::string_view name) const { return typed<int64_t>(*this, name, "an integer"); }
const std::string& StateDict::text(std::string_view name) const { return typed<std::string>(*this, name, "text"); }
double StateDict::real(std::string_view name) const {
  const Value* v = find(name);
  if (v != nullptr)
    if (const int64_t* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  return typed<double>(*this, name, "a real number");
}

bool StateDict::erase(std::string_view name) {
  const auto it = index_.find(std::string(name));
  if (it == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  return true;
}

void StateDict::merge(std::string_view prefix, const StateDict& other) {
  for (const auto& [name, value] : other.entries_)
    set(prefix.empty() ? name : std::string(prefix) + "." + name, value);
}

StateDict StateDict::sub(std::string_view prefix) const {
  StateDict out;
  const std::string p = std::string(prefix) + ".";
  for (const auto& [name, value] : entries_)
    if (name.size() > p.size() && name.compare(0, p.size(), p) == 0) out.set(name.substr(p.size()), value);
  return out;
}

}  // namespace ds
