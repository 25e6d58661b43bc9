#include "parallel.h"

#include <ds/core/error.h>
#include <ds/core/logging.h>
#include <ds/distributed/comm_hooks.h>
#include <ds/distributed/zero.h>
#include <ds/ops/device_info.h>
#include <ds/ops/factory.h>
#include <fmt/format.h>

#include "builders.h"

namespace ds::train {

Parallel::Parallel(const TrainConfig& cfg) : cfg_(cfg) {
  const dist::LaunchEnv env = dist::launch_env();
  const DistributedConfig& d = cfg.distributed;
  if (env.world_size > 1 || d.strategy != "none") {
    dist::InitOptions options;
    options.threads_per_rank = cfg.training.threads;
    world_ = dist::init_process_group(options);
    if (d.data_parallel_size > 0 && d.data_parallel_size != world_->size())
      throw_error("config", fmt::format("{}: distributed.data_parallel_size is {} but the job has {} ranks (0 takes "
                                        "the world size)", cfg.path, d.data_parallel_size, world_->size()));
    if (!is_main()) set_log_level("warn");  // one rank speaks for the run
  }
  const std::string& dev = cfg.training.device;
  if (dev == "cpu") {
    device_ = kCPU;
  } else {
    const int gpus = cuda_device_count();
    if (gpus == 0)
      throw_error("config", cfg.path + ": training.device is " + dev + " but " +
                                (cuda_built() ? "no GPU is visible" : "this build of ds has no CUDA backend"));
    const int index = dev == "cuda" ? env.local_rank % gpus : std::stoi(dev.substr(5));
    if (index >= gpus)
      throw_error("config", fmt::format("{}: training.device is {} but there are {} GPUs", cfg.path, dev, gpus));
    device_ = Device(DeviceType::CUDA, index);
  }
}

std::shared_ptr<dist::DistributedDataParallel> Parallel::wrap(std::shared_ptr<nn::Module> model) const {
  if (!active()) return nullptr;
  const DistributedConfig& d = cfg_.distributed;
  dist::DDPOptions o;
  o.bucket_cap_mb = d.bucket_cap_mb;
  o.find_unused_parameters = d.find_unused_parameters;
  if (d.compression.enabled) o.comm_hook = dist::comm_hook_by_name(d.compression.algorithm);
  auto ddp = std::make_shared<dist::DistributedDataParallel>(std::move(model), world_, o);
  if (is_main())
    log_info(fmt::format("data parallel on {} ranks: {} buckets, gradients reduced by {}", size(),
                         ddp->bucket_layout().size(), o.comm_hook ? o.comm_hook->name() : "allreduce"));
  return ddp;
}

std::unique_ptr<optim::Optimizer> Parallel::optimizer(const std::vector<Tensor>& params) const {
  std::vector<optim::ParamGroup> groups{optim::ParamGroup(params)};
  if (!active() || cfg_.distributed.zero == 0) return build_optimizer(cfg_.optimizer, groups);
  const OptimizerConfig oc = cfg_.optimizer;
  auto zero = std::make_unique<dist::ZeroRedundancyOptimizer>(
      groups, [oc](std::vector<optim::ParamGroup> g) { return build_optimizer(oc, std::move(g)); }, world_,
      dist::ZeroOptions{.gradients_averaged = true});
  return zero;
}

bool Parallel::all(bool ok) const {
  if (!active()) return ok;
  Tensor flag = full({1}, ok ? 1 : 0, {.dtype = kI32});
  world_->allreduce(flag, dist::ReduceOp::kMin)->wait();
  return flag.item<int32_t>() == 1;
}

void Parallel::barrier() const {
  if (active()) world_->barrier()->wait();
}

}  // namespace ds::train
