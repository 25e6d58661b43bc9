// ds-train: trains a model as a YAML file describes (tools/train/config.h lists every key).
//   ds-train CONFIG [--epochs N] [--max-steps N] [--checkpoint-dir DIR] [--no-resume] [--csv FILE] [--threads N]
//            [--stop-after N]   (save a checkpoint and stop after N steps, as an interrupted run would)
// The last line is "test_accuracy=0.xxxx" when an evaluation ran (gpt: held-out next-token accuracy, bert: masked-token
// accuracy); before it, gpt prints "eval_loss_below_unigram=0|1 (...)" and bert "mlm_loss_below_unigram=0|1 (...)".
// Exit codes: 0 done, 1 error, 2 bad usage or config, 3 stopped by the guard rails (too many non-finite steps in a
// row).
#include <cstdio>
#include <cstring>
#include <string>

#include <ds/core/error.h>
#include <ds/distributed/init.h>
#include <fmt/format.h>

#include "train/cli.h"
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
    for (ds::train::OptionReader o(argc, argv, 2, "ds-train"); o.next();) {
      const std::string a = o.name();
      if (a == "--epochs") cfg.training.epochs = o.integer();
      else if (a == "--max-steps") cfg.training.max_steps = o.integer();
      else if (a == "--checkpoint-dir") cfg.checkpoint.dir = o.value();
      else if (a == "--no-resume") cfg.checkpoint.resume = false;
      else if (a == "--csv") cfg.metrics_csv = o.value();
      else if (a == "--threads") cfg.training.threads = static_cast<int>(o.integer());
      else if (a == "--stop-after") cfg.training.stop_after = o.integer();
      else return usage(("unknown option " + a).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  try {
    const ds::train::RunResult r = ds::train::run_training(cfg);
    if (r.stopped_by_guard) {
      if (!r.is_main) return 3;
      fmt::print(stderr, "ds-train: stopped after {} skipped steps; last good checkpoint: {}\n", r.skipped,
                 r.last_checkpoint.empty() ? "none" : r.last_checkpoint);
      return 3;
    }
    if (!r.is_main) return 0;
    for (const std::string& line : r.summary) fmt::print("{}\n", line);
    if (r.test_accuracy >= 0) fmt::print("test_accuracy={:.4f}\n", r.test_accuracy);
    return 0;
  } catch (const std::exception& e) {
    // Every rank must end, not wait in a collective for this one.
    if (ds::dist::get_world_size() > 1) ds::dist::abort_job(std::string("ds-train: ") + e.what(), 1);
    std::fprintf(stderr, "ds-train: %s\n", e.what());
    return 1;
  }
}
