// ./ds bench dist: data-parallel training of GPT-mini (the models benchmark's: 6 layers, width 384, context 256,
// batch 8 per rank) and ResNet-18 (3x32x32, batch 32 per rank) on 1, 2 and 4 ranks, with cores / ranks threads each,
// for each gradient reduction: none (f32 mean), fp16 and int8. benchmarks/run_dist.sh runs this program under
// ./ds launch for each rank count (--emit FILE), then once more to print the table and the JSON (--summarize).
//
// Per case: the median step time (forward, backward with the bucketed reduction overlapped, AdamW), global
// throughput, bytes each rank sends per step (as ProcessGroup counts them: what a bandwidth-optimal algorithm puts
// on the wire) and the exposed communication: the time the end of backward waits for buckets still being reduced,
// as a fraction of the step. On a machine with few cores the communication thread competes with the compute.
// JSON keys: fp16_bytes_ratio and int8_bytes_ratio (bytes per step against none, 2 ranks, GPT-mini), exposed_comm_2
// (none, 2 ranks, GPT-mini), scaling_2 (GPT-mini's 2-rank throughput over 1-rank throughput at the same cores),
// and the same for resnet18 with a resnet18_ prefix.
//
//   ds_bench_dist --emit FILE [--steps S] [--only gpt_mini|resnet18]     (under ./ds launch -n N)
//   ds_bench_dist --summarize FILE...
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ds/distributed/ddp.h>
#include <ds/distributed/init.h>
#include <ds/ds.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/vision/resnet.h>
#include <ds/optim/optim.h>

#include "common.h"

using namespace ds;

