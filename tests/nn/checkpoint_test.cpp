// Gradient checkpointing of whole models (nn/checkpoint.h): an unmodified Sequential model under a
// GradientCheckpointGuard gives the plain run's gradients bit for bit (dropout and batch norm included, the running
// statistics updated once), and needs clearly less peak memory for a deep MLP.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/nn/nn.h>

#include "../test_util.h"

using namespace ds;

namespace {

std::shared_ptr<nn::Sequential> mlp(int64_t depth, int64_t width, double p, bool blocks) {
  auto seq = nn::make<nn::Sequential>();
  for (int64_t i = 0; i < depth; ++i) {
    std::shared_ptr<nn::Module> lin = nn::make<nn::Linear>(width, width), act = nn::make<nn::ReLU>();
    if (blocks) {
      auto b = nn::make<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{lin, act});
      if (p > 0) b->push_back(nn::make<nn::Dropout>(p));
      seq->push_back(b);
    } else {
      seq->push_back(lin).push_back(act);
      if (p > 0) seq->push_back(nn::make<nn::Dropout>(p));
    }
  }
  return seq;
}

std::shared_ptr<nn::Sequential> convnet() {
  nn::ConvLayerOptions pad1;
  pad1.padding = {1};
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Conv2d>(3, 8, Shape{3}, pad1), nn::make<nn::BatchNorm2d>(8), nn::make<nn::ReLU>(),
      nn::make<nn::Dropout>(0.3), nn::make<nn::Conv2d>(8, 8, Shape{3}), nn::make<nn::BatchNorm2d>(8),
      nn::make<nn::ReLU>(), nn::make<nn::MaxPool2d>(Shape{2}), nn::make<nn::Flatten>(), nn::make<nn::Linear>(72, 10)});
}

// One training step's gradients (parameters, then the input) with the dropout seed fixed.
std::vector<Tensor> step(nn::Module& model, const Tensor& x0, int64_t segments, bool checkpointed) {
  Tensor x = x0.detach().requires_grad_();
  model.zero_grad();
  manual_seed(42);
  Tensor loss;
  if (checkpointed) {
    nn::GradientCheckpointGuard guard(segments);
    loss = (model(x) * model(x).detach()).sum();  // a second, plain-valued use checks the no-grad path too
  } else {
    loss = (model(x) * model(x).detach()).sum();
  }
  loss.backward();
  std::vector<Tensor> g;
  for (const Tensor& p : model.parameters()) g.push_back(p.grad());
  g.push_back(x.grad());
  return g;
}

}  // namespace

TEST_CASE("GradientCheckpointGuard: an MLP with dropout gets the plain run's gradients", "[checkpoint][nn]") {
  manual_seed(1);
  auto model = mlp(6, 16, 0.2, false);
  model->to(kF64);
  Tensor x = randn({8, 16}, {.dtype = kF64});
  const auto plain = step(*model, x, 0, false);
  for (int64_t segments : {0, 1, 3, 100}) {
    INFO("segments " << segments);
    check_all_equal_bits(step(*model, x, segments, true), plain);
  }
  auto blocks = mlp(6, 16, 0.2, true);  // checkpointed per block; nested Sequentials run plainly inside
  blocks->to(kF64);
  check_all_equal_bits(step(*blocks, x, 0, true), step(*blocks, x, 0, false));
}

TEST_CASE("GradientCheckpointGuard: a conv net with batch norm and dropout; running stats updated once",
          "[checkpoint][nn]") {
  manual_seed(2);
  auto plain = convnet();
  manual_seed(2);
  auto ckpt = convnet();
  plain->to(kF64);
  ckpt->to(kF64);
  Tensor x = randn({4, 3, 8, 8}, {.dtype = kF64});
  for (int it = 0; it < 2; ++it) check_all_equal_bits(step(*ckpt, x, 0, true), step(*plain, x, 0, false));
  // Two forward calls per step, two steps: 4 updates in both, not more in the checkpointed one.
  const auto bp = plain->named_buffers(), bc = ckpt->named_buffers();
  REQUIRE(bp.size() == bc.size());
  for (size_t i = 0; i < bp.size(); ++i) {
    INFO(bp[i].first);
    CHECK(equal_bits(bp[i].second, bc[i].second));
  }
  CHECK(bc[2].first == "1.num_batches_tracked");
  CHECK(bc[2].second.item<int64_t>() == 4);

  ckpt->eval();
  plain->eval();
  check_all_equal_bits(step(*ckpt, x, 2, true), step(*plain, x, 2, false));
}

TEST_CASE("GradientCheckpointGuard: lower peak memory for a deep MLP", "[checkpoint][nn]") {
  // 32 x (Linear(128,128), ReLU) on a batch of 4096 in f32: each activation is 2 MiB and the parameters are small,
  // so activations dominate. Plain backward keeps one activation per layer (ReLU's output, which is also the next
  // matmul's input); checkpointing in k segments keeps k - 1 segment inputs, the last segment's activations, and
  // one recomputed segment at a time.
  manual_seed(3);
  auto model = mlp(32, 128, 0.0, false);
  Tensor x = randn({4096, 128});
  auto peak_of = [&](int64_t segments, bool checkpointed) {
    model->zero_grad();
    Allocator& a = cpu_allocator();
    const int64_t base = a.stats().live_bytes;
    a.reset_peak();
    {
      std::unique_ptr<nn::GradientCheckpointGuard> guard;
      if (checkpointed) guard = std::make_unique<nn::GradientCheckpointGuard>(segments);
      (*model)(x).sum().backward();
    }
    return a.stats().peak_bytes - base;
  };
  const int64_t plain = peak_of(0, false);
  const int64_t four = peak_of(4, true);
  const int64_t eight = peak_of(8, true);
  // Each child its own segment saves nothing here: a lone Linear or ReLU keeps its input either way.
  const int64_t per_child = peak_of(0, true);
  WARN("deep MLP (32 x Linear(128,128)+ReLU, batch 4096, f32) peak bytes above the live ones during "
       "forward+backward: plain " << plain << ", 4 segments " << four << ", 8 segments " << eight
       << ", one segment per child " << per_child);
  CHECK(four < plain / 2);
  CHECK(eight < plain / 2);
}
