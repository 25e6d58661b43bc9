// config.json <-> GPTConfig / BertConfig. The JSON goes through nlohmann_json (private to this file); the file through
// io's whole-file helpers (atomic write).
#include <ds/models/nlp/hf_config.h>

#include <nlohmann/json.hpp>

#include <ds/core/detail/check.h>
#include <ds/io/file_io.h>

namespace ds::models {
namespace {

using Json = nlohmann::ordered_json;
constexpr std::string_view kTag = "hf_config";

// One config.json, parsed, with typed access that names the file and the key in every error.
class ConfigFile {
 public:
  explicit ConfigFile(std::string path) : path_(std::move(path)) {
    const std::string text = read_whole_file(path_, kTag);
    try {
      json_ = Json::parse(text);
    } catch (const Json::exception& e) {
      fail("not valid JSON: {}", e.what());
    }
    if (!json_.is_object()) fail("holds {}, not a JSON object", json_.type_name());
  }

  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw_error(kTag, path_ + ": " + fmt::format(f, std::forward<Args>(args)...));
  }

  // model_type, where given, must be `type`: a BERT config read as GPT-2's would build the wrong model.
  void expect_model_type(std::string_view type) const {
    const std::string got = text("model_type", std::string(type));
    if (got != type) fail("model_type is \"{}\", expected \"{}\"", got, type);
  }

  int64_t integer(const char* key) const {
    const Json* v = find(key);
    if (v == nullptr) fail("the key \"{}\" is missing", key);
    return as_positive(key, *v);
  }
  int64_t integer(const char* key, int64_t fallback) const {
    const Json* v = find(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_number_integer()) fail("\"{}\" is {}, not an integer", key, v->dump());
    return v->get<int64_t>();
  }
  double real(const char* key, double fallback) const {
    const Json* v = find(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_number()) fail("\"{}\" is {}, not a number", key, v->dump());
    return v->get<double>();
  }
  std::string text(const char* key, std::string fallback) const {
    const Json* v = find(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_string()) fail("\"{}\" is {}, not a string", key, v->dump());
    return v->get<std::string>();
  }
  bool flag(const char* key, bool fallback) const {
    const Json* v = find(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_boolean()) fail("\"{}\" is {}, not true or false", key, v->dump());
    return v->get<bool>();
  }
  // A setting ds's model has one value for: anything else is an error that says what ds supports.
  void require(const char* key, bool ok, std::string_view supported) const {
    if (!ok) fail("\"{}\" is {}: ds's model supports {} only", key, find(key)->dump(), supported);
  }

 private:
  const Json* find(const char* key) const {
    const auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }
  int64_t as_positive(const char* key, const Json& v) const {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) fail("\"{}\" is {}, not a positive integer", key, v.dump());
    return v.get<int64_t>();
  }

  std::string path_;
  Json json_;
};

void write_config(const Json& j, const std::string& path) { write_file_atomically(path, j.dump(2) + "\n", kTag); }

}  // namespace

GPTConfig gpt_config_from_hf(const std::string& config_json_path) {
  const ConfigFile f(config_json_path);
  f.expect_model_type("gpt2");
  GPTConfig c;
  c.vocab_size = f.integer("vocab_size");
  c.block_size = f.integer("n_positions");
  c.n_embd = f.integer("n_embd");
  c.n_layer = f.integer("n_layer");
  c.n_head = f.integer("n_head");
  c.layer_norm_eps = f.real("layer_norm_epsilon", 1e-5);
  c.dropout = f.real("resid_pdrop", 0.1);
  c.bias = true;
  const std::string act = f.text("activation_function", "gelu_new");
  f.require("activation_function", act == "gelu_new" || act == "gelu_pytorch_tanh", "\"gelu_new\" (tanh GELU)");
  f.require("n_inner", f.integer("n_inner", 4 * c.n_embd) == 4 * c.n_embd, "null or 4 * n_embd");
  f.require("add_cross_attention", !f.flag("add_cross_attention", false), "false");
  f.require("scale_attn_weights", f.flag("scale_attn_weights", true), "true");
  f.require("scale_attn_by_inverse_layer_idx", !f.flag("scale_attn_by_inverse_layer_idx", false), "false");
  f.require("tie_word_embeddings", f.flag("tie_word_embeddings", true), "true (the LM head is the token embedding)");
  if (c.n_embd % c.n_head != 0) f.fail("n_embd {} is not a multiple of n_head {}", c.n_embd, c.n_head);
  return c;
}

