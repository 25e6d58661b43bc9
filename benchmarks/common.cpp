#include "common.h"

#include "ops/cpu/gemm.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace ds::bench {

double fma_peak_gflops(int threads) {
  // The median of five short runs: the same kind of estimate as the measurements it is compared with, so a
  // momentarily idle (or busy) host does not skew the ratio.
  std::vector<double> runs;
  for (int rep = 0; rep < 5; ++rep) {
    const long iters = 4000000;
    float sink = 0;
    const double sec = seconds([&] {
#pragma omp parallel num_threads(threads) reduction(+ : sink)
      {
#if defined(__AVX512F__)
        using V = __m512;
        constexpr int lanes = 16;
        auto set1 = [](float f) { return _mm512_set1_ps(f); };
        auto fma = [](V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); };
        auto first = [](V v) { return _mm512_cvtss_f32(v); };
#elif defined(__FMA__)
        using V = __m256;
        constexpr int lanes = 8;
        auto set1 = [](float f) { return _mm256_set1_ps(f); };
        auto fma = [](V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); };
        auto first = [](V v) { return _mm256_cvtss_f32(v); };
#else
        using V = float;
        constexpr int lanes = 1;
        auto set1 = [](float f) { return f; };
        auto fma = [](V a, V b, V c) { return a * b + c; };
        auto first = [](V v) { return v; };
#endif
        static_assert(lanes > 0);
        // Ten independent chains hide the FMA latency on every x86 core we know. Each starts from its own value: ten
        // equal chains are one chain to the compiler (GCC 12 kept a single FMA in the loop, which timed its latency
        // and reported 2.5x the peak on an AVX-512 EPYC).
        V a0 = set1(1.00f), a1 = set1(1.01f), a2 = set1(1.02f), a3 = set1(1.03f), a4 = set1(1.04f),
          a5 = set1(1.05f), a6 = set1(1.06f), a7 = set1(1.07f), a8 = set1(1.08f), a9 = set1(1.09f);
        const V m = set1(0.9999999f), c = set1(1e-7f);
        for (long i = 0; i < iters; ++i) {
          a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c); a4 = fma(a4, m, c);
          a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c); a8 = fma(a8, m, c); a9 = fma(a9, m, c);
        }
        sink += first(a0) + first(a1) + first(a2) + first(a3) + first(a4) + first(a5) + first(a6) + first(a7) +
                first(a8) + first(a9);
      }
    });
#if defined(__AVX512F__)
    const double lanes = 16;
#elif defined(__FMA__)
    const double lanes = 8;
#else
    const double lanes = 1;
#endif
    runs.push_back(threads * iters * 10.0 * 2 * lanes / sec / 1e9);
    if (sink == 42) std::puts("");
  }
  return median(runs);
}

std::string isa_str() {
  __builtin_cpu_init();
  std::string s = "CPU:";
  // (__builtin_cpu_supports takes a literal only)
  if (__builtin_cpu_supports("avx512f")) s += " avx512f";
  if (__builtin_cpu_supports("avx512bw")) s += " avx512bw";
  if (__builtin_cpu_supports("avx512bf16")) s += " avx512bf16";
  if (__builtin_cpu_supports("avx512vnni")) s += " avx512vnni";
  if (__builtin_cpu_supports("avx2")) s += " avx2";
  if (__builtin_cpu_supports("fma")) s += " fma";
#if defined(__AVX512F__)
  s += "; f32 GEMM 6x32 AVX-512";
#elif defined(__AVX2__)
  s += "; f32 GEMM 6x16 AVX2";
#else
  s += "; f32 GEMM scalar";
#endif
  s += ds::cpu::gemm_bf16_available() ? "; bf16 GEMM vdpbf16ps" : "; bf16 GEMM widened to f32";
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool torch_available() {
  static const bool ok = std::system("python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return ok;
}

std::map<std::string, double> run_python_json(const std::string& command) {
  std::map<std::string, double> out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  std::string text, last;
  char buf[4096];
  while (fgets(buf, sizeof buf, p)) text += buf;
  const int rc = pclose(p);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.find('{') != std::string::npos) last = line;
  if (rc != 0 || last.empty()) {
    std::fprintf(stderr, "benchmark: '%s' failed (exit %d); output:\n%s\n", command.c_str(), rc, text.c_str());
    return out;
  }
  const std::regex kv(R"re("([A-Za-z0-9_]+)"\s*:\s*([-+0-9.eE]+))re");
  for (auto it = std::sregex_iterator(last.begin(), last.end(), kv); it != std::sregex_iterator(); ++it)
    out[(*it)[1]] = std::stod((*it)[2]);
  return out;
}

std::string json_line(const std::vector<std::pair<std::string, double>>& kv) {
  std::string s = "{";
  char buf[64];
  for (size_t i = 0; i < kv.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.4g", kv[i].second);
    s += (i ? ", \"" : "\"") + kv[i].first + "\": " + buf;
  }
  return s + "}";
}

std::string json_line(const std::vector<std::pair<std::string, std::string>>& strings,
                      const std::vector<std::pair<std::string, double>>& kv) {
  std::string s = "{";
  for (const auto& [k, v] : strings) {
    std::string quoted;
    for (char ch : v) quoted += ch == '"' || ch == '\\' ? std::string("\\") + ch : std::string(1, ch);
    s += (s.size() > 1 ? ", \"" : "\"") + k + "\": \"" + quoted + "\"";
  }
  const std::string rest = json_line(kv);  // "{...}"
  if (rest.size() > 2) s += (s.size() > 1 ? ", " : "") + rest.substr(1, rest.size() - 2);
  return s + "}";
}

}  // namespace ds::bench
