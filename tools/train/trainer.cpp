#include "trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include <ds/autograd/anomaly.h>
#include <ds/autograd/autocast.h>
#include <ds/io/checkpoint.h>
#include <ds/graph/compile.h>
#include <ds/optim/grad_scaler.h>
#include <ds/core/error.h>
#include <ds/core/logging.h>
#include <ds/core/rng.h>
#include <ds/io/checkpoint_manager.h>
#include <ds/ops/ops.h>
#include <ds/optim/clip_grad.h>

#include <ds/distributed/zero.h>

#include "builders.h"
#include "parallel.h"
#include "progress.h"
#include "task.h"

namespace ds::train {
namespace {

// training.precision's autocast: bf16 or fp16; fp32 turns it off (the dtype then only has to be a valid one).
struct PrecisionGuard {
  explicit PrecisionGuard(const TrainConfig& cfg)
      : guard(cfg.training.precision == "fp16" ? kF16 : kBF16, cfg.training.precision != "fp32") {}
  AutocastGuard guard;
};

void to_device(data::Batch& b, Device device) {
  if (device.is_cpu()) return;
  b.input = b.input.to(device);
  b.target = b.target.to(device);
}

using Clock = std::chrono::steady_clock;
constexpr const char* kFormat = "ds-train/1";

struct Run {
  const TrainConfig& cfg;
  Parallel& par;
  std::unique_ptr<Task> task;
  std::shared_ptr<nn::Module> model;
  std::shared_ptr<dist::DistributedDataParallel> ddp;  // null in a world of one
  std::unique_ptr<data::DataLoader> train_loader, test_loader;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<optim::LRScheduler> sched;
  optim::GradScaler scaler;
  // training.compile: the micro-batch's forward and backward as one ds::compile graph (args: input, target).
  std::unique_ptr<CompiledFunction> fwd_bwd;
  // Rank 0 writes the checkpoints; with ZeRO-1 every rank also writes its optimizer shard (zero_ckpt), first.
  std::unique_ptr<CheckpointManager> ckpt, zero_ckpt;
  int64_t step = 0, skipped = 0, consecutive = 0, total_steps = 0;

  bool sharded() const { return zero_ckpt != nullptr; }

  StateDict state() const {
    StateDict s;
    s.set("format", std::string(kFormat));
    s.set("step", step);
    s.set("skipped", skipped);
    const PhiloxState rng = default_generator().state();
    s.set("rng.seed", static_cast<int64_t>(rng.seed));
    s.set("rng.offset", static_cast<int64_t>(rng.offset));
    s.merge("model", model->state_dict());
    if (!sharded()) s.merge("optimizer", opt->state_dict());
    if (sched) s.merge("scheduler", sched->state_dict());
    if (scaler.is_enabled()) s.merge("scaler", scaler.state_dict());
    s.merge("loader", train_loader->state_dict());
    s.set("world_size", static_cast<int64_t>(par.size()));
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
    if (sharded()) {
      // This rank's optimizer shard of the same step.
      const std::string shard = zero_ckpt->path_for(step);
      StateDict z;
      try {
        z = load_checkpoint(shard);
      } catch (const Error& e) {
        throw_error("ds-train", fmt::format("{} is a ZeRO-1 checkpoint; rank {}'s optimizer shard for step {} does "
                                            "not load ({}): resume a sharded run on the same number of ranks",
                                            path, par.rank(), step, e.what()));
      }
      opt->load_state_dict(z.sub("optimizer"));
    } else {
      opt->load_state_dict(s.sub("optimizer"));
    }
    if (sched) sched->load_state_dict(s.sub("scheduler"));
    if (scaler.is_enabled() && s.contains("scaler.scale")) scaler.load_state_dict(s.sub("scaler"));
    train_loader->load_state_dict(s.sub("loader"));
    const int64_t saved_world = s.contains("world_size") ? s.integer("world_size") : 1;
    if (saved_world != par.size())
      log_info(fmt::format("{} was saved by {} rank(s); resuming on {}", path, saved_world, par.size()));
  }

  // Shards first (every rank), then rank 0's checkpoint, whose existence marks the step complete.
  std::string save() {
    if (sharded()) {
      StateDict z;
      z.merge("optimizer", opt->state_dict());
      zero_ckpt->save(step, z);
      par.barrier();
    }
    std::string path;
    if (par.is_main()) path = ckpt->save(step, state());
    par.barrier();
    return path.empty() ? ckpt->path_for(step) : path;
  }

