// Dynamic dims (framework/graph/dynamic.h): numbers fitted as polynomials of the size and confirmed by a trace more
// than the fit needs; traces of one program at several sizes generalised into a graph at any size, which replays
// with the eager run's bits; traces that cannot be (other ops, floating numbers, tensors made on the host) say why.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/graph/dynamic.h>
#include <ds/graph/executor.h>

#include "graph_test_util.h"

using namespace ds;
using namespace ds::graph;
using ds::graph::testing::randn_of;
using ds::graph::testing::trace_of;

namespace {

using Points = std::vector<std::pair<int64_t, int64_t>>;

bool same(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.to(kF64).tolist<double>() == b.to(kF64).tolist<double>();
}

// Traces `f` at each size (its argument: randn of {size, cols}) and fits them.
template <typename F>
FitResult fit_at(std::vector<int64_t> sizes, int64_t cols, F f, std::optional<DynamicGraph>& out, std::string& why) {
  std::vector<Graph> graphs;
  for (int64_t s : sizes) graphs.push_back(trace_of({randn_of({s, cols}, 7)}, f));
  std::vector<DynamicGraph::Sample> samples;
  for (size_t k = 0; k < sizes.size(); ++k) samples.push_back({sizes[k], &graphs[k]});
  return DynamicGraph::fit(samples, out, why);
}

}  // namespace

TEST_CASE("dynamic: size polynomials are fitted and confirmed by one point more", "[graph][dynamic]") {
  SizePolynomial p;
  CHECK(fit_size_polynomial(Points{{8, 5}, {16, 5}}, p) == FitResult::Done);
  CHECK(p == SizePolynomial{0, 0, 5, 1});

  CHECK(fit_size_polynomial(Points{{12, 96}, {7, 56}}, p) == FitResult::NeedMore);  // two points: any line
  CHECK(fit_size_polynomial(Points{{12, 96}, {7, 56}, {9, 72}}, p) == FitResult::Done);
  CHECK(p.str() == "8*s");
  CHECK(fit_size_polynomial(Points{{12, 96}, {7, 56}, {9, 73}}, p) == FitResult::NeedMore);  // a parabola, unconfirmed

  // Attention's T x T: three points fit a parabola exactly, a fourth confirms it.
  CHECK(fit_size_polynomial(Points{{4, 16}, {8, 64}, {12, 144}}, p) == FitResult::NeedMore);
  CHECK(fit_size_polynomial(Points{{4, 16}, {8, 64}, {12, 144}, {6, 36}}, p) == FitResult::Done);
  CHECK(p.str() == "s^2");

  // Rational coefficients, integer values: s (s - 1) / 2.
  CHECK(fit_size_polynomial(Points{{4, 6}, {5, 10}, {8, 28}, {10, 45}}, p) == FitResult::Done);
  CHECK(p.str() == "(s^2 - s)/2");
  CHECK(p.at(7) == 21);
  CHECK(p.at(100) == 4950);

  // A counter span that rounds up, ceil(6 s / 4), seen at odd sizes only, fits 3 s / 2 + 1 / 2, which is right at
  // every odd size and no integer at even ones: those sizes are not given (ds::compile traces them).
  CHECK(fit_size_polynomial(Points{{9, 14}, {13, 20}, {17, 26}}, p) == FitResult::Done);
  CHECK(p.at(11) == 17);
  CHECK(p.at(10) == std::nullopt);

  CHECK(fit_size_polynomial(Points{{3, 8}, {4, 16}, {5, 32}, {6, 64}}, p) == FitResult::Impossible);  // 2^s
  CHECK(SizePolynomial{-2, 0, 3, 1}.str() == "-2*s^2 + 3");
}

