#include <ds/nn/init.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>

namespace ds::nn::init {
namespace {
// Writes value (computed in float64, so every dtype draws the same numbers) into t without autograd.
Tensor& assign(Tensor& t, const Tensor& value) {
  NoGradGuard no_grad;
  t.detach().copy_(value);
  return t;
}
TensorOptions f64_like(const Tensor& t) { return {.dtype = kF64, .device = t.device()}; }
}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + param * param));
  }
  return 1.0;
}

std::pair<int64_t, int64_t> fans(const Tensor& t) {
  DS_CHECK(t.dim() >= 2, "init", "fan in and fan out need a tensor of at least 2 dimensions, got {}",
           shape_str(t.sizes()));
  const int64_t receptive = t.numel() / std::max<int64_t>(1, t.size(0) * t.size(1));
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  DS_CHECK(low <= high, "init", "uniform_ needs low <= high, got {} and {}", low, high);
  return assign(t, rand(t.sizes(), f64_like(t), gen) * (high - low) + low);
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  DS_CHECK(std >= 0, "init", "normal_ needs std >= 0, got {}", std);
  return assign(t, randn(t.sizes(), f64_like(t), gen) * std + mean);
}

// torch's method: uniform in [cdf(a), cdf(b)], mapped back through the inverse CDF (erfinv), then clamped.
Tensor& trunc_normal_(Tensor& t, double mean, double std, double a, double b, Generator* gen) {
  DS_CHECK(a < b && std > 0, "init", "trunc_normal_ needs a < b and std > 0, got a={}, b={}, std={}", a, b, std);
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  const Tensor p = rand(t.sizes(), f64_like(t), gen) * (2 * u - 2 * l) + (2 * l - 1);  // uniform in [2l-1, 2u-1]
  // erfinv by Newton's method on erf (a handful of iterations reach double precision from a good start).
  const std::vector<double> pv = p.contiguous().tolist<double>();
  std::vector<double> out(pv.size());
  for (size_t i = 0; i < pv.size(); ++i) {
    const double y = std::clamp(pv[i], -1 + 1e-15, 1 - 1e-15);
    // Winitzki's approximation as the start: erfinv(y) ~ sign(y) sqrt(sqrt(t^2 + w / a) - t), t = 2 / (pi a) - w / 2.
    const double w = -std::log((1 - y) * (1 + y)), ka = 0.147, tt = 2 / (M_PI * ka) - w / 2;
    double x = std::copysign(std::sqrt(std::sqrt(tt * tt + w / ka) - tt), y);
    for (int it = 0; it < 4; ++it) x -= (std::erf(x) - y) / (2 / std::sqrt(M_PI) * std::exp(-x * x));
    out[i] = std::clamp(mean + std * std::sqrt(2.0) * x, a, b);
  }
  return assign(t, from_vector(out, t.sizes()));
}

Tensor& constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.detach().fill_(value);
  return t;
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1); }

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nl) {
  const auto [fan_in, fan_out] = fans(t);
  const int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
  DS_CHECK(fan > 0, "init", "kaiming init of a tensor with zero fan ({})", shape_str(t.sizes()));
  return calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  return uniform_(t, -bound, bound, gen);
}
Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  return normal_(t, 0, kaiming_std(t, a, mode, nl), gen);
}
Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  const auto [fan_in, fan_out] = fans(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -bound, bound, gen);
}
Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  const auto [fan_in, fan_out] = fans(t);
  return normal_(t, 0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

}  // namespace ds::nn::init
