#include <ds/models/nlp/bert.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/models/nlp/detail/named_configs.h>
#include <ds/nn/init.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/linalg.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {
namespace {

struct NamedConfig {
  std::string_view name;
  int64_t vocab_size, hidden, layers, heads;
};
constexpr NamedConfig kNamed[] = {{"bert-base-uncased", 30522, 768, 12, 12},
                                  {"bert-large-uncased", 30522, 1024, 24, 16},
                                  {"bert-base-cased", 28996, 768, 12, 12},
                                  {"bert-large-cased", 28996, 1024, 24, 16}};

void check_config(const BertConfig& c) {
  DS_CHECK(c.vocab_size > 0 && c.hidden_size > 0 && c.num_hidden_layers > 0 && c.num_attention_heads > 0 &&
               c.intermediate_size > 0 && c.max_position_embeddings > 0 && c.type_vocab_size > 0,
           "BERT", "sizes must be positive (vocab {}, hidden {}, layers {}, heads {}, intermediate {}, positions {}, "
           "types {})", c.vocab_size, c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size,
           c.max_position_embeddings, c.type_vocab_size);
  DS_CHECK(c.hidden_size % c.num_attention_heads == 0, "BERT", "hidden_size {} is not a multiple of the {} heads",
           c.hidden_size, c.num_attention_heads);
}

// Hugging Face's BertPreTrainedModel._init_weights: N(0, 0.02) weights and embeddings, zero biases, the padding
// row zero.
std::shared_ptr<nn::Linear> linear(int64_t in, int64_t out) {
  auto l = nn::make<nn::Linear>(in, out);
  nn::init::normal_(l->weight, 0, 0.02);
  nn::init::zeros_(l->bias);
  return l;
}
std::shared_ptr<nn::Embedding> embedding(int64_t num, int64_t dim, std::optional<int64_t> padding_idx = {}) {
  auto e = nn::make<nn::Embedding>(num, dim, padding_idx);
  NoGradGuard no_grad;
  nn::init::normal_(e->weight, 0, 0.02);
  if (padding_idx) e->weight.select(0, *padding_idx).fill_(0);
  return e;
}
std::shared_ptr<nn::LayerNorm> layer_norm(const BertConfig& c) {
  return nn::make<nn::LayerNorm>(Shape{c.hidden_size}, c.layer_norm_eps);
}
}  // namespace

int64_t BertConfig::parameter_count() const {
  const int64_t H = hidden_size, I = intermediate_size;
  const int64_t emb = (vocab_size + max_position_embeddings + type_vocab_size) * H + 2 * H;
  const int64_t layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H;
  return emb + num_hidden_layers * layer + (H * H + H);
}

int64_t BertConfig::pretraining_parameter_count() const {
  const int64_t H = hidden_size;
  return parameter_count() + (H * H + H) + 2 * H + vocab_size + (2 * H + 2);
}

BertConfig BertConfig::named(std::string_view name) {
  const NamedConfig& n = detail::find_named(kNamed, name, "BERT");
  return {.vocab_size = n.vocab_size, .hidden_size = n.hidden, .num_hidden_layers = n.layers,
          .num_attention_heads = n.heads, .intermediate_size = 4 * n.hidden};
}

std::vector<std::string> BertConfig::names() { return detail::names_of(kNamed); }

BertEmbeddings::BertEmbeddings(const BertConfig& c) : Module("BertEmbeddings") {
  word_embeddings = register_module("word_embeddings", embedding(c.vocab_size, c.hidden_size, c.pad_token_id));
  position_embeddings = register_module("position_embeddings", embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings", embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", layer_norm(c));
  dropout_ = register_module("dropout", nn::make<nn::Dropout>(c.hidden_dropout_prob));
}

Tensor BertEmbeddings::forward(const Tensor& input_ids) { return forward(input_ids, Tensor()); }

