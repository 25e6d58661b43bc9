#pragma once
// Hugging Face weights for ds's GPT and BERT: transformers' config.json and model.safetensors (as save_pretrained
// writes them) read into, and written from, models::GPT, models::BertModel and models::BertForPreTraining.
//
// GPT-2 (files of GPT2LMHeadModel, or of GPT2Model as on the hub): the "transformer." prefix is dropped where there
// is one; the Conv1D weights attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, stored (in, out), are transposed to
// ds Linear's (out, in); the causal-mask buffers attn.bias / attn.masked_bias are skipped; lm_head.weight is tied to
// wte: skipped, but where present it must equal transformer.wte.weight.
// BERT: ds uses transformers' names. Old checkpoints' LayerNorm.gamma / .beta read as .weight / .bias; the
// embeddings.position_ids buffer is skipped; cls.predictions.decoder.weight / .bias are tied to the word embedding
// and to cls.predictions.bias: skipped, but where present they must equal them. A BertModel loads from a BertModel
// file or from the "bert." part of a pre-training file (whose cls.* heads it then leaves out, as transformers does).
//
// Loading is strict: every missing or unexpected key and every shape mismatch is listed in one ds::Error
// "[hf_weights] <path>: ...", and the model is left unchanged. Values are converted to the model's dtype.
// The parity test (tests/models/hf_import_test.cpp) compares logits with transformers' on random models.
#include <string>

#include <ds/models/nlp/bert.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/nlp/hf_config.h>  // config.json <-> GPTConfig / BertConfig
#include <ds/ops/state_dict.h>

namespace ds::models {

// ---- state dicts: names and layouts only (no model involved). `where` names the source in errors.
StateDict gpt_state_from_hf(const StateDict& hf, const std::string& where);
StateDict gpt_state_to_hf(const StateDict& ds);  // "transformer." names, Conv1D layouts, no lm_head (tied)
// pretraining: the result has BertForPreTraining's names ("bert.", "cls."), else BertModel's.
StateDict bert_state_from_hf(const StateDict& hf, bool pretraining, const std::string& where);

// ---- safetensors files
void load_hf_gpt2(GPT& model, const std::string& safetensors_path);
void load_hf_bert(BertModel& model, const std::string& safetensors_path);
void load_hf_bert(BertForPreTraining& model, const std::string& safetensors_path);
// As GPT2LMHeadModel / BertForPreTraining's save_pretrained would: transformers' from_pretrained reads them (with
// the config of save_hf_config beside them as config.json).
void save_hf_gpt2(const GPT& model, const std::string& safetensors_path);
void save_hf_bert(const BertForPreTraining& model, const std::string& safetensors_path);

}  // namespace ds::models
