#include <ds/models/zoo.h>

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

const ZooEntry& zoo_entry(std::string_view name) {
  std::string known;
  for (const ZooEntry& e : zoo()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  DS_FAIL("models", "unknown model '{}'; known models: {}", name, known);
}

}  // namespace ds::models
