#pragma once
// Shared pieces of the benchmarks: the machine's FP32 peak from an FMA loop, medians, timing, and running the
// PyTorch side of a comparison when torch is importable.
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ds::bench {

// FP32 GFLOP/s of a register-only FMA loop on `threads` threads (the median of a few short runs).
double fma_peak_gflops(int threads);

double median(std::vector<double> v);

template <typename F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Whether `python3 -c "import torch"` works here.
bool torch_available();
// Runs a Python script that prints one flat JSON object of numbers on its last line; returns it (empty on
// failure, with the reason on stderr).
std::map<std::string, double> run_python_json(const std::string& command);

// {"a": 1.5, "b": 2} (keys in the order given).
std::string json_line(const std::vector<std::pair<std::string, double>>& kv);
// The same with string entries first ({"isa": "avx512f ...", ...}).
std::string json_line(const std::vector<std::pair<std::string, std::string>>& strings,
                      const std::vector<std::pair<std::string, double>>& kv);

// The ISA a benchmark ran with: the CPU's vector features ("avx512f avx512bw avx512_bf16 avx512_vnni avx2 fma"), the
// float32 GEMM's build ("f32 GEMM 6x32 AVX-512") and whether bf16 matmul uses vdpbf16ps; one line, printed first.
std::string isa_str();

}  // namespace ds::bench
