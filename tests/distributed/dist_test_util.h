#pragma once
// Models and data shared by the distributed tests: every rank builds the same ones from the same seeds.
#include <memory>
#include <utility>
#include <vector>

#include <ds/ds.h>

namespace ds::test {

// 6 -> hidden -> hidden -> 3 with tanh, in dtype, initialised from `seed`.
inline std::shared_ptr<nn::Module> small_net(DType dtype, uint64_t seed, int64_t hidden = 16) {
  manual_seed(seed);
  auto net = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Linear>(6, hidden), nn::make<nn::Tanh>(), nn::make<nn::Linear>(hidden, hidden),
      nn::make<nn::Tanh>(), nn::make<nn::Linear>(hidden, 3)});
  net->to(dtype);
  return net;
}

// `steps` batches of (batch, 6) inputs and (batch, 3) targets, the same on every rank.
inline std::vector<std::pair<Tensor, Tensor>> global_batches(int steps, int64_t batch, DType dtype) {
  manual_seed(1234);
  std::vector<std::pair<Tensor, Tensor>> out;
  for (int s = 0; s < steps; ++s)
    out.emplace_back(randn({batch, 6}, {.dtype = dtype}), randn({batch, 3}, {.dtype = dtype}));
  return out;
}

// Three heads over a shared input; a forward may use any of them (unused-parameter tests). f64.
struct TwoHeads : nn::Module {
  TwoHeads() : nn::Module("TwoHeads") {
    manual_seed(3);
    head_a = register_module("head_a", nn::make<nn::Linear>(4, 3));
    head_b = register_module("head_b", nn::make<nn::Linear>(4, 3));
    head_c = register_module("head_c", nn::make<nn::Linear>(4, 3));
    to(kF64);
  }
  Tensor forward_a(const Tensor& x) { return (*head_a)(x); }
  Tensor forward_b(const Tensor& x) { return (*head_b)(x); }
  std::shared_ptr<nn::Linear> head_a, head_b, head_c;
};

}  // namespace ds::test
