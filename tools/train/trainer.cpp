#include "trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include <ds/autograd/anomaly.h>
#include <ds/core/error.h>
#include <ds/core/logging.h>
#include <ds/core/rng.h>
#include <ds/io/checkpoint_manager.h>
#include <ds/ops/ops.h>
#include <ds/optim/clip_grad.h>

#include "builders.h"
#include "progress.h"
#include "task.h"

namespace ds::train {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kFormat = "ds-train/1";

struct Run {
  const TrainConfig& cfg;
  std::unique_ptr<Task> task;
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<data::DataLoader> train_loader, test_loader;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<optim::LRScheduler> sched;
  std::unique_ptr<CheckpointManager> ckpt;
  int64_t step = 0, skipped = 0, consecutive = 0, total_steps = 0;

  StateDict state() const {
    StateDict s;
    s.set("format", std::string(kFormat));
    s.set("step", step);
    s.set("skipped", skipped);
    const PhiloxState rng = default_generator().state();
    s.set("rng.seed", static_cast<int64_t>(rng.seed));
    s.set("rng.offset", static_cast<int64_t>(rng.offset));
    s.merge("model", model->state_dict());
    s.merge("optimizer", opt->state_dict());
    if (sched) s.merge("scheduler", sched->state_dict());
    s.merge("loader", train_loader->state_dict());
    return s;
  }

  void restore(const StateDict& s, const std::string& path) {
    if (!s.contains("format") || s.text("format") != kFormat)
      throw_error("ds-train", path + " is not a ds-train checkpoint (format '" +
                                  (s.contains("format") ? s.text("format") : std::string("none")) + "', expected '" +
                                  kFormat + "')");
    step = s.integer("step");
    skipped = s.integer("skipped");
    default_generator().set_state({static_cast<uint64_t>(s.integer("rng.seed")), static_cast<uint64_t>(s.integer("rng.offset"))});
    model->load_state_dict(s.sub("model"));
    opt->load_state_dict(s.sub("optimizer"));
    if (sched) sched->load_state_dict(s.sub("scheduler"));
    train_loader->load_state_dict(s.sub("loader"));
  }

  std::string save() {
    const std::string path = ckpt->save(step, state());
    return path;
  }

  // The task's metrics over the test set (its first max_eval_examples examples when set), in eval mode without
  // autograd. Nothing it does touches the training state, so evaluating never changes a resumed run.
  Evaluation evaluate() {
    NoGradGuard no_grad;
    model->eval();
    test_loader->set_epoch(0);
    const int64_t limit = cfg.data.max_eval_examples;
    int64_t seen = 0;
    const Evaluation e = task->evaluate([&]() -> std::optional<data::Batch> {
      if (limit > 0 && seen >= limit) return std::nullopt;
      std::optional<data::Batch> b = test_loader->next();
      if (!b) return b;
      const int64_t n = b->input.size(0);
      if (limit > 0 && seen + n > limit) {
        b->input = b->input.narrow(0, 0, limit - seen);
        b->target = b->target.narrow(0, 0, limit - seen);
      }
      seen += b->input.size(0);
      return b;
    });
    model->train();
    return e;
  }

  // Runs the forward pass again in anomaly mode to name the first op that produced a non-finite value.
  std::string first_bad_op(const data::Batch& b) {
    try {
      DetectAnomalyGuard anomaly;
      NoGradGuard no_grad;
      task->loss(b);
    } catch (const Error& e) {
      return e.what();
    }
    return "no op produced one from finite inputs: the inputs or the parameters hold it";
  }
};

double current_lr(const optim::Optimizer& opt) { return opt.param_groups().front().lr(); }

}  // namespace

