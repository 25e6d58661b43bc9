// DistributedDataParallel: N ranks with batch b against one process with batch N b (parameters after 10 SGD steps in
// f64 to 1e-10, the f32 AdamW loss curve to 1e-5 relative), no_sync, unused parameters, bucket rebuilding, mismatched
// models and the collective decision to skip a step.
#include <cmath>

#include <catch2/catch.hpp>

#include <ds/distributed/ddp.h>
#include <ds/distributed/init.h>
#include <ds/ds.h>

#include "dist_test_util.h"

using namespace ds;

TEST_CASE("DDP on N ranks with batch b equals one process with batch N b (SGD, f64)", "[mpi][ddp]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int64_t b = 5;
  auto data = test::global_batches(10, n * b, kF64);
  auto ref = test::small_net(kF64, 11);
  auto mine = test::small_net(kF64, 100 + me);  // different init: DDP must broadcast rank 0's... which is seed 100
  auto rank0_init = test::small_net(kF64, 100);
  // The single-process reference starts from rank 0's weights too.
  ref->load_state_dict(rank0_init->state_dict());
  dist::DistributedDataParallel ddp(mine, world, {.bucket_cap_mb = 0.002, .first_bucket_cap_mb = 0.001});
  CHECK(ddp.bucket_layout().size() > 2);  // several buckets, so their order matters
  optim::SGD opt_ref(ref->parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::SGD opt(mine->parameters(), {.lr = 0.1, .momentum = 0.9});
  for (const auto& [x, y] : data) {
    opt_ref.zero_grad();
    mse_loss((*ref)(x), y).backward();
    opt_ref.step();
    opt.zero_grad();
    mse_loss(ddp(x.narrow(0, me * b, b)), y.narrow(0, me * b, b)).backward();
    opt.step();
  }
  const auto want = ref->parameters(), got = mine->parameters();
  REQUIRE(want.size() == got.size());
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, (want[i] - got[i]).abs().max().item<double>());
  INFO("largest parameter difference after 10 steps: " << worst);
  CHECK(worst < 1e-10);
  CHECK(ddp.last_stats().buckets == static_cast<int>(ddp.bucket_layout().size()));
  CHECK(ddp.last_stats().bytes_sent > 0);
}

TEST_CASE("DDP's f32 AdamW loss curve equals one process's to 1e-5", "[mpi][ddp]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int64_t b = 8;
  auto data = test::global_batches(10, n * b, kF32);
  auto ref = test::small_net(kF32, 7), mine = test::small_net(kF32, 7);
  dist::DistributedDataParallel ddp(mine, world);
  optim::AdamW opt_ref(ref->parameters(), {.lr = 1e-2}), opt(mine->parameters(), {.lr = 1e-2});
  double worst = 0;
  for (const auto& [x, y] : data) {
    opt_ref.zero_grad();
    Tensor l_ref = mse_loss((*ref)(x), y);
    l_ref.backward();
    opt_ref.step();
    opt.zero_grad();
    Tensor l = mse_loss(ddp(x.narrow(0, me * b, b)), y.narrow(0, me * b, b));
    l.backward();
    opt.step();
    // The global loss: the mean of the ranks' means.
    Tensor g = l.detach().clone();
    world->allreduce(g, dist::ReduceOp::kAvg)->wait();
    worst = std::max(worst, std::abs(g.item<double>() - l_ref.item<double>()) / std::abs(l_ref.item<double>()));
  }
  INFO("largest relative loss difference: " << worst);
  CHECK(worst < 1e-5);
}

TEST_CASE("DDP no_sync accumulates locally and syncs the sum on the next backward", "[mpi][ddp]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int64_t b = 3;
  auto data = test::global_batches(2, n * b, kF64);
  auto ref = test::small_net(kF64, 5), mine = test::small_net(kF64, 5);
  dist::DistributedDataParallel ddp(mine, world);
  // Reference: the sum of the two micro-batches' mean losses over all N b samples each.
  for (const auto& [x, y] : data) mse_loss((*ref)(x), y).backward();
  const uint64_t before = world->bytes_sent();
  {
    auto guard = ddp.no_sync();
    mse_loss(ddp(data[0].first.narrow(0, me * b, b)), data[0].second.narrow(0, me * b, b)).backward();
  }
  CHECK(world->bytes_sent() == before);  // nothing was sent
  mse_loss(ddp(data[1].first.narrow(0, me * b, b)), data[1].second.narrow(0, me * b, b)).backward();
  const auto want = ref->parameters(), got = mine->parameters();
  for (size_t i = 0; i < want.size(); ++i) CHECK((want[i].grad() - got[i].grad()).abs().max().item<double>() < 1e-12);
}

