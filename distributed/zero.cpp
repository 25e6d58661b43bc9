// ZeroRedundancyOptimizer: ownership, the reduce-scatter of gradients, the sharded step and the all-gather of
// parameters (one pair of collectives per parameter dtype).
#include "zero.h"

#include <algorithm>
#include <map>
#include <numeric>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

namespace ds::dist {
namespace {

// The parameters of one dtype in (owner, index) order, and the elements each rank owns.
struct Layout {
  std::vector<size_t> order;
  std::vector<int64_t> counts;
  int64_t total = 0;
};

std::map<DType, Layout> layouts(const std::vector<Tensor>& params, const std::vector<int>& owner, int ranks) {
  std::map<DType, Layout> out;
  for (int r = 0; r < ranks; ++r)
    for (size_t i = 0; i < params.size(); ++i) {
      if (owner[i] != r) continue;
      Layout& l = out[params[i].dtype()];
      if (l.counts.empty()) l.counts.assign(static_cast<size_t>(ranks), 0);
      l.order.push_back(i);
      l.counts[static_cast<size_t>(r)] += params[i].numel();
      l.total += params[i].numel();
    }
  for (auto& [dt, l] : out)
    if (l.counts.empty()) l.counts.assign(static_cast<size_t>(ranks), 0);
  return out;
}

std::unique_ptr<optim::Optimizer> make_full(std::vector<optim::ParamGroup> groups,
                                            const ZeroRedundancyOptimizer::Factory& make) {
  DS_CHECK(static_cast<bool>(make), "ZeroRedundancyOptimizer", "the optimizer factory is empty");
  std::unique_ptr<optim::Optimizer> full = make(std::move(groups));
  DS_CHECK(full != nullptr, "ZeroRedundancyOptimizer", "the optimizer factory returned null");
  return full;
}

}  // namespace

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::vector<optim::ParamGroup> groups, const Factory& make_optimizer,
                                                 ProcessGroupPtr group, ZeroOptions options)
    : ZeroRedundancyOptimizer(make_full(std::move(groups), make_optimizer), make_optimizer, std::move(group),
                              options) {}

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::vector<Tensor> params, const Factory& make_optimizer,
                                                 ProcessGroupPtr group, ZeroOptions options)
    : ZeroRedundancyOptimizer(std::vector<optim::ParamGroup>{optim::ParamGroup(std::move(params))}, make_optimizer,
                              std::move(group), options) {}

ZeroRedundancyOptimizer::ZeroRedundancyOptimizer(std::unique_ptr<optim::Optimizer> full, const Factory& make_optimizer,
                                                 ProcessGroupPtr group, ZeroOptions options)
    : optim::Optimizer("ZeroRedundancyOptimizer(" + full->name() + ")", full->defaults()), group_(std::move(group)),
      options_(options), validator_(std::move(full)) {
  DS_CHECK(group_ != nullptr, "ZeroRedundancyOptimizer", "the process group is null (this rank is not a member)");
  // The validated groups (every option filled in) over every parameter, for schedulers and the state dict.
  init_groups(validator_->param_groups());
  const std::vector<Tensor> params = all_params();
  // Largest first to the least loaded rank: the same on every rank.
  std::vector<size_t> by_size(params.size());
  std::iota(by_size.begin(), by_size.end(), size_t{0});
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](size_t a, size_t b) { return params[a].numel() > params[b].numel(); });
  std::vector<int64_t> load(static_cast<size_t>(group_->size()), 0);
  owner_.assign(params.size(), 0);
  for (size_t i : by_size) {
    const auto r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner_[i] = static_cast<int>(r);
    load[r] += params[i].numel();
  }
  // The wrapped optimizer over what this rank owns, group by group.
  std::vector<optim::ParamGroup> local;
  size_t index = 0;
  for (size_t g = 0; g < param_groups().size(); ++g) {
    optim::ParamGroup lg;
    lg.options = param_groups()[g].options;
    for (const Tensor& p : param_groups()[g].params)
      if (owner_[index++] == group_->rank()) lg.params.push_back(p);
    if (lg.params.empty()) continue;
    local.push_back(std::move(lg));
    local_group_of_.push_back(g);
  }
  if (!local.empty()) local_ = make_optimizer(std::move(local));
}

std::vector<Tensor> ZeroRedundancyOptimizer::all_params() const {
  std::vector<Tensor> out;
  for (const optim::ParamGroup& g : param_groups()) out.insert(out.end(), g.params.begin(), g.params.end());
  return out;
}

void ZeroRedundancyOptimizer::check_options(const optim::Options&, size_t) const {}  // the validator checked them
std::vector<std::string> ZeroRedundancyOptimizer::buffer_names(const optim::Options&) const { return {}; }
void ZeroRedundancyOptimizer::update(const optim::Options&, Tensor&, const Tensor&, optim::ParamState&) {
  fail("update() is not used: the wrapped optimizer updates the parameters this rank owns");
}

