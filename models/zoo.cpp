#include <ds/models/zoo.h>

#include <cmath>

#include <ds/core/detail/check.h>

namespace ds::models {

const std::vector<ZooEntry>& zoo() {
  static const std::vector<ZooEntry> rows = [] {
    std::vector<ZooEntry> all;
    // One line per family: its rows come from the family's zoo.cpp.
    for (auto family : {vision_zoo, nlp_zoo}) {
      std::vector<ZooEntry> rows = family();
      all.insert(all.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    }
    for (size_t i = 0; i < all.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        DS_CHECK(all[i].name != all[j].name, "models", "the model name '{}' is registered twice", all[i].name);
    return all;
  }();
  return rows;
}

const ModelArgs::Value* ModelArgs::lookup(std::string_view key) const {
  asked_.insert(std::string(key));
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

double ModelArgs::number(std::string_view key, double fallback) const {
  const Value* v = lookup(key);
  if (!v) return fallback;
  const double* d = std::get_if<double>(v);
  DS_CHECK(d != nullptr, "models", "argument '{}' must be a number", key);
  return *d;
}

int64_t ModelArgs::integer(std::string_view key, int64_t fallback) const {
  const double d = number(key, static_cast<double>(fallback));
  DS_CHECK(d == std::floor(d) && std::abs(d) < 9e15, "models", "argument '{}' must be a whole number, got {}", key, d);
  return static_cast<int64_t>(d);
}

bool ModelArgs::flag(std::string_view key, bool fallback) const {
  const Value* v = lookup(key);
  if (!v) return fallback;
  if (const std::string* s = std::get_if<std::string>(v)) {
    DS_CHECK(*s == "true" || *s == "false", "models", "argument '{}' must be true or false, got '{}'", key, *s);
    return *s == "true";
  }
  const double* d = std::get_if<double>(v);
  DS_CHECK(d != nullptr && (*d == 0 || *d == 1), "models", "argument '{}' must be true or false", key);
  return *d == 1;
}

std::vector<int64_t> ModelArgs::integers(std::string_view key, std::vector<int64_t> fallback) const {
  const Value* v = lookup(key);
  if (!v) return fallback;
  const auto* list = std::get_if<std::vector<double>>(v);
  DS_CHECK(list != nullptr, "models", "argument '{}' must be a list of whole numbers", key);
  std::vector<int64_t> out;
  for (double d : *list) {
    DS_CHECK(d == std::floor(d), "models", "argument '{}' must be a list of whole numbers, got {}", key, d);
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

void ModelArgs::finish(std::string_view model) const {
  for (const auto& [key, value] : values_) {
    if (asked_.count(key)) continue;
    std::string takes;
    for (const std::string& k : asked_) takes += (takes.empty() ? "" : ", ") + k;
    DS_FAIL("models", "{}: argument '{}' is unknown; {} takes {}", model, key, model,
            takes.empty() ? "no arguments" : takes);
  }
}

std::shared_ptr<nn::Module> ZooEntry::create(const ModelArgs& args) const {
  DS_CHECK(static_cast<bool>(make), "models", "{} ({} parameters) is too big to build here", name, parameter_count());
  std::shared_ptr<nn::Module> m = make(args);
  args.finish(name);
  return m;
}

const ZooEntry& zoo_entry(std::string_view name) {
  std::string known;
  for (const ZooEntry& e : zoo()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  DS_FAIL("models", "unknown model '{}'; known models: {}", name, known);
}

}  // namespace ds::models
