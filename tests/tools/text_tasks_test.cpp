// ds-train's language-model tasks end to end, as processes, on the King James text with tiny models: a GPT's loss
// falls and the run prints the unigram comparison; an LM run interrupted and resumed by a fresh process ends bitwise
// where the straight run ends (dropout on, two loader workers); a BERT's MLM + NSP loss falls.
#include <catch2/catch.hpp>

#include "tool_test_util.h"

using namespace tool_test;

namespace {

constexpr const char* kTrainLoss = R"(step \d+ batch \d+/\d+ loss ([0-9.]+))";
constexpr const char* kEvalLoss = R"(test: accuracy [0-9.]+ loss ([0-9.]+))";

// A tiny model on the King James text: 512 tokens, context 32, 8 examples a batch, `windows` examples an epoch, a
// quick evaluation on the first 64 held-out examples.
std::string write_text_config(const fs::path& dir, const std::string& model, const std::string& training,
                              int64_t windows = 64) {
  const fs::path p = dir / (model + ".yaml");
  std::ofstream(p) << "model: {name: " << model << ", n_layer: 1, n_head: 2, n_embd: 32, block_size: 32, dropout: 0.1}\n"
                   << "data:\n"
                      "  dataset: kjv\n"
                      "  tokenizer: {dir: " << (dir / "tokenizer").string() << ", vocab_size: 512}\n"
                      "  windows_per_epoch: " << windows << "\n"
                      "  batch_size: 8\n"
                      "  eval_batch_size: 16\n"
                      "  max_eval_examples: 64\n"
                      "  num_workers: 2\n"
                      "optimizer: {name: adamw, lr: 0.01}\n"
                      "schedule: {name: warmup_cosine, warmup_steps: 2}\n"
                   << training;
  return p.string();
}

int train(const std::string& args, const fs::path& log) { return run(DS_TRAIN_BIN, args, log); }

}  // namespace

TEST_CASE("ds-train gpt: a tiny GPT's loss falls; the unigram entropy and the comparison are printed", "[tools][text]") {
  if (!have_bible()) return;
  Dir dir("gpt");
  const std::string cfg =
      write_text_config(dir.path, "gpt", "training: {epochs: 3, seed: 5, log_interval: 1, threads: 2}\n");
  REQUIRE(train(cfg + " --checkpoint-dir " + (dir.path / "ck").string(), dir.path / "a.log") == 0);
  const std::string log = read(dir.path / "a.log");
  INFO(log);
  CHECK(log.find("tokenizer: trained on the training text") != std::string::npos);
  CHECK(log.find("unigram_entropy=") != std::string::npos);
  const std::vector<double> losses = numbers(log, kTrainLoss), evals = numbers(log, kEvalLoss);
  REQUIRE(losses.size() == 24);
  REQUIRE(evals.size() == 3);
  CHECK(losses.front() > 6.0);  // about ln 512 = 6.24 at the start
  CHECK(losses.back() < losses.front() - 0.5);
  CHECK(evals.back() < evals.front());
  CHECK(log.find("eval_loss_below_unigram=") != std::string::npos);
  CHECK(log.find("perplexity") != std::string::npos);
  CHECK(log.substr(log.rfind('\n', log.size() - 2) + 1).rfind("test_accuracy=", 0) == 0);  // still the last line
  // A second run reuses the tokenizer and the cached tokens.
  REQUIRE(train(cfg + " --max-steps 3 --no-resume --checkpoint-dir " + (dir.path / "ck2").string(), dir.path / "b.log") == 0);
  const std::string again = read(dir.path / "b.log");
  CHECK(again.find("loaded from") != std::string::npos);
  CHECK(again.find("read from") != std::string::npos);
}

TEST_CASE("ds-train gpt: 6 steps + save + a fresh process resuming for 6 more equals 12 straight steps, bitwise",
          "[tools][text][resume]") {
  if (!have_bible()) return;
  Dir dir("gpt_resume");
  // eval_interval: evaluations inside an epoch must not disturb the run either.
  const std::string cfg = write_text_config(dir.path, "gpt",
                                            "training: {epochs: 2, seed: 7, log_interval: 3, eval_interval: 4, threads: 2}\n"
                                            "checkpoint: {interval: 0, keep_last: 2}\n");
  const fs::path straight = dir.path / "straight", split = dir.path / "split";
  REQUIRE(train(cfg + " --max-steps 12 --checkpoint-dir " + straight.string(), dir.path / "a.log") == 0);
  REQUIRE(train(cfg + " --max-steps 12 --stop-after 6 --checkpoint-dir " + split.string(), dir.path / "b.log") == 0);
  REQUIRE(train(cfg + " --max-steps 12 --checkpoint-dir " + split.string(), dir.path / "c.log") == 0);
  const std::string la = read(dir.path / "a.log"), lc = read(dir.path / "c.log");
  INFO(la << "\n---\n" << lc);
  CHECK(lc.find("resumed from") != std::string::npos);
  CHECK(la.find("epoch 1 step 4 test:") != std::string::npos);
  CHECK(check_same_checkpoint(straight / "ckpt-0000000012.dsckpt", split / "ckpt-0000000012.dsckpt") > 10);
  CHECK(last_line_from(la, "test_accuracy=") == last_line_from(lc, "test_accuracy="));
  CHECK(last_line_from(la, "eval_loss_below_unigram=") == last_line_from(lc, "eval_loss_below_unigram="));
}

