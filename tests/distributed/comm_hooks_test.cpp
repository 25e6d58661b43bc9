// Compression hooks against the exact mean: fp16 and bf16 with the agreed scale (no overflow at 1e6, no underflow
// at 1e-6), int8 with error feedback (the running mean converges), bytes on the wire (<= 0.5 and <= 0.3 of f32),
// and non-finite values reaching every rank.
#include <cmath>

#include <catch2/catch.hpp>

#include <ds/distributed/comm_hooks.h>
#include <ds/distributed/init.h>
#include <ds/ds.h>

using namespace ds;

namespace {

// Rank r's gradient: values spread over magnitudes (scale) with a sign pattern, different on every rank.
Tensor rank_gradient(int rank, int64_t n, double scale) {
  manual_seed(500 + static_cast<uint64_t>(rank));
  return randn({n}) * scale;
}

Tensor exact_mean(int ranks, int64_t n, double scale) {
  Tensor sum = zeros({n}, {.dtype = kF64});
  for (int r = 0; r < ranks; ++r) sum = sum + rank_gradient(r, n, scale).to(kF64);
  return sum / static_cast<double>(ranks);
}

double max_error(const Tensor& got, const Tensor& want) { return (got.to(kF64) - want).abs().max().item<double>(); }

// Bytes the plain f32 allreduce sends for n values.
uint64_t f32_bytes(ds::dist::ProcessGroup& g, int64_t n) {
  g.reset_bytes_sent();
  dist::allreduce_hook()->reduce(g, 0, zeros({n}))->wait();
  return g.bytes_sent();
}

}  // namespace

TEST_CASE("fp16 and bf16 compression average within 16-bit precision, at any magnitude", "[mpi][compression]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int64_t len = 3001;
  for (DType dt : {kF16, kBF16}) {
    for (double scale : {1e-6, 1.0, 1e6}) {
      INFO(dtype_name(dt) << " at scale " << scale);
      auto hook = dist::half_compression_hook(dt);
      Tensor g = rank_gradient(me, len, scale);
      hook->reduce(*world, 0, g)->wait();
      const Tensor want = exact_mean(n, len, scale);
      const double peak = want.abs().max().item<double>();
      CHECK(std::isfinite(g.sum().item<double>()));
      CHECK(max_error(g, want) <= (dt == kF16 ? 2e-3 : 1.6e-2) * peak * n);
    }
  }
  world->reset_bytes_sent();
  dist::half_compression_hook(kF16)->reduce(*world, 0, zeros({len}))->wait();
  const double ratio = static_cast<double>(world->bytes_sent()) / static_cast<double>(f32_bytes(*world, len));
  INFO("fp16 bytes ratio " << ratio);
  CHECK(ratio <= 0.501);
}

TEST_CASE("int8 compression averages within its quantisation step, and error feedback cancels the bias",
          "[mpi][compression]") {
  auto world = dist::world();
  const int n = world->size(), me = world->rank();
  const int64_t len = 5000;
  auto hook = dist::int8_compression_hook(256);
  const Tensor want = exact_mean(n, len, 1.0);
  const double peak = want.abs().max().item<double>();
  Tensor first;
  Tensor running = zeros({len}, {.dtype = kF64});
  const int steps = 40;
  for (int t = 0; t < steps; ++t) {
    Tensor g = rank_gradient(me, len, 1.0);
    hook->reduce(*world, 7, g)->wait();
    if (t == 0) first = g.clone();
    running = running + g.to(kF64);
  }
  const double one_step = max_error(first, want), averaged = max_error(running / steps, want);
  INFO("one step: max error " << one_step << " (peak " << peak << "); mean of " << steps << " steps: " << averaged);
  CHECK(one_step <= 4.0 / 127 * 4.5 * n);  // a few quantisation steps of the largest chunk (|x| <~ 4.5)
  CHECK(averaged < one_step / 5);          // error feedback: the residuals are sent later, not lost
  world->reset_bytes_sent();
  hook->reduce(*world, 8, zeros({len}))->wait();
  const double ratio = static_cast<double>(world->bytes_sent()) / static_cast<double>(f32_bytes(*world, len));
  INFO("int8 bytes ratio " << ratio);
  CHECK(ratio <= 0.3);
}

TEST_CASE("a non-finite gradient on one rank reaches every rank through any hook", "[mpi][compression]") {
  auto world = dist::world();
  for (const char* name : {"allreduce", "fp16", "bf16", "int8"}) {
    INFO(name);
    auto hook = dist::comm_hook_by_name(name);
    Tensor g = ones({600});
    if (world->rank() == world->size() - 1) g[5].fill_(INFINITY);
    hook->reduce(*world, 0, g)->wait();
    CHECK_FALSE(std::isfinite(g.sum().item<double>()));
  }
}

TEST_CASE("compression hooks by name", "[world1]") {
  CHECK(dist::comm_hook_by_name("fp16_quantize")->name() == "fp16");
  CHECK(dist::comm_hook_by_name("none")->name() == "allreduce");
  CHECK(dist::comm_hook_by_name("int8")->name() == "int8");
  CHECK_THROWS_WITH(dist::comm_hook_by_name("zip"), Catch::Matchers::Contains("unknown compression 'zip'"));
  CHECK_THROWS_WITH(dist::comm_hook_by_name("fp16")->reduce(*dist::world(), 0, ones({2}, {.dtype = kF16})),
                    Catch::Matchers::Contains("f32 or f64"));
}
