// Parity with Hugging Face transformers: randomly initialised GPT2LMHeadModel and BertForPreTraining, saved by
// tests/models/hf_reference.py (safetensors, config.json, inputs and float32 logits), loaded into ds's GPT and
// BertForPreTraining, must give the same logits: relative error max|ds - hf| / max|hf| <= 1e-4 in f32. Then ds saves
// them back as Hugging Face files, which transformers' from_pretrained must load into the same logits. Skipped
// visibly where python3 cannot import torch and transformers.
#include <cstdio>
#include <cstdlib>

#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/io/safetensors.h>
#include <ds/models/nlp/hf_weights.h>

#include "../io/io_test_util.h"

using namespace ds;
using namespace ds::models;

namespace {

// True, after a visible SKIPPED warning, where python3 cannot import what the reference script needs.
bool skipped() {
  static const bool ok = std::system("python3 -c 'import torch, transformers, safetensors' >/dev/null 2>&1") == 0;
  if (!ok) WARN("SKIPPED: python3 cannot import torch, transformers and safetensors");
  return !ok;
}

std::string script() { return std::string(DS_SOURCE_DIR) + "/tests/models/hf_reference.py"; }

// Runs the reference script; its output (progress bars, errors) goes to a log that is shown when it fails.
bool run_script(const std::string& mode, const std::string& dir) {
  const std::string log = dir + "/" + mode + ".log";
  const int rc = std::system(("python3 " + script() + " " + mode + " " + dir + " >" + log + " 2>&1").c_str());
  if (rc != 0) WARN("hf_reference.py " << mode << " failed:\n" << io_test::read_bytes(log));
  return rc == 0;
}

// The reference files, made once per run of the tests (importing transformers takes seconds).
const std::string& reference_dir() {
  static const io_test::TempDir dir;
  static const std::string path = dir.path().string();
  static const bool made = run_script("make", path);
  REQUIRE(made);
  return path;
}

// max|a - b| / max|b|, in float64.
double relative_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  const Tensor x = a.to(kF64), y = b.to(kF64);
  return (x - y).abs().max().item<double>() / y.abs().max().item<double>();
}

void report(const char* what, double err) {
  std::printf("hf parity: %s max|ds-hf|/max|hf| = %.3g\n", what, err);
  INFO(what << ": relative error " << err);
  CHECK(err <= 1e-4);
}

std::shared_ptr<GPT> loaded_gpt(const std::string& dir) {
  auto model = std::make_shared<GPT>(gpt_config_from_hf(dir + "/gpt2/config.json"));
  model->eval();
  load_hf_gpt2(*model, dir + "/gpt2/model.safetensors");
  return model;
}

std::shared_ptr<BertForPreTraining> loaded_bert(const std::string& dir) {
  auto model = std::make_shared<BertForPreTraining>(bert_config_from_hf(dir + "/bert/config.json"));
  model->eval();
  load_hf_bert(*model, dir + "/bert/model.safetensors");
  return model;
}

}  // namespace

TEST_CASE("hf import: GPT2LMHeadModel's logits from ds's GPT", "[models][torch]") {
  if (skipped()) return;
  const std::string& dir = reference_dir();
  const GPTConfig c = gpt_config_from_hf(dir + "/gpt2/config.json");
  CHECK((c.vocab_size == 1000 && c.block_size == 64 && c.n_layer == 2 && c.n_head == 4 && c.n_embd == 64));
  CHECK(c.layer_norm_eps == 1e-5);
  const auto model = loaded_gpt(dir);
  const StateDict io = load_safetensors(dir + "/gpt2/io.safetensors");
  NoGradGuard no_grad;
  const Tensor logits = model->forward(io.tensor("input_ids"));
  CHECK(logits.sizes() == Shape{2, 24, 1000});
  report("GPT-2 logits", relative_error(logits, io.tensor("logits")));
}

TEST_CASE("hf import: BertForPreTraining's MLM and NSP logits from ds's BERT, with padding", "[models][torch]") {
  if (skipped()) return;
  const std::string& dir = reference_dir();
  const BertConfig c = bert_config_from_hf(dir + "/bert/config.json");
  CHECK((c.vocab_size == 1000 && c.hidden_size == 64 && c.num_hidden_layers == 2 && c.num_attention_heads == 4 &&
         c.intermediate_size == 256 && c.max_position_embeddings == 64 && c.type_vocab_size == 2));
  const auto model = loaded_bert(dir);
  const StateDict io = load_safetensors(dir + "/bert/io.safetensors");
  CHECK(io.tensor("attention_mask").sum().item<int64_t>() == 2 * 16 - 5);  // the padding is there
  NoGradGuard no_grad;
  const auto out = model->forward(io.tensor("input_ids"), io.tensor("token_type_ids"), io.tensor("attention_mask"));
  report("BERT MLM logits", relative_error(out.prediction_logits, io.tensor("prediction_logits")));
  report("BERT NSP logits", relative_error(out.seq_relationship_logits, io.tensor("seq_relationship_logits")));
}

TEST_CASE("hf export: ds's GPT and BERT saved as Hugging Face files load in transformers", "[models][torch]") {
  if (skipped()) return;
  const std::string& dir = reference_dir();
  const auto gpt = loaded_gpt(dir);
  const auto bert = loaded_bert(dir);
  std::filesystem::create_directories(dir + "/ds_gpt2");
  std::filesystem::create_directories(dir + "/ds_bert");
  save_hf_gpt2(*gpt, dir + "/ds_gpt2/model.safetensors");
  save_hf_config(gpt->config(), dir + "/ds_gpt2/config.json");
  save_hf_bert(*bert, dir + "/ds_bert/model.safetensors");
  save_hf_config(bert->bert->config(), dir + "/ds_bert/config.json");
  // The saved weights are the loaded ones, bit for bit: transformers must reproduce its own logits exactly.
  CHECK(run_script("check", dir));
}
