// Deterministic mode: training steps repeat bitwise; ops whose CUDA kernels accumulate with atomics are refused on
// CUDA while it is on (and only there).
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/models/vision/lenet.h>

#include "../test_util.h"

using namespace ds;

namespace {
std::vector<Tensor> train_three_steps() {
  manual_seed(5);
  auto model = models::lenet5();
  optim::AdamW opt(model->parameters());
  const Tensor x = randn({8, 1, 28, 28}), y = randint(0, 10, {8});
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    cross_entropy(dropout((*model)(x), 0.2), y).backward();
    opt.step();
  }
  return model->parameters();
}
}  // namespace

TEST_CASE("deterministic mode: repeated training steps are bitwise equal", "[core][deterministic]") {
  DeterministicGuard on;
  CHECK(is_deterministic());
  const auto a = train_three_steps(), b = train_three_steps();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(equal_bits(a[i], b[i]));
}

TEST_CASE("deterministic mode: the ops with atomic CUDA kernels are marked, CPU runs them", "[core][deterministic]") {
  CHECK(op_def(OpId::scatter_add).nondeterministic_cuda);
  CHECK(op_def(OpId::index_add).nondeterministic_cuda);
  CHECK_FALSE(op_def(OpId::matmul).nondeterministic_cuda);
  DeterministicGuard on;
  CHECK(scatter_add(zeros({3}), 0, tensor({0, 0, 2}).to(kI64), ones({3})).tolist<float>() == std::vector<float>{2, 0, 1});
}

TEST_CASE("deterministic mode: scatter_add on CUDA is refused with the op named", "[cuda][deterministic]") {
  if (cuda_device_count() == 0) {
    WARN("skipped: no CUDA device");
    return;
  }
  DeterministicGuard on;
  const Tensor z = zeros({3}).to(kCUDA);
  CHECK_THROWS_WITH(scatter_add(z, 0, tensor({0, 1, 2}).to(kI64).to(kCUDA), ones({3}).to(kCUDA)),
                    Catch::Contains("[scatter_add] has no deterministic CUDA kernel"));
}