Tensor BertEmbeddings::forward(const Tensor& input_ids, const Tensor& token_type_ids) {
  const int64_t T = input_ids.size(1);
  DS_CHECK(T <= position_embeddings->weight.size(0), "BERT", "sequence length {} exceeds max_position_embeddings {}",
           T, position_embeddings->weight.size(0));
  const Tensor pos = arange(0, T, 1, TensorOptions{.dtype = kI64, .device = input_ids.device()});
  const Tensor types = token_type_ids.defined() ? token_type_ids : zeros_like(input_ids);
  Tensor x = (*word_embeddings)(input_ids) + (*position_embeddings)(pos) + (*token_type_embeddings)(types);
  return (*dropout_)((*LayerNorm)(x));
}

BertSelfAttention::BertSelfAttention(const BertConfig& c)
    : Module("BertSelfAttention"), heads_(c.num_attention_heads), dropout_(c.attention_probs_dropout_prob) {
  query = register_module("query", linear(c.hidden_size, c.hidden_size));
  key = register_module("key", linear(c.hidden_size, c.hidden_size));
  value = register_module("value", linear(c.hidden_size, c.hidden_size));
}

Tensor BertSelfAttention::forward(const Tensor& x, const Tensor& mask) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), D = C / heads_;
  auto split = [&](nn::Linear& proj) { return proj(x).view({B, T, heads_, D}).transpose(1, 2); };
  const Tensor y = scaled_dot_product_attention(split(*query), split(*key), split(*value),
                                                {.attn_mask = mask, .dropout_p = is_training() ? dropout_ : 0.0});
  return y.transpose(1, 2).reshape({B, T, C});
}