RunResult run_training(const TrainConfig& cfg) {
  if (cfg.training.threads > 0) set_num_threads(cfg.training.threads);
  manual_seed(cfg.training.seed);
  Run r{cfg};
  r.task = make_task(cfg);
  r.model = r.task->model;
  r.train_loader = build_loader(cfg.data, r.task->train_set, true, cfg.training.seed);
  r.test_loader = build_loader(cfg.data, r.task->test_set, false, cfg.training.seed);
  r.opt = build_optimizer(cfg.optimizer, r.model->parameters());
  const int64_t accum = cfg.optimizer.grad_accumulation;
  const int64_t steps_per_epoch = std::max<int64_t>(1, r.train_loader->num_batches() / accum);
  r.total_steps = steps_per_epoch * cfg.training.epochs;
  if (cfg.training.max_steps > 0) r.total_steps = std::min(r.total_steps, cfg.training.max_steps);
  r.sched = build_scheduler(cfg.schedule, *r.opt, cfg.optimizer.lr, r.total_steps);

  RunResult result;
  if (!cfg.checkpoint.dir.empty()) {
    r.ckpt = std::make_unique<CheckpointManager>(cfg.checkpoint.dir, cfg.checkpoint.keep_last);
    if (cfg.checkpoint.resume)
      if (auto loaded = r.ckpt->load_latest()) {
        r.restore(loaded->state, loaded->path);
        result.last_checkpoint = loaded->path;
        log_info(fmt::format("resumed from {} at step {}", loaded->path, r.step));
      }
  }

  Progress progress(cfg, r.model->parameter_count(), r.train_loader->num_batches(), r.task->unit());
  const std::vector<Tensor> params = r.model->parameters();
  const auto t0 = Clock::now();
  r.model->train();
  bool done = r.step >= r.total_steps, interrupted = false;
  std::optional<Evaluation> last_eval;
  auto evaluate = [&](int64_t epoch, bool end_of_epoch) {
    last_eval = r.evaluate();
    result.test_accuracy = last_eval->accuracy;
    progress.evaluation(epoch, r.step, *last_eval, end_of_epoch);
  };
  // A run resumed at the end of an epoch goes on with the next one.
  int64_t first_epoch = r.train_loader->epoch();
  if (r.train_loader->position() >= r.train_loader->num_batches()) ++first_epoch;
  for (int64_t epoch = first_epoch; epoch < cfg.training.epochs && !done; ++epoch) {
    if (epoch != r.train_loader->epoch()) r.train_loader->set_epoch(epoch);
    progress.start_epoch(epoch, r.train_loader->position());
    int64_t micro = 0;
    double loss_acc = 0;
    bool bad = false;
    while (auto b = r.train_loader->next()) {
      Tensor loss = r.task->loss(*b);
      double lv = loss.item<double>();
      for (int64_t s : cfg.debug.nan_at_steps)
        if (s == r.step) {
          loss = loss * std::numeric_limits<double>::quiet_NaN();
          lv = std::numeric_limits<double>::quiet_NaN();
        }
      if (std::isfinite(lv)) (accum > 1 ? loss * (1.0 / static_cast<double>(accum)) : loss).backward();
      else if (!bad) {
        bad = true;
        log_warn(fmt::format("step {}: the loss is {}; {}", r.step, lv, r.first_bad_op(*b)));
      }
      loss_acc += lv / static_cast<double>(accum);
      progress.add_samples(r.task->count(*b));
      if (++micro < accum) continue;
      micro = 0;
      // One optimizer step, unless the loss or a gradient is not finite: then the step is skipped and counted.
      const double norm = optim::clip_grad_norm_(params, cfg.optimizer.clip_grad_norm > 0 ? cfg.optimizer.clip_grad_norm
                                                                                          : std::numeric_limits<double>::infinity());
      if (!bad && !std::isfinite(norm)) {
        bad = true;
        log_warn(fmt::format("step {}: the gradient norm is {}; skipping the step", r.step, norm));
      }
      if (bad) {
        ++r.skipped;
        if (++r.consecutive >= cfg.training.max_consecutive_skips) {
          result.stopped_by_guard = true;
          log_warn(fmt::format("stopping: {} consecutive steps had a non-finite loss or gradient (the last checkpoint, {}, "
                               "is untouched)", r.consecutive, result.last_checkpoint.empty() ? "none" : result.last_checkpoint));
          done = true;
        }
      } else {
        r.opt->step();
        r.consecutive = 0;
      }
      r.opt->zero_grad();
      if (!bad && r.sched) r.sched->step();
      ++r.step;
      result.last_loss = loss_acc;
      progress.step(r.step, loss_acc, current_lr(*r.opt), r.train_loader->position());
      loss_acc = 0;
      bad = false;
      if (done) break;
      if (r.step >= r.total_steps) done = true;
      if (cfg.training.stop_after > 0 && r.step >= cfg.training.stop_after) {
        interrupted = done = true;
        if (r.ckpt) result.last_checkpoint = r.save();
        break;
      }
      if (r.ckpt && r.consecutive == 0 && (done || (cfg.checkpoint.interval > 0 && r.step % cfg.checkpoint.interval == 0)))
        result.last_checkpoint = r.save();
      // training.eval_interval's evaluations inside an epoch; one on an epoch's last step is left to the epoch's own.
      if (!done && cfg.training.evaluate && cfg.training.eval_interval > 0 && r.step % cfg.training.eval_interval == 0 &&
          r.train_loader->position() < r.train_loader->num_batches())
        evaluate(epoch, false);
      if (done) break;
    }
    progress.end_epoch();
    if (cfg.training.evaluate && !result.stopped_by_guard && !interrupted) evaluate(epoch, true);
  }
  if (r.ckpt && !result.stopped_by_guard && !interrupted && (result.last_checkpoint.empty() || CheckpointManager::step_of(result.last_checkpoint) != r.step))
    result.last_checkpoint = r.save();
  if (last_eval) result.summary = r.task->summary(*last_eval);
  result.steps = r.step;
  result.skipped = r.skipped;
  progress.finish(std::chrono::duration<double>(Clock::now() - t0).count());
  return result;
}

}  // namespace ds::train
