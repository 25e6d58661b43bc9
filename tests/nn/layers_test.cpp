// Every layer and loss is gradchecked in float64 with respect to its input and each of its parameters (gradcheck
// perturbs the module's own parameter tensors in place), plus the behaviour torch documents for each.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/nn/nn.h>

#include "../test_util.h"

using namespace ds;
namespace nnm = ds::nn;

namespace {

// Gradchecks m on x (and every parameter of m). Dropout-like randomness is reseeded before each call.
void check_layer(const std::shared_ptr<nnm::Module>& m, const Tensor& x_in, const std::string& what) {
  INFO(what << ": " << m->to_string());
  m->to(kF64);
  TensorList inputs{is_floating(x_in.dtype()) ? x_in.to(kF64).detach() : x_in};
  if (is_floating(x_in.dtype())) inputs[0].requires_grad_(true);
  for (Tensor& p : m->parameters()) inputs.push_back(p);
  const GradcheckResult r = gradcheck([&](const TensorList& in) {
    manual_seed(0);
    return TensorList{m->forward(in[0])};
  }, inputs);
  DS_CHECK_MSG(r.ok, r.message);
}

void check_loss(const std::shared_ptr<nnm::Loss>& loss, const Tensor& input, const Tensor& target, const std::string& what) {
  INFO(what);
  TensorList inputs{input.to(kF64).detach().requires_grad_(), is_floating(target.dtype()) ? target.to(kF64) : target};
  const GradcheckResult r = gradcheck([&](const TensorList& in) { return TensorList{loss->forward(in[0], in[1])}; }, inputs);
  DS_CHECK_MSG(r.ok, r.message);
}

}  // namespace

TEST_CASE("gradcheck of every layer with respect to its input and parameters", "[nn][autograd]") {
  using nnm::make;
  check_layer(make<nnm::Linear>(3, 2), randn({4, 3}), "Linear");
  check_layer(make<nnm::Linear>(3, 2, false), randn({2, 5, 3}), "Linear without bias, 3-d input");
  check_layer(make<nnm::Conv1d>(2, 4, 3, nnm::ConvLayerOptions{.stride = {2}, .padding = {1}}), randn({2, 2, 7}), "Conv1d");
  check_layer(make<nnm::Conv2d>(4, 6, Shape{3, 2}, nnm::ConvLayerOptions{.stride = {1, 2}, .padding = {1}, .groups = 2}),
              randn({2, 4, 5, 5}), "Conv2d groups");
  check_layer(make<nnm::Conv2d>(2, 3, Shape{3}, nnm::ConvLayerOptions{.dilation = {2}, .bias = false}), randn({1, 2, 6, 6}),
              "Conv2d dilation");
  check_layer(make<nnm::ConvTranspose2d>(3, 2, Shape{3}, nnm::ConvLayerOptions{.stride = {2}, .padding = {1}, .output_padding = {1}}),
              randn({2, 3, 3, 3}), "ConvTranspose2d");
  check_layer(make<nnm::BatchNorm1d>(3), randn({4, 3}), "BatchNorm1d (N, C)");
  check_layer(make<nnm::BatchNorm1d>(3), randn({2, 3, 4}), "BatchNorm1d (N, C, L)");
  check_layer(make<nnm::BatchNorm2d>(3), randn({2, 3, 2, 3}), "BatchNorm2d training");
  {
    auto bn = make<nnm::BatchNorm2d>(3);
    bn->eval();
    check_layer(bn, randn({2, 3, 2, 2}), "BatchNorm2d eval");
  }
  check_layer(make<nnm::LayerNorm>(Shape{4}), randn({3, 4}), "LayerNorm");
  check_layer(make<nnm::GroupNorm>(2, 4), randn({2, 4, 3}), "GroupNorm");
  check_layer(make<nnm::Dropout>(0.3), randn({4, 5}), "Dropout (seeded)");
  check_layer(make<nnm::MaxPool2d>(Shape{2}), randn({2, 2, 4, 4}), "MaxPool2d");
  check_layer(make<nnm::AvgPool2d>(Shape{3}, PoolOptions{.stride = {2}, .padding = {1}}), randn({1, 2, 5, 5}), "AvgPool2d");
  check_layer(make<nnm::AdaptiveAvgPool2d>(Shape{2, 3}), randn({1, 2, 5, 7}), "AdaptiveAvgPool2d");
  check_layer(make<nnm::Flatten>(), randn({2, 3, 2}), "Flatten");
  check_layer(make<nnm::ReLU>(), randn({3, 4}), "ReLU");
  check_layer(make<nnm::GELU>(), randn({3, 4}), "GELU");
  check_layer(make<nnm::GELU>("tanh"), randn({3, 4}), "GELU tanh");
  check_layer(make<nnm::SiLU>(), randn({3, 4}), "SiLU");
  check_layer(make<nnm::Tanh>(), randn({3, 4}), "Tanh");
  check_layer(make<nnm::Sigmoid>(), randn({3, 4}), "Sigmoid");
  check_layer(make<nnm::Softmax>(1), randn({3, 4}), "Softmax");
  check_layer(make<nnm::Identity>(), randn({3}), "Identity");
  check_layer(make<nnm::Embedding>(5, 3), from_vector(std::vector<int64_t>{1, 0, 4, 1}, {2, 2}), "Embedding");
  check_layer(make<nnm::MultiheadAttention>(4, 2), randn({3, 2, 4}), "MultiheadAttention self-attention");
  check_layer(make<nnm::MultiheadAttention>(6, 3, nnm::MultiheadAttentionOptions{.batch_first = true}), randn({2, 3, 6}),
              "MultiheadAttention batch_first");
}

