// ./ds bench core: the core's speed against the machine and against Eigen (and PyTorch when importable), measured
// in one run with the candidates interleaved round by round and medians reported, because these VMs drift.
//   - FP32 GEMM GFLOP/s at 512, 1024, 2048 on 1 and 2 threads: ds::matmul, a direct Eigen GEMM on the same
//     matrices, and the FP32 peak of an FMA loop measured in the same round;
//   - elementwise add on 64 MB operands in GB/s (two reads and a write), against a memcpy over the same threads;
//   - the cost of one tiny eager op: a 1-element add through the whole front function, grad mode off.
// The last line is a JSON object with the keys README and the issue name.
#include <omp.h>

#include <Eigen/Core>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <ds/ds.h>

#include "common.h"
#include "ops/cpu/gemm.h"

using namespace ds;
using ds::bench::median;
using ds::bench::seconds;

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct GemmRow {
  int64_t n;
  int threads;
  std::vector<double> ds, eigen, peak, torch, bf16;  // bf16: matmul of bf16 copies of the operands
};

double tiny_op_ns(int reps) {
  const Tensor a = ones({1}), b = ones({1});
  NoGradGuard no_grad;
  for (int i = 0; i < 20000; ++i) Tensor c = add(a, b);
  const double sec = seconds([&] {
    for (int i = 0; i < reps; ++i) Tensor c = add(a, b);
  });
  return sec / reps * 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    if (std::string(argv[i]) == "--quick") rounds = 1;
  }
  const int max_threads = omp_get_max_threads();
  const bool torch = ds::bench::torch_available();
  std::printf("ds bench core: %d rounds, interleaved (ds, eigen%s), medians; up to %d threads\n", rounds,
              torch ? ", torch" : "", max_threads);
  if (!torch) std::printf("(torch is not importable: the PyTorch columns are skipped; pip install torch to add them)\n");
  std::printf("ISA: %s\n", ds::bench::isa_str().c_str());

  std::vector<GemmRow> gemm;
  for (int64_t n : {512, 1024, 2048})
    for (int t : {1, 2})
      if (t <= max_threads) gemm.push_back({n, t, {}, {}, {}, {}});
  std::vector<double> add_gbs, memcpy_gbs, tiny, torch_tiny, torch_add;

  const int64_t add_n = 16 << 20;  // 64 MB of float32 per operand
  const Tensor x = rand({add_n}), y = rand({add_n});
  std::vector<float> src(add_n, 1.0f), dst(add_n, 0.0f);

  for (int r = 0; r < rounds; ++r) {
    for (GemmRow& g : gemm) {
      const int64_t n = g.n;
      const Tensor a = randn({n, n}), b = randn({n, n});
      RowMat c(n, n);
      const Eigen::Map<const RowMat> A(a.data_ptr<float>(), n, n), B(b.data_ptr<float>(), n, n);
      const double flops = 2.0 * n * n * n;
      g.peak.push_back(ds::bench::fma_peak_gflops(g.threads));
      set_num_threads(g.threads);
      Tensor warm = matmul(a, b);
      g.ds.push_back(flops / seconds([&] { Tensor p = matmul(a, b); }) / 1e9);
      const Tensor a16 = a.to(kBF16), b16 = b.to(kBF16);
      warm = matmul(a16, b16);
      g.bf16.push_back(flops / seconds([&] { Tensor p = matmul(a16, b16); }) / 1e9);
      set_num_threads(max_threads);
      Eigen::setNbThreads(g.threads);
      c.noalias() = A * B;
      g.eigen.push_back(flops / seconds([&] { c.noalias() = A * B; }) / 1e9);
    }
    {  // 64 MB add against memcpy over the same threads
      Tensor warm = add(x, y);
      add_gbs.push_back(3.0 * add_n * 4 / seconds([&] { Tensor z = add(x, y); }) / 1e9);
      const int nt = max_threads;
      auto pmemcpy = [&] {
#pragma omp parallel for num_threads(nt)
        for (int t = 0; t < nt; ++t) {
          const int64_t chunk = (add_n + nt - 1) / nt, lo = t * chunk, hi = std::min<int64_t>(add_n, lo + chunk);
          if (lo < hi) std::memcpy(dst.data() + lo, src.data() + lo, (hi - lo) * sizeof(float));
        }
      };
      pmemcpy();
      memcpy_gbs.push_back(2.0 * add_n * 4 / seconds(pmemcpy) / 1e9);
    }
    tiny.push_back(tiny_op_ns(1000000));
    if (torch) {
      const auto t = ds::bench::run_python_json("python3 benchmarks/compare/core_torch.py");
      for (GemmRow& g : gemm) {
        const std::string key = "gemm_" + std::to_string(g.n) + "_t" + std::to_string(g.threads);
        if (t.count(key)) g.torch.push_back(t.at(key));
      }
      if (t.count("tiny_op_ns")) torch_tiny.push_back(t.at("tiny_op_ns"));
      if (t.count("add_gbs")) torch_add.push_back(t.at("add_gbs"));
    }
  }

  std::printf("\nFP32 GEMM (GFLOP/s, medians; bf16: matmul of bf16 operands, its ratio to ds's f32)\n"
              "%-6s %-7s %8s %8s %8s %10s %9s %8s %9s%s\n", "n", "threads", "peak", "ds", "eigen", "ds/eigen", "ds/peak",
              "bf16", "bf16/f32", torch ? "    torch  ds/torch" : "");
  double g1024 = 0, g2048 = 0, g2048_peak = 0, bf16_2048 = 0;
  for (const GemmRow& g : gemm) {
    std::vector<double> vs_eigen, vs_peak, bf16_vs_f32;
    for (size_t i = 0; i < g.ds.size(); ++i) {
      vs_eigen.push_back(g.ds[i] / g.eigen[i]);
      vs_peak.push_back(g.ds[i] / g.peak[i]);
      bf16_vs_f32.push_back(g.bf16[i] / g.ds[i]);
    }
    std::printf("%-6lld %-7d %8.1f %8.1f %8.1f %9.0f%% %8.0f%% %8.1f %8.0f%%", static_cast<long long>(g.n), g.threads,
                median(g.peak), median(g.ds), median(g.eigen), 100 * median(vs_eigen), 100 * median(vs_peak),
                median(g.bf16), 100 * median(bf16_vs_f32));
    if (!g.torch.empty()) std::printf(" %8.1f %8.0f%%", median(g.torch), 100 * median(g.ds) / median(g.torch));
    std::printf("\n");
    if (g.threads == std::min(2, max_threads)) {
      if (g.n == 1024) g1024 = median(vs_eigen);
      if (g.n == 2048) {
        g2048 = median(vs_eigen);
        g2048_peak = median(vs_peak);
        bf16_2048 = median(bf16_vs_f32);
      }
    }
  }
  std::vector<double> add_ratio;
  for (size_t i = 0; i < add_gbs.size(); ++i) add_ratio.push_back(add_gbs[i] / memcpy_gbs[i]);
  std::printf("\nelementwise add, 64 MB float32 operands, %d threads: %.1f GB/s; memcpy %.1f GB/s; ratio %.0f%%%s\n",
              max_threads, median(add_gbs), median(memcpy_gbs), 100 * median(add_ratio),
              torch_add.empty() ? "" : (" (torch " + std::to_string(median(torch_add)).substr(0, 5) + " GB/s)").c_str());
  std::printf("tiny eager op (1-element add, grad mode off): %.0f ns%s\n", median(tiny),
              torch_tiny.empty() ? "" : (" (torch from Python: " + std::to_string(static_cast<int>(median(torch_tiny))) + " ns)").c_str());

  std::vector<std::pair<std::string, double>> kv = {{"gemm1024_vs_eigen", g1024},
                                                    {"gemm2048_vs_eigen", g2048},
                                                    {"gemm2048_vs_peak", g2048_peak},
                                                    {"bf16_gemm2048_vs_f32", bf16_2048},
                                                    {"bf16_vdpbf16ps", ds::cpu::gemm_bf16_available() ? 1.0 : 0.0},
                                                    {"tiny_op_ns", median(tiny)},
                                                    {"add_vs_memcpy", median(add_ratio)}};
  if (!torch_tiny.empty()) kv.push_back({"torch_tiny_op_ns", median(torch_tiny)});
  std::printf("%s\n", ds::bench::json_line(kv).c_str());
  return 0;
}
