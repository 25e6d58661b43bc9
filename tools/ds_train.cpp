// ds-train: trains a model as a YAML file describes (tools/train/config.h lists every key).
//   ds-train CONFIG [--epochs N] [--max-steps N] [--checkpoint-dir DIR] [--no-resume] [--csv FILE] [--threads N]
//            [--stop-after N]   (save a checkpoint and stop after N steps, as an interrupted run would)
// The last line is "test_accuracy=0.xxxx" when an evaluation ran. Exit codes: 0 done, 1 error, 2 bad usage or
// config, 3 stopped by the guard rails (too many non-finite steps in a row).
#include <cstdio>
#include <cstring>
#include <string>

#include <ds/core/error.h>
#include <fmt/format.h>

#include "train/config.h"
#include "train/trainer.h"

namespace {
int usage(const char* why) {
  std::fprintf(stderr, "ds-train: %s\nusage: ds-train CONFIG.yaml [--epochs N] [--max-steps N] [--checkpoint-dir DIR] "
                       "[--no-resume] [--csv FILE] [--threads N] [--stop-after N]\n", why);
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no config file given");
  ds::train::TrainConfig cfg;
  try {
    cfg = ds::train::load_config(argv[1]);
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw ds::Error("ds-train", a + " needs a value");
        return argv[++i];
      };
      auto integer = [&]() {
        const std::string v = value();
        try {
          return std::stoll(v);
        } catch (...) {
          throw ds::Error("ds-train", a + " needs an integer, got '" + v + "'");
        }
      };
      if (a == "--epochs") cfg.training.epochs = integer();
      else if (a == "--max-steps") cfg.training.max_steps = integer();
      else if (a == "--checkpoint-dir") cfg.checkpoint.dir = value();
      else if (a == "--no-resume") cfg.checkpoint.resume = false;
      else if (a == "--csv") cfg.metrics_csv = value();
      else if (a == "--threads") cfg.training.threads = static_cast<int>(integer());
      else if (a == "--stop-after") cfg.training.stop_after = integer();
      else return usage(("unknown option " + a).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  try {
    const ds::train::RunResult r = ds::train::run_training(cfg);
    if (r.stopped_by_guard) {
      fmt::print(stderr, "ds-train: stopped after {} skipped steps; last good checkpoint: {}\n", r.skipped,
                 r.last_checkpoint.empty() ? "none" : r.last_checkpoint);
      return 3;
    }
    if (r.test_accuracy >= 0) fmt::print("test_accuracy={:.4f}\n", r.test_accuracy);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ds-train: %s\n", e.what());
    return 1;
  }
}
