// Module: registration, names, state_dict round trips and its errors, modes, conversions, printing as torch prints.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/nn/nn.h>

#include "../test_util.h"

using namespace ds;
namespace nnm = ds::nn;

namespace {
std::shared_ptr<nnm::Sequential> small_cnn() {
  return std::make_shared<nnm::Sequential>(std::initializer_list<std::shared_ptr<nnm::Module>>{
      nnm::make<nnm::Conv2d>(1, 4, Shape{3}, nnm::ConvLayerOptions{.padding = {1}}), nnm::make<nnm::BatchNorm2d>(4),
      nnm::make<nnm::ReLU>(), nnm::make<nnm::MaxPool2d>(Shape{2}), nnm::make<nnm::Flatten>(),
      nnm::make<nnm::Linear>(4 * 2 * 2, 3)});
}
}  // namespace

TEST_CASE("named parameters and buffers follow registration order with dotted names", "[nn]") {
  auto m = small_cnn();
  std::vector<std::string> names;
  for (auto& [n, _] : m->named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"});
  names.clear();
  for (auto& [n, _] : m->named_buffers()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked"});
  CHECK(m->parameter_count() == 4 * 9 + 4 + 4 + 4 + 16 * 3 + 3);
  CHECK(nnm::Linear(784, 512).parameter_count() == 401920);
  CHECK(m->state_dict().size() == 9);
  CHECK(m->named_modules().size() == 7);
}

TEST_CASE("state_dict round trip and strict checks name the key", "[nn]") {
  auto a = small_cnn(), b = small_cnn();
  b->load_state_dict(a->state_dict());
  for (auto& [name, t] : a->state_dict()) {
    INFO(name);
    CHECK(equal_bits(std::get<Tensor>(t), b->state_dict().tensor(name)));
  }
  StateDict missing = a->state_dict();
  missing.erase("5.bias");
  CHECK_THROWS_WITH(b->load_state_dict(missing), Catch::Contains("missing '5.bias'"));
  StateDict extra = a->state_dict();
  extra.set("6.weight", ones({1}));
  CHECK_THROWS_WITH(b->load_state_dict(extra), Catch::Contains("unexpected '6.weight'"));
  const auto r = b->load_state_dict(extra, false);
  CHECK(r.unexpected_keys == std::vector<std::string>{"6.weight"});
  StateDict wrong = a->state_dict();
  wrong.set("0.weight", ones({4, 1, 5, 5}));
  CHECK_THROWS_WITH(b->load_state_dict(wrong),
                    Catch::Contains("size mismatch for '0.weight'") && Catch::Contains("[4, 1, 5, 5]") &&
                        Catch::Contains("[4, 1, 3, 3]"));
  wrong.set("0.weight", int64_t{3});
  CHECK_THROWS_WITH(b->load_state_dict(wrong), Catch::Contains("'0.weight' holds integer"));
}

TEST_CASE("a failed load leaves the module untouched", "[nn]") {
  auto a = small_cnn(), b = small_cnn();
  const Tensor before = b->state_dict().tensor("0.weight").clone();
  StateDict bad = a->state_dict();
  bad.set("5.weight", ones({2, 2}));
  CHECK_THROWS(b->load_state_dict(bad));
  CHECK(equal_bits(b->state_dict().tensor("0.weight"), before));
}

TEST_CASE("train/eval propagate; zero_grad; to(dtype) writes through the members", "[nn]") {
  auto m = small_cnn();
  m->eval();
  for (auto& [_, mod] : m->named_modules()) CHECK_FALSE(mod->is_training());
  m->train();
  CHECK((*m)[1]->is_training());
  const Tensor y = (*m)(randn({2, 1, 4, 4}));
  y.sum().backward();
  CHECK(m->parameters()[0].grad().defined());
  m->zero_grad(false);
  CHECK(m->parameters()[0].grad().abs().sum().item<double>() == 0.0);
  m->zero_grad();
  CHECK_FALSE(m->parameters()[0].grad().defined());
  m->to(kF64);
  auto lin = std::dynamic_pointer_cast<nnm::Linear>((*m)[5]);
  CHECK(lin->weight.dtype() == kF64);
  CHECK(lin->weight.requires_grad());
  CHECK(m->named_buffers()[2].second.dtype() == kI64);  // num_batches_tracked stays an integer
  CHECK((*m)(randn({2, 1, 4, 4}, {.dtype = kF64})).dtype() == kF64);
}

TEST_CASE("modules print as torch prints them", "[nn]") {
  auto m = small_cnn();
  CHECK(m->to_string() ==
        "Sequential(\n"
        "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): ReLU()\n"
        "  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (4): Flatten(start_dim=1, end_dim=-1)\n"
        "  (5): Linear(in_features=16, out_features=3, bias=True)\n"
        ")");
}

TEST_CASE("containers: ModuleList, ModuleDict and their errors", "[nn]") {
  nnm::ModuleList list{nnm::make<nnm::Linear>(2, 3), nnm::make<nnm::ReLU>()};
  CHECK(list.size() == 2);
  CHECK(list.at<nnm::Linear>(0)->weight.sizes() == Shape{3, 2});
  CHECK_THROWS_WITH(list[5], Catch::Contains("index 5 out of range"));
  CHECK_THROWS_WITH(list.at<nnm::Linear>(1), Catch::Contains("not of the requested type"));
  nnm::ModuleDict dict;
  dict.insert("enc", nnm::make<nnm::Linear>(2, 2));
  CHECK(dict.contains("enc"));
  CHECK_THROWS_WITH(dict["dec"], Catch::Contains("no module named 'dec' (keys: enc)"));
  CHECK_THROWS_WITH(list(ones({2})), Catch::Contains("[ModuleList] has no single-input forward"));
}

TEST_CASE("initialisers: torch's bounds and moments", "[nn]") {
  Generator gen(3);
  Tensor w = empty({256, 128});
  nnm::init::kaiming_uniform_(w, 0, nnm::init::FanMode::FanIn, nnm::init::Nonlinearity::ReLU, &gen);
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 128);
  CHECK(w.abs().max().item<double>() <= bound);
  CHECK(w.abs().max().item<double>() > 0.99 * bound);
  CHECK(w.std().item<double>() == Approx(std::sqrt(2.0 / 128)).epsilon(0.02));
  nnm::init::xavier_normal_(w, 1, &gen);
  CHECK(w.std().item<double>() == Approx(std::sqrt(2.0 / 384)).epsilon(0.02));
  nnm::init::trunc_normal_(w, 0, 1, -1, 1.5, &gen);
  CHECK(w.min().item<double>() >= -1);
  CHECK(w.max().item<double>() <= 1.5);
  // Truncated N(0, 1) on [-1, 1.5]: mean (phi(-1) - phi(1.5)) / (Phi(1.5) - Phi(-1))
  // = (0.24197 - 0.12952) / (0.93319 - 0.15866) = 0.1452.
  CHECK(w.mean().item<double>() == Approx(0.1452).margin(0.01));
  // Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
  nnm::Linear lin(100, 300);
  CHECK(lin.weight.abs().max().item<double>() <= 0.1);
  CHECK(lin.weight.abs().max().item<double>() > 0.099);
  CHECK(lin.bias.abs().max().item<double>() <= 0.1);
}