BertResidualOutput::BertResidualOutput(const BertConfig& c, int64_t in_features, std::string type_name)
    : Module(std::move(type_name)) {
  dense = register_module("dense", linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", layer_norm(c));
  dropout_ = register_module("dropout", nn::make<nn::Dropout>(c.hidden_dropout_prob));
}

Tensor BertResidualOutput::forward(const Tensor&) {
  DS_FAIL(type_name(), "needs the residual: call forward(x, residual)");
}

Tensor BertResidualOutput::forward(const Tensor& x, const Tensor& residual) {
  return (*LayerNorm)((*dropout_)((*dense)(x)) + residual);
}

BertAttention::BertAttention(const BertConfig& c) : Module("BertAttention") {
  self = register_module("self", nn::make<BertSelfAttention>(c));
  output = register_module("output", nn::make<BertResidualOutput>(c, c.hidden_size, "BertSelfOutput"));
}

Tensor BertAttention::forward(const Tensor& x, const Tensor& mask) { return output->forward(self->forward(x, mask), x); }

BertLayer::BertLayer(const BertConfig& c) : Module("BertLayer") {
  attention = register_module("attention", nn::make<BertAttention>(c));
  intermediate_dense_ = linear(c.hidden_size, c.intermediate_size);
  intermediate = register_module("intermediate", nn::make<nn::ModuleDict>());
  intermediate->insert("dense", intermediate_dense_);
  output = register_module("output", nn::make<BertResidualOutput>(c, c.intermediate_size, "BertOutput"));
}

Tensor BertLayer::forward(const Tensor& x, const Tensor& mask) {
  const Tensor a = attention->forward(x, mask);
  return output->forward(gelu((*intermediate_dense_)(a)), a);
}

BertModel::BertModel(const BertConfig& config) : Module("BertModel"), config_(config) {
  check_config(config);
  embeddings = register_module("embeddings", nn::make<BertEmbeddings>(config));
  layers = nn::make<nn::ModuleList>();
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layers->push_back(nn::make<BertLayer>(config));
  encoder = register_module("encoder", nn::make<nn::ModuleDict>());
  encoder->insert("layer", layers);
  pooler_dense_ = linear(config.hidden_size, config.hidden_size);
  pooler = register_module("pooler", nn::make<nn::ModuleDict>());
  pooler->insert("dense", pooler_dense_);
}

BertModel::Output BertModel::forward(const Tensor& input_ids, const Tensor& token_type_ids,
                                     const Tensor& attention_mask) {
  DS_CHECK(input_ids.dim() == 2 && !is_floating(input_ids.dtype()), "BERT",
           "expects input_ids (B, T) of an integer dtype, got {} {}", shape_str(input_ids.sizes()),
           dtype_name(input_ids.dtype()));
  for (const Tensor* t : {&token_type_ids, &attention_mask})
    DS_CHECK(!t->defined() || t->sizes() == input_ids.sizes(), "BERT",
             "token_type_ids and attention_mask must have input_ids' shape {}, got {}", shape_str(input_ids.sizes()),
             shape_str(t->sizes()));
  // (B, T) 1 = token -> (B, 1, 1, T) true = may attend: every query sees the sequence's real tokens.
  const Tensor mask = attention_mask.defined()
                          ? (attention_mask.dtype() == kBool ? attention_mask : attention_mask != 0)
                                .view({input_ids.size(0), 1, 1, input_ids.size(1)})
                          : Tensor();
  Tensor x = embeddings->forward(input_ids, token_type_ids);
  for (size_t i = 0; i < layers->size(); ++i) x = layers->at<BertLayer>(i)->forward(x, mask);
  return {x, tanh((*pooler_dense_)(x.select(1, 0)))};
}

BertLMPredictionHead::BertLMPredictionHead(const BertConfig& c, std::shared_ptr<nn::Embedding> tied)
    : Module("BertLMPredictionHead"), tied_(std::move(tied)) {
  dense_ = linear(c.hidden_size, c.hidden_size);
  norm_ = layer_norm(c);
  transform = register_module("transform", nn::make<nn::ModuleDict>());
  transform->insert("dense", dense_);
  transform->insert("LayerNorm", norm_);
  bias = zeros({c.vocab_size});
  register_parameter("bias", bias);
}

Tensor BertLMPredictionHead::forward(const Tensor& x) {
  return linear((*norm_)(gelu((*dense_)(x))), tied_->weight, bias);
}

BertForPreTraining::BertForPreTraining(const BertConfig& config) : Module("BertForPreTraining") {
  bert = register_module("bert", nn::make<BertModel>(config));
  predictions_ = nn::make<BertLMPredictionHead>(config, bert->embeddings->word_embeddings);
  seq_relationship_ = linear(config.hidden_size, 2);
  cls = register_module("cls", nn::make<nn::ModuleDict>());
  cls->insert("predictions", predictions_);
  cls->insert("seq_relationship", seq_relationship_);
}

BertForPreTraining::Output BertForPreTraining::forward(const Tensor& input_ids, const Tensor& token_type_ids,
                                                       const Tensor& attention_mask) {
  const BertModel::Output o = bert->forward(input_ids, token_type_ids, attention_mask);
  return {(*predictions_)(o.sequence_output), (*seq_relationship_)(o.pooled_output)};
}

Tensor BertForPreTraining::loss(const Output& out, const Tensor& mlm_labels, const Tensor& nsp_labels) {
  Tensor l = cross_entropy(out.prediction_logits.flatten(0, 1), mlm_labels.flatten(), Reduction::Mean, -100);
  if (nsp_labels.defined()) l = l + cross_entropy(out.seq_relationship_logits, nsp_labels);
  return l;
}

std::shared_ptr<BertModel> bert(const BertConfig& config) { return nn::make<BertModel>(config); }
std::shared_ptr<BertModel> bert(std::string_view name) { return bert(BertConfig::named(name)); }
std::shared_ptr<BertForPreTraining> bert_for_pretraining(std::string_view name) {
  return nn::make<BertForPreTraining>(BertConfig::named(name));
}

}  // namespace ds::models
