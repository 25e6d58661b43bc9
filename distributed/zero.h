#pragma once
// ZeroRedundancyOptimizer: ZeRO stage 1 (Rajbhandari et al. 2020; torch's ZeroRedundancyOptimizer). The optimizer's
// state is sharded across the data-parallel ranks: every parameter is owned by one rank, which alone keeps its
// moments and updates it. A step
//   1. averages the gradients with a reduce-scatter, so each rank receives the mean gradient of what it owns
//      (skipped when the gradients are already averaged, e.g. by DistributedDataParallel);
//   2. runs the wrapped optimizer on the owned parameters;
//   3. all-gathers the parameters, so every rank holds the whole updated model.
// Parameters are owned whole (assigned largest first to the least loaded rank), so every ds optimizer, LAMB's
// per-parameter trust ratio included, computes exactly what it computes unsharded: the results equal DDP's.
//
//   auto zero = std::make_shared<dist::ZeroRedundancyOptimizer>(
//       model->parameters(), [](std::vector<optim::ParamGroup> g) { return std::make_unique<optim::AdamW>(g); },
//       world);
//   loss.backward(); zero->step(); zero->zero_grad();
//
// It is an optim::Optimizer over all the parameters: learning-rate schedulers and gradient clipping work on it as on
// any optimizer (their group options reach the wrapped one at each step). Its state dict is this rank's shard and
// loads only on the same rank of the same world size.
#include <functional>
#include <memory>
#include <vector>

#include <ds/distributed/process_group.h>
#include <ds/optim/optimizer.h>

namespace ds::dist {

struct ZeroOptions {
  // The gradients are already the mean over the ranks (DDP ran): no reduce-scatter.
  bool gradients_averaged = false;
};

class ZeroRedundancyOptimizer final : public optim::Optimizer {
 public:
  // Makes the wrapped optimizer over the groups it is given (the owned parameters, with each group's options).
  using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<optim::ParamGroup>)>;

  ZeroRedundancyOptimizer(std::vector<optim::ParamGroup> groups, const Factory& make_optimizer, ProcessGroupPtr group,
                          ZeroOptions options = {});
  ZeroRedundancyOptimizer(std::vector<Tensor> params, const Factory& make_optimizer, ProcessGroupPtr group,
                          ZeroOptions options = {});

  void step() override;
  // This rank's shard: "zero.world_size", "zero.rank", the full groups' options and "local.<the wrapped optimizer's
  // state dict>". Loading it on another rank or world size is an error naming both.
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

  // The rank that owns parameter i (counting through the groups in order).
  int owner(size_t index) const { return owner_[index]; }
  // Bytes of optimizer state held on this rank (the wrapped optimizer's buffers).
  int64_t local_state_bytes() const;
  // The wrapped optimizer over this rank's parameters; null when this rank owns none.
  optim::Optimizer* local_optimizer() const { return local_.get(); }
  ProcessGroup& group() const { return *group_; }

 protected:
  void check_options(const optim::Options& options, size_t group_index) const override;
  std::vector<std::string> buffer_names(const optim::Options& options) const override;
  void update(const optim::Options& options, Tensor& param, const Tensor& grad, optim::ParamState& state) override;

 private:
  ZeroRedundancyOptimizer(std::unique_ptr<optim::Optimizer> full, const Factory& make_optimizer, ProcessGroupPtr group,
                          ZeroOptions options);
  std::vector<Tensor> all_params() const;
  void reduce_scatter_gradients(const std::vector<Tensor>& params);
  void all_gather_parameters(const std::vector<Tensor>& params);

  ProcessGroupPtr group_;
  ZeroOptions options_;
  std::unique_ptr<optim::Optimizer> validator_;  // the wrapped kind over every parameter: checks options, no state
  std::unique_ptr<optim::Optimizer> local_;
  std::vector<int> owner_;
  std::vector<size_t> local_group_of_;  // local group index -> full group index
};

}  // namespace ds::dist
