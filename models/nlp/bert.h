#pragma once
// BERT (Devlin et al. 2019) as Hugging Face's transformers builds it: post-LN encoder layers, word + position +
// token-type embeddings, a tanh pooler over [CLS], and the pre-training heads (masked LM tied to the word
// embedding, next-sentence prediction). Module and state-dict names are Hugging Face's (embeddings.LayerNorm,
// encoder.layer.{i}.attention.self.query, ...), so its safetensors files load by name (models/nlp/hf_weights.h).
//   input_ids, token_type_ids: (B, T) int64; attention_mask: (B, T), 1 = token, 0 = padding (int or bool)
// bert-base-uncased: 109,482,240 parameters in BertModel (pooler included); BertForPreTraining adds 624,188.
#include <string>
#include <string_view>
#include <vector>

#include <ds/nn/activation.h>
#include <ds/nn/container.h>
#include <ds/nn/linear.h>
#include <ds/nn/normalization.h>

namespace ds::models {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12, intermediate_size = 3072;
  int64_t max_position_embeddings = 512, type_vocab_size = 2;
  int64_t pad_token_id = 0;  // its embedding row starts at zero and gets no gradient, as in Hugging Face
  double hidden_dropout_prob = 0.1, attention_probs_dropout_prob = 0.1;
  double layer_norm_eps = 1e-12;

  // BertModel's parameter count (pooler included), without allocating.
  int64_t parameter_count() const;
  // BertForPreTraining's: the model plus the MLM transform, its output bias and the NSP classifier.
  int64_t pretraining_parameter_count() const;
  // bert-base-uncased, bert-large-uncased, bert-base-cased, bert-large-cased (Hugging Face's names); an unknown name
  // is an error that lists the known ones.
  static BertConfig named(std::string_view name);
  static std::vector<std::string> names();
};

// Token, position and token-type embeddings, summed, then LayerNorm and dropout: (B, T) -> (B, T, H).
class BertEmbeddings : public nn::Module {
 public:
  explicit BertEmbeddings(const BertConfig& c);
  Tensor forward(const Tensor& input_ids) override;
  Tensor forward(const Tensor& input_ids, const Tensor& token_type_ids);
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> LayerNorm;

 private:
  std::shared_ptr<nn::Dropout> dropout_;
};

// Multi-head self-attention (query, key, value projections; Hugging Face's BertSelfAttention).
// x: (B, T, H), mask: bool broadcasting to (B, heads, T, T), true = may attend, or undefined -> (B, T, H).
class BertSelfAttention : public nn::Module {
 public:
  explicit BertSelfAttention(const BertConfig& c);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  Tensor forward(const Tensor& x, const Tensor& mask);
  std::shared_ptr<nn::Linear> query, key, value;

 private:
  int64_t heads_;
  double dropout_;
};

// dense, dropout, then LayerNorm(. + residual): the post-LN sublayer output (Hugging Face's BertSelfOutput and
// BertOutput). x: (B, T, in_features), residual: (B, T, H) -> (B, T, H).
class BertResidualOutput : public nn::Module {
 public:
  BertResidualOutput(const BertConfig& c, int64_t in_features, std::string type_name);
  Tensor forward(const Tensor& x) override;  // an error: the sublayer needs its residual
  Tensor forward(const Tensor& x, const Tensor& residual);
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;

 private:
  std::shared_ptr<nn::Dropout> dropout_;
};

// "self" (the attention) and "output" (its residual sublayer).
class BertAttention : public nn::Module {
 public:
  explicit BertAttention(const BertConfig& c);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  Tensor forward(const Tensor& x, const Tensor& mask);
  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertResidualOutput> output;
};

// One post-LN encoder layer: attention, then intermediate.dense + GELU, then output. x: (B, T, H) -> (B, T, H).
class BertLayer : public nn::Module {
 public:
  explicit BertLayer(const BertConfig& c);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor()); }
  Tensor forward(const Tensor& x, const Tensor& mask);
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<nn::ModuleDict> intermediate;  // "dense": H -> intermediate_size
  std::shared_ptr<BertResidualOutput> output;

 private:
  std::shared_ptr<nn::Linear> intermediate_dense_;
};

class BertModel : public nn::Module {
 public:
  explicit BertModel(const BertConfig& config);
  struct Output {
    Tensor sequence_output;  // (B, T, H)
    Tensor pooled_output;    // (B, H): tanh(pooler.dense(sequence_output[:, 0]))
  };
  // token_type_ids default to zeros, attention_mask to all tokens.
  Output forward(const Tensor& input_ids, const Tensor& token_type_ids, const Tensor& attention_mask);
  Tensor forward(const Tensor& input_ids) override { return forward(input_ids, Tensor(), Tensor()).sequence_output; }
  const BertConfig& config() const { return config_; }

  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<nn::ModuleDict> encoder;  // "layer": the ModuleList of BertLayers
  std::shared_ptr<nn::ModuleList> layers;
  std::shared_ptr<nn::ModuleDict> pooler;   // "dense"

 private:
  BertConfig config_;
  std::shared_ptr<nn::Linear> pooler_dense_;
};

// cls.predictions.transform.{dense, LayerNorm} and cls.predictions.bias: the MLM head, its decoder tied to the
// word embedding. x: (B, T, H) -> (B, T, vocab_size).
class BertLMPredictionHead : public nn::Module {
 public:
  BertLMPredictionHead(const BertConfig& c, std::shared_ptr<nn::Embedding> tied);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::ModuleDict> transform;
  Tensor bias;

 private:
  std::shared_ptr<nn::Linear> dense_;
  std::shared_ptr<nn::LayerNorm> norm_;
  std::shared_ptr<nn::Embedding> tied_;
};

class BertForPreTraining : public nn::Module {
 public:
  explicit BertForPreTraining(const BertConfig& config);
  struct Output {
    Tensor prediction_logits;        // (B, T, vocab_size)
    Tensor seq_relationship_logits;  // (B, 2)
  };
  Output forward(const Tensor& input_ids, const Tensor& token_type_ids, const Tensor& attention_mask);
  Tensor forward(const Tensor& input_ids) override { return forward(input_ids, Tensor(), Tensor()).prediction_logits; }
  // MLM cross-entropy over labels != -100 (B, T), plus NSP cross-entropy when nsp_labels (B) is defined.
  Tensor loss(const Output& out, const Tensor& mlm_labels, const Tensor& nsp_labels = Tensor());

  std::shared_ptr<BertModel> bert;
  std::shared_ptr<nn::ModuleDict> cls;  // "predictions" (BertLMPredictionHead), "seq_relationship" (H -> 2)

 private:
  std::shared_ptr<BertLMPredictionHead> predictions_;
  std::shared_ptr<nn::Linear> seq_relationship_;
};

std::shared_ptr<BertModel> bert(const BertConfig& config);
std::shared_ptr<BertModel> bert(std::string_view name);
std::shared_ptr<BertForPreTraining> bert_for_pretraining(std::string_view name);

}  // namespace ds::models
