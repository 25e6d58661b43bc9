// ./ds bench train: the time of one training step (forward, cross-entropy, backward, AdamW step, zero_grad) for
//   mlp       784-512-512-10, batch 128, input (128, 1, 28, 28)
//   lenet     LeNet-5, batch 64, input (64, 1, 28, 28)
//   resnet18  torchvision's ResNet-18 (10 classes), batch 32, input (32, 3, 32, 32)
// on synthetic data generated once (random inputs, random integer labels), against PyTorch eager
// (benchmarks/compare/train_torch.py, same architectures, same thread count) when torch is importable. ds and torch
// run interleaved round by round and medians are reported, because these VMs drift. Each step is also split into
// forward (model + loss), backward, and optimizer (step + zero_grad), to show where the time goes.
// The last line is a JSON object: <model>_speedup (torch ms / ds ms) and <model>_ds_ms.
//
//   ds_bench_train [--rounds R] [--quick] [--only mlp|lenet|resnet18] [--steps S] [--no-torch] [--profile]
// --profile adds ds's time per primitive (through the dispatcher's profiler hooks), the map for optimising.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <ds/ds.h>
#include <ds/ops/dispatch.h>
#include <ds/models/vision/lenet.h>
#include <ds/models/vision/resnet.h>
#include <ds/nn/nn.h>
#include <ds/optim/optim.h>

#include "common.h"
#include "op_profile.h"

using namespace ds;
using ds::bench::median;
using ds::bench::seconds;

namespace {

struct Case {
  std::string name;
  std::shared_ptr<nn::Module> model;
  Tensor x, y;
  int steps;  // timed steps per round (a few warm-up steps come first)
  std::unique_ptr<optim::AdamW> opt;
  // Per round: the median step and its parts, in ms; torch's the same.
  std::vector<double> total, fwd, bwd, optim, t_total, t_fwd, t_bwd, t_optim;
};

// One step, timed in parts; returns {forward, backward, optimizer} in seconds.
std::array<double, 3> step(Case& c) {
  Tensor loss;
  const double f = seconds([&] { loss = cross_entropy((*c.model)(c.x), c.y); });
  const double b = seconds([&] { loss.backward(); });
  const double o = seconds([&] {
    c.opt->step();
    c.opt->zero_grad();
  });
  return {f, b, o};
}

void run_ds(Case& c) {
  for (int i = 0; i < 2; ++i) step(c);
  std::vector<double> total, f, b, o;
  for (int i = 0; i < c.steps; ++i) {
    const auto s = step(c);
    f.push_back(s[0] * 1e3);
    b.push_back(s[1] * 1e3);
    o.push_back(s[2] * 1e3);
    total.push_back((s[0] + s[1] + s[2]) * 1e3);
  }
  c.total.push_back(median(total));
  c.fwd.push_back(median(f));
  c.bwd.push_back(median(b));
  c.optim.push_back(median(o));
}

std::string ms(const std::vector<double>& v) {
  if (v.empty()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", median(v));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  std::string only;
  bool no_torch = false;
  int steps = 0;
  bool profile = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--quick") rounds = 1;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];  // one model, for profiling
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);  // timed steps per round, every model
    else if (a == "--no-torch") no_torch = true;
    else if (a == "--profile") profile = true;
  }
  const bool torch = !no_torch && ds::bench::torch_available();
  const int threads = get_num_threads();
  std::printf("ds bench train: %d rounds, interleaved (ds%s), medians; %d threads; AdamW lr 1e-3\n", rounds,
              torch ? ", torch" : "", threads);
  std::printf("ISA: %s\n", ds::bench::isa_str().c_str());
  if (!torch)
    std::printf("%s\n", no_torch ? "(--no-torch: ds only)"
                                  : "(torch: not installed (not importable); pip install torch to add the comparison)");

  manual_seed(0);
  std::vector<Case> cases;
  auto add = [&](std::string name, std::shared_ptr<nn::Module> m, Shape in, int64_t classes, int n) {
    if (!only.empty() && only != name) return;
    if (steps > 0) n = steps;
    Case c{name, std::move(m), randn(in), randint(0, classes, {in[0]}), n, nullptr, {}, {}, {}, {}, {}, {}, {}, {}};
    c.opt = std::make_unique<optim::AdamW>(c.model->parameters(), optim::AdamWOptions{.lr = 1e-3});
    cases.push_back(std::move(c));
  };
  add("mlp", models::mlp(784, {512, 512}, 10), {128, 1, 28, 28}, 10, 20);
  add("lenet", models::lenet5(), {64, 1, 28, 28}, 10, 20);
  add("resnet18", models::resnet18(10), {32, 3, 32, 32}, 10, 5);

  for (int r = 0; r < rounds; ++r) {
    for (Case& c : cases) run_ds(c);
    if (torch) {
      std::string cmd = "python3 benchmarks/compare/train_torch.py --threads " + std::to_string(threads);
      if (!only.empty()) cmd += " --only " + only;
      const auto t = ds::bench::run_python_json(cmd);
      for (Case& c : cases) {
        if (!t.count(c.name + "_ms")) continue;
        c.t_total.push_back(t.at(c.name + "_ms"));
        c.t_fwd.push_back(t.at(c.name + "_fwd_ms"));
        c.t_bwd.push_back(t.at(c.name + "_bwd_ms"));
        c.t_optim.push_back(t.at(c.name + "_optim_ms"));
      }
    }
  }

  if (profile) {
    for (Case& c : cases) {
      ds::bench::OpProfile p;
      for (int i = 0; i < c.steps; ++i) step(c);
      p.print(c.name, c.steps, median(c.total));
    }
  }

  std::printf("\ntraining step, ms (medians over rounds of per-round medians)\n");
  std::printf("%-9s %9s %9s %8s   %-26s %-26s\n", "model", "ds", "torch", "speedup", "ds fwd / bwd / optim",
              "torch fwd / bwd / optim");
  std::vector<std::pair<std::string, double>> kv;
  for (const Case& c : cases) {
    const bool have_t = !c.t_total.empty();
    const double speedup = have_t ? median(c.t_total) / median(c.total) : 0;
    char sp[16] = "-";
    if (have_t) std::snprintf(sp, sizeof sp, "%.2fx", speedup);
    const std::string ds_split = ms(c.fwd) + " / " + ms(c.bwd) + " / " + ms(c.optim);
    const std::string t_split = have_t ? ms(c.t_fwd) + " / " + ms(c.t_bwd) + " / " + ms(c.t_optim) : "-";
    std::printf("%-9s %9s %9s %8s   %-26s %-26s\n", c.name.c_str(), ms(c.total).c_str(),
                have_t ? ms(c.t_total).c_str() : "n/a", sp, ds_split.c_str(), t_split.c_str());
    if (have_t) kv.push_back({c.name + "_speedup", speedup});
  }
  for (const Case& c : cases) {
    kv.push_back({c.name + "_ds_ms", median(c.total)});
    // ResNet-18's forward is nearly all convolution: PyTorch's forward time over ds's (issue 18's conv measure).
    if (c.name == "resnet18" && !c.t_fwd.empty()) kv.push_back({"conv_fwd_vs_torch", median(c.t_fwd) / median(c.fwd)});
  }
  std::printf("%s\n", ds::bench::json_line({{"isa", ds::bench::isa_str()}}, kv).c_str());
  return 0;
}
