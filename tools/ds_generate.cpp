// ds-generate: samples text from a GPT that ds-train trained.
//   ds-generate CONFIG --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
//               [--checkpoint-dir DIR | --checkpoint FILE] [--threads N]
// Builds the config's GPT (model.name gpt) for the tokenizer in data.tokenizer.dir, loads the newest valid
// checkpoint in checkpoint.dir (or the one given), encodes the prompt and prints it, then each sampled token's text
// as it is drawn (temperature 0: greedy; top-k, top-p filtering; a seed gives the same text every time). What was
// loaded goes to stderr, so stdout holds only the text. Exit codes: 0 done, 1 error, 2 bad usage or config.
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include <ds/core/error.h>
#include <ds/io/checkpoint.h>
#include <ds/io/checkpoint_manager.h>
#include <ds/models/nlp/generate.h>
#include <ds/ops/threads.h>

#include "train/builders.h"
#include "train/cli.h"
#include "train/config.h"
#include "train/text_data.h"

namespace {

constexpr const char* kTool = "ds-generate";

struct Options {
  std::string prompt, checkpoint;
  bool has_prompt = false;
  int64_t max_new_tokens = 200, seed = 0;
  ds::models::SamplingOptions sampling{.temperature = 0.8, .top_k = 0, .top_p = 0.95};
  int threads = 0;
};

int usage(const std::string& why) {
  std::fprintf(stderr,
               "ds-generate: %s\nusage: ds-generate CONFIG.yaml --prompt TEXT [--max-new-tokens N (200)] "
               "[--temperature T (0.8)] [--top-k K (0: all)] [--top-p P (0.95)] [--seed S (0)] "
               "[--checkpoint-dir DIR | --checkpoint FILE] [--threads N]\n",
               why.c_str());
  return 2;
}

// The model state of the newest valid checkpoint of cfg (or of o.checkpoint), and its path.
std::pair<ds::StateDict, std::string> load_model_state(const ds::train::TrainConfig& cfg, const Options& o) {
  if (!o.checkpoint.empty()) return {ds::load_checkpoint(o.checkpoint), o.checkpoint};
  const std::string& dir = cfg.checkpoint.dir;
  if (dir.empty())
    ds::throw_error(kTool, cfg.path + " has no checkpoint.dir: give --checkpoint-dir DIR or --checkpoint FILE");
  if (!std::filesystem::is_directory(dir))
    ds::throw_error(kTool, fmt::format("no checkpoint folder {}: train first (ds-train {})", dir, cfg.path));
  auto loaded = ds::CheckpointManager(dir, 0).load_latest();
  if (!loaded)
    ds::throw_error(kTool, fmt::format("no valid checkpoint in {}: train first (ds-train {})", dir, cfg.path));
  return {std::move(loaded->state), loaded->path};
}

int generate(const ds::train::TrainConfig& cfg, const Options& o) {
  const std::string& n = cfg.model.name;
  if (n != "gpt" && n.rfind("gpt2", 0) != 0 && n.rfind("gpt3", 0) != 0)
    ds::throw_error(kTool, fmt::format("{}: model.name is '{}': ds-generate samples from gpt models only", cfg.path,
                                       cfg.model.name));
  if (o.threads > 0) ds::set_num_threads(o.threads);
  else if (cfg.training.threads > 0) ds::set_num_threads(cfg.training.threads);
  const ds::data::BpeTokenizer tok = ds::train::load_saved_tokenizer(cfg.data.tokenizer, kTool);
  const auto model = ds::models::gpt(ds::train::gpt_config(cfg.model, tok.vocab_size()));
  const auto [state, path] = load_model_state(cfg, o);
  if (!state.contains("step"))
    ds::throw_error(kTool, path + " is not a ds-train checkpoint (it has no step)");
  try {
    model->load_state_dict(state.sub("model"));
  } catch (const ds::Error& e) {
    ds::throw_error(kTool, fmt::format("{} does not hold the GPT that {} describes (n_layer, n_head, n_embd, "
                                       "block_size and the tokenizer's {} tokens): {}",
                                       path, cfg.path, tok.vocab_size(), e.what()));
  }
  const std::vector<int32_t> ids = tok.encode(o.prompt);
  fmt::print(stderr, "ds-generate: {} (step {}), {} parameters; prompt of {} tokens{}\n", path, state.integer("step"),
             model->parameter_count(), ids.size(),
             static_cast<int64_t>(ids.size()) > cfg.model.block_size
                 ? fmt::format(" (the model sees its last {})", cfg.model.block_size)
                 : "");
  std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
  std::fflush(stdout);
  ds::Generator gen(static_cast<uint64_t>(o.seed));
  // Byte-level tokens are whole bytes, so printing each token's bytes as it comes gives the text exactly.
  ds::models::generate(*model, std::vector<int64_t>(ids.begin(), ids.end()), o.max_new_tokens, o.sampling, gen,
                       [&](int64_t id) {
                         const int32_t one = static_cast<int32_t>(id);
                         const std::string text = tok.decode(std::span<const int32_t>(&one, 1));
                         std::fwrite(text.data(), 1, text.size(), stdout);
                         std::fflush(stdout);
                       });
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no config file given");
  ds::train::TrainConfig cfg;
  Options o;
  try {
    cfg = ds::train::load_config(argv[1]);
    for (ds::train::OptionReader r(argc, argv, 2, kTool); r.next();) {
      const std::string a = r.name();
      if (a == "--prompt") {
        o.prompt = r.value();
        o.has_prompt = true;
      } else if (a == "--max-new-tokens") o.max_new_tokens = r.integer();
      else if (a == "--temperature") o.sampling.temperature = r.number();
      else if (a == "--top-k") o.sampling.top_k = r.integer();
      else if (a == "--top-p") o.sampling.top_p = r.number();
      else if (a == "--seed") o.seed = r.integer();
      else if (a == "--checkpoint-dir") cfg.checkpoint.dir = r.value();
      else if (a == "--checkpoint") o.checkpoint = r.value();
      else if (a == "--threads") o.threads = static_cast<int>(r.integer());
      else return usage("unknown option " + a);
    }
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  if (!o.has_prompt || o.prompt.empty()) return usage("--prompt needs some text to continue");
  if (o.max_new_tokens < 0) return usage("--max-new-tokens must be >= 0");
  if (o.sampling.temperature < 0) return usage("--temperature must be >= 0 (0: greedy)");
  if (o.sampling.top_k < 0) return usage("--top-k must be >= 0 (0: all tokens)");
  if (!(o.sampling.top_p > 0 && o.sampling.top_p <= 1)) return usage("--top-p must be in (0, 1]");
  if (o.seed < 0) return usage("--seed must be >= 0");
  try {
    return generate(cfg, o);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "ds-generate: %s\n", e.what());
    return 1;
  }
}
