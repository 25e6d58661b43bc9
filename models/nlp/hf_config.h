#pragma once
// Hugging Face's config.json for GPT-2 and BERT, read into and written from ds's GPTConfig and BertConfig. Reading is
// strict: a missing required key, a key of the wrong type, or a setting ds's model cannot express (another
// activation, n_inner != 4 n_embd, cross-attention, relative positions, ...) is a ds::Error
// "[hf_config] <path>: ..." naming the key. Keys that only matter to transformers (architectures, token ids,
// initializer_range, ...) are ignored.
#include <string>

#include <ds/models/nlp/bert.h>
#include <ds/models/nlp/gpt.h>

namespace ds::models {

// model_type "gpt2": vocab_size, n_positions, n_embd, n_layer, n_head; layer_norm_epsilon (1e-5),
// resid_pdrop (0.1) as the dropout; activation_function "gelu_new" (GPT-2's tanh GELU).
GPTConfig gpt_config_from_hf(const std::string& config_json_path);
// model_type "bert": vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
// max_position_embeddings, type_vocab_size; pad_token_id (0), hidden_dropout_prob and attention_probs_dropout_prob
// (0.1), layer_norm_eps (1e-12); hidden_act "gelu" (exact), position_embedding_type "absolute".
BertConfig bert_config_from_hf(const std::string& config_json_path);

// Writes what transformers' GPT2Config / BertConfig need to rebuild the same model, atomically. A GPT without
// biases has no GPT-2 equivalent: an error.
void save_hf_config(const GPTConfig& config, const std::string& config_json_path);
void save_hf_config(const BertConfig& config, const std::string& config_json_path);

}  // namespace ds::models