TEST_CASE("gradcheck of every loss", "[nn][autograd]") {
  using nnm::make;
  const Tensor labels = from_vector(std::vector<int64_t>{0, 2, 1, 2});
  check_loss(make<nnm::CrossEntropyLoss>(), randn({4, 3}), labels, "CrossEntropyLoss");
  check_loss(make<nnm::CrossEntropyLoss>(Reduction::Sum, 1, 0.1), randn({4, 3}), labels, "CrossEntropyLoss smoothing, ignore");
  check_loss(make<nnm::NLLLoss>(), log_softmax(randn({4, 3}), 1), labels, "NLLLoss");
  check_loss(make<nnm::MSELoss>(), randn({3, 2}), randn({3, 2}), "MSELoss");
  check_loss(make<nnm::BCEWithLogitsLoss>(), randn({3, 2}), rand({3, 2}), "BCEWithLogitsLoss");
  check_loss(make<nnm::BCEWithLogitsLoss>(Reduction::None, full({2}, 2.0, {.dtype = kF64})), randn({3, 2}), rand({3, 2}),
             "BCEWithLogitsLoss pos_weight");
}

TEST_CASE("Embedding: the padding_idx row starts at zero and gets no gradient", "[nn]") {
  nnm::Embedding emb(5, 3, 0);
  CHECK(emb.weight[0].abs().sum().item<double>() == 0.0);
  emb.forward(from_vector(std::vector<int64_t>{1, 0, 4, 1})).sum().backward();
  CHECK(emb.weight.grad().sum({1}).tolist<float>() == std::vector<float>{0, 6, 0, 0, 3});
}

TEST_CASE("BatchNorm: running statistics by hand, eval uses them", "[nn]") {
  nnm::BatchNorm1d bn(2, {.momentum = 0.5});
  // columns (1, 3, 5) and (2, 2, 8): means 3 and 4, unbiased variances 4 and 12.
  const Tensor x = tensor({{1.0, 2.0}, {3.0, 2.0}, {5.0, 8.0}});
  bn.forward(x);
  CHECK(bn.running_mean.tolist<float>() == std::vector<float>{1.5f, 2.0f});   // 0.5 * 0 + 0.5 * mean
  CHECK(bn.running_var.tolist<float>() == std::vector<float>{2.5f, 6.5f});    // 0.5 * 1 + 0.5 * var
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  bn.eval();
  const auto y = bn.forward(tensor({{1.5, 2.0}})).tolist<float>();
  CHECK(y[0] == Approx(0.0).margin(1e-6));
  CHECK(y[1] == Approx(0.0).margin(1e-6));
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  CHECK_THROWS_WITH(bn.forward(ones({2, 3})), Catch::Contains("[BatchNorm1d] expects 2 channels"));
}

TEST_CASE("MultiheadAttention: padded keys get no weight, weights sum to one", "[nn]") {
  nnm::MultiheadAttention mha(4, 2, {.batch_first = true});
  const Tensor x = randn({2, 3, 4});
  const Tensor pad = tensor({{false, false, true}, {false, false, false}});
  const auto out = mha.forward(x, x, x, pad);
  CHECK(out.output.sizes() == Shape{2, 3, 4});
  CHECK(out.weights.sizes() == Shape{2, 3, 3});
  CHECK(out.weights.select(0, 0).select(1, 2).abs().max().item<double>() == 0.0);
  CHECK(amax(abs(out.weights.sum({-1}) - 1)).item<double>() < 1e-6);
  const Tensor causal = triu(ones({3, 3}), 1).to(kBool);
  const auto c = mha.forward(x, x, x, {}, causal);
  CHECK(c.weights.select(1, 0).select(1, 1).abs().max().item<double>() == 0.0);
  CHECK_THROWS_WITH(mha.forward(x, x, x, ones({2, 4}).to(kBool)), Catch::Contains("key_padding_mask must be (N, S) = (2, 3)"));
  // Without weights the fused attention kernel runs: the same outputs, masks combined the same way.
  const auto fused = mha.forward(x, x, x, pad, causal, false);
  const auto math = mha.forward(x, x, x, pad, causal, true);
  CHECK(!fused.weights.defined());
  CHECK(amax(abs(fused.output - math.output)).item<double>() < 1e-6);
  const Tensor additive = randn({3, 3});
  CHECK(amax(abs(mha.forward(x, x, x, pad, additive, false).output - mha.forward(x, x, x, pad, additive, true).output))
            .item<double>() < 1e-6);
}

TEST_CASE("layers reject bad configurations and inputs with the layer named", "[nn]") {
  CHECK_THROWS_WITH(nnm::Conv2d(3, 4, Shape{3}, {.groups = 2}), Catch::Contains("[Conv2d] in_channels 3 and out_channels 4 must be divisible by groups=2"));
  CHECK_THROWS_WITH(nnm::Linear(3, 2).forward(ones({2, 4})), Catch::Contains("[Linear] expects input (..., 3), got [2, 4]"));
  CHECK_THROWS_WITH(nnm::GroupNorm(3, 4), Catch::Contains("divisible by num_groups 3"));
  CHECK_THROWS_WITH(nnm::Dropout(1.5), Catch::Contains("[Dropout] probability must be in [0, 1]"));
  CHECK_THROWS_WITH(nnm::MultiheadAttention(5, 2), Catch::Contains("embed_dim 5 must be divisible by num_heads 2"));
}
