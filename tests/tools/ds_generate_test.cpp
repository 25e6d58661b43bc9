// ds-generate on the checkpoint of a tiny GPT that ds-train trains here: it prints the prompt and a continuation,
// the same seed gives the same text, other seeds other texts, and its mistakes are clear errors.
#include <catch2/catch.hpp>

#include "tool_test_util.h"

using namespace tool_test;

namespace {

int generate(const std::string& args, const fs::path& out) { return run(DS_GENERATE_BIN, args, out); }

// text with its first `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Only stdout: the text.
int generate_text(const std::string& args, const fs::path& out) {
  return run(DS_GENERATE_BIN, args, out, true);
}

}  // namespace

TEST_CASE("ds-generate: samples a continuation from ds-train's checkpoint; a seed repeats it", "[tools][text][generate]") {
  if (!have_bible()) return;
  Dir dir("generate");
  const fs::path cfg = dir.path / "gpt.yaml", ck = dir.path / "ck";
  std::ofstream(cfg) << "model: {name: gpt, n_layer: 1, n_head: 2, n_embd: 32, block_size: 32}\n"
                        "data: {dataset: kjv, tokenizer: {dir: " << (dir.path / "tok").string() << ", vocab_size: 300},\n"
                        "       windows_per_epoch: 32, batch_size: 8, eval_batch_size: 16, max_eval_examples: 16}\n"
                        "optimizer: {name: adamw, lr: 0.01}\n"
                        "training: {epochs: 2, seed: 1, threads: 2}\n"
                        "checkpoint: {dir: " << ck.string() << "}\n";
  REQUIRE(run(DS_TRAIN_BIN, cfg.string(), dir.path / "train.log") == 0);

  const std::string base = cfg.string() + " --prompt 'And God said' --max-new-tokens 24 --top-k 50 --threads 2";
  REQUIRE(generate(base + " --seed 1", dir.path / "log1") == 0);
  const std::string log = read(dir.path / "log1");
  INFO(log);
  CHECK(log.find("ckpt-0000000008.dsckpt (step 8)") != std::string::npos);
  REQUIRE(generate_text(base + " --seed 1", dir.path / "a") == 0);
  REQUIRE(generate_text(base + " --seed 1", dir.path / "b") == 0);
  const std::string a = read(dir.path / "a");
  CHECK(a.rfind("And God said", 0) == 0);
  CHECK(a.size() > std::string("And God said").size() + 24);  // 24 tokens of at least one byte, and the newline
  CHECK(a == read(dir.path / "b"));
  int different = 0;
  for (const char* seed : {"2", "3", "4"}) {
    REQUIRE(generate_text(base + " --seed " + seed, dir.path / "c") == 0);
    different += read(dir.path / "c") != a;
  }
  CHECK(different >= 2);
  // Greedy decoding ignores the seed.
  REQUIRE(generate_text(base + " --temperature 0 --seed 5", dir.path / "g1") == 0);
  REQUIRE(generate_text(base + " --temperature 0 --seed 6", dir.path / "g2") == 0);
  CHECK(read(dir.path / "g1") == read(dir.path / "g2"));

  {  // mistakes are clear errors
    CHECK(generate(cfg.string() + " --max-new-tokens 3", dir.path / "e") == 2);
    CHECK(read(dir.path / "e").find("--prompt needs some text") != std::string::npos);
    CHECK(generate(cfg.string() + " --prompt x --top-p 0", dir.path / "e") == 2);
    CHECK(read(dir.path / "e").find("--top-p must be in (0, 1]") != std::string::npos);
    CHECK(generate(cfg.string() + " --prompt x --top-k many", dir.path / "e") == 2);
    CHECK(read(dir.path / "e").find("--top-k needs an integer, got 'many'") != std::string::npos);
    CHECK(generate(cfg.string() + " --prompt x --checkpoint-dir " + (dir.path / "none").string(), dir.path / "e") == 1);
    CHECK(read(dir.path / "e").find("no checkpoint folder") != std::string::npos);
    fs::create_directories(dir.path / "empty");
    CHECK(generate(cfg.string() + " --prompt x --checkpoint-dir " + (dir.path / "empty").string(), dir.path / "e") == 1);
    CHECK(read(dir.path / "e").find("no valid checkpoint in") != std::string::npos);
    // Another model size than the checkpoint's.
    const fs::path wide = dir.path / "wide.yaml";
    std::ofstream(wide) << replaced(read(cfg), "n_embd: 32", "n_embd: 64");
    CHECK(generate(wide.string() + " --prompt x", dir.path / "e") == 1);
    CHECK(read(dir.path / "e").find("does not hold the GPT that") != std::string::npos);
    // A BERT config, and a config whose tokenizer folder is empty.
    const fs::path bert = dir.path / "bert.yaml";
    std::ofstream(bert) << replaced(read(cfg), "name: gpt", "name: bert");
    CHECK(generate(bert.string() + " --prompt x", dir.path / "e") == 1);
    CHECK(read(dir.path / "e").find("model.name is 'bert': ds-generate samples from gpt models only") != std::string::npos);
    const fs::path notok = dir.path / "notok.yaml";
    std::ofstream(notok) << replaced(read(cfg), (dir.path / "tok").string(), (dir.path / "empty").string());
    CHECK(generate(notok.string() + " --prompt x", dir.path / "e") == 1);
    CHECK(read(dir.path / "e").find("no tokenizer there (vocab.json is missing)") != std::string::npos);
  }
}