TEST_CASE("dynamic: traces at three sizes give the graph at any size, with the eager run's bits", "[graph][dynamic]") {
  const Tensor w = randn_of({6, 4}, 3);
  // A reshape to {4 s} and a mean dividing by 4 s: numbers the host computed from the size.
  auto f = [&](const std::vector<Tensor>& xs) {
    const Tensor h = relu(matmul(xs[0], w));
    const Tensor flat = h.reshape({h.size(0) * 4});
    return TensorList{mean(flat), flat * 2.0, sum(h, {0}), h.t()};
  };
  std::optional<DynamicGraph> d;
  std::string why;
  REQUIRE(fit_at({12, 7}, 6, f, d, why) == FitResult::NeedMore);
  CHECK_THAT(why, Catch::Contains("one more trace confirms"));
  REQUIRE(fit_at({12, 7, 9}, 6, f, d, why) == FitResult::Done);
  REQUIRE(d.has_value());
  CHECK(d->fitted_numbers() > 0);
  CHECK(d->sample_sizes() == std::vector<int64_t>{12, 7, 9});
  for (int64_t s : {2, 5, 31}) {
    INFO("size " << s);
    std::optional<Graph> g = d->at(s);
    REQUIRE(g.has_value());
    g->verify();
    const Tensor x = randn_of({s, 6}, 100 + static_cast<uint64_t>(s));
    const TensorList want = f({x});
    const TensorList got = execute(*g, {&x, 1});
    REQUIRE(got.size() == want.size());
    for (size_t k = 0; k < got.size(); ++k) CHECK(same(got[k], want[k]));
  }
}

TEST_CASE("dynamic: attention's T x T random draw needs a fourth trace", "[graph][dynamic]") {
  Generator gen(11);
  const Tensor wq = randn_of({8, 8}, 4);
  // q, k, v: (1, 4, T, 8); dropout on the (1, 4, T, T) weights draws T^2 counters (4 values each).
  auto f = [&](const std::vector<Tensor>& xs) {
    const Tensor q = matmul(xs[0], wq).view({1, xs[0].size(0), 4, 2}).permute({0, 2, 1, 3});
    const Tensor y = scaled_dot_product_attention(q, q, q, {.dropout_p = 0.25, .generator = &gen});
    return TensorList{y.permute({0, 2, 1, 3}).reshape({xs[0].size(0), 8})};
  };
  std::optional<DynamicGraph> d;
  std::string why;
  REQUIRE(fit_at({4, 8, 12}, 8, f, d, why) == FitResult::NeedMore);
  CHECK_THAT(why, Catch::Contains("one more trace confirms"));
  REQUIRE(fit_at({4, 8, 12, 6}, 8, f, d, why) == FitResult::Done);
  std::optional<Graph> g = d->at(7);
  REQUIRE(g.has_value());
  REQUIRE(g->rng().size() == 1);
  CHECK(g->rng()[0].counters == 49);
  const Tensor x = randn_of({7, 8}, 5);
  gen.manual_seed(99);
  const Tensor want = f({x})[0];
  gen.manual_seed(99);
  CHECK(same(execute(*g, {&x, 1})[0], want));
}

