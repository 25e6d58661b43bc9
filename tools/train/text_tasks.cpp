// The text tasks of ds-train: GPT language modelling and BERT masked-LM + next-sentence pre-training on the King
// James text (text_data.h).
#include <cmath>

#include <fmt/format.h>

#include <ds/core/error.h>
#include <ds/data/random_stream.h>
#include <ds/data/token_dataset.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/ops.h>

#include "builders.h"
#include "task.h"
#include "text_data.h"

namespace ds::train {
namespace {

int64_t context_of(const TrainConfig& cfg) {
  return cfg.data.context_length > 0 ? cfg.data.context_length : cfg.model.block_size;
}

// The line the GPT demo test checks: the held-out loss against the entropy of the training tokens' unigram
// distribution (and, for scale, what that distribution scores on the held-out tokens).
std::string unigram_comparison(const char* what, double loss, const TextCorpus& c) {
  return fmt::format("{}_below_unigram={} ({} {:.4f} vs unigram entropy {:.4f} nats; the unigram model scores {:.4f} "
                     "on the held-out tokens)",
                     what, loss < c.unigram_entropy ? 1 : 0, what, loss, c.unigram_entropy, c.heldout_unigram_loss);
}

// Language modelling: windows x = tokens[s, s+T), y = tokens[s+1, s+T+1) -> logits (B, T, V); loss = mean token
// cross-entropy. Training windows start at random positions of the training text (windows_per_epoch of them, fixed
// by the seed); evaluation tiles the held-out text with consecutive windows, so every held-out token is predicted
// once from the tokens before it in its window.
class LanguageModelTask : public Task {
 public:
  explicit LanguageModelTask(const TrainConfig& cfg) : corpus_(load_kjv(cfg.data, false)) {
    const int64_t t = context_of(cfg);
    if (static_cast<int64_t>(corpus_.heldout_tokens->size()) <= t)
      throw_error("ds-train", fmt::format("the held-out text has {} tokens, fewer than one window of {} + 1: raise "
                                          "data.heldout_fraction or lower data.context_length",
                                          corpus_.heldout_tokens->size(), t));
    train_set = std::make_shared<data::RandomWindowDataset>(corpus_.train_tokens, t, cfg.data.windows_per_epoch,
                                                            cfg.training.seed);
    test_set = std::make_shared<data::SequentialWindowDataset>(corpus_.heldout_tokens, t);
    gpt_ = models::gpt(gpt_config(cfg.model, corpus_.tokenizer->vocab_size()));
    model = gpt_;
  }

  Tensor loss(const data::Batch& b) override { return gpt_->loss(b.input, b.target); }

  Evaluation evaluate(const std::function<std::optional<data::Batch>()>& next) override {
    double loss_sum = 0;
    int64_t correct = 0, n = 0;
    while (auto b = next()) {
      const Tensor logits = gpt_->forward(b->input).flatten(0, 1);  // (B*T, V)
      const Tensor targets = b->target.flatten();
      loss_sum += cross_entropy(logits, targets, Reduction::Sum).item<double>();
      correct += sum(argmax(logits, 1) == targets).item<int64_t>();
      n += targets.numel();
    }
    const auto tokens = static_cast<double>(std::max<int64_t>(n, 1));
    const double mean = loss_sum / tokens;
    return {static_cast<double>(correct) / tokens, mean, {{"perplexity", std::exp(mean)}}};
  }

  const char* unit() const override { return "tokens"; }
  int64_t count(const data::Batch& b) const override { return b.target.numel(); }
  std::vector<std::string> summary(const Evaluation& last) const override {
    return {unigram_comparison("eval_loss", last.loss, corpus_)};
  }

 private:
  TextCorpus corpus_;
  std::shared_ptr<models::GPT> gpt_;
};

// `n` examples drawn at random from `inner`: example k is inner's example RandomStream::for_sample(seed, 1, k)
// .below(inner size), so it depends only on (seed, k), as RandomWindowDataset's windows do; the DataLoader reshuffles
// them every epoch.
class SampledDataset : public data::Dataset {
 public:
  SampledDataset(std::shared_ptr<const data::Dataset> inner, int64_t n, uint64_t seed)
      : inner_(std::move(inner)), n_(n), seed_(seed) {}
  int64_t size() const override { return n_; }
  data::Example get(int64_t index) const override { return inner_->get(pick(index)); }
  data::SampleSpec spec() const override { return inner_->spec(); }
  void read_into(int64_t index, const data::SampleSpec& spec, void* input, void* target) const override {
    inner_->read_into(pick(index), spec, input, target);
  }

