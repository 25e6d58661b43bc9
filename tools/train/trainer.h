#pragma once
// ds-train's loop: epochs of forward, backward and optimizer steps with gradient accumulation and clipping, guard
// rails against non-finite losses and gradients, evaluation after each epoch, metrics to a CSV file, progress on a
// terminal, and checkpoints that resume the run exactly (model, optimizer, schedule, data position, RNG, step).
#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace ds::train {

struct RunResult {
  int64_t steps = 0;           // optimizer steps taken in total (resumed ones included)
  int64_t skipped = 0;         // steps skipped because the loss or a gradient was not finite
  double test_accuracy = -1;   // of the last evaluation; -1 when none ran
  double last_loss = 0;
  bool stopped_by_guard = false;  // max_consecutive_skips was reached
  std::string last_checkpoint;    // path of the newest checkpoint written or resumed from
  std::vector<std::string> summary;  // the task's closing lines after an evaluation (e.g. the LM's unigram comparison)
  bool is_main = true;               // rank 0 (or a world of one): the rank that reports
};

// Runs the training the config describes. Progress goes to stdout (a bar on a terminal, log lines otherwise), from
// rank 0 only when several ranks run it (distributed block, launched by ./ds launch, mpirun or srun).
RunResult run_training(const TrainConfig& config);

// Checks the schedule against the run's length: warmup_steps above the optimizer steps the run takes is an error
// naming schedule.warmup_steps (the lr would never finish warming up).
void check_schedule(const TrainConfig& config, int64_t total_steps);

}  // namespace ds::train
