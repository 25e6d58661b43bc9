// The NLP rows of the model zoo: the GPT configs (GPT-2's four sizes, the GPT-3 family) and BERT's. Counts come
// from the configs without allocating; the largest configs (over 2B parameters) have no factory.
#include <ds/models/nlp/bert.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/zoo.h>

namespace ds::models {

GPTConfig gpt_config_with(GPTConfig c, const ModelArgs& a) {
  c.vocab_size = a.integer("vocab_size", c.vocab_size);
  c.block_size = a.integer("block_size", c.block_size);
  c.n_layer = a.integer("n_layer", c.n_layer);
  c.n_head = a.integer("n_head", c.n_head);
  c.n_embd = a.integer("n_embd", c.n_embd);
  c.dropout = a.number("dropout", c.dropout);
  c.layer_norm_eps = a.number("layer_norm_eps", c.layer_norm_eps);
  c.bias = a.flag("bias", c.bias);
  return c;
}

BertConfig bert_config_with(BertConfig c, const ModelArgs& a) {
  c.vocab_size = a.integer("vocab_size", c.vocab_size);
  c.hidden_size = a.integer("hidden_size", c.hidden_size);
  c.num_hidden_layers = a.integer("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = a.integer("num_attention_heads", c.num_attention_heads);
  c.intermediate_size = a.integer("intermediate_size", c.intermediate_size);
  c.max_position_embeddings = a.integer("max_position_embeddings", c.max_position_embeddings);
  c.type_vocab_size = a.integer("type_vocab_size", c.type_vocab_size);
  c.pad_token_id = a.integer("pad_token_id", c.pad_token_id);
  c.hidden_dropout_prob = a.number("hidden_dropout_prob", c.hidden_dropout_prob);
  c.attention_probs_dropout_prob = a.number("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  c.layer_norm_eps = a.number("layer_norm_eps", c.layer_norm_eps);
  return c;
}

std::vector<ZooEntry> nlp_zoo() {
  constexpr int64_t kBuildLimit = 2'000'000'000;
  std::vector<ZooEntry> rows;
  for (const std::string& name : GPTConfig::names()) {
    const GPTConfig c = GPTConfig::named(name);
    ZooEntry e{name, "nlp", [c] { return c.parameter_count(); }, {}, Shape{c.block_size}};
    if (c.parameter_count() <= kBuildLimit)
      e.make = [c](const ModelArgs& a) -> std::shared_ptr<nn::Module> { return gpt(gpt_config_with(c, a)); };
    rows.push_back(std::move(e));
  }
  // BERT's rows count and build the encoder with its pooler (Hugging Face's BertModel, what AutoModel loads).
  for (const std::string& name : BertConfig::names()) {
    const BertConfig c = BertConfig::named(name);
    rows.push_back({name, "nlp", [c] { return c.parameter_count(); },
                    [c](const ModelArgs& a) -> std::shared_ptr<nn::Module> { return bert(bert_config_with(c, a)); },
                    Shape{c.max_position_embeddings}});
  }
  return rows;
}

}  // namespace ds::models
