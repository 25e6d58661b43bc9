#pragma once
// What ds-train reports while it runs: a progress bar on a terminal (epoch, step, loss, samples/s, ETA), plain log
// lines otherwise, and one CSV row per logged step and per evaluation.
#include <chrono>
#include <cstdint>
#include <fstream>

#include "config.h"

namespace ds::train {

class Progress {
 public:
  Progress(const TrainConfig& cfg, int64_t parameters, int64_t batches_per_epoch);
  void start_epoch(int64_t epoch, int64_t position);
  void add_samples(int64_t n) { samples_ += n; }
  void step(int64_t step, double loss, double lr, int64_t position);
  void end_epoch();
  void evaluation(int64_t epoch, int64_t step, double accuracy, double loss);
  void finish(double seconds);

 private:
  double rate() const;  // samples per second since the epoch started
  const TrainConfig& cfg_;
  int64_t batches_, epoch_ = 0, position_ = 0, start_position_ = 0, samples_ = 0, steps_in_epoch_ = 0;
  double loss_avg_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point epoch_start_, last_draw_, run_start_;
  std::ofstream csv_;
};

}  // namespace ds::train
