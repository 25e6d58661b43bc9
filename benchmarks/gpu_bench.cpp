// ./ds bench gpu: ds on an NVIDIA GPU, against PyTorch on the same machine (benchmarks/compare/gpu_torch.py:
// eager and torch.compile, the same GPT-2, shapes, autocast and AdamW).
//   gpt2        GPT-2 124M training step (forward + loss, backward, AdamW), bf16 autocast, context 1024, batch
//               --batch (default 8): tokens/s and MFU = (6 N + attention) FLOPs per token * tokens/s / the GPU's
//               dense bf16 peak (the vendor's figure for the GPU named by the driver; see gpu_peak_tflops)
//   gemm        ds's matmul (cuBLASLt) and ds's own SIMT GEMM on 4096^3 bf16 and TF32, TFLOP/s, against torch.matmul
//               (cuBLAS) in the same run: gemm_vs_cublas = ds bf16 TFLOP/s / torch bf16 TFLOP/s
//   attention   scaled_dot_product_attention forward + backward, B 8, H 12, L 1024, head dim 64, causal, bf16:
//               TFLOP/s counting the causal half of 4 B H L^2 E (forward) and 2.5x that for the backward
// ds and torch run interleaved round by round; medians. The last line is JSON: gpu, gpt2_tokens_per_s, gpt2_mfu,
// torch_eager_tokens_per_s, torch_compile_tokens_per_s, gemm_vs_cublas, flash_attn_tflops (and the parts).
//
//   ds_bench_gpu [--rounds R] [--steps S] [--batch B] [--no-torch] [--smoke]
// --smoke: a small GPT (2 layers, width 128, vocabulary 1024, context 64) and small GEMMs, one round, no torch:
// checks the program end to end (the cudasim test bench_gpu_smoke runs it so).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ds/ds.h>
#include <ds/models/nlp/gpt.h>
#include <ds/optim/optim.h>

#include "common.h"

using namespace ds;
using ds::bench::median;
using ds::bench::seconds;

