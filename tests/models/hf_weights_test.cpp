// Hugging Face weight mapping without python: a hand-made GPT-2 state dict converted to ds's names and layouts, ds
// models saved as Hugging Face files and loaded back bit for bit, old BERT names and tied copies, and the strict
// load's one error listing every missing, unexpected and mis-shaped key (the model left unchanged).
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/io/safetensors.h>
#include <ds/models/nlp/hf_weights.h>

#include "../io/io_test_util.h"

using namespace ds;
using namespace ds::models;
using io_test::same_state;
using io_test::TempDir;

namespace {

GPTConfig tiny_gpt(int64_t n_embd = 8) {
  return {.vocab_size = 11, .block_size = 6, .n_layer = 2, .n_head = 2, .n_embd = n_embd};
}
BertConfig tiny_bert() {
  return {.vocab_size = 13, .hidden_size = 8, .num_hidden_layers = 2, .num_attention_heads = 2,
          .intermediate_size = 16, .max_position_embeddings = 7};
}

std::vector<std::string> names(const StateDict& s) {
  std::vector<std::string> out;
  for (const auto& [name, value] : s) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("hf weights: GPT-2 names, Conv1D transposes, buffers and the tied head", "[models][hf_weights]") {
  StateDict hf;
  const Tensor wte = from_vector<float>({0, 1, 2, 3, 4, 5}, {3, 2});
  hf.set("transformer.wte.weight", wte);
  hf.set("transformer.h.0.attn.c_attn.weight", from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3}));  // (in 2, out 3)
  hf.set("transformer.h.0.attn.c_attn.bias", from_vector<float>({7, 8, 9}));
  hf.set("transformer.h.0.attn.bias", ones({1, 1, 4, 4}).to(kBool));  // the causal-mask buffer
  hf.set("transformer.h.0.attn.masked_bias", scalar_tensor(-1e4));
  hf.set("transformer.h.0.mlp.c_proj.weight", from_vector<float>({1, 2}, {2, 1}));
  hf.set("lm_head.weight", wte.clone());
  const StateDict ds = gpt_state_from_hf(hf, "hand");
  CHECK(names(ds) == std::vector<std::string>{"wte.weight", "h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias",
                                              "h.0.mlp.c_proj.weight"});
  const Tensor& w = ds.tensor("h.0.attn.c_attn.weight");
  CHECK(w.sizes() == Shape{3, 2});
  CHECK(w.tolist<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(ds.tensor("h.0.mlp.c_proj.weight").sizes() == Shape{1, 2});
  CHECK(ds.tensor("h.0.attn.c_attn.bias").tolist<float>() == std::vector<float>{7, 8, 9});

  // Back to Hugging Face's names and layouts: the inverse, minus the buffers and the tied head.
  const StateDict back = gpt_state_to_hf(ds);
  CHECK(names(back) == std::vector<std::string>{"transformer.wte.weight", "transformer.h.0.attn.c_attn.weight",
                                                "transformer.h.0.attn.c_attn.bias",
                                                "transformer.h.0.mlp.c_proj.weight"});
  CHECK(equal_bits(back.tensor("transformer.h.0.attn.c_attn.weight"), hf.tensor("transformer.h.0.attn.c_attn.weight")));

  // GPT2Model files (the hub's gpt2) have no prefix.
  StateDict bare;
  bare.set("wte.weight", wte);
  bare.set("h.0.attn.bias", ones({1}));
  CHECK(names(gpt_state_from_hf(bare, "bare")) == std::vector<std::string>{"wte.weight"});

  hf.set("lm_head.weight", wte + 1);
  CHECK_THROWS_WITH(gpt_state_from_hf(hf, "hand"),
                    "[hf_weights] hand: 'lm_head.weight' differs from 'transformer.wte.weight': ds's model ties them "
                    "(one tensor), so it cannot hold this model");
  hf.set("transformer.h.0.attn.c_attn.weight", ones({6}));
  hf.erase("lm_head.weight");
  CHECK_THROWS_WITH(gpt_state_from_hf(hf, "hand"), Catch::Contains("must be 2-d, got shape [6]"));
}

TEST_CASE("hf weights: a ds GPT saved as Hugging Face files loads back bit for bit", "[models][hf_weights]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  manual_seed(1);
  GPT a(tiny_gpt());
  save_hf_gpt2(a, path);
  SafetensorsMetadata meta;
  const StateDict file = load_safetensors(path, &meta);
  CHECK(meta.at("format") == "pt");
  CHECK(file.tensor("transformer.h.1.attn.c_attn.weight").sizes() == Shape{8, 24});  // Conv1D: (in, out)
  CHECK(file.tensor("transformer.h.1.mlp.c_proj.weight").sizes() == Shape{32, 8});
  CHECK(!file.contains("lm_head.weight"));
  manual_seed(2);
  GPT b(tiny_gpt());
  REQUIRE(!same_state(a.state_dict(), b.state_dict()));
  load_hf_gpt2(b, path);
  CHECK(same_state(a.state_dict(), b.state_dict()));
}

TEST_CASE("hf weights: a file that does not fit is one error listing every problem; the model is unchanged",
          "[models][hf_weights]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  GPT small(tiny_gpt(8));
  StateDict hf = gpt_state_to_hf(small.state_dict());
  hf.erase("transformer.ln_f.bias");
  hf.erase("transformer.h.1.ln_2.weight");
  hf.set("transformer.score.weight", ones({2, 8}));
  save_safetensors(path, hf, {{"format", "pt"}});
  GPT model(tiny_gpt(8));
  const StateDict before = model.state_dict();
  try {
    load_hf_gpt2(model, path);
    FAIL("loaded");
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.rfind("[hf_weights] " + path + ": does not fit the GPT", 0) == 0);
    CHECK(what.find("2 missing: h.1.ln_2.weight, ln_f.bias") != std::string::npos);
    CHECK(what.find("1 unexpected: score.weight") != std::string::npos);
  }
  CHECK(same_state(model.state_dict(), before));

