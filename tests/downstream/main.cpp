// Trains one linear layer for a few steps against the installed ds and checks the loss fell.
#include <cstdio>

#include <ds/ds.h>

int main() {
  ds::manual_seed(0);
  const ds::Tensor x = ds::randn({64, 3});
  const ds::Tensor y = ds::matmul(x, ds::tensor({{1.0}, {-2.0}, {0.5}}));
  ds::Tensor w = ds::zeros({3, 1}).requires_grad_();
  double first = 0, last = 0;
  for (int step = 0; step < 50; ++step) {
    const ds::Tensor loss = ds::mse_loss(ds::matmul(x, w), y);
    w.set_grad(ds::Tensor());
    loss.backward();
    {
      ds::NoGradGuard no_grad;
      w.sub_(w.grad() * 0.1);
    }
    last = loss.item<double>();
    if (step == 0) first = last;
  }
  std::printf("downstream: loss %.4f -> %.6f\n", first, last);
  return last < first * 1e-3 ? 0 : 1;
}