namespace {

struct Result {
  std::string model, compression;
  int ranks = 1, threads = 1;
  double step_ms = 0, items_per_s = 0, bytes = 0, exposed_ms = 0;
};

// Times `steps` steps after one warm-up; the medians of step time and of DDP's exposed wait and bytes.
Result measure(const std::string& model, const std::string& compression, double items_per_rank, int steps,
               const std::function<void()>& step, const dist::DistributedDataParallel* ddp, int ranks) {
  step();
  std::vector<double> ms, exposed, bytes;
  for (int i = 0; i < steps; ++i) {
    ms.push_back(bench::seconds(step) * 1e3);
    if (ddp) {
      exposed.push_back(ddp->last_stats().exposed_comm_ms);
      bytes.push_back(static_cast<double>(ddp->last_stats().bytes_sent));
    }
  }
  Result r{model, compression, ranks, get_num_threads(), bench::median(ms), 0, 0, 0};
  r.items_per_s = items_per_rank * ranks / (r.step_ms * 1e-3);
  if (ddp) {
    r.exposed_ms = bench::median(exposed);
    r.bytes = bench::median(bytes);
  }
  return r;
}

int emit(const std::string& file, int steps, const std::string& only) {
  auto world = dist::init_process_group();
  const int n = world->size();
  std::vector<Result> results;
  const std::vector<std::string> compressions = n == 1 ? std::vector<std::string>{"none"}
                                                       : std::vector<std::string>{"none", "fp16", "int8"};
  for (const std::string& comp : compressions) {
    const dist::DDPOptions options{.comm_hook = dist::comm_hook_by_name(comp)};
    if (only.empty() || only == "gpt_mini") {
      manual_seed(0);
      const models::GPTConfig gc{.vocab_size = 8192, .block_size = 256, .n_layer = 6, .n_head = 6, .n_embd = 384};
      auto gpt = models::gpt(gc);
      manual_seed(1 + static_cast<uint64_t>(world->rank()));  // each rank its own batch
      const Tensor idx = randint(0, gc.vocab_size, {8, 256}), tgt = randint(0, gc.vocab_size, {8, 256});
      std::unique_ptr<dist::DistributedDataParallel> ddp;
      if (n > 1) ddp = std::make_unique<dist::DistributedDataParallel>(gpt, world, options);
      optim::AdamW opt(gpt->parameters(), {.lr = 1e-3});
      auto step = [&] {
        Tensor loss = ddp ? ddp->run([&] { return gpt->loss(idx, tgt); }) : gpt->loss(idx, tgt);
        loss.backward();
        opt.step();
        opt.zero_grad();
      };
      results.push_back(measure("gpt_mini", comp, 8.0 * 256, steps, step, ddp.get(), n));
    }
    if (only.empty() || only == "resnet18") {
      manual_seed(0);
      auto resnet = models::resnet18(10);
      manual_seed(1 + static_cast<uint64_t>(world->rank()));
      const Tensor x = randn({32, 3, 32, 32}), y = randint(0, 10, {32});
      std::unique_ptr<dist::DistributedDataParallel> ddp;
      if (n > 1) ddp = std::make_unique<dist::DistributedDataParallel>(resnet, world, options);
      optim::AdamW opt(resnet->parameters(), {.lr = 1e-3});
      auto step = [&] {
        Tensor loss = cross_entropy(ddp ? (*ddp)(x) : (*resnet)(x), y);
        loss.backward();
        opt.step();
        opt.zero_grad();
      };
      results.push_back(measure("resnet18", comp, 32, steps * 2, step, ddp.get(), n));
    }
  }
  if (world->rank() == 0) {
    std::ofstream out(file);
    for (const Result& r : results)
      out << r.model << ' ' << r.compression << ' ' << r.ranks << ' ' << r.threads << ' ' << r.step_ms << ' '
          << r.items_per_s << ' ' << r.bytes << ' ' << r.exposed_ms << '\n';
    std::printf("%d rank(s): %zu cases written to %s\n", n, results.size(), file.c_str());
  }
  dist::destroy_process_group();
  return 0;
}

int summarize(const std::vector<std::string>& files) {
  std::map<std::string, Result> by_key;  // "model compression ranks"
  std::vector<Result> all;
  for (const std::string& f : files) {
    std::ifstream in(f);
    if (!in) {
      std::fprintf(stderr, "ds_bench_dist: cannot read %s\n", f.c_str());
      return 2;
    }
    Result r;
    while (in >> r.model >> r.compression >> r.ranks >> r.threads >> r.step_ms >> r.items_per_s >> r.bytes >>
           r.exposed_ms) {
      all.push_back(r);
      by_key[r.model + " " + r.compression + " " + std::to_string(r.ranks)] = r;
    }
  }
  std::printf("\n%-9s %5s %7s %-6s %10s %12s %14s %12s\n", "model", "ranks", "threads", "reduce", "step ms",
              "throughput", "bytes/step", "exposed");
  for (const Result& r : all)
    std::printf("%-9s %5d %7d %-6s %10.1f %12.1f %14.0f %11.1f%%\n", r.model.c_str(), r.ranks, r.threads,
                r.compression.c_str(), r.step_ms, r.items_per_s, r.bytes, 100 * r.exposed_ms / r.step_ms);
  std::vector<std::pair<std::string, double>> kv;
  for (const std::string model : {"gpt_mini", "resnet18"}) {
    const std::string p = model == "gpt_mini" ? "" : "resnet18_";
    auto get = [&](const std::string& comp, int ranks) -> const Result* {
      auto it = by_key.find(model + " " + comp + " " + std::to_string(ranks));
      return it == by_key.end() ? nullptr : &it->second;
    };
    const Result *none2 = get("none", 2), *fp16 = get("fp16", 2), *int8 = get("int8", 2), *one = get("none", 1);
    if (none2 && fp16 && none2->bytes > 0) kv.push_back({p + "fp16_bytes_ratio", fp16->bytes / none2->bytes});
    if (none2 && int8 && none2->bytes > 0) kv.push_back({p + "int8_bytes_ratio", int8->bytes / none2->bytes});
    if (none2) kv.push_back({p + "exposed_comm_2", none2->exposed_ms / none2->step_ms});
    if (none2 && one) kv.push_back({p + "scaling_2", none2->items_per_s / one->items_per_s});
  }
  std::printf("%s\n", bench::json_line(kv).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string emit_file, only;
  std::vector<std::string> summarize_files;
  int steps = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--emit" && i + 1 < argc) emit_file = argv[++i];
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--summarize") {
      while (i + 1 < argc) summarize_files.push_back(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: ds_bench_dist --emit FILE [--steps S] [--only gpt_mini|resnet18] | "
                           "--summarize FILE...\n");
      return 2;
    }
  }
  if (!summarize_files.empty()) return summarize(summarize_files);
  if (emit_file.empty() || steps < 1) {
    std::fprintf(stderr, "ds_bench_dist: give --emit FILE (under ./ds launch) or --summarize FILE...\n");
    return 2;
  }
  return emit(emit_file, steps, only);
}
