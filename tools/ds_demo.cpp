// ds-demo: trains a two-layer MLP on a generated problem with ds tensors and autograd, and prints the loss falling.
// The problem: points in 2-d, labelled by which of three interleaved spirals they lie on (not linearly separable).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include <ds/ds.h>

using namespace ds;

namespace {

// n points per class on three spirals, with a little noise; returns x (3n, 2) and labels (3n).
std::pair<Tensor, Tensor> spirals(int64_t n, Generator& gen) {
  const int64_t classes = 3;
  const Tensor r = linspace(0.05, 1.0, n).repeat({classes});                              // radius
  const Tensor label = arange(0, classes).unsqueeze(1).expand({classes, n}).reshape({-1});  // 0..2
  const Tensor theta = label.to(kF32) * (2.0 * M_PI / classes) + r * 4.0 + randn({classes * n}, {}, &gen) * 0.15;
  const Tensor x = stack({r * cos(theta), r * sin(theta)}, 1);
  return {x, label};
}

}  // namespace

int main() {
  Generator gen(0);
  manual_seed(0);
  auto [x, y] = spirals(300, gen);
  const int64_t in = 2, hidden = 64, classes = 3;
  // Kaiming-uniform initialisation, as torch.nn.Linear does.
  auto uniform = [&](IntArrayRef shape, double bound) { return ((rand(shape, {}, &gen) * 2 - 1) * bound).requires_grad_(); };
  Tensor w1 = uniform({hidden, in}, 1 / std::sqrt(double(in))), b1 = uniform({hidden}, 1 / std::sqrt(double(in)));
  Tensor w2 = uniform({classes, hidden}, 1 / std::sqrt(double(hidden))), b2 = uniform({classes}, 1 / std::sqrt(double(hidden)));
  std::vector<Tensor> params = {w1, b1, w2, b2}, velocity;
  for (const Tensor& p : params) velocity.push_back(zeros_like(p));

  const double lr = 0.2, momentum = 0.9;
  std::printf("ds demo: a 2-64-3 MLP learns three spirals (900 points), full-batch SGD with momentum\n");
  const auto start = std::chrono::steady_clock::now();
  double first = 0, last = 0;
  for (int step = 0; step <= 400; ++step) {
    const Tensor logits = linear(relu(linear(x, w1, b1)), w2, b2);
    const Tensor loss = cross_entropy(logits, y);
    for (Tensor& p : params) p.set_grad(Tensor());
    loss.backward();
    {
      NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        velocity[i].mul_(momentum).add_(params[i].grad());
        params[i].sub_(velocity[i] * lr);
      }
    }
    last = loss.item<double>();
    if (step == 0) first = last;
    if (step % 50 == 0) {
      const double acc = (argmax(logits, 1) == y).to(kF32).mean().item<double>();
      std::printf("step %3d  loss %.4f  accuracy %.3f\n", step, last, acc);
    }
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("loss fell from %.4f to %.4f in %.2f s\n", first, last, sec);
  return last < first / 4 ? 0 : 1;
}
