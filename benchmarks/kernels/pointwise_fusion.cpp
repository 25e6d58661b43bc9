// Lab for the graph compiler's pointwise fusion (framework/graph/fusion.h, ops/pointwise_program.h): chains of
// elementwise ops traced once, then replayed by graph::execute node by node and with the fusion plan, under
// NoGradGuard, interleaved (plain, fused) 5 times; each time is the median of 30 replays, and the ratio printed is
// the median of the 5 pairs' plain / fused. Every fused replay is checked bitwise against the plain one first.
//
//   pointwise_fusion_lab [--only SUBSTRING]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include <ds/ds.h>
#include <ds/graph/executor.h>
#include <ds/graph/fusion.h>
#include <ds/graph/trace.h>

using namespace ds;
using namespace ds::graph;

namespace {

struct Case {
  const char* name;
  Shape x, param;
  std::function<Tensor(const std::vector<Tensor>&)> f;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double replay_ms(const Graph& g, const std::vector<Tensor>& in, const FusionPlan* plan) {
  std::vector<double> ts;
  for (int r = 0; r < 30; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    execute(g, in, nullptr, false, plan);
    ts.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(ts);
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = argc == 3 && std::strcmp(argv[1], "--only") == 0 ? argv[2] : nullptr;
  NoGradGuard no_grad;
  auto batch_norm_like = [](const std::vector<Tensor>& a) { return relu((a[0] - a[1]) * a[2] * a[3] + a[4]); };
  auto scale_shift = [](const std::vector<Tensor>& a) { return a[0] * a[1] + a[2]; };
  auto gelu_chain = [](const std::vector<Tensor>& a) { return gelu_tanh(exp(a[0] * 0.5) - 1.0); };
  const std::vector<Case> cases = {
      {"relu((x-m)*r*w+b), per channel, [32,64,16,16]", {32, 64, 16, 16}, {1, 64, 1, 1}, batch_norm_like},
      {"relu((x-m)*r*w+b), per channel, [32,512,4,4]", {32, 512, 4, 4}, {1, 512, 1, 1}, batch_norm_like},
      {"x*s+b, per column, [256,4096]", {256, 4096}, {4096}, scale_shift},
      {"x*s+b, per column, [4096,4096]", {4096, 4096}, {4096}, scale_shift},
      {"gelu(exp(x*0.5)-1), flat, [256,4096]", {256, 4096}, {1}, gelu_chain},
  };
  std::printf("%-48s %6s %6s %10s %10s %8s\n", "chain", "groups", "nodes", "plain ms", "fused ms", "ratio");
  for (const Case& c : cases) {
    if (only && !std::strstr(c.name, only)) continue;
    Generator gen(1);
    const std::vector<Tensor> in = {randn(c.x, {}, &gen), randn(c.param, {}, &gen), randn(c.param, {}, &gen),
                                    randn(c.param, {}, &gen), randn(c.param, {}, &gen)};
    Graph g;
    {
      Tracer t(in);
      const Tensor y = c.f(in);
      g = t.finish({&y, 1});
    }
    const FusionPlan plan = plan_fusion(g);
    const Tensor plain = execute(g, in)[0], fused = execute(g, in, nullptr, false, &plan)[0];
    if (std::memcmp(plain.data(), fused.data(), plain.nbytes()) != 0) {
      std::fprintf(stderr, "%s: the fused replay differs from the plain one\n", c.name);
      return 1;
    }
    double a = 0, b = 0;
    std::vector<double> ratios;
    for (int k = 0; k < 5; ++k) {
      a = replay_ms(g, in, nullptr);
      b = replay_ms(g, in, &plan);
      ratios.push_back(a / b);
    }
    std::printf("%-48s %6zu %6lld %10.3f %10.3f %7.2fx\n", c.name, plan.groups.size(),
                static_cast<long long>(plan.fused_nodes), a, b, median(ratios));
  }
  return 0;
}