BertConfig bert_config_from_hf(const std::string& config_json_path) {
  const ConfigFile f(config_json_path);
  f.expect_model_type("bert");
  BertConfig c;
  c.vocab_size = f.integer("vocab_size");
  c.hidden_size = f.integer("hidden_size");
  c.num_hidden_layers = f.integer("num_hidden_layers");
  c.num_attention_heads = f.integer("num_attention_heads");
  c.intermediate_size = f.integer("intermediate_size");
  c.max_position_embeddings = f.integer("max_position_embeddings");
  c.type_vocab_size = f.integer("type_vocab_size");
  c.pad_token_id = f.integer("pad_token_id", 0);
  c.hidden_dropout_prob = f.real("hidden_dropout_prob", 0.1);
  c.attention_probs_dropout_prob = f.real("attention_probs_dropout_prob", 0.1);
  c.layer_norm_eps = f.real("layer_norm_eps", 1e-12);
  f.require("hidden_act", f.text("hidden_act", "gelu") == "gelu", "\"gelu\" (exact, erf)");
  f.require("position_embedding_type", f.text("position_embedding_type", "absolute") == "absolute", "\"absolute\"");
  f.require("is_decoder", !f.flag("is_decoder", false), "false");
  f.require("tie_word_embeddings", f.flag("tie_word_embeddings", true), "true (the MLM decoder is the embedding)");
  if (c.hidden_size % c.num_attention_heads != 0)
    f.fail("hidden_size {} is not a multiple of num_attention_heads {}", c.hidden_size, c.num_attention_heads);
  if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
    f.fail("pad_token_id {} is not a token id (vocab_size {})", c.pad_token_id, c.vocab_size);
  return c;
}

void save_hf_config(const GPTConfig& c, const std::string& config_json_path) {
  DS_CHECK(c.bias, kTag, "{}: a GPT without biases has no GPT-2 config (transformers' GPT-2 always has them)",
           config_json_path);
  Json j = {{"architectures", Json::array({"GPT2LMHeadModel"})},
            {"model_type", "gpt2"},
            {"vocab_size", c.vocab_size},
            {"n_positions", c.block_size},
            {"n_embd", c.n_embd},
            {"n_layer", c.n_layer},
            {"n_head", c.n_head},
            {"n_inner", nullptr},
            {"activation_function", "gelu_new"},
            {"resid_pdrop", c.dropout},
            {"embd_pdrop", c.dropout},
            {"attn_pdrop", c.dropout},
            {"layer_norm_epsilon", c.layer_norm_eps},
            {"tie_word_embeddings", true}};
  write_config(j, config_json_path);
}

void save_hf_config(const BertConfig& c, const std::string& config_json_path) {
  Json j = {{"architectures", Json::array({"BertForPreTraining"})},
            {"model_type", "bert"},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"num_hidden_layers", c.num_hidden_layers},
            {"num_attention_heads", c.num_attention_heads},
            {"intermediate_size", c.intermediate_size},
            {"hidden_act", "gelu"},
            {"max_position_embeddings", c.max_position_embeddings},
            {"type_vocab_size", c.type_vocab_size},
            {"pad_token_id", c.pad_token_id},
            {"hidden_dropout_prob", c.hidden_dropout_prob},
            {"attention_probs_dropout_prob", c.attention_probs_dropout_prob},
            {"layer_norm_eps", c.layer_norm_eps},
            {"position_embedding_type", "absolute"},
            {"tie_word_embeddings", true}};
  write_config(j, config_json_path);
}

}  // namespace ds::models
