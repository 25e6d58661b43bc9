// Hugging Face <-> ds state dicts for GPT-2 and BERT (names, layouts, tied and buffer entries), and the strict load of
// a converted dict into a model with every mismatch listed at once.
#include <ds/models/nlp/hf_weights.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <ds/core/detail/check.h>
#include <ds/io/safetensors.h>

namespace ds::models {
namespace {

constexpr std::string_view kTag = "hf_weights";
constexpr std::string_view kGptPrefix = "transformer.";
constexpr std::string_view kBertPrefix = "bert.";
// transformers' from_pretrained refuses a safetensors file whose metadata does not name its framework.
const SafetensorsMetadata kHfMetadata = {{"format", "pt"}};

template <typename... Args>
[[noreturn]] void fail(const std::string& where, fmt::format_string<Args...> f, Args&&... args) {
  throw_error(kTag, where + ": " + fmt::format(f, std::forward<Args>(args)...));
}

bool has_prefix(const StateDict& s, std::string_view prefix) {
  return std::any_of(s.begin(), s.end(), [&](const StateDict::Entry& e) { return e.first.starts_with(prefix); });
}

// GPT-2's Conv1D layers store their weight (in, out), the transpose of a Linear's.
bool is_conv1d_weight(std::string_view name) {
  for (std::string_view s : {".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"})
    if (name.ends_with(s)) return true;
  return false;
}

Tensor transposed(const Tensor& t, const std::string& where, std::string_view name) {
  if (t.dim() != 2) fail(where, "'{}' is a Conv1D weight and must be 2-d, got shape {}", name, t.sizes());
  return t.detach().t().contiguous();
}

// Same dtype, shape and bytes: what a tied pair saved twice holds.
bool same_values(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  const Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.data(), y.data(), x.nbytes()) == 0;
}

// A tied copy (`key`, e.g. lm_head.weight) is skipped on load, so it must hold what its partner holds: otherwise the
// file's model is not the tied model ds builds, and loading it would silently change its outputs.
void check_tied(const StateDict& hf, const std::string& key, const std::string& partner, const std::string& where) {
  if (!hf.contains(key)) return;
  if (!hf.contains(partner)) fail(where, "'{}' is present but '{}', which it is tied to, is not", key, partner);
  if (!same_values(hf.tensor(key), hf.tensor(partner)))
    fail(where, "'{}' differs from '{}': ds's model ties them (one tensor), so it cannot hold this model", key,
         partner);
}

std::string listed(const std::vector<std::string>& names) {
  constexpr size_t kShown = 12;
  const size_t n = std::min(names.size(), kShown);
  std::string s = fmt::format("{}", fmt::join(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(n), ", "));
  if (names.size() > n) s += fmt::format(" and {} more", names.size() - n);
  return s;
}

// Loads state into model strictly, after collecting every missing and unexpected key and every shape mismatch into
// one error; `naming` says how the names shown relate to the file's.
void load_strict(nn::Module& model, const StateDict& state, const std::string& where, std::string_view naming) {
  const StateDict own = model.state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, value] : own) {
    if (!state.contains(name)) {
      missing.push_back(name);
    } else if (const Tensor& have = state.tensor(name); have.sizes() != std::get<Tensor>(value).sizes()) {
      mismatched.push_back(fmt::format("{}: {} in the file, {} in the model", name, have.sizes(),
                                       std::get<Tensor>(value).sizes()));
    }
  }
  for (const auto& [name, value] : state)
    if (!own.contains(name)) unexpected.push_back(name);
  std::vector<std::string> problems;
  if (!missing.empty()) problems.push_back(fmt::format("{} missing: {}", missing.size(), listed(missing)));
  if (!unexpected.empty()) problems.push_back(fmt::format("{} unexpected: {}", unexpected.size(), listed(unexpected)));
  if (!mismatched.empty())
    problems.push_back(fmt::format("{} of another shape: {}", mismatched.size(), listed(mismatched)));
  if (!problems.empty())
    fail(where, "does not fit the {} ({}): {}", model.type_name(), naming, fmt::join(problems, "; "));
  model.load_state_dict(state, true);
}

