// ./ds bench compile: one training step (forward, cross-entropy, backward, AdamW step, zero_grad) run eagerly and
// through ds::compile, with the peak of live CPU memory in one step of each, for
//   mlp8      MLP 784-256-10, batch 8 (overhead-bound: ~20 small ops per step)
//   mlp128    MLP 784-512-512-10, batch 128
//   lenet     LeNet-5, batch 64
//   resnet18  ResNet-18 (10 classes), batch 32, 3x32x32
//   resnet18_log  the same step logging its loss with item() after the update: a graph break, so the compiled
//             step reruns its host code, taking the results of the graph before the read (graph/graph_break.h)
//   gpt_mini  GPT, 6 layers, 6 heads, width 384, context 256, batch 8, vocabulary 8192
// and PyTorch eager and torch.compile on the same steps (benchmarks/compare/compile_torch.py) when torch is
// importable, interleaved round by round (these VMs drift), medians reported. Each case has its own model and
// optimizer for the eager and the compiled steps, so both run the same work from the same state.
// The last line is JSON: <case>_speedup (ds eager / ds compiled), mlp8_vs_torch (torch eager / ds compiled),
// resnet18_speedup, gpt_mini_speedup, peak_mem_ratio (compiled / eager, worst case; resnet18_ and gpt_mini_ for
// those two), torch_compile_ratio (torch.compile / ds compiled, worst case) and per case <case>_torch_compile_ratio.
//
//   ds_bench_compile [--rounds R] [--only CASE[,CASE...]] [--steps S] [--no-torch] [--profile]
// --profile adds the time per primitive of eager and of compiled steps (through the dispatcher's profiler hooks).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ds/ds.h>
#include <ds/graph/compile.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/vision/lenet.h>
#include <ds/models/vision/resnet.h>

#include "common.h"
#include "op_profile.h"

using namespace ds;
using ds::bench::median;
using ds::bench::seconds;

namespace {

// A model, its optimizer and the step over fixed data.
struct Trainer {
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<optim::AdamW> opt;
  std::function<Tensor()> loss;
  bool log_loss = false;
  std::vector<double> logged;
  Tensor step() {
    const Tensor l = loss();
    l.backward();
    opt->step();
    opt->zero_grad();
    if (log_loss) logged.push_back(l.item<double>());
    return l.detach();
  }
};

struct Case {
  std::string name;
  int steps;
  Trainer eager, compiled_trainer;
  std::unique_ptr<CompiledFunction> compiled;
  std::vector<double> ds_eager, ds_compiled, t_eager, t_compile;
  int64_t peak_eager = 0, peak_compiled = 0;
};

double time_ms(const std::function<void()>& f, int steps) {
  for (int i = 0; i < 2; ++i) f();  // warm-up (the compiled function's first calls trace)
  std::vector<double> t;
  for (int i = 0; i < steps; ++i) t.push_back(seconds(f) * 1e3);
  return median(t);
}

int64_t peak_of(const std::function<void()>& f) {
  cpu_allocator().reset_peak();
  const int64_t before = cpu_allocator().stats().live_bytes;
  f();
  return cpu_allocator().stats().peak_bytes - before;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, steps = 0;
  std::string only;
  bool no_torch = false, profile = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--no-torch") no_torch = true;
    else if (a == "--profile") profile = true;
    else {
      std::fprintf(stderr, "usage: ds_bench_compile [--rounds R] [--only CASE] [--steps S] [--no-torch] [--profile]\n");
      return 2;
    }
  }
  const bool torch = !no_torch && ds::bench::torch_available();
  const int threads = get_num_threads();
  std::printf("ds bench compile: %d rounds, interleaved (ds%s), medians; %d threads; AdamW lr 1e-3\n", rounds,
              torch ? ", torch" : "", threads);
  std::printf("ISA: %s\n", ds::bench::isa_str().c_str());
  if (!torch)
    std::printf("%s\n", no_torch ? "(--no-torch: ds only)"
                                  : "(torch is not importable: pip install torch for the comparison)");

