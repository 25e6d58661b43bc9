// Tensors: views share storage, in-place ops bump the version, factories give the values PyTorch gives, printing
// looks like PyTorch's, random numbers depend only on the seed.
#include <cmath>
#include <sstream>

#include <catch2/catch.hpp>

#include "../test_util.h"

#include <ds/ds.h>

using namespace ds;

TEST_CASE("views share storage with their base", "[core]") {
  Tensor x = arange(0, 12).reshape({3, 4}).to(kF32);
  Tensor v = x.view({4, 3});
  Tensor t = x.t();
  Tensor s = x.slice(1, 1, 4, 2);  // columns 1 and 3
  Tensor r = x.select(0, 2);
  Tensor e = x.narrow(0, 0, 1).expand({5, 4});
  CHECK(v.data() == x.data());
  CHECK(t.stride(0) == 1);
  CHECK(s.sizes() == Shape{3, 2});
  CHECK(s.strides() == Shape{4, 2});
  CHECK(r.tolist<float>() == std::vector<float>{8, 9, 10, 11});
  CHECK(e.strides() == Shape{0, 1});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.contiguous().is_contiguous());
  {
    NoGradGuard g;
    s.fill_(-1);
  }
  CHECK(x.tolist<float>() == std::vector<float>{0, -1, 2, -1, 4, -1, 6, -1, 8, -1, 10, -1});
  CHECK(x.unsqueeze(1).sizes() == Shape{3, 1, 4});
  CHECK(x.unsqueeze(1).squeeze(1).sizes() == Shape{3, 4});
  CHECK(x.as_strided({2, 2}, {1, 4}, 1).tolist<float>() == std::vector<float>{-1, -1, 2, 6});
  CHECK(x.permute({1, 0}).sizes() == Shape{4, 3});
  CHECK(x.flatten().sizes() == Shape{12});
}

TEST_CASE("in-place ops bump the version counter shared by views", "[core]") {
  Tensor x = zeros({4});
  Tensor v = x.view({2, 2});
  const uint32_t v0 = x.version();
  x.add_(1);
  CHECK(x.version() == v0 + 1);
  CHECK(v.version() == x.version());
  v.mul_(3);
  CHECK(x.version() == v0 + 2);
  CHECK(x.tolist<float>() == std::vector<float>{3, 3, 3, 3});
  Tensor d = x.detach();
  d.zero_();
  CHECK(x.version() == v0 + 3);
  CHECK(x.sum().item<float>() == 0);
}

TEST_CASE("in-place ops broadcast the other operand and cast within a kind", "[core]") {
  Tensor x = ones({2, 3});
  x.add_(tensor({1.0, 2.0, 3.0}));
  CHECK(x.tolist<float>() == std::vector<float>{2, 3, 4, 2, 3, 4});
  Tensor h = ones({2}, {.dtype = kF16});
  h.add_(ones({2}, {.dtype = kF64}));  // float into half is allowed
  CHECK(h.dtype() == kF16);
  CHECK(h.tolist<float>() == std::vector<float>{2, 2});
  Tensor a = arange(0, 4).to(kF32);
  a.slice(0, 1, 4).copy_(a.slice(0, 0, 3));  // overlapping source and destination
  CHECK(a.tolist<float>() == std::vector<float>{0, 0, 1, 2});
  Tensor c = zeros({2, 2});
  c.copy_(tensor({5, 6}));  // broadcast and int64 -> float32
  CHECK(c.tolist<float>() == std::vector<float>{5, 6, 5, 6});
  Tensor m = zeros({3});
  m.masked_fill_(tensor({true, false, true}), 7);
  CHECK(m.tolist<float>() == std::vector<float>{7, 0, 7});
  m.clamp_(0, 5);
  CHECK(m.tolist<float>() == std::vector<float>{5, 0, 5});
}

TEST_CASE("factories give PyTorch's values", "[core]") {
  CHECK(arange(5).dtype() == kI64);
  CHECK(arange(5).tolist<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25).tolist<float>() == std::vector<float>{1, 1.25, 1.5, 1.75});
  CHECK(arange(5, 0, -2).tolist<int64_t>() == std::vector<int64_t>{5, 3, 1});
  CHECK(linspace(0, 1, 5).tolist<float>() == std::vector<float>{0, 0.25, 0.5, 0.75, 1});
  CHECK(linspace(-1, 1, 1).tolist<float>() == std::vector<float>{-1});
  CHECK(eye(2, 3).tolist<float>() == std::vector<float>{1, 0, 0, 0, 1, 0});
  CHECK(full({2}, 7, {.dtype = kI32}).tolist<int32_t>() == std::vector<int32_t>{7, 7});
  CHECK(zeros({2, 0}).numel() == 0);
  const Tensor t = tensor({{1, 2}, {3, 4}});
  CHECK(t.dtype() == kI64);
  CHECK(t.sizes() == Shape{2, 2});
  CHECK(tensor({1.5, 2}).dtype() == kF32);
  CHECK(tensor({true, false}).dtype() == kBool);
  CHECK(tensor(3.0).dim() == 0);
  CHECK(tensor({1, 2}, TensorOptions{.dtype = kF64}).dtype() == kF64);
  CHECK_THROWS_WITH(tensor({{1, 2}, {3}}), Catch::Matchers::Contains("ragged"));
  CHECK(from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}).select(1, 2).tolist<float>() == std::vector<float>{3, 6});
  CHECK_THROWS_WITH(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), Catch::Matchers::Contains("3 values do not fill shape [2, 2]"));
  float buf[4] = {1, 2, 3, 4};
  Tensor b = from_blob(buf, {2, 2}, kF32);
  b.mul_(2);
  CHECK(buf[3] == 8);
}

