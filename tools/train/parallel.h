#pragma once
// ds-train's distributed side: the world from the launcher, this rank's device, the data-parallel wrapper with its
// compression hook, ZeRO-1 around the optimizer, and the collective decisions of a step. One process without a
// launcher and without a distributed block is a world of one, with none of this.
#include <memory>

#include <ds/distributed/ddp.h>
#include <ds/distributed/init.h>
#include <ds/optim/optimizer.h>

#include "config.h"

namespace ds::train {

class Parallel {
 public:
  // Starts the runtime when launched on several ranks or asked for by distributed.strategy; checks the block
  // against the world (data_parallel_size, device counts).
  explicit Parallel(const TrainConfig& cfg);

  bool active() const { return world_ != nullptr; }
  int rank() const { return world_ ? world_->rank() : 0; }
  int size() const { return world_ ? world_->size() : 1; }
  bool is_main() const { return rank() == 0; }
  // training.device for this rank: cpu, or its local rank's GPU under a launcher.
  Device device() const { return device_; }
  const dist::ProcessGroupPtr& world() const { return world_; }

  // Wraps the model for data parallelism (after it is on its device and restored); null when not active.
  std::shared_ptr<dist::DistributedDataParallel> wrap(std::shared_ptr<nn::Module> model) const;
  // The optimizer for params: the config's, sharded by ZeRO-1 when distributed.zero is 1 (gradients already
  // averaged by DDP, so each rank only updates and all-gathers its share).
  std::unique_ptr<optim::Optimizer> optimizer(const std::vector<Tensor>& params) const;
  // Whether ok holds on every rank (true at once for a world of one).
  bool all(bool ok) const;
  void barrier() const;

 private:
  const TrainConfig& cfg_;
  dist::ProcessGroupPtr world_;
  Device device_;
};

}  // namespace ds::train
