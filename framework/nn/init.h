#pragma once
// Parameter initialisers, as torch.nn.init: each fills a tensor in place (no autograd) and returns it. Fans follow
// torch: for a weight (out, in, k...), fan_in = in * prod(k), fan_out = out * prod(k).
#include <ds/core/rng.h>
#include <ds/ops/tensor.h>

namespace ds::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, ReLU, LeakyReLU, Tanh, Sigmoid };

// torch.nn.init.calculate_gain: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + a^2)) (leaky relu).
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
std::pair<int64_t, int64_t> fans(const Tensor& t);  // (fan_in, fan_out)

Tensor& uniform_(Tensor& t, double low = 0, double high = 1, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);
// Normal(mean, std) redrawn until inside [a, b] (torch's inverse-CDF method, same distribution).
Tensor& trunc_normal_(Tensor& t, double mean = 0, double std = 1, double a = -2, double b = 2, Generator* gen = nullptr);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
// U(-bound, bound), bound = gain * sqrt(3 / fan): the default of Linear and Conv is a = sqrt(5), leaky_relu.
Tensor& kaiming_uniform_(Tensor& t, double a = 0, FanMode mode = FanMode::FanIn,
                         Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);
Tensor& kaiming_normal_(Tensor& t, double a = 0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU, Generator* gen = nullptr);
// U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)); N(0, gain * sqrt(2 / (fan_in + fan_out))).
Tensor& xavier_uniform_(Tensor& t, double gain = 1, Generator* gen = nullptr);
Tensor& xavier_normal_(Tensor& t, double gain = 1, Generator* gen = nullptr);

}  // namespace ds::nn::init
