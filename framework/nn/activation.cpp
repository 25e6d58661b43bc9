#include <ds/nn/activation.h>

#include <ds/core/detail/check.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/nn_functional.h>

namespace ds::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

GELU::GELU(std::string approximate) : Module("GELU"), tanh_(approximate == "tanh") {
  DS_CHECK(approximate == "none" || approximate == "tanh", "GELU", "approximate must be 'none' or 'tanh', got '{}'",
           approximate);
}
Tensor GELU::forward(const Tensor& x) { return tanh_ ? gelu_tanh(x) : gelu(x); }
std::string GELU::extra_repr() const { return tanh_ ? "approximate='tanh'" : "approximate='none'"; }

Tensor SiLU::forward(const Tensor& x) { return silu(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }

Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim_); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", dim_); }

Dropout::Dropout(double p) : Module("Dropout"), p_(p) {
  DS_CHECK(p >= 0 && p <= 1, "Dropout", "probability must be in [0, 1], got {}", p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training()); }
std::string Dropout::extra_repr() const { return fmt::format("p={}, inplace=False", p_); }

}  // namespace ds::nn