TEST_CASE("dynamic: traces that differ in more than numbers are not generalised, and say where", "[graph][dynamic]") {
  std::optional<DynamicGraph> d;
  std::string why;
  SECTION("host control flow that depends on the size") {
    auto f = [](const std::vector<Tensor>& xs) { return xs[0].size(0) > 8 ? xs[0] * 2.0 : xs[0] + 1.0; };
    CHECK(fit_at({4, 6, 12}, 3, f, d, why) == FitResult::Impossible);
    CHECK_THAT(why, Catch::Contains("differ: node 1 (add) (its op"));
  }
  SECTION("a floating-point number computed from the size") {
    auto f = [](const std::vector<Tensor>& xs) { return xs[0] * (1.0 / static_cast<double>(xs[0].size(0))); };
    CHECK(fit_at({4, 6, 12}, 3, f, d, why) == FitResult::Impossible);
    CHECK_THAT(why, Catch::Contains("floating-point") && Catch::Contains("0.25"));
  }
  SECTION("a random draw whose counter span rounds up to one count at every traced size") {
    // rand of f32 reserves ceil(numel / 4) counters: 2 at 5, 6 and 7 rows, but 16 at 64. Not fitted as a constant.
    Generator gen(3);
    auto f = [&](const std::vector<Tensor>& xs) { return xs[0] + rand({xs[0].size(0), 1}, {}, &gen); };
    CHECK(fit_at({5, 6, 7}, 1, f, d, why) == FitResult::Impossible);
    CHECK_THAT(why, Catch::Contains("random draw 0 reserved 2 counters at every traced size"));
    CHECK(fit_at({8, 12, 16}, 1, f, d, why) == FitResult::Done);  // 2, 3, 4: s / 4, refused where not an integer
    REQUIRE(d.has_value());
    CHECK(d->at(20).has_value());
    CHECK_FALSE(d->at(21).has_value());
    d.reset();
  }
  SECTION("a number that is no polynomial of the size") {
    auto f = [](const std::vector<Tensor>& xs) { return zeros({int64_t{1} << xs[0].size(0)}) + 1.0; };
    CHECK(fit_at({3, 4, 5, 6}, 3, f, d, why) == FitResult::Impossible);
    CHECK_THAT(why, Catch::Contains("not a polynomial of the size") && Catch::Contains("8, 16, 32, 64"));
  }
  CHECK_FALSE(d.has_value());
}

TEST_CASE("dynamic: arguments that are views at any offset (batches narrowed from one tensor) still fit",
          "[graph][dynamic]") {
  const Tensor data = randn_of({64, 3}, 9);
  auto f = [](const std::vector<Tensor>& xs) { return TensorList{xs[0] * 2.0, sum(xs[0], {0})}; };
  std::vector<Graph> graphs;
  const std::vector<std::pair<int64_t, int64_t>> batches = {{0, 4}, {9, 6}, {30, 12}};  // (start, size)
  for (auto [start, n] : batches) graphs.push_back(trace_of({data.narrow(0, start, n)}, f));
  std::vector<DynamicGraph::Sample> samples;
  for (size_t k = 0; k < graphs.size(); ++k) samples.push_back({batches[k].second, &graphs[k]});
  std::optional<DynamicGraph> d;
  std::string why;
  REQUIRE(DynamicGraph::fit(samples, d, why) == FitResult::Done);
  std::optional<Graph> g = d->at(7);
  REQUIRE(g.has_value());
  const Tensor x = data.narrow(0, 50, 7);
  const TensorList want = f({x}), got = execute(*g, {&x, 1});
  for (size_t k = 0; k < got.size(); ++k) CHECK(same(got[k], want[k]));
}

TEST_CASE("dynamic: host scalars and small host tensors that follow the size are fitted too", "[graph][dynamic]") {
  // x * s and a host tensor {s, 2, 3}: captured constants whose elements are numbers of the size; {1, 2, 3}, made
  // anew in every call from the same numbers, is one constant.
  auto f = [](const std::vector<Tensor>& xs) {
    const double s = static_cast<double>(xs[0].size(0));
    const Tensor same_numbers = tensor({1.0, 2.0, 3.0});
    const Tensor from_size = tensor({s, 2.0, 3.0});
    return TensorList{xs[0] * s + same_numbers + from_size};
  };
  std::optional<DynamicGraph> d;
  std::string why;
  REQUIRE(fit_at({4, 6, 12}, 3, f, d, why) == FitResult::Done);
  std::optional<Graph> g = d->at(9);
  REQUIRE(g.has_value());
  const Tensor x = randn_of({9, 3}, 8);
  CHECK(same(execute(*g, {&x, 1})[0], f({x})[0]));
  CHECK(execute(*g, {&x, 1})[0].tolist<float>()[1] == Approx(x.tolist<float>()[1] * 9 + 4));
}