namespace {

// Dense bf16 tensor-core peaks (TFLOP/s, without sparsity) from NVIDIA's data sheets, by the driver's name.
double gpu_peak_tflops(const std::string& name) {
  struct Entry {
    const char* key;
    double tflops;
  };
  static const Entry table[] = {{"H200", 989.4}, {"H100 PCIe", 756.0}, {"H100 NVL", 835.0}, {"H100", 989.4},
                                {"A100", 312.0}, {"L40S", 362.0}, {"A10", 125.0}};
  for (const Entry& e : table)
    if (name.find(e.key) != std::string::npos) return e.tflops;
  return 0;
}

// Seconds of f, the device drained before and after.
template <typename F>
double gpu_seconds(F&& f) {
  cuda_synchronize();
  return seconds([&] {
    f();
    cuda_synchronize();
  });
}

template <typename F>
double median_ms(int warmup, int steps, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < steps; ++i) t.push_back(gpu_seconds(f) * 1e3);
  return median(t);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, steps = 10;
  int64_t batch = 8;
  bool no_torch = false, smoke = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else if (a == "--no-torch") no_torch = true;
    else if (a == "--smoke") smoke = true;
    else {
      std::fprintf(stderr, "usage: ds_bench_gpu [--rounds R] [--steps S] [--batch B] [--no-torch] [--smoke]\n");
      return 2;
    }
  }
  if (!cuda_is_available()) {
    std::fprintf(stderr, "ds bench gpu: no CUDA device here (%s)\n",
                 cuda_built() ? "no driver or GPU" : "ds was built without CUDA");
    return 77;
  }
  if (smoke) rounds = 1, steps = 1, batch = 2, no_torch = true;
  const bool torch = !no_torch && ds::bench::torch_available();
  const std::string gpu = cuda_device_name();
  const double peak = cuda_is_simulated() ? 0 : gpu_peak_tflops(gpu);
  char peak_s[32] = "unknown";
  if (peak > 0) std::snprintf(peak_s, sizeof peak_s, "%.0f", peak);
  std::printf("ds bench gpu on %s (dense bf16 peak %s TFLOP/s): %d rounds x %d steps, interleaved (ds%s), medians\n",
              gpu.c_str(), peak_s, rounds, steps, torch ? ", torch" : "");
  if (!torch && !smoke) std::printf("(torch is not importable: the comparison columns are empty)\n");

  manual_seed(0);
  // GPT-2 124M (smoke: 2 layers, context 64).
  models::GPTConfig gc = models::GPTConfig::named("gpt2");
  const int64_t T = smoke ? 64 : gc.block_size;
  if (smoke) gc = {.vocab_size = 1024, .block_size = T, .n_layer = 2, .n_head = 2, .n_embd = 128};
  auto gpt = models::gpt(gc);
  gpt->to(kCUDA);
  optim::AdamW opt(gpt->parameters(), {.lr = 6e-4, .weight_decay = 0.1});
  const Tensor idx = randint(0, gc.vocab_size, {batch, T}).to(kCUDA);
  const Tensor tgt = randint(0, gc.vocab_size, {batch, T}).to(kCUDA);
  const auto gpt_step = [&] {
    {
      AutocastGuard autocast(kBF16);
      gpt->loss(idx, tgt).backward();
    }
    opt.step();
    opt.zero_grad();
  };
  // GEMMs: ds's matmul (cuBLASLt) in bf16 and TF32, and ds's SIMT kernel in bf16.
  const int64_t n = smoke ? 256 : 4096;
  const Tensor a = randn({n, n}, {.device = kCUDA}), b = randn({n, n}, {.device = kCUDA});
  const Tensor a16 = a.to(kBF16), b16 = b.to(kBF16);
  const double gemm_flops = 2.0 * n * n * n;
  // Attention: GPT-2's heads at context 1024 (smoke: 64).
  const int64_t AB = smoke ? 1 : 8, AH = 12, AL = T, AE = 64;
  Tensor q = randn({AB, AH, AL, AE}, {.dtype = kBF16, .device = kCUDA}).requires_grad_();
  Tensor k = randn({AB, AH, AL, AE}, {.dtype = kBF16, .device = kCUDA}).requires_grad_();
  Tensor v = randn({AB, AH, AL, AE}, {.dtype = kBF16, .device = kCUDA}).requires_grad_();
  const double attn_fwd_flops = 4.0 * AB * AH * AL * AL * AE / 2;  // causal: half the scores
  const auto attn_step = [&] {
    scaled_dot_product_attention(q, k, v, {.is_causal = true}).sum().backward();
  };

  std::vector<double> gpt_ms, bf16_ms, tf32_ms, simt_ms, attn_ms;
  std::vector<double> t_eager_ms, t_compile_ms, t_bf16_ms, t_attn_ms;
  for (int r = 0; r < rounds; ++r) {
    gpt_ms.push_back(median_ms(smoke ? 1 : 3, steps, gpt_step));
    bf16_ms.push_back(median_ms(1, steps, [&] { (void)matmul(a16, b16); }));
    cuda_set_allow_tf32(true);
    tf32_ms.push_back(median_ms(1, steps, [&] { (void)matmul(a, b); }));
    cuda_set_allow_tf32(false);
    setenv("DS_CUDA_GEMM", "simt", 1);
    simt_ms.push_back(median_ms(1, std::min(steps, 3), [&] { (void)matmul(a16, b16); }));
    unsetenv("DS_CUDA_GEMM");
    attn_ms.push_back(median_ms(1, steps, attn_step));
    if (!torch) continue;
    const auto t = ds::bench::run_python_json("python3 benchmarks/compare/gpu_torch.py --batch " +
                                              std::to_string(batch) + " --steps " + std::to_string(steps));
    if (t.count("eager_ms")) t_eager_ms.push_back(t.at("eager_ms"));
    if (t.count("compile_ms")) t_compile_ms.push_back(t.at("compile_ms"));
    if (t.count("gemm_bf16_ms")) t_bf16_ms.push_back(t.at("gemm_bf16_ms"));
    if (t.count("attention_ms")) t_attn_ms.push_back(t.at("attention_ms"));
  }

  const double tokens = static_cast<double>(batch * T);
  const double gpt_tps = tokens / (median(gpt_ms) * 1e-3);
  const double mfu = peak > 0 ? gc.flops_per_token(T) * gpt_tps / (peak * 1e12) : 0;
  const auto tflops = [](double flops, double ms) { return flops / (ms * 1e-3) / 1e12; };
  const auto rate_or_0 = [&](const std::vector<double>& ms) { return ms.empty() ? 0.0 : tokens / (median(ms) * 1e-3); };
  const double ds_bf16 = tflops(gemm_flops, median(bf16_ms));
  const double t_bf16 = t_bf16_ms.empty() ? 0 : tflops(gemm_flops, median(t_bf16_ms));
  const double attn_tf = tflops(3.5 * attn_fwd_flops, median(attn_ms));
  std::printf("\n%-28s %12s %12s\n", "", "ds", "torch");
  std::printf("%-28s %12.0f %12.0f\n", "gpt2 tokens/s (eager)", gpt_tps, rate_or_0(t_eager_ms));
  std::printf("%-28s %12s %12.0f\n", "gpt2 tokens/s (compile)", "-", rate_or_0(t_compile_ms));
  std::printf("%-28s %11.1f%% %12s\n", "gpt2 MFU", 100 * mfu, "-");
  std::printf("%-28s %12.1f %12.1f\n", "GEMM bf16 TFLOP/s", ds_bf16, t_bf16);
  std::printf("%-28s %12.1f %12s\n", "GEMM tf32 TFLOP/s", tflops(gemm_flops, median(tf32_ms)), "-");
  std::printf("%-28s %12.1f %12s\n", "GEMM bf16 SIMT TFLOP/s", tflops(gemm_flops, median(simt_ms)), "-");
  std::printf("%-28s %12.1f %12.1f\n", "attention fwd+bwd TFLOP/s", attn_tf,
              t_attn_ms.empty() ? 0.0 : tflops(3.5 * attn_fwd_flops, median(t_attn_ms)));
  std::printf("{\"gpu\": \"%s\", %s\n", gpu.c_str(),
              ds::bench::json_line({{"gpt2_tokens_per_s", gpt_tps},
                                    {"gpt2_mfu", mfu},
                                    {"torch_eager_tokens_per_s", rate_or_0(t_eager_ms)},
                                    {"torch_compile_tokens_per_s", rate_or_0(t_compile_ms)},
                                    {"gemm_vs_cublas", t_bf16 > 0 ? ds_bf16 / t_bf16 : 0},
                                    {"flash_attn_tflops", attn_tf},
                                    {"gemm_bf16_tflops", ds_bf16},
                                    {"batch", static_cast<double>(batch)}})
                  .substr(1)
                  .c_str());
  return 0;
}