  save_hf_gpt2(small, path);
  GPT wide(tiny_gpt(16));
  CHECK_THROWS_WITH(load_hf_gpt2(wide, path),
                    Catch::Contains("of another shape: wte.weight: [11, 8] in the file, [11, 16] in the model"));
  CHECK_THROWS_WITH(load_hf_gpt2(wide, dir.file("none.safetensors")), Catch::StartsWith("[safetensors] "));
}

TEST_CASE("hf weights: BERT pre-training files into BertModel and BertForPreTraining, old names, tied copies",
          "[models][hf_weights]") {
  TempDir dir;
  const std::string path = dir.file("bert.safetensors");
  manual_seed(3);
  BertForPreTraining a(tiny_bert());
  save_hf_bert(a, path);
  manual_seed(4);
  BertForPreTraining b(tiny_bert());
  load_hf_bert(b, path);
  CHECK(same_state(a.state_dict(), b.state_dict()));
  BertModel encoder(tiny_bert());
  load_hf_bert(encoder, path);  // the heads are left out
  CHECK(same_state(encoder.state_dict(), a.bert->state_dict()));

  // The original release's gamma/beta, the position_ids buffer, and the decoder's tied copies.
  StateDict old;
  for (const auto& [name, value] : load_safetensors(path)) {
    std::string n = name;
    if (n.find("LayerNorm.") != std::string::npos && n.ends_with(".weight")) n = n.substr(0, n.size() - 7) + ".gamma";
    if (n.find("LayerNorm.") != std::string::npos && n.ends_with(".bias")) n = n.substr(0, n.size() - 5) + ".beta";
    old.set(n, std::get<Tensor>(value));
  }
  REQUIRE(old.contains("bert.embeddings.LayerNorm.gamma"));
  old.set("bert.embeddings.position_ids", arange(7).unsqueeze(0));
  old.set("cls.predictions.decoder.weight", old.tensor("bert.embeddings.word_embeddings.weight").clone());
  old.set("cls.predictions.decoder.bias", old.tensor("cls.predictions.bias").clone());
  save_safetensors(path, old);
  BertForPreTraining c(tiny_bert());
  load_hf_bert(c, path);
  CHECK(same_state(a.state_dict(), c.state_dict()));

  old.set("cls.predictions.decoder.bias", old.tensor("cls.predictions.bias") + 1);
  save_safetensors(path, old);
  CHECK_THROWS_WITH(load_hf_bert(c, path), Catch::Contains("'cls.predictions.decoder.bias' differs from "
                                                           "'cls.predictions.bias'"));
  // A BertModel file has no heads for a BertForPreTraining.
  save_safetensors(path, a.bert->state_dict());
  CHECK_THROWS_WITH(load_hf_bert(c, path),
                    Catch::Contains("does not fit the BertForPreTraining") && Catch::Contains("7 missing: ") &&
                        Catch::Contains("cls.predictions.bias"));
  CHECK(same_state(a.state_dict(), c.state_dict()));
}
