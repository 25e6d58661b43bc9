// ./ds bench models: training throughput of two zoo models, against PyTorch eager in the same run when torch is
// importable (benchmarks/compare/models_torch.py: the same architectures, shapes, loss and AdamW, same threads).
//   gpt_mini  GPT, 6 layers, 6 heads, width 384, context 256, batch 8, vocabulary 8192 (the size of the corpus
//             tokenizer ds-train's GPT config trains), dropout 0: tokens/s = 8 * 256 / step time
//   resnet18  torchvision's ResNet-18 (10 classes), batch 32, input 3x32x32: samples/s = 32 / step time
// One step = forward + loss, backward, AdamW step + zero_grad, on random data made once. ds and torch run
// interleaved round by round (ds, torch, ds, torch, ...) because these VMs drift; medians are reported. The machine's
// FP32 peak (an FMA loop, measured here) puts GPT-mini's model FLOPs (6 N + attention per token) in context.
// The last line is JSON: gpt_mini_tokens_per_s, resnet18_samples_per_s, gpt_mini_speedup, resnet18_speedup
// (speedup = ds throughput / torch throughput).
//
//   ds_bench_models [--rounds R] [--steps S] [--only gpt_mini|resnet18] [--no-torch] [--profile]
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <ds/ds.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/vision/resnet.h>
#include <ds/optim/optim.h>

#include "common.h"
#include "op_profile.h"

using namespace ds;
using ds::bench::median;
using ds::bench::seconds;

namespace {

struct Case {
  std::string name, unit;
  double items_per_step;   // tokens or samples
  double flops_per_step;   // model FLOPs (training), 0 when not counted
  std::function<void()> step;
  int steps;
  std::vector<double> ds_ms, torch_ms;  // per-round medians
};

double time_round(Case& c) {
  for (int i = 0; i < 2; ++i) c.step();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < c.steps; ++i) t.push_back(seconds(c.step) * 1e3);
  return median(t);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, steps = 0;
  std::string only;
  bool no_torch = false, profile = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--no-torch") no_torch = true;
    else if (a == "--profile") profile = true;  // ds's time per primitive after the rounds
    else {
      std::fprintf(stderr, "usage: ds_bench_models [--rounds R] [--steps S] [--only gpt_mini|resnet18] [--no-torch] [--profile]\n");
      return 2;
    }
  }
  const bool torch = !no_torch && ds::bench::torch_available();
  const int threads = get_num_threads();
  const double peak = ds::bench::fma_peak_gflops(threads);
  std::printf("ds bench models: %d rounds, interleaved (ds%s), medians; %d threads; FP32 peak %.0f GFLOP/s (FMA loop)\n",
              rounds, torch ? ", torch" : "", threads, peak);
  std::printf("ISA: %s\n", ds::bench::isa_str().c_str());
  if (!torch)
    std::printf("%s\n", no_torch ? "(--no-torch: ds only)" : "(torch is not importable: pip install torch for the comparison)");

  manual_seed(0);
  std::vector<Case> cases;
  // GPT-mini
  const models::GPTConfig gc{.vocab_size = 8192, .block_size = 256, .n_layer = 6, .n_head = 6, .n_embd = 384};
  auto gpt = models::gpt(gc);
  const Tensor idx = randint(0, gc.vocab_size, {8, 256}), tgt = randint(0, gc.vocab_size, {8, 256});
  optim::AdamW gpt_opt(gpt->parameters(), {.lr = 1e-3});
  if (only.empty() || only == "gpt_mini")
    cases.push_back({"gpt_mini", "tokens/s", 8.0 * 256, 8.0 * 256 * gc.flops_per_token(256), [&] {
                       gpt->loss(idx, tgt).backward();
                       gpt_opt.step();
                       gpt_opt.zero_grad();
                     }, steps ? steps : 5, {}, {}});
  // ResNet-18
  auto resnet = models::resnet18(10);
  const Tensor x = randn({32, 3, 32, 32}), y = randint(0, 10, {32});
  optim::AdamW res_opt(resnet->parameters(), {.lr = 1e-3});
  if (only.empty() || only == "resnet18")
    cases.push_back({"resnet18", "samples/s", 32, 0, [&] {
                       cross_entropy((*resnet)(x), y).backward();
                       res_opt.step();
                       res_opt.zero_grad();
                     }, steps ? steps : 5, {}, {}});

  for (int r = 0; r < rounds; ++r) {
    for (Case& c : cases) c.ds_ms.push_back(time_round(c));
    if (!torch) continue;
    std::string cmd = "python3 benchmarks/compare/models_torch.py --threads " + std::to_string(threads);
    if (!only.empty()) cmd += " --only " + only;
    if (steps) cmd += " --steps " + std::to_string(steps);
    const auto t = ds::bench::run_python_json(cmd);
    for (Case& c : cases)
      if (t.count(c.name + "_ms")) c.torch_ms.push_back(t.at(c.name + "_ms"));
  }

  if (profile)
    for (Case& c : cases) {
      ds::bench::OpProfile p;
      for (int i = 0; i < c.steps; ++i) c.step();
      p.print(c.name, c.steps, median(c.ds_ms));
    }

  std::printf("\n%-9s %10s %10s %14s %14s %8s %8s\n", "model", "ds ms", "torch ms", "ds", "torch", "speedup", "ds MFU");
  std::vector<std::pair<std::string, double>> kv;
  std::vector<std::pair<std::string, double>> speedups;
  for (const Case& c : cases) {
    const double ds_ms = median(c.ds_ms), rate = c.items_per_step / (ds_ms * 1e-3);
    const bool have_t = !c.torch_ms.empty();
    const double t_ms = have_t ? median(c.torch_ms) : 0, t_rate = have_t ? c.items_per_step / (t_ms * 1e-3) : 0;
    char mfu[16] = "-";
    if (c.flops_per_step > 0) std::snprintf(mfu, sizeof mfu, "%.0f%%", 100 * c.flops_per_step / (ds_ms * 1e-3) / (peak * 1e9));
    char tm[16] = "n/a", tr[32] = "n/a", sp[16] = "-";
    if (have_t) {
      std::snprintf(tm, sizeof tm, "%.1f", t_ms);
      std::snprintf(tr, sizeof tr, "%.0f %s", t_rate, c.unit == "tokens/s" ? "tok/s" : "smp/s");
      std::snprintf(sp, sizeof sp, "%.2fx", rate / t_rate);
    }
    char dr[32];
    std::snprintf(dr, sizeof dr, "%.0f %s", rate, c.unit == "tokens/s" ? "tok/s" : "smp/s");
    std::printf("%-9s %10.1f %10s %14s %14s %8s %8s\n", c.name.c_str(), ds_ms, tm, dr, tr, sp, mfu);
    kv.push_back({c.name + (c.unit == "tokens/s" ? "_tokens_per_s" : "_samples_per_s"), rate});
    if (have_t) speedups.push_back({c.name + "_speedup", rate / t_rate});
  }
  kv.insert(kv.end(), speedups.begin(), speedups.end());
  std::printf("%s\n", ds::bench::json_line(kv).c_str());
  return 0;
}
