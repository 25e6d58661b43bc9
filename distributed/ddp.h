#pragma once
// DistributedDataParallel: the same model on every rank, each on its own part of the batch, with gradients averaged
// across ranks during backward (torch.nn.parallel.DistributedDataParallel).
//
//   auto world = ds::dist::init_process_group();
//   auto ddp = std::make_shared<ds::dist::DistributedDataParallel>(model, world);   // rank 0's weights everywhere
//   for (auto& batch : loader) {                     // DataLoader with .num_replicas = world->size(), .rank = ...
//     Tensor loss = cross_entropy((*ddp)(batch.input), batch.target);
//     loss.backward();                                // gradients are averaged while backward runs
//     optimizer.step();                               // the optimizer of model->parameters(), as without DDP
//     optimizer.zero_grad();
//   }
//
// How: parameters are packed into buckets (the first of first_bucket_cap_mb, then bucket_cap_mb each, in reverse
// registration order, which is roughly the order backward produces gradients). A post-accumulate-grad hook on each
// parameter copies its gradient into its bucket; a full bucket is handed to the communication thread (CPU) or
// stream (CUDA) at once, in bucket order on every rank, while backward goes on. A callback at the end of backward
// waits for the buckets and writes the averages back into each parameter's .grad. After the first backward the
// buckets are rebuilt in the order gradients actually arrived (rank 0's order, broadcast).
//
// So N ranks with batch b give the gradients of one process with batch N b (for a loss that is a mean over the
// batch, without batch-dependent layers such as batch norm). The parameters' .grad are ordinary tensors: the
// optimizer, clipping and checkpoints need no change.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ds/core/hooks.h>
#include <ds/distributed/comm_hooks.h>
#include <ds/distributed/process_group.h>
#include <ds/nn/module.h>

namespace ds::dist {

struct DDPOptions {
  double bucket_cap_mb = 25;
  double first_bucket_cap_mb = 1;  // small, so that communication starts early in backward
  // Broadcast rank 0's buffers (batch norm statistics) before each forward, as torch does.
  bool broadcast_buffers = true;
  // Parameters that get no gradient in some step (branches, frozen parts) are an error naming them unless this is
  // set; then they are found from the autograd graph after each forward and reduced as zeros, and a parameter no
  // rank used keeps .grad undefined.
  bool find_unused_parameters = false;
  // How a bucket is reduced: null is the mean over ranks in the gradients' dtype; see comm_hooks.h for fp16, bf16
  // and int8 compression.
  std::shared_ptr<CommHook> comm_hook;
};

// Per-step communication figures of the last synchronised backward.
struct DDPStats {
  int buckets = 0;
  uint64_t bytes_sent = 0;          // through the group in that backward (see ProcessGroup::bytes_sent)
  double exposed_comm_ms = 0;       // time backward's end waited for buckets still being reduced
  double backward_ms = 0;           // from the first gradient hook to the end of the wait
};

class DistributedDataParallel : public nn::Module {
 public:
  // Broadcasts rank 0's parameters and buffers to every rank (collective: every rank constructs it with the same
  // model structure; differing parameter shapes are an error naming the first difference).
  DistributedDataParallel(std::shared_ptr<nn::Module> module, ProcessGroupPtr group, DDPOptions options = {});
  ~DistributedDataParallel() override;

  // module(x), after broadcasting buffers; with find_unused_parameters, also marks the parameters the output does
  // not depend on.
  Tensor forward(const Tensor& x) override;
  // The same for a forward of any signature: out = ddp.run([&] { return gpt->forward(idx); }).
  Tensor run(const std::function<Tensor()>& forward_fn);
  std::vector<Tensor> run_many(const std::function<std::vector<Tensor>()>& forward_fn);

  // While false, backward accumulates gradients locally without communication (gradient accumulation: sync only
  // the last micro-batch). no_sync() is the scoped form. With optim::GradAccumulation acc(k):
  //   ddp.set_require_sync(acc.is_last_micro_step());
  //   acc.scale(loss).backward();
  //   if (acc.micro_step()) { opt.step(); opt.zero_grad(); }
  void set_require_sync(bool sync) { require_sync_ = sync; }
  bool require_sync() const { return require_sync_; }
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& d) : d_(d), prev_(d.require_sync()) { d_.set_require_sync(false); }
    ~NoSyncGuard() { d_.set_require_sync(prev_); }
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& d_;
    bool prev_;
  };
  [[nodiscard]] NoSyncGuard no_sync() { return NoSyncGuard(*this); }

  // Whether `ok` holds on every rank (an allreduce of one flag): ranks decide together to skip a step whose loss
  // or gradients are not finite, so that none waits for another.
  bool all_ranks(bool ok);

  const std::shared_ptr<nn::Module>& module() const { return module_; }
  ProcessGroup& group() const { return *group_; }
  const DDPOptions& options() const { return options_; }
  const DDPStats& last_stats() const { return stats_; }
  // The buckets as lists of parameter names, in launch order (for logs and tests).
  std::vector<std::vector<std::string>> bucket_layout() const;

 private:
  struct Bucket;
  struct Param {
    std::string name;
    Tensor tensor;
    size_t bucket = 0;
    int64_t offset = 0;  // in the bucket's flat buffer
    bool ready = false;
    bool used = false;  // got a gradient on this rank in this backward
  };

  void build_buckets(const std::vector<size_t>& order);
  void on_gradient(size_t index);
  void mark_ready(size_t index, bool has_grad);
  void launch_ready_buckets();
  void finalize();
  void begin_backward();
  void find_unused(const std::vector<Tensor>& outputs);
  void broadcast_state();

  std::shared_ptr<nn::Module> module_;
  ProcessGroupPtr group_;
  DDPOptions options_;
  std::vector<Param> params_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<RemovableHandle> hooks_;
  std::vector<size_t> arrival_;      // parameter indices in the order their gradients arrived (first backward)
  std::vector<bool> unused_in_forward_;
  bool rebuilt_ = false;
  bool in_backward_ = false;
  bool require_sync_ = true;
  size_t next_bucket_ = 0;           // the next bucket to launch
  std::chrono::steady_clock::time_point backward_start_;
  uint64_t bytes_at_start_ = 0;
  DDPStats stats_;
};

}  // namespace ds::dist
