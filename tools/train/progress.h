#pragma once
// What ds-train reports while it runs: a progress bar on a terminal (epoch, step, loss, samples/s, ETA), plain log
// lines otherwise, and one CSV row per logged step and per evaluation.
#include <chrono>
#include <cstdint>
#include <fstream>

#include "config.h"
#include "task.h"

namespace ds::train {

class Progress {
 public:
  // unit: what add_samples counts and the rates are in ("samples", "tokens"). enabled false: prints and writes
  // nothing (the ranks other than 0). ranks: data-parallel ranks, each adding its own samples (rates are global).
  Progress(const TrainConfig& cfg, int64_t parameters, int64_t batches_per_epoch, const char* unit = "samples",
           bool enabled = true, int ranks = 1);
  void start_epoch(int64_t epoch, int64_t position);
  void add_samples(int64_t n) { samples_ += n * ranks_; }
  void step(int64_t step, double loss, double lr, int64_t position);
  void end_epoch();
  // end_of_epoch: the epoch's evaluation; otherwise one of training.eval_interval's, inside the epoch.
  void evaluation(int64_t epoch, int64_t step, const Evaluation& e, bool end_of_epoch);
  void finish(double seconds);

 private:
  double rate() const;  // units per second since the epoch started
  const TrainConfig& cfg_;
  const char* unit_;
  int64_t batches_, epoch_ = 0, position_ = 0, start_position_ = 0, samples_ = 0, steps_in_epoch_ = 0;
  double loss_avg_ = 0;
  bool tty_, enabled_;
  int ranks_;
  std::chrono::steady_clock::time_point epoch_start_, last_draw_, run_start_;
  std::ofstream csv_;
};

}  // namespace ds::train
