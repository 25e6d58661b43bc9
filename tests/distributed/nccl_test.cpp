// The NCCL backend on CUDA tensors (label cuda: runs where a GPU is, as a world of one process or under mpirun with
// one rank per GPU): every collective against expected values, ordering with the caller's stream, and DDP on a CUDA
// model equal to one process.
#include <catch2/catch.hpp>

#include <ds/distributed/ddp.h>
#include <ds/distributed/init.h>
#include <ds/ds.h>

#include "dist_test_util.h"

using namespace ds;

namespace {
Device my_gpu() { return Device(DeviceType::CUDA, dist::launch_info().local_rank % cuda_device_count()); }
}  // namespace

TEST_CASE("NCCL collectives on CUDA tensors", "[nccl]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const Device gpu = my_gpu();
  for (DType dt : {kF32, kF16, kBF16, kI64, kF64}) {
    INFO(dtype_name(dt));
    Tensor t = full({1001}, me + 1.0, {.dtype = dt, .device = gpu});
    world->allreduce(t)->wait();
    CHECK(t.to(kCPU).to(kF64).sum().item<double>() == Approx(1001.0 * n * (n + 1) / 2));
    if (is_floating(dt)) {
      Tensor a = full({7}, me + 1.0, {.dtype = dt, .device = gpu});
      world->allreduce(a, dist::ReduceOp::kAvg)->wait();
      CHECK(a.to(kCPU).to(kF64)[0].item<double>() == Approx((n + 1) / 2.0));
    }
    Tensor m = full({3}, static_cast<double>(me), {.dtype = dt, .device = gpu});
    world->allreduce(m, dist::ReduceOp::kMax)->wait();
    CHECK(m.to(kCPU).to(kF64)[2].item<double>() == n - 1);
  }
  Tensor b = full({5}, static_cast<double>(me), {.device = gpu});
  world->broadcast(b, n - 1)->wait();
  CHECK(b.to(kCPU)[4].item<float>() == n - 1);
  Tensor in = full({4}, static_cast<double>(me), {.device = gpu}), out = empty({4 * n}, {.device = gpu});
  world->allgather(out, in)->wait();
  CHECK(out.to(kCPU)[4 * n - 1].item<float>() == n - 1);
  Tensor rs = empty({4}, {.device = gpu});
  world->reduce_scatter(rs, full({4 * n}, 1.0, {.device = gpu}))->wait();
  CHECK(rs.to(kCPU)[0].item<float>() == n);
  Tensor a2a = empty({2 * n}, {.device = gpu});
  world->all_to_all(a2a, full({2 * n}, static_cast<double>(me), {.device = gpu}))->wait();
  CHECK(a2a.to(kCPU)[2 * n - 1].item<float>() == n - 1);
  world->barrier()->wait();
  // Without wait(): ops queued after the collective on the caller's stream see its result.
  Tensor s = full({8}, 1.0, {.device = gpu});
  world->allreduce(s);
  CHECK((s * 2).sum().item<double>() == 16.0 * n);
}

TEST_CASE("DDP of a CUDA model equals one process (NCCL)", "[nccl]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const Device gpu = my_gpu();
  const int64_t b = 4;
  auto data = test::global_batches(5, n * b, kF64);
  auto ref = test::small_net(kF64, 3), mine = test::small_net(kF64, 3);
  ref->to(gpu);
  mine->to(gpu);
  dist::DistributedDataParallel ddp(mine, world);
  optim::SGD opt_ref(ref->parameters(), {.lr = 0.1}), opt(mine->parameters(), {.lr = 0.1});
  for (const auto& [x, y] : data) {
    opt_ref.zero_grad();
    mse_loss((*ref)(x.to(gpu)), y.to(gpu)).backward();
    opt_ref.step();
    opt.zero_grad();
    mse_loss(ddp(x.narrow(0, me * b, b).to(gpu)), y.narrow(0, me * b, b).to(gpu)).backward();
    opt.step();
  }
  double worst = 0;
  const auto p = ref->parameters(), q = mine->parameters();
  for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, (p[i] - q[i]).abs().max().item<double>());
  CHECK(worst < 1e-10);
}