void ZeroRedundancyOptimizer::reduce_scatter_gradients(const std::vector<Tensor>& params) {
  // A parameter no rank has a gradient for is skipped, as an unsharded optimizer would skip it.
  Tensor has = zeros({static_cast<int64_t>(params.size())}, {.dtype = kI32});
  int32_t* h = has.data_ptr<int32_t>();
  for (size_t i = 0; i < params.size(); ++i) h[i] = params[i].grad().defined() ? 1 : 0;
  group_->allreduce(has, ReduceOp::kMax)->wait();
  const int me = group_->rank();
  for (auto& [dt, l] : layouts(params, owner_, group_->size())) {
    Tensor flat = zeros({l.total}, {.dtype = dt});
    int64_t off = 0;
    for (size_t i : l.order) {
      const Tensor g = params[i].grad();
      if (g.defined()) flat.narrow(0, off, params[i].numel()).copy_(g.reshape({params[i].numel()}));
      off += params[i].numel();
    }
    Tensor mine = empty({l.counts[static_cast<size_t>(me)]}, {.dtype = dt});
    group_->reduce_scatter_v(mine, flat, l.counts, ReduceOp::kAvg)->wait();
    off = 0;
    for (size_t i : l.order) {
      if (owner_[i] != me) continue;
      Tensor p = params[i];
      if (h[i]) p.set_grad(mine.narrow(0, off, p.numel()).view(p.sizes()));
      else p.set_grad(Tensor());
      off += p.numel();
    }
  }
}

void ZeroRedundancyOptimizer::all_gather_parameters(const std::vector<Tensor>& params) {
  const int me = group_->rank();
  for (auto& [dt, l] : layouts(params, owner_, group_->size())) {
    Tensor mine = empty({l.counts[static_cast<size_t>(me)]}, {.dtype = dt});
    int64_t off = 0;
    for (size_t i : l.order)
      if (owner_[i] == me) {
        mine.narrow(0, off, params[i].numel()).copy_(params[i].reshape({params[i].numel()}));
        off += params[i].numel();
      }
    Tensor all = empty({l.total}, {.dtype = dt});
    group_->allgather_v(all, mine, l.counts)->wait();
    off = 0;
    for (size_t i : l.order) {
      Tensor p = params[i];
      if (owner_[i] != me) p.copy_(all.narrow(0, off, p.numel()).view(p.sizes()));
      off += p.numel();
    }
  }
}

void ZeroRedundancyOptimizer::step() {
  NoGradGuard no_grad;
  const std::vector<Tensor> params = all_params();
  if (!options_.gradients_averaged) reduce_scatter_gradients(params);
  if (local_) {
    // Schedulers set the full groups' options; the wrapped optimizer takes them now.
    for (size_t lg = 0; lg < local_group_of_.size(); ++lg)
      local_->param_groups()[lg].options = param_groups()[local_group_of_[lg]].options;
    local_->step();
  }
  all_gather_parameters(params);
}

int64_t ZeroRedundancyOptimizer::local_state_bytes() const {
  if (!local_) return 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < local_->num_params(); ++i)
    for (const auto& [name, t] : local_->state(i).buffers) bytes += static_cast<int64_t>(t.nbytes());
  return bytes;
}

StateDict ZeroRedundancyOptimizer::state_dict() const {
  StateDict sd;
  sd.set("zero.world_size", static_cast<int64_t>(group_->size()));
  sd.set("zero.rank", static_cast<int64_t>(group_->rank()));
  for (size_t g = 0; g < param_groups().size(); ++g) {
    sd.set(fmt::format("param_groups.{}.num_params", g), static_cast<int64_t>(param_groups()[g].params.size()));
    for (const auto& [name, v] : param_groups()[g].options) sd.set(fmt::format("param_groups.{}.{}", g, name), v);
  }
  if (local_) sd.merge("local", local_->state_dict());
  return sd;
}

void ZeroRedundancyOptimizer::load_state_dict(const StateDict& sd) {
  const int64_t n = sd.integer("zero.world_size"), r = sd.integer("zero.rank");
  if (n != group_->size() || r != group_->rank())
    fail(fmt::format("load_state_dict: this is the shard of rank {} of {}, but this optimizer is rank {} of {}; a "
                     "sharded optimizer state resumes on the same ranks (save a DDP run to change the world size)",
                     r, n, group_->rank(), group_->size()));
  for (size_t g = 0; g < param_groups().size(); ++g) {
    const int64_t count = sd.integer(fmt::format("param_groups.{}.num_params", g));
    if (count != static_cast<int64_t>(param_groups()[g].params.size()))
      fail(fmt::format("load_state_dict: parameter group {} has {} parameters in the state dict, {} here", g, count,
                       param_groups()[g].params.size()));
    for (auto& [name, v] : param_groups()[g].options) v = sd.real(fmt::format("param_groups.{}.{}", g, name));
  }
  if (local_) local_->load_state_dict(sd.sub("local"));
}

}  // namespace ds::dist
