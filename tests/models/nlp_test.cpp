// GPT and BERT: parameter counts against Hugging Face's published models (and GPT-3's table), computed without
// allocating and equal to the built modules' counts; state-dict names; causality and padding invariance; one
// training step lowers the loss.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/models/nlp/bert.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/zoo.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::models;

namespace {
GPTConfig tiny_gpt() { return {.vocab_size = 97, .block_size = 16, .n_layer = 2, .n_head = 2, .n_embd = 16}; }
BertConfig tiny_bert() {
  return {.vocab_size = 101, .hidden_size = 16, .num_hidden_layers = 2, .num_attention_heads = 2,
          .intermediate_size = 32, .max_position_embeddings = 20, .hidden_dropout_prob = 0,
          .attention_probs_dropout_prob = 0};
}
Tensor tokens(int64_t B, int64_t T, int64_t vocab, uint64_t seed) {
  Generator g(seed);
  return randint(0, vocab, {B, T}, {.dtype = kI64}, &g);
}
bool has_key(nn::Module& m, const std::string& key) { return m.state_dict().find(key) != nullptr; }
}  // namespace

TEST_CASE("GPT parameter counts equal Hugging Face's and GPT-3's table", "[models][nlp]") {
  CHECK(GPTConfig::named("gpt2").parameter_count() == 124439808);
  CHECK(GPTConfig::named("gpt2-medium").parameter_count() == 354823168);
  CHECK(GPTConfig::named("gpt2-large").parameter_count() == 774030080);
  CHECK(GPTConfig::named("gpt2-xl").parameter_count() == 1557611200);
  // GPT-3's "175B" and "125M" are rounded: within 0.5% of them.
  CHECK(std::abs(GPTConfig::named("gpt3-175b").parameter_count() / 175e9 - 1) < 0.005);
  CHECK(std::abs(GPTConfig::named("gpt3-small").parameter_count() / 125e6 - 1) < 0.005);
  CHECK_THROWS_WITH(GPTConfig::named("gpt5"), Catch::Contains("unknown config 'gpt5'") && Catch::Contains("gpt2-xl"));
  const auto model = gpt("gpt2");
  CHECK(model->parameter_count() == 124439808);
}

TEST_CASE("BERT parameter counts equal Hugging Face's", "[models][nlp]") {
  CHECK(BertConfig::named("bert-base-uncased").parameter_count() == 109482240);
  CHECK(BertConfig::named("bert-large-uncased").parameter_count() == 335141888);
  CHECK(BertConfig::named("bert-base-uncased").pretraining_parameter_count() == 110106428);
  const auto model = bert_for_pretraining("bert-base-uncased");
  CHECK(model->parameter_count() == 110106428);
  CHECK(model->bert->parameter_count() == 109482240);
}

TEST_CASE("GPT and BERT state dicts use the documented names", "[models][nlp]") {
  const auto g = gpt(tiny_gpt());
  for (const char* k : {"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.1.attn.c_attn.weight", "h.1.attn.c_proj.bias",
                        "h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight", "ln_f.bias"})
    CHECK(has_key(*g, k));
  CHECK(g->state_dict().size() == static_cast<size_t>(4 + 2 * 12));
  CHECK(g->named_parameters()[2].second.sizes() == Shape{16});
  auto b = nn::make<BertForPreTraining>(tiny_bert());
  for (const char* k : {"bert.embeddings.word_embeddings.weight", "bert.embeddings.LayerNorm.weight",
                        "bert.encoder.layer.1.attention.self.query.weight", "bert.encoder.layer.0.attention.output.LayerNorm.bias",
                        "bert.encoder.layer.0.intermediate.dense.weight", "bert.encoder.layer.0.output.dense.weight",
                        "bert.pooler.dense.weight", "cls.predictions.bias", "cls.predictions.transform.dense.weight",
                        "cls.predictions.transform.LayerNorm.weight", "cls.seq_relationship.weight"})
    CHECK(has_key(*b, k));
  CHECK(!has_key(*b, "cls.predictions.decoder.weight"));  // tied to the word embedding
}