TEST_CASE("ds-train gpt with training.compile (dropout included) ends on eager's checkpoint, bitwise", "[tools][text][compile]") {
  if (!have_bible()) return;
  Dir dir("gpt_compile");
  const std::string eager = write_text_config(dir.path, "gpt", "training: {epochs: 1, seed: 5, log_interval: 1, threads: 2}\n");
  REQUIRE(train(eager + " --max-steps 6 --checkpoint-dir " + (dir.path / "a").string(), dir.path / "a.log") == 0);
  const std::string compiled =
      write_text_config(dir.path, "gpt", "training: {epochs: 1, seed: 5, log_interval: 1, threads: 2, compile: true}\n");
  REQUIRE(train(compiled + " --max-steps 6 --checkpoint-dir " + (dir.path / "b").string(), dir.path / "b.log") == 0);
  INFO(read(dir.path / "b.log"));
  CHECK(check_same_checkpoint(dir.path / "a" / "ckpt-0000000006.dsckpt", dir.path / "b" / "ckpt-0000000006.dsckpt") > 5);
}

TEST_CASE("ds-train bert: a tiny BERT's MLM + NSP loss falls", "[tools][text]") {
  if (!have_bible()) return;
  Dir dir("bert");
  // One epoch of 192 pairs, evaluated every 8 steps: masks are static (drawn once per example), so epochs over the
  // same few pairs would teach the tiny model those masks rather than English.
  const std::string cfg = write_text_config(
      dir.path, "bert", "training: {epochs: 1, seed: 3, log_interval: 1, eval_interval: 8, threads: 2}\n", 192);
  REQUIRE(train(cfg + " --no-resume", dir.path / "a.log") == 0);
  const std::string log = read(dir.path / "a.log");
  INFO(log);
  const std::vector<double> losses = numbers(log, kTrainLoss), evals = numbers(log, kEvalLoss),
                            totals = numbers(log, R"(total_loss ([0-9.]+))");
  REQUIRE(losses.size() == 24);
  REQUIRE(evals.size() == 3);
  REQUIRE(totals.size() == 3);
  CHECK(losses.front() > 6.5);  // about ln 512 + ln 2 = 6.93 at the start
  CHECK(losses.back() < losses.front() - 0.5);
  CHECK(evals.back() < evals.front());
  CHECK(totals.back() < totals.front());
  CHECK(log.find("nsp_accuracy") != std::string::npos);
  CHECK(log.find("mlm_loss_below_unigram=") != std::string::npos);
  CHECK(log.find("test_accuracy=") != std::string::npos);
}

TEST_CASE("ds-train trains the zoo's GPT-2 and BERT by name, with their arguments", "[tools][text][zoo]") {
  if (!have_bible()) return;
  Dir dir("zoo_text");
  for (const std::string model : {"gpt2", "bert-base-uncased"}) {
    INFO(model);
    const fs::path p = dir.path / (model + ".yaml");
    const std::string args = model == "gpt2" ? "{n_layer: 1, n_head: 2, n_embd: 32}"
                                             : "{num_hidden_layers: 1, num_attention_heads: 2, hidden_size: 32, "
                                               "intermediate_size: 64}";
    std::ofstream(p) << "model: {name: " << model << ", block_size: 32, args: " << args << "}\n"
                     << "data:\n  dataset: kjv\n  tokenizer: {dir: " << (dir.path / "tokenizer").string()
                     << ", vocab_size: 512}\n  windows_per_epoch: 32\n  batch_size: 8\n  eval_batch_size: 16\n"
                        "  max_eval_examples: 16\n"
                        "optimizer: {name: adamw, lr: 0.01}\ntraining: {epochs: 1, seed: 5, log_interval: 1}\n";
    REQUIRE(train(p.string(), dir.path / (model + ".log")) == 0);
    const std::string log = read(dir.path / (model + ".log"));
    INFO(log);
    CHECK(log.find("ds-train: " + model) != std::string::npos);
    CHECK(log.find("test_accuracy=") != std::string::npos);
  }
  // The vocabulary is the tokenizer's: model.args may not set it; an unknown argument is named.
  const fs::path bad = dir.path / "bad.yaml";
  std::ofstream(bad) << "model: {name: gpt2, args: {vocab_size: 100}}\ndata: {dataset: kjv, tokenizer: {dir: "
                     << (dir.path / "tokenizer").string() << ", vocab_size: 512}}\n";
  CHECK(train(bad.string(), dir.path / "bad.log") != 0);
  CHECK(read(dir.path / "bad.log").find("the vocabulary comes from data.tokenizer") != std::string::npos);
  std::ofstream(bad) << "model: {name: gpt2, args: {n_layers: 1}}\ndata: {dataset: kjv, tokenizer: {dir: "
                     << (dir.path / "tokenizer").string() << ", vocab_size: 512}}\n";
  CHECK(train(bad.string(), dir.path / "bad2.log") != 0);
  CHECK(read(dir.path / "bad2.log").find("gpt2: argument 'n_layers' is unknown; gpt2 takes") != std::string::npos);
}