TEST_CASE("DDP names parameters that got no gradient, or handles them when asked", "[mpi][ddp]") {
  auto world = dist::world();
  const int me = world->rank();
  // Unused everywhere: an error naming the parameter, on every rank.
  {
    auto model = std::make_shared<test::TwoHeads>();
    dist::DistributedDataParallel ddp(model, world);
    Tensor out = ddp.run([&] { return model->forward_a(ones({2, 4}, {.dtype = kF64})); });
    CHECK_THROWS_WITH(out.sum().backward(), Catch::Matchers::Contains("[DDP]") &&
                                                Catch::Matchers::Contains("head_b.weight") &&
                                                Catch::Matchers::Contains("find_unused_parameters"));
  }
  // find_unused_parameters: head_b used on rank 0 only (its gradient is rank 0's divided by N); head_c nowhere.
  {
    auto model = std::make_shared<test::TwoHeads>();
    dist::DistributedDataParallel ddp(model, world, {.find_unused_parameters = true});
    Tensor x = ones({2, 4}, {.dtype = kF64});
    for (int step = 0; step < 2; ++step) {  // the second step runs on the rebuilt buckets
      model->zero_grad();
      Tensor out = ddp.run([&] { return me == 0 ? model->forward_a(x) + model->forward_b(x) : model->forward_a(x); });
      out.sum().backward();
      const int n = world->size();
      REQUIRE(model->head_b->weight.grad().defined());
      CHECK(model->head_b->weight.grad().sum().item<double>() == Approx(2.0 * 4 * 3 / n));  // rank 0's dL/dW / N
      CHECK_FALSE(model->head_c->weight.grad().defined());
      CHECK(model->head_a->weight.grad().sum().item<double>() == Approx(2.0 * 4 * 3));
    }
  }
}

TEST_CASE("DDP rebuilds its buckets in gradient arrival order, the same on every rank", "[mpi][ddp]") {
  auto world = dist::world();
  auto model = test::small_net(kF32, 3);
  dist::DistributedDataParallel ddp(model, world, {.bucket_cap_mb = 0.001, .first_bucket_cap_mb = 0.001});
  const auto before = ddp.bucket_layout();
  // Reverse registration order at first.
  CHECK(before.front().front() == model->named_parameters().back().first);
  mse_loss(ddp(ones({4, 6})), zeros({4, 3})).backward();
  const auto after = ddp.bucket_layout();
  size_t count = 0;
  for (const auto& b : after) count += b.size();
  CHECK(count == model->parameters().size());
  // Every rank holds the same layout: compare a fingerprint of the names.
  std::string all;
  for (const auto& b : after)
    for (const auto& name : b) all += name + ";";
  Tensor h = full({1}, static_cast<int64_t>(std::hash<std::string>{}(all) & 0x7fffffff), {.dtype = kI64});
  Tensor hmax = h.clone(), hmin = h.clone();
  world->allreduce(hmax, dist::ReduceOp::kMax)->wait();
  world->allreduce(hmin, dist::ReduceOp::kMin)->wait();
  CHECK(hmax.item<int64_t>() == hmin.item<int64_t>());
  // A second step on the rebuilt buckets still averages correctly.
  model->zero_grad();
  mse_loss(ddp(full({4, 6}, world->rank() + 1.0)), zeros({4, 3})).backward();
  CHECK(model->parameters()[0].grad().defined());
}

TEST_CASE("DDP refuses models that differ across ranks", "[mpi][ddp]") {
  auto world = dist::world();
  auto model = world->rank() == 0 ? test::small_net(kF32, 1, 16) : test::small_net(kF32, 1, 17);
  CHECK_THROWS_WITH(dist::DistributedDataParallel(model, world),
                    Catch::Matchers::Contains("[DDP] every rank must wrap the same model"));
}

TEST_CASE("ranks decide together to skip a step", "[mpi][ddp]") {
  auto world = dist::world();
  auto model = test::small_net(kF32, 1);
  dist::DistributedDataParallel ddp(model, world);
  CHECK(ddp.all_ranks(true));
  CHECK_FALSE(ddp.all_ranks(world->rank() != world->size() - 1));  // one rank's bad loss stops them all
  // A NaN gradient on one rank reaches every rank through the average.
  Tensor x = ones({2, 6});
  if (world->rank() == 0) x = x * NAN;
  mse_loss(ddp(x), zeros({2, 3})).backward();
  bool finite = true;
  for (const Tensor& p : model->parameters()) finite &= std::isfinite(p.grad().sum().item<double>());
  CHECK_FALSE(finite);
}
