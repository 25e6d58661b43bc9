// The NLP rows of the model zoo: the GPT configs (GPT-2's four sizes, the GPT-3 family) and BERT's. Counts come
// from the configs without allocating; the largest configs (over 2B parameters) have no factory.
#include <ds/models/nlp/bert.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/zoo.h>

namespace ds::models {

std::vector<ZooEntry> nlp_zoo() {
  constexpr int64_t kBuildLimit = 2'000'000'000;
  std::vector<ZooEntry> rows;
  for (const std::string& name : GPTConfig::names()) {
    const GPTConfig c = GPTConfig::named(name);
    ZooEntry e{name, "nlp", [c] { return c.parameter_count(); }, {}, Shape{c.block_size}};
    if (c.parameter_count() <= kBuildLimit) e.make = [c]() -> std::shared_ptr<nn::Module> { return gpt(c); };
    rows.push_back(std::move(e));
  }
  // BERT's rows count and build the encoder with its pooler (Hugging Face's BertModel, what AutoModel loads).
  for (const std::string& name : BertConfig::names()) {
    const BertConfig c = BertConfig::named(name);
    rows.push_back({name, "nlp", [c] { return c.parameter_count(); },
                    [c]() -> std::shared_ptr<nn::Module> { return bert(c); }, Shape{c.max_position_embeddings}});
  }
  return rows;
}

}  // namespace ds::models
