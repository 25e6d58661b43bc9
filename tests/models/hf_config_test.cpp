// Hugging Face config.json for GPT-2 and BERT: the keys ds reads, what it refuses (with the key named), and a round
// trip through save_hf_config.
#include <catch2/catch.hpp>

#include <ds/models/nlp/hf_config.h>

#include "../io/io_test_util.h"

using namespace ds;
using namespace ds::models;
using io_test::TempDir;

namespace {

const std::string kGpt2 = R"({"model_type": "gpt2", "vocab_size": 1000, "n_positions": 64, "n_embd": 48,
  "n_layer": 3, "n_head": 4, "n_inner": null, "activation_function": "gelu_new", "resid_pdrop": 0.25,
  "layer_norm_epsilon": 1e-6, "bos_token_id": 50256, "architectures": ["GPT2LMHeadModel"]})";

const std::string kBert = R"({"model_type": "bert", "vocab_size": 300, "hidden_size": 32, "num_hidden_layers": 2,
  "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 40, "type_vocab_size": 3,
  "pad_token_id": 1, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "layer_norm_eps": 1e-7})";

// kGpt2 or kBert with `from` replaced by `to`.
std::string edited(std::string json, const std::string& from, const std::string& to) {
  const size_t at = json.find(from);
  REQUIRE(at != std::string::npos);
  return json.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("hf config: GPT-2's config.json", "[models][hf_weights]") {
  TempDir dir;
  const std::string path = dir.file("config.json");
  io_test::write_bytes(path, kGpt2);
  const GPTConfig c = gpt_config_from_hf(path);
  CHECK((c.vocab_size == 1000 && c.block_size == 64 && c.n_embd == 48 && c.n_layer == 3 && c.n_head == 4));
  CHECK(c.dropout == 0.25);
  CHECK(c.layer_norm_eps == 1e-6);
  CHECK(c.bias);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {edited(kGpt2, R"("n_embd": 48,)", ""), "the key \"n_embd\" is missing"},
      {edited(kGpt2, R"("n_embd": 48)", R"("n_embd": "48")"), "\"n_embd\" is \"48\", not a positive integer"},
      {edited(kGpt2, R"("n_head": 4)", R"("n_head": 5)"), "n_embd 48 is not a multiple of n_head 5"},
      {edited(kGpt2, R"("gpt2")", R"("bert")"), "model_type is \"bert\", expected \"gpt2\""},
      {edited(kGpt2, R"("gelu_new")", R"("relu")"), "\"activation_function\" is \"relu\": ds's model supports"},
      {edited(kGpt2, R"("n_inner": null)", R"("n_inner": 100)"), "\"n_inner\" is 100"},
      {edited(kGpt2, R"("n_inner": null)", R"("add_cross_attention": true)"), "\"add_cross_attention\" is true"},
      {edited(kGpt2, R"("resid_pdrop": 0.25)", R"("resid_pdrop": "x")"), "\"resid_pdrop\" is \"x\", not a number"},
      {kGpt2.substr(0, 40), "not valid JSON"},
      {"[1]", "holds array, not a JSON object"},
  };
  for (const auto& [json, expected] : bad) {
    io_test::write_bytes(path, json);
    INFO(json);
    CHECK_THROWS_WITH(gpt_config_from_hf(path), Catch::StartsWith("[hf_config] " + path + ": ") &&
                                                    Catch::Contains(expected));
  }
  CHECK_THROWS_WITH(gpt_config_from_hf(dir.file("none.json")), Catch::Contains("cannot open"));

  save_hf_config(c, path);
  const GPTConfig back = gpt_config_from_hf(path);
  CHECK((back.vocab_size == 1000 && back.block_size == 64 && back.n_embd == 48 && back.n_layer == 3));
  CHECK((back.n_head == 4 && back.dropout == 0.25 && back.layer_norm_eps == 1e-6));
  GPTConfig no_bias = c;
  no_bias.bias = false;
  CHECK_THROWS_WITH(save_hf_config(no_bias, path), Catch::Contains("without biases"));
}

TEST_CASE("hf config: BERT's config.json", "[models][hf_weights]") {
  TempDir dir;
  const std::string path = dir.file("config.json");
  io_test::write_bytes(path, kBert);
  const BertConfig c = bert_config_from_hf(path);
  CHECK((c.vocab_size == 300 && c.hidden_size == 32 && c.num_hidden_layers == 2 && c.num_attention_heads == 4));
  CHECK((c.intermediate_size == 64 && c.max_position_embeddings == 40 && c.type_vocab_size == 3));
  CHECK((c.pad_token_id == 1 && c.hidden_dropout_prob == 0.0 && c.attention_probs_dropout_prob == 0.1));
  CHECK(c.layer_norm_eps == 1e-7);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {edited(kBert, R"("gelu")", R"("gelu_new")"), "\"hidden_act\" is \"gelu_new\""},
      {edited(kBert, R"("pad_token_id": 1)", R"("pad_token_id": 300)"), "pad_token_id 300 is not a token id"},
      {edited(kBert, R"("pad_token_id": 1)", R"("position_embedding_type": "relative_key")"),
       "\"position_embedding_type\" is \"relative_key\""},
      {edited(kBert, R"("type_vocab_size": 3,)", ""), "the key \"type_vocab_size\" is missing"},
      {edited(kBert, R"("bert")", R"("gpt2")"), "model_type is \"gpt2\", expected \"bert\""},
  };
  for (const auto& [json, expected] : bad) {
    io_test::write_bytes(path, json);
    INFO(json);
    CHECK_THROWS_WITH(bert_config_from_hf(path), Catch::Contains(expected));
  }

  save_hf_config(c, path);
  const BertConfig back = bert_config_from_hf(path);
  CHECK((back.vocab_size == 300 && back.hidden_size == 32 && back.type_vocab_size == 3 && back.pad_token_id == 1));
  CHECK((back.hidden_dropout_prob == 0.0 && back.attention_probs_dropout_prob == 0.1 && back.layer_norm_eps == 1e-7));
}