TEST_CASE("item, to and clone", "[core]") {
  CHECK(tensor({2.5}).item<double>() == 2.5);
  CHECK(tensor(int64_t{1} << 60).item<int64_t>() == int64_t{1} << 60);  // exact beyond 2^53
  CHECK_THROWS_WITH(ones({2}).item<float>(), Catch::Matchers::Contains("a tensor with 2 elements (shape [2]) cannot be converted to a scalar"));
  CHECK(tensor({1.7, -1.7}).to(kI64).tolist<int64_t>() == std::vector<int64_t>{1, -1});  // truncation, like PyTorch
  CHECK(tensor({0.0, 2.0}).to(kBool).tolist<uint8_t>() == std::vector<uint8_t>{0, 1});
  const Tensor x = ones({3});
  Tensor y = x.clone();
  y.add_(1);
  CHECK(x.sum().item<float>() == 3);
  CHECK_THROWS_WITH(x.data_ptr<double>(), Catch::Matchers::Contains("dtype float32, not the requested float64"));
  CHECK_THROWS_WITH(Tensor().dim(), Catch::Matchers::Contains("undefined"));
}

TEST_CASE("printing looks like PyTorch's", "[core]") {
  CHECK(tensor({1.0, 2.0, 3.0}).str() == "tensor([1., 2., 3.])");
  CHECK(tensor({1.5, -2.25}).str() == "tensor([ 1.5000, -2.2500])");
  CHECK(tensor({{1, 2}, {3, 4}}).str() == "tensor([[1, 2],\n        [3, 4]])");
  CHECK(tensor({true, false}).str() == "tensor([ True, False])");
  CHECK(tensor(3.0).str() == "tensor(3.)");
  CHECK(tensor({1e-5, 1.0}).str() == "tensor([1.0000e-05, 1.0000e+00])");
  CHECK(tensor({1.0, 2.0}).to(kF64).str() == "tensor([1., 2.], dtype=float64)");
  CHECK(ones({2}).requires_grad_().str() == "tensor([1., 1.], requires_grad=True)");
  Tensor w = ones({2}).requires_grad_();
  CHECK((w * 2).str() == "tensor([2., 2.], grad_fn=<mul>)");
  CHECK(zeros({0, 3}).str() == "tensor([], size=(0, 3))");
  const std::string big = arange(0, 2000).str();
  CHECK(big.find("...") != std::string::npos);
  CHECK(big.rfind("tensor([   0,    1,    2,  ..., 1997, 1998, 1999])", 0) == 0);
  std::ostringstream os;
  os << tensor({NAN, INFINITY});
  CHECK(os.str() == "tensor([nan, inf])");
}

TEST_CASE("random numbers depend only on the seed, not on the thread count", "[core]") {
  manual_seed(7);
  const Tensor a = randn({100001});
  const Tensor u = rand({5000}, {.dtype = kF64});
  const int threads = get_num_threads();
  set_num_threads(1);
  manual_seed(7);
  const Tensor b = randn({100001});
  const Tensor v = rand({5000}, {.dtype = kF64});
  set_num_threads(threads);
  CHECK(equal_bits(a, b));
  CHECK(equal_bits(u, v));
  manual_seed(8);
  CHECK_FALSE(equal_bits(randn({100001}), a));
  // The draws look like their distributions.
  CHECK(std::fabs(a.mean().item<double>()) < 0.01);
  CHECK(std::fabs(a.std().item<double>() - 1) < 0.01);
  CHECK(u.min().item<double>() >= 0);
  CHECK(u.max().item<double>() < 1);
  CHECK(std::fabs(u.mean().item<double>() - 0.5) < 0.02);
  const Tensor r = randint(3, 7, {10000});
  CHECK(r.min().item<int64_t>() == 3);
  CHECK(r.max().item<int64_t>() == 6);
  Generator g(42), h(42);
  CHECK(equal_bits(rand({10}, {}, &g), rand({10}, {}, &h)));
  CHECK(g.state().offset == 3);  // 10 values, 4 per counter
}