TEST_CASE("GPT is causal and a training step lowers its loss", "[models][nlp]") {
  manual_seed(1);
  const auto model = gpt(tiny_gpt());
  model->eval();
  const Tensor idx = tokens(2, 12, 97, 5);
  const Tensor logits = model->forward(idx);
  CHECK(logits.sizes() == Shape{2, 12, 97});
  Tensor changed = idx.clone();
  changed.select(1, 8).fill_(3);  // a later token cannot change earlier logits
  const Tensor l2 = model->forward(changed);
  CHECK(amax(abs(l2.narrow(1, 0, 8) - logits.narrow(1, 0, 8))).item<double>() == 0);
  CHECK(amax(abs(l2.narrow(1, 8, 4) - logits.narrow(1, 8, 4))).item<double>() > 0);
  CHECK_THROWS_WITH(model->forward(tokens(1, 17, 97, 1)), Catch::Contains("exceeds block_size 16"));

  model->train();
  optim::AdamW opt(model->parameters(), {.lr = 1e-2});
  const Tensor targets = tokens(2, 12, 97, 6);
  const double before = model->loss(idx, targets).item<double>();
  CHECK(std::abs(before - std::log(97.0)) < 0.3);  // N(0, 0.02) init: nearly uniform predictions
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    model->loss(idx, targets).backward();
    opt.step();
  }
  CHECK(model->loss(idx, targets).item<double>() < before - 0.1);
}

TEST_CASE("BERT ignores padded tokens and a pre-training step lowers its loss", "[models][nlp]") {
  manual_seed(2);
  const auto model = nn::make<BertForPreTraining>(tiny_bert());
  model->eval();
  Tensor ids = tokens(2, 10, 101, 7);
  Tensor mask = ones({2, 10}, {.dtype = kI64});
  mask.select(0, 1).narrow(0, 6, 4).fill_(0);
  const Tensor types = (arange(0, 10, 1, TensorOptions{.dtype = kI64}) >= 5).to(kI64).unsqueeze(0).expand({2, 10}).contiguous();
  const auto out = model->forward(ids, types, mask);
  CHECK(out.prediction_logits.sizes() == Shape{2, 10, 101});
  CHECK(out.seq_relationship_logits.sizes() == Shape{2, 2});
  Tensor other = ids.clone();
  other.select(0, 1).narrow(0, 6, 4).fill_(9);  // different padding content
  const auto out2 = model->forward(other, types, mask);
  CHECK(amax(abs(out2.prediction_logits.select(0, 1).narrow(0, 0, 6) - out.prediction_logits.select(0, 1).narrow(0, 0, 6)))
            .item<double>() < 1e-6);
  CHECK(amax(abs(out2.seq_relationship_logits - out.seq_relationship_logits)).item<double>() < 1e-6);

  model->train();
  Tensor labels = full({2, 10}, -100, {.dtype = kI64});
  labels.select(1, 2).fill_(4);
  labels.select(1, 7).fill_(50);
  const Tensor nsp = tensor({1, 0}).to(kI64);
  optim::AdamW opt(model->parameters(), {.lr = 1e-2});
  const double before = model->loss(model->forward(ids, types, mask), labels, nsp).item<double>();
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    model->loss(model->forward(ids, types, mask), labels, nsp).backward();
    opt.step();
  }
  CHECK(model->loss(model->forward(ids, types, mask), labels, nsp).item<double>() < before - 0.1);
}

TEST_CASE("the zoo lists the NLP configs with their counts", "[models][nlp]") {
  CHECK(zoo_entry("gpt2").parameter_count() == 124439808);
  CHECK(zoo_entry("gpt2").family == "nlp");
  CHECK(zoo_entry("bert-base-uncased").parameter_count() == 109482240);
  CHECK(zoo_entry("bert-large-uncased").parameter_count() == 335141888);
  CHECK(!zoo_entry("gpt3-175b").make);  // never built: 700 GB of float32
  CHECK(zoo_entry("gpt2").make);
  CHECK_THROWS_WITH(zoo_entry("gpt-7"), Catch::Contains("unknown model 'gpt-7'"));
}