  // The task's metrics over the test set (its first max_eval_examples examples when set), in eval mode without
  // autograd. Nothing it does touches the training state, so evaluating never changes a resumed run.
  Evaluation evaluate() {
    NoGradGuard no_grad;
    PrecisionGuard precision(cfg);
    model->eval();
    test_loader->set_epoch(0);
    const int64_t limit = cfg.data.max_eval_examples;
    int64_t seen = 0;
    const Evaluation e = task->evaluate([&]() -> std::optional<data::Batch> {
      if (limit > 0 && seen >= limit) return std::nullopt;
      std::optional<data::Batch> b = test_loader->next();
      if (!b) return b;
      to_device(*b, par.device());
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

// The training loss of a batch: through DDP's forward when data parallel, under autocast for bf16 and fp16.
Tensor batch_loss(Run& r, const data::Batch& b) {
  PrecisionGuard precision(r.cfg);
  if (r.ddp) return r.ddp->run([&] { return r.task->loss(b); });
  return r.task->loss(b);
}

// ZeRO-1's optimizer memory: this rank's share against the whole state (after the first step made it).
void report_zero_memory(Run& r) {
  auto* zero = dynamic_cast<dist::ZeroRedundancyOptimizer*>(r.opt.get());
  if (!zero) return;
  Tensor bytes = full({1}, zero->local_state_bytes(), {.dtype = kI64});
  Tensor total = bytes.clone();
  r.par.world()->allreduce(total)->wait();
  Tensor most = bytes.clone();
  r.par.world()->allreduce(most, dist::ReduceOp::kMax)->wait();
  log_info(fmt::format("ZeRO-1: optimizer state {:.2f} MB on rank 0, at most {:.2f} MB on a rank, {:.2f} MB in all "
                       "({} ranks)", static_cast<double>(bytes.item<int64_t>()) / 1e6,
                       static_cast<double>(most.item<int64_t>()) / 1e6, static_cast<double>(total.item<int64_t>()) / 1e6,
                       r.par.size()));
}

}  // namespace

void check_schedule(const TrainConfig& cfg, int64_t total_steps) {
  const std::string& n = cfg.schedule.name;
  const bool warms = n == "constant" || n == "warmup_cosine" || n == "warmup_linear";
  if (warms && cfg.schedule.warmup_steps > total_steps)
    throw_error("config", fmt::format("{}: schedule.warmup_steps is {} but the run takes only {} optimizer steps "
                                      "(training.max_steps / --max-steps, or epochs x batches per epoch / "
                                      "grad_accumulation): the learning rate would never finish warming up",
                                      cfg.path, cfg.schedule.warmup_steps, total_steps));
}

RunResult run_training(const TrainConfig& cfg) {
  if (cfg.training.threads > 0) set_num_threads(cfg.training.threads);
  Parallel par(cfg);
  manual_seed(cfg.training.seed);
  Run r{cfg, par};
  r.task = make_task(cfg);
  r.model = r.task->model;
  r.model->to(par.device());
  r.train_loader = build_loader(cfg.data, r.task->train_set, true, cfg.training.seed, par.size(), par.rank());
  r.test_loader = build_loader(cfg.data, r.task->test_set, false, cfg.training.seed);
  r.opt = par.optimizer(r.model->parameters());
  const int64_t accum = cfg.optimizer.grad_accumulation;
  const int64_t steps_per_epoch = std::max<int64_t>(1, r.train_loader->num_batches() / accum);
  r.total_steps = steps_per_epoch * cfg.training.epochs;
  if (cfg.training.max_steps > 0) r.total_steps = std::min(r.total_steps, cfg.training.max_steps);
  check_schedule(cfg, r.total_steps);
  r.sched = build_scheduler(cfg.schedule, *r.opt, cfg.optimizer.lr, r.total_steps);
  r.scaler = optim::GradScaler({.enabled = cfg.training.precision == "fp16"});
  if (cfg.training.compile) {
    // DDP reduces gradients from hooks inside backward, host code a replay would not run.
    if (par.active())
      throw_error("config", fmt::format("{}: training.compile is not supported with distributed training yet ({} "
                                        "ranks); run it in one process or set training.compile: false",
                                        cfg.path, par.size()));
    const double scale = 1.0 / static_cast<double>(accum);
    r.fwd_bwd = std::make_unique<CompiledFunction>(
        [&r, accum, scale](std::span<const Tensor> xy) {
          const data::Batch b{xy[0], xy[1], {}};
          const Tensor loss = batch_loss(r, b);
          (accum > 1 ? loss * scale : loss).backward();
          return TensorList{loss.detach()};
        },
        CompileOptions{.name = "ds-train step"});
  }

  RunResult result;
  if (!cfg.checkpoint.dir.empty()) {
    r.ckpt = std::make_unique<CheckpointManager>(cfg.checkpoint.dir, cfg.checkpoint.keep_last);
    if (par.active() && cfg.distributed.zero == 1) {
      // One more shard than checkpoints kept: a run killed between the shards and rank 0's file resumes from the
      // previous step, whose shards must still be there.
      const int keep = cfg.checkpoint.keep_last == 0 ? 0 : cfg.checkpoint.keep_last + 1;
      r.zero_ckpt = std::make_unique<CheckpointManager>(
          fmt::format("{}/zero-rank{:05d}-of-{:05d}", cfg.checkpoint.dir, par.rank(), par.size()), keep);
    }
    if (cfg.checkpoint.resume)
      if (auto loaded = r.ckpt->load_latest()) {
        r.restore(loaded->state, loaded->path);
        result.last_checkpoint = loaded->path;
        log_info(fmt::format("resumed from {} at step {}", loaded->path, r.step));
      }
  }
  r.ddp = par.wrap(r.model);  // after restoring: DDP starts every rank from rank 0's state

  Progress progress(cfg, r.model->parameter_count(), r.train_loader->num_batches(), r.task->unit(), par.is_main(),
                    par.size());
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
      to_device(*b, par.device());
      // Only the last micro-batch of an accumulation window communicates.
      if (r.ddp) r.ddp->set_require_sync(micro + 1 == accum);
      // With training.compile, forward and backward ran together (a non-finite loss gives non-finite gradients,
      // so the checks below skip the step as they would).
      Tensor loss = r.fwd_bwd ? (*r.fwd_bwd)({b->input, b->target})[0] : batch_loss(r, *b);
      double lv = loss.item<double>();
      for (int64_t s : cfg.debug.nan_at_steps)
        if (s == r.step) {
          loss = loss * std::numeric_limits<double>::quiet_NaN();
          lv = std::numeric_limits<double>::quiet_NaN();
        }
      // A rank with a non-finite loss still runs backward (its NaN gradients reach every rank through the
      // average), so that all ranks take part in the same collectives; every rank then skips the step together.
      if (!r.fwd_bwd && (std::isfinite(lv) || r.ddp))
        r.scaler.scale(accum > 1 ? loss * (1.0 / static_cast<double>(accum)) : loss).backward();
      if (!std::isfinite(lv) && !bad) {
        bad = true;
        log_warn(fmt::format("step {}: the loss is {}; {}", r.step, lv, r.first_bad_op(*b)));
      }
      loss_acc += lv / static_cast<double>(accum);
      progress.add_samples(r.task->count(*b));
      if (++micro < accum) continue;
      micro = 0;
      // One optimizer step, unless the loss or a gradient is not finite on some rank: then every rank skips it.
      if (r.scaler.is_enabled()) r.scaler.unscale_(*r.opt);
      const double clip = cfg.optimizer.clip_grad_norm;
      const double norm = (clip > 0 ? optim::clip_grad_norm_(params, clip) : optim::grad_norm(params)).item<double>();
      // With fp16 loss scaling an overflowing gradient is routine: the scaler skips the step and lowers its scale.
      const bool overflow = r.scaler.is_enabled() && !std::isfinite(norm);
      if (!bad && !overflow && !std::isfinite(norm)) {
        bad = true;
        log_warn(fmt::format("step {}: the gradient norm is {}; skipping the step", r.step, norm));
      }
      bad = !par.all(!bad);
      if (bad) {
        ++r.skipped;
        if (++r.consecutive >= cfg.training.max_consecutive_skips) {
          result.stopped_by_guard = true;
          log_warn(fmt::format("stopping: {} consecutive steps had a non-finite loss or gradient (the last checkpoint, {}, "
                               "is untouched)", r.consecutive, result.last_checkpoint.empty() ? "none" : result.last_checkpoint));
          done = true;
        }
      } else if (r.scaler.is_enabled()) {
        if (r.scaler.step(*r.opt)) r.consecutive = 0;
      } else {
        r.opt->step();
        r.consecutive = 0;
      }
      if (r.scaler.is_enabled()) r.scaler.update();
      r.opt->zero_grad();
      if (!bad && !overflow && r.sched) r.sched->step();
      ++r.step;
      result.last_loss = loss_acc;
      progress.step(r.step, loss_acc, current_lr(*r.opt), r.train_loader->position());
      if (r.ddp && r.step % cfg.training.log_interval == 0)
        log_info(fmt::format("step {}: {:.2f} MB sent per rank by the gradient reduction ({}), {:.1f} ms of it "
                             "exposed after backward", r.step, static_cast<double>(r.ddp->last_stats().bytes_sent) / 1e6,
                             r.ddp->options().comm_hook->name(), r.ddp->last_stats().exposed_comm_ms));
      if (r.step == 1) report_zero_memory(r);
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
  result.is_main = par.is_main();
  progress.finish(std::chrono::duration<double>(Clock::now() - t0).count());
  return result;
}

}  // namespace ds::train
