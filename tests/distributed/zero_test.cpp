// ZeroRedundancyOptimizer: every ds optimizer sharded across the ranks gives DDP's parameters (f64, 1e-10), with and
// without DDP in front; the state is split across ranks; a shard's state dict resumes bitwise and refuses another
// layout.
#include <catch2/catch.hpp>

#include <ds/distributed/ddp.h>
#include <ds/distributed/init.h>
#include <ds/distributed/zero.h>
#include <ds/ds.h>

#include "../test_util.h"
#include "dist_test_util.h"

using namespace ds;

namespace {

using Factory = dist::ZeroRedundancyOptimizer::Factory;

struct Kind {
  const char* name;
  Factory make;
};

std::vector<Kind> kinds() {
  return {
      {"SGD", [](std::vector<optim::ParamGroup> g) {
         return std::make_unique<optim::SGD>(std::move(g), optim::SGDOptions{.lr = 0.05, .momentum = 0.9,
                                                                            .weight_decay = 1e-3, .nesterov = true});
       }},
      {"Adam", [](std::vector<optim::ParamGroup> g) {
         return std::make_unique<optim::Adam>(std::move(g), optim::AdamOptions{.lr = 1e-2, .amsgrad = true});
       }},
      {"AdamW", [](std::vector<optim::ParamGroup> g) { return std::make_unique<optim::AdamW>(std::move(g)); }},
      {"LAMB", [](std::vector<optim::ParamGroup> g) { return std::make_unique<optim::LAMB>(std::move(g)); }},
      {"Lion", [](std::vector<optim::ParamGroup> g) { return std::make_unique<optim::Lion>(std::move(g)); }},
  };
}

double max_diff(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

}  // namespace

TEST_CASE("ZeRO-1 gives DDP's parameters for every optimizer", "[mpi][zero]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int64_t b = 4;
  auto data = test::global_batches(5, n * b, kF64);
  for (const Kind& kind : kinds()) {
    for (bool behind_ddp : {false, true}) {
      INFO(kind.name << (behind_ddp ? " behind DDP" : " alone"));
      auto ref = test::small_net(kF64, 21), mine = test::small_net(kF64, 21);
      dist::DistributedDataParallel ddp_ref(ref, world);
      auto opt_ref = kind.make({optim::ParamGroup(ref->parameters())});
      std::unique_ptr<dist::DistributedDataParallel> ddp;
      if (behind_ddp) ddp = std::make_unique<dist::DistributedDataParallel>(mine, world);
      // Two groups, so that options travel per group.
      auto params = mine->parameters();
      std::vector<optim::ParamGroup> groups{
          optim::ParamGroup(std::vector<Tensor>(params.begin(), params.begin() + 2)),
          optim::ParamGroup(std::vector<Tensor>(params.begin() + 2, params.end()))};
      dist::ZeroRedundancyOptimizer zero(groups, kind.make, world, {.gradients_averaged = behind_ddp});
      for (const auto& [x, y] : data) {
        opt_ref->zero_grad();
        mse_loss(ddp_ref(x.narrow(0, me * b, b)), y.narrow(0, me * b, b)).backward();
        opt_ref->step();
        zero.zero_grad();
        Tensor out = ddp ? (*ddp)(x.narrow(0, me * b, b)) : (*mine)(x.narrow(0, me * b, b));
        mse_loss(out, y.narrow(0, me * b, b)).backward();
        zero.step();
      }
      CHECK(max_diff(ref->parameters(), mine->parameters()) < 1e-10);
    }
  }
}

TEST_CASE("ZeRO-1 shards the optimizer state across the ranks", "[mpi][zero]") {
  auto world = dist::world();
  const int n = world->size();
  // Eight equal layers: whole-parameter ownership can split them evenly over 2 or 4 ranks.
  manual_seed(2);
  auto model = std::make_shared<nn::Sequential>();
  for (int i = 0; i < 8; ++i) model->push_back(nn::make<nn::Linear>(32, 32));
  const Factory adamw = [](std::vector<optim::ParamGroup> g) { return std::make_unique<optim::AdamW>(std::move(g)); };
  dist::ZeroRedundancyOptimizer zero(model->parameters(), adamw, world);
  mse_loss((*model)(ones({2, 32})), zeros({2, 32})).backward();
  zero.step();
  int64_t all_bytes = 0;
  for (const Tensor& p : model->parameters()) all_bytes += 2 * static_cast<int64_t>(p.nbytes());  // exp_avg, exp_avg_sq
  Tensor total = full({1}, zero.local_state_bytes(), {.dtype = kI64});
  world->allreduce(total)->wait();
  CHECK(total.item<int64_t>() == all_bytes);  // every parameter's state lives on exactly one rank
  INFO("this rank holds " << zero.local_state_bytes() << " of " << all_bytes << " bytes");
  CHECK(zero.local_state_bytes() == all_bytes / n);
  // Every parameter has one owner, and every rank computes the same owners.
  Tensor owners = empty({static_cast<int64_t>(model->parameters().size())}, {.dtype = kI64});
  for (size_t i = 0; i < model->parameters().size(); ++i) owners[static_cast<int64_t>(i)].fill_(zero.owner(i));
  Tensor mx = owners.clone();
  world->allreduce(mx, dist::ReduceOp::kMax)->wait();
  CHECK(equal_bits(mx, owners));
}

TEST_CASE("a ZeRO-1 shard's state dict resumes bitwise, on the same ranks only", "[mpi][zero]") {
  auto world = dist::world();
  const int64_t b = 3;
  const int me = world->rank();
  auto data = test::global_batches(6, world->size() * b, kF32);
  const Factory adam = [](std::vector<optim::ParamGroup> g) {
    return std::make_unique<optim::Adam>(std::move(g), optim::AdamOptions{.lr = 1e-2});
  };
  auto step = [&](nn::Module& m, dist::ZeroRedundancyOptimizer& z, size_t k) {
    z.zero_grad();
    mse_loss(m(data[k].first.narrow(0, me * b, b)), data[k].second.narrow(0, me * b, b)).backward();
    z.step();
  };
  auto straight = test::small_net(kF32, 4);
  dist::ZeroRedundancyOptimizer z1(straight->parameters(), adam, world);
  for (size_t k = 0; k < 6; ++k) step(*straight, z1, k);

  auto resumed = test::small_net(kF32, 4);
  StateDict model_state, opt_state;
  {
    dist::ZeroRedundancyOptimizer z2(resumed->parameters(), adam, world);
    for (size_t k = 0; k < 3; ++k) step(*resumed, z2, k);
    model_state = resumed->state_dict();
    opt_state = z2.state_dict();
    for (auto& [name, v] : opt_state.entries())  // a snapshot, as a checkpoint file would be
      if (auto* t = std::get_if<Tensor>(&v)) opt_state.set(name, t->clone());
  }
  auto fresh = test::small_net(kF32, 99);
  fresh->load_state_dict(model_state);
  dist::ZeroRedundancyOptimizer z3(fresh->parameters(), adam, world);
  z3.load_state_dict(opt_state);
  for (size_t k = 3; k < 6; ++k) step(*fresh, z3, k);
  const auto a = straight->parameters(), c = fresh->parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(equal_bits(a[i], c[i]));
  // Another rank's shard is refused with both layouts named.
  StateDict other = opt_state;
  other.set("zero.rank", static_cast<int64_t>((me + 1) % world->size()));
  CHECK_THROWS_WITH(z3.load_state_dict(other), Catch::Matchers::Contains("the same ranks"));
}