  std::vector<std::unique_ptr<Case>> cases;
  auto add = [&](std::string name, int n, const std::function<Trainer()>& make) {
    if (!only.empty() && ("," + only + ",").find("," + name + ",") == std::string::npos) return;
    auto c = std::make_unique<Case>();
    c->name = std::move(name);
    c->steps = steps ? steps : n;
    manual_seed(0);
    c->eager = make();
    manual_seed(0);
    c->compiled_trainer = make();
    Trainer* t = &c->compiled_trainer;
    c->compiled = std::make_unique<CompiledFunction>(
        [t](std::span<const Tensor>) { return TensorList{t->step()}; }, CompileOptions{.name = c->name});
    cases.push_back(std::move(c));
  };
  auto vision = [](std::shared_ptr<nn::Module> m, Shape in, int64_t classes) {
    const Tensor x = randn(in), y = randint(0, classes, {in[0]}, {.dtype = kI64});
    Trainer t{m, std::make_unique<optim::AdamW>(m->parameters(), optim::AdamWOptions{.lr = 1e-3}), nullptr};
    nn::Module* raw = m.get();
    t.loss = [raw, x, y] { return cross_entropy((*raw)(x), y); };
    return t;
  };
  add("mlp8", 50, [&] { return vision(models::mlp(784, {256}, 10), {8, 1, 28, 28}, 10); });
  add("mlp128", 20, [&] { return vision(models::mlp(784, {512, 512}, 10), {128, 1, 28, 28}, 10); });
  add("lenet", 20, [&] { return vision(models::lenet5(), {64, 1, 28, 28}, 10); });
  add("resnet18", 5, [&] { return vision(models::resnet18(10), {32, 3, 32, 32}, 10); });
  add("resnet18_log", 5, [&] {
    Trainer t = vision(models::resnet18(10), {32, 3, 32, 32}, 10);
    t.log_loss = true;
    return t;
  });
  add("gpt_mini", 3, [&] {
    const models::GPTConfig gc{.vocab_size = 8192, .block_size = 256, .n_layer = 6, .n_head = 6, .n_embd = 384};
    auto gpt = models::gpt(gc);
    const Tensor idx = randint(0, gc.vocab_size, {8, 256}, {.dtype = kI64});
    const Tensor tgt = randint(0, gc.vocab_size, {8, 256}, {.dtype = kI64});
    Trainer t{gpt, std::make_unique<optim::AdamW>(gpt->parameters(), optim::AdamWOptions{.lr = 1e-3}), nullptr};
    models::GPT* raw = gpt.get();
    t.loss = [raw, idx, tgt] { return raw->loss(idx, tgt); };
    return t;
  });

  for (int r = 0; r < rounds; ++r) {
    for (auto& c : cases) {
      c->ds_eager.push_back(time_ms([&] { c->eager.step(); }, c->steps));
      c->ds_compiled.push_back(time_ms([&] { (*c->compiled)({}); }, c->steps));
    }
    if (!torch) continue;
    std::string cmd = "python3 benchmarks/compare/compile_torch.py --threads " + std::to_string(threads);
    if (!only.empty()) cmd += " --only " + only;
    const auto t = ds::bench::run_python_json(cmd);
    for (auto& c : cases) {
      if (t.count(c->name + "_eager_ms")) c->t_eager.push_back(t.at(c->name + "_eager_ms"));
      if (t.count(c->name + "_compile_ms")) c->t_compile.push_back(t.at(c->name + "_compile_ms"));
    }
  }
  if (profile) {
    for (auto& c : cases) {
      {
        ds::bench::OpProfile p;
        for (int i = 0; i < c->steps; ++i) c->eager.step();
        p.print(c->name + " eager", c->steps, median(c->ds_eager));
      }
      ds::bench::OpProfile p;
      for (int i = 0; i < c->steps; ++i) (*c->compiled)({});
      p.print(c->name + " compiled", c->steps, median(c->ds_compiled));
    }
  }
  for (auto& c : cases) {
    c->peak_eager = peak_of([&] { c->eager.step(); });
    c->peak_compiled = peak_of([&] { (*c->compiled)({}); });
  }

  auto cell = [](const std::vector<double>& v) {
    char b[32] = "-";
    if (!v.empty()) std::snprintf(b, sizeof b, "%.2f", median(v));
    return std::string(b);
  };
  std::printf("\ntraining step, ms (medians over rounds of per-round medians); peak live MB in one step\n");
  std::printf("%-12s %9s %9s %8s %9s %9s %10s %10s %8s\n", "case", "ds eager", "ds comp", "speedup", "torch",
              "t.compile", "peak eager", "peak comp", "nodes");
  std::vector<std::pair<std::string, double>> kv;
  double worst_mem = 0, worst_tc = 1e30;
  for (auto& c : cases) {
    const double e = median(c->ds_eager), k = median(c->ds_compiled);
    const graph::Graph* g = c->compiled->last_graph();
    std::printf("%-12s %9s %9s %7.2fx %9s %9s %10.1f %10.1f %8zu\n", c->name.c_str(), cell(c->ds_eager).c_str(),
                cell(c->ds_compiled).c_str(), e / k, cell(c->t_eager).c_str(), cell(c->t_compile).c_str(),
                c->peak_eager / 1e6, c->peak_compiled / 1e6, g ? g->nodes().size() : size_t{0});
    kv.push_back({c->name + "_speedup", e / k});
    if (c->name == "mlp8" && !c->t_eager.empty()) kv.push_back({"mlp8_vs_torch", median(c->t_eager) / k});
    if (!c->t_compile.empty()) {
      const double r = median(c->t_compile) / k;
      kv.push_back({c->name + "_torch_compile_ratio", r});
      worst_tc = std::min(worst_tc, r);
    }
    const double mem =
        static_cast<double>(c->peak_compiled) / static_cast<double>(std::max<int64_t>(c->peak_eager, 1));
    if (c->name == "resnet18" || c->name == "gpt_mini") kv.push_back({c->name + "_peak_mem_ratio", mem});
    worst_mem = std::max(worst_mem, mem);
  }
  kv.push_back({"peak_mem_ratio", worst_mem});
  if (worst_tc < 1e30) kv.push_back({"torch_compile_ratio", worst_tc});
  std::printf("%s\n", ds::bench::json_line(kv).c_str());
  return 0;
}