 private:
  int64_t pick(int64_t index) const {
    data::check_index(index, n_, "ds-train");
    return data::RandomStream::for_sample(seed_, 1, index).below(inner_->size());
  }
  std::shared_ptr<const data::Dataset> inner_;
  int64_t n_;
  uint64_t seed_;
};

// BERT pre-training: sentence pairs [CLS] a [SEP] b [SEP] of consecutive verses of a chapter (or b a random verse
// of another chapter, half the time), 15% of the tokens chosen for the MLM loss (80% [MASK], 10% random, 10% kept);
// loss = mean MLM cross-entropy over the chosen tokens + NSP cross-entropy. Masks are drawn once per example
// (static masking, as the original BERT), so the held-out evaluation sees the same masks every time.
class MaskedLMTask : public Task {
 public:
  explicit MaskedLMTask(const TrainConfig& cfg) : corpus_(load_kjv(cfg.data, true)) {
    const data::BpeTokenizer& tok = *corpus_.tokenizer;
    auto id = [&](const char* token) -> int64_t {
      const auto i = tok.token_to_id(token);
      if (!i) throw_error("ds-train", fmt::format("{}: the tokenizer has no {} token", cfg.data.tokenizer.dir, token));
      return *i;
    };
    const data::BertSpecialTokens special{.cls = id("[CLS]"), .sep = id("[SEP]"), .mask = id("[MASK]"),
                                          .pad = id("[PAD]"), .vocab_size = tok.vocab_size()};
    data::BertPretrainingOptions o{.max_length = context_of(cfg), .seed = cfg.training.seed,
                                   .mlm = {.mlm_probability = cfg.data.mlm_probability}};
    train_set = std::make_shared<SampledDataset>(
        std::make_shared<data::BertPretrainingDataset>(corpus_.train_chapters, special, o), cfg.data.windows_per_epoch,
        cfg.training.seed);
    o.seed = 0;  // the held-out pairs and masks do not change with the training seed, so runs compare
    test_set = std::make_shared<data::BertPretrainingDataset>(corpus_.heldout_chapters, special, o);
    bert_ = nn::make<models::BertForPreTraining>(bert_config(cfg.model, tok.vocab_size(), special.pad));
    model = bert_;
  }

  Tensor loss(const data::Batch& b) override {
    const data::BertBatch x = data::split_bert_batch(b);
    return bert_->loss(bert_->forward(x.input_ids, x.token_type_ids, x.attention_mask), x.mlm_labels, x.nsp_labels);
  }

  Evaluation evaluate(const std::function<std::optional<data::Batch>()>& next) override {
    double mlm_sum = 0, nsp_sum = 0;
    int64_t masked = 0, mlm_correct = 0, pairs = 0, nsp_correct = 0;
    while (auto b = next()) {
      const data::BertBatch x = data::split_bert_batch(*b);
      const auto out = bert_->forward(x.input_ids, x.token_type_ids, x.attention_mask);
      const Tensor logits = out.prediction_logits.flatten(0, 1), labels = x.mlm_labels.flatten();  // (B*T, V), (B*T)
      mlm_sum += cross_entropy(logits, labels, Reduction::Sum, data::kIgnoreIndex).item<double>();
      masked += sum(labels != data::kIgnoreIndex).item<int64_t>();
      mlm_correct += sum(argmax(logits, 1) == labels).item<int64_t>();  // an ignored label (-100) never matches
      nsp_sum += cross_entropy(out.seq_relationship_logits, x.nsp_labels, Reduction::Sum).item<double>();
      nsp_correct += sum(argmax(out.seq_relationship_logits, 1) == x.nsp_labels).item<int64_t>();
      pairs += x.nsp_labels.size(0);
    }
    const auto m = static_cast<double>(std::max<int64_t>(masked, 1));
    const auto p = static_cast<double>(std::max<int64_t>(pairs, 1));
    return {static_cast<double>(mlm_correct) / m, mlm_sum / m,
            {{"nsp_loss", nsp_sum / p}, {"nsp_accuracy", static_cast<double>(nsp_correct) / p},
             {"total_loss", mlm_sum / m + nsp_sum / p}}};
  }

  std::vector<std::string> summary(const Evaluation& last) const override {
    return {unigram_comparison("mlm_loss", last.loss, corpus_)};
  }

 private:
  TextCorpus corpus_;
  std::shared_ptr<models::BertForPreTraining> bert_;
};

}  // namespace

std::unique_ptr<Task> make_language_model_task(const TrainConfig& cfg) {
  return std::make_unique<LanguageModelTask>(cfg);
}
std::unique_ptr<Task> make_masked_lm_task(const TrainConfig& cfg) { return std::make_unique<MaskedLMTask>(cfg); }

}  // namespace ds::train
