#include "progress.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <ds/core/error.h>
#include <fmt/format.h>

namespace ds::train {

using Clock = std::chrono::steady_clock;

Progress::Progress(const TrainConfig& cfg, int64_t parameters, int64_t batches_per_epoch, const char* unit,
                   bool enabled, int ranks)
    : cfg_(cfg), unit_(unit), batches_(batches_per_epoch), tty_(isatty(STDOUT_FILENO) != 0), enabled_(enabled),
      ranks_(ranks) {
  run_start_ = Clock::now();
  if (!enabled_) return;
  if (!cfg.metrics_csv.empty()) {
    const auto parent = std::filesystem::path(cfg.metrics_csv).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    const bool fresh = !std::filesystem::exists(cfg.metrics_csv);
    csv_.open(cfg.metrics_csv, std::ios::app);
    if (!csv_) throw_error("ds-train", "cannot write the metrics file " + cfg.metrics_csv);
    if (fresh) csv_ << fmt::format("kind,epoch,step,loss,accuracy,lr,{}_per_s,elapsed_s\n", unit_);
  }
  fmt::print("ds-train: {} ({} parameters), {} on {}, {} batches of {} per epoch{}, {} epochs\n", cfg.model.name,
             parameters, cfg.optimizer.name, cfg.data.dataset, batches_per_epoch, cfg.data.batch_size,
             ranks > 1 ? fmt::format(" on each of {} ranks", ranks) : "", cfg.training.epochs);
  std::fflush(stdout);
}

void Progress::start_epoch(int64_t epoch, int64_t position) {
  epoch_ = epoch;
  position_ = start_position_ = position;
  samples_ = 0;
  steps_in_epoch_ = 0;
  loss_avg_ = 0;
  epoch_start_ = last_draw_ = Clock::now();
}

double Progress::rate() const {
  const double s = std::chrono::duration<double>(Clock::now() - epoch_start_).count();
  return s > 0 ? static_cast<double>(samples_) / s : 0.0;
}

void Progress::step(int64_t step, double loss, double lr, int64_t position) {
  if (!enabled_) return;
  position_ = position;
  ++steps_in_epoch_;
  loss_avg_ = steps_in_epoch_ == 1 ? loss : 0.9 * loss_avg_ + 0.1 * loss;
  const bool log_now = step % cfg_.training.log_interval == 0;
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start_).count();
  if (log_now && csv_) csv_ << fmt::format("train,{},{},{:.6f},,{:.6g},{:.1f},{:.2f}\n", epoch_ + 1, step, loss, lr, rate(), elapsed);
  if (tty_) {
    if (std::chrono::duration<double>(Clock::now() - last_draw_).count() < 0.2 && position_ < batches_) return;
    last_draw_ = Clock::now();
    const int width = 24;
    const int filled = static_cast<int>(width * position_ / std::max<int64_t>(batches_, 1));
    const double per_batch = position_ > start_position_
                                 ? std::chrono::duration<double>(Clock::now() - epoch_start_).count() /
                                       static_cast<double>(position_ - start_position_)
                                 : 0.0;
    const auto eta = static_cast<int64_t>(per_batch * static_cast<double>(batches_ - position_));
    fmt::print("\repoch {}/{} [{}{}] {}/{} step {} loss {:.4f} {:.0f} {}/s ETA {}:{:02d}  ", epoch_ + 1,
               cfg_.training.epochs, std::string(static_cast<size_t>(filled), '='),
               std::string(static_cast<size_t>(width - filled), ' '), position_, batches_, step, loss_avg_, rate(),
               unit_, eta / 60, eta % 60);
    std::fflush(stdout);
  } else if (log_now) {
    fmt::print("epoch {} step {} batch {}/{} loss {:.4f} lr {:.3g} {:.0f} {}/s\n", epoch_ + 1, step, position_,
               batches_, loss, lr, rate(), unit_);
    std::fflush(stdout);
  }
}

void Progress::end_epoch() {
  if (!enabled_) return;
  if (tty_) fmt::print("\n");
  fmt::print("epoch {} done: {} steps, {:.1f} s, {:.0f} {}/s\n", epoch_ + 1, steps_in_epoch_,
             std::chrono::duration<double>(Clock::now() - epoch_start_).count(), rate(), unit_);
  std::fflush(stdout);
}

void Progress::evaluation(int64_t epoch, int64_t step, const Evaluation& e, bool end_of_epoch) {
  if (!enabled_) return;
  std::string extra;
  for (const auto& [name, value] : e.extra) extra += fmt::format(" {} {:.4f}", name, value);
  if (tty_ && !end_of_epoch) fmt::print("\n");  // below the progress bar
  fmt::print("epoch {}{} test: accuracy {:.4f} loss {:.4f}{}\n", epoch + 1,
             end_of_epoch ? "" : fmt::format(" step {}", step), e.accuracy, e.loss, extra);
  std::fflush(stdout);
  if (csv_) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - run_start_).count();
    csv_ << fmt::format("eval,{},{},{:.6f},{:.6f},,,{:.2f}\n", epoch + 1, step, e.loss, e.accuracy, elapsed);
    csv_.flush();
  }
}

void Progress::finish(double seconds) {
  if (!enabled_) return;
  fmt::print("finished in {:.1f} s\n", seconds);
  std::fflush(stdout);
}

}  // namespace ds::train
