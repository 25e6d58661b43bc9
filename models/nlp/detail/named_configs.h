#pragma once
// Lookup in a table of named configs (internal to models/nlp): rows are structs with a `name` member.
#include <string>
#include <string_view>
#include <vector>

#include <ds/core/detail/check.h>

namespace ds::models::detail {

// The row named `name`; an error "[what] unknown config '<name>'; known: a, b, ..." otherwise.
template <typename Row, size_t N>
const Row& find_named(const Row (&rows)[N], std::string_view name, std::string_view what) {
  std::string known;
  for (const Row& r : rows) {
    if (r.name == name) return r;
    known += (known.empty() ? "" : ", ") + std::string(r.name);
  }
  DS_FAIL(what, "unknown config '{}'; known: {}", name, known);
}

template <typename Row, size_t N>
std::vector<std::string> names_of(const Row (&rows)[N]) {
  std::vector<std::string> v;
  for (const Row& r : rows) v.emplace_back(r.name);
  return v;
}

}  // namespace ds::models::detail