// Checkpoints from the original BERT release name LayerNorm's parameters gamma and beta.
std::string renamed_layer_norm(const std::string& key) {
  if (key.find("LayerNorm.") == std::string::npos) return key;
  if (key.ends_with(".gamma")) return key.substr(0, key.size() - 6) + ".weight";
  if (key.ends_with(".beta")) return key.substr(0, key.size() - 5) + ".bias";
  return key;
}

}  // namespace

StateDict gpt_state_from_hf(const StateDict& hf, const std::string& where) {
  const bool prefixed = has_prefix(hf, kGptPrefix);
  check_tied(hf, "lm_head.weight", prefixed ? "transformer.wte.weight" : "wte.weight", where);
  StateDict out;
  for (const auto& [key, value] : hf) {
    if (key == "lm_head.weight") continue;
    // A key outside the prefix in a prefixed file keeps its name: the strict load reports it as unexpected.
    std::string_view name = key;
    if (prefixed && name.starts_with(kGptPrefix)) name.remove_prefix(kGptPrefix.size());
    if (name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")) continue;  // causal-mask buffers
    const Tensor& t = hf.tensor(key);
    out.set(std::string(name), is_conv1d_weight(name) ? transposed(t, where, key) : t);
  }
  return out;
}

StateDict gpt_state_to_hf(const StateDict& ds) {
  StateDict out;
  for (const auto& [name, value] : ds) {
    const Tensor& t = ds.tensor(name);
    out.set(std::string(kGptPrefix) + name, is_conv1d_weight(name) ? transposed(t, "gpt_state_to_hf", name) : t);
  }
  return out;
}

StateDict bert_state_from_hf(const StateDict& hf, bool pretraining, const std::string& where) {
  const bool prefixed = has_prefix(hf, kBertPrefix);
  const std::string prefix = prefixed ? std::string(kBertPrefix) : "";
  check_tied(hf, "cls.predictions.decoder.weight", prefix + "embeddings.word_embeddings.weight", where);
  check_tied(hf, "cls.predictions.decoder.bias", "cls.predictions.bias", where);
  StateDict out;
  for (const auto& [key, value] : hf) {
    std::string name = renamed_layer_norm(key);
    if (name.ends_with("embeddings.position_ids") || name.starts_with("cls.predictions.decoder.")) continue;
    const bool head = name.starts_with("cls.");
    if (pretraining && !prefixed && !head) {
      name = std::string(kBertPrefix) + name;  // a BertModel file: the strict load then lists the heads as missing
    } else if (!pretraining && prefixed) {
      if (head) continue;  // a pre-training file's heads have no place in a BertModel
      if (name.starts_with(kBertPrefix)) name.erase(0, kBertPrefix.size());
    }
    out.set(std::move(name), hf.tensor(key));
  }
  return out;
}

void load_hf_gpt2(GPT& model, const std::string& safetensors_path) {
  load_strict(model, gpt_state_from_hf(load_safetensors(safetensors_path), safetensors_path), safetensors_path,
              "names as ds's: the file's have the prefix 'transformer.', Conv1D weights transposed");
}

void load_hf_bert(BertModel& model, const std::string& safetensors_path) {
  load_strict(model, bert_state_from_hf(load_safetensors(safetensors_path), false, safetensors_path),
              safetensors_path, "names as BertModel's, without 'bert.'");
}

void load_hf_bert(BertForPreTraining& model, const std::string& safetensors_path) {
  load_strict(model, bert_state_from_hf(load_safetensors(safetensors_path), true, safetensors_path),
              safetensors_path, "names as BertForPreTraining's");
}

void save_hf_gpt2(const GPT& model, const std::string& safetensors_path) {
  save_safetensors(safetensors_path, gpt_state_to_hf(model.state_dict()), kHfMetadata);
}

void save_hf_bert(const BertForPreTraining& model, const std::string& safetensors_path) {
  save_safetensors(safetensors_path, model.state_dict(), kHfMetadata);
}

}  // namespace ds::models
