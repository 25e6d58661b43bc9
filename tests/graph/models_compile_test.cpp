// Whole models trained 20 steps through ds::compile against the same training run eagerly, from the same seed on the
// same batches: an MLP, LeNet-5, ResNet-18 (batch norm: running statistics written in place in training mode) and a
// GPT with dropout (random draws on every step). No pass reorders a sum, so parameters, buffers and every step's
// loss must be equal bitwise, fused pointwise groups included. Each step is forward, cross entropy, backward, AdamW
// and zero_grad; the batch is the compiled function's argument (a new one each step). Replays write results over
// dying inputs (the memory plan) and recompute activations in the backward (rematerialisation), bitwise too.
#include <functional>
#include <memory>

#include <catch2/catch.hpp>

#include "../test_util.h"

#include <ds/ds.h>
#include <ds/graph/compile.h>
#include <ds/models/nlp/gpt.h>
#include <ds/models/vision/lenet.h>
#include <ds/models/vision/resnet.h>

using namespace ds;

namespace {

struct Run {
  std::shared_ptr<nn::Module> model;
  std::function<Tensor(const Tensor&, const Tensor&)> loss;
};

// The batch of step i: inputs and class targets, from their own generator (the default one serves dropout).
using MakeBatch = std::function<std::pair<Tensor, Tensor>(int step)>;

struct Trained {
  std::shared_ptr<nn::Module> model;
  std::vector<Tensor> losses;
  CompiledFunction::Stats stats;
};

// `read_loss`: the step logs its loss with item() after the update, a graph break (graph/graph_break.h).
Trained train(const std::function<Run()>& make, const MakeBatch& batch, bool compiled, int steps,
              CompileOptions options = {.name = "model step"}, bool read_loss = false) {
  manual_seed(7);
  Run r = make();
  std::vector<double> logged;
  optim::AdamW opt(r.model->parameters(), {.lr = 1e-3, .weight_decay = 0.01});
  auto step = [&](std::span<const Tensor> xy) {
    const Tensor loss = r.loss(xy[0], xy[1]);
    loss.backward();
    opt.step();
    opt.zero_grad();
    if (read_loss) logged.push_back(loss.item<double>());
    return TensorList{loss.detach()};
  };
  CompiledFunction f = compile(step, std::move(options));
  Trained t{r.model, {}, {}};
  for (int i = 0; i < steps; ++i) {
    auto [x, y] = batch(i);
    t.losses.push_back(compiled ? f({x, y})[0] : step(std::vector<Tensor>{x, y})[0]);
  }
  t.stats = f.stats();
  if (read_loss) {
    REQUIRE(logged.size() == t.losses.size());
    for (size_t i = 0; i < logged.size(); ++i) CHECK(logged[i] == t.losses[i].item<double>());
  }
  return t;
}

// Returns the compiled run's stats. With dynamic dims the batches change shape; otherwise there is one trace.
// `read_loss`: each step reads its loss on the host at its end, so the replays are graph breaks' reruns.
CompiledFunction::Stats check_same_training(const std::function<Run()>& make, const MakeBatch& batch,
                                            int steps = 20, std::vector<CompileOptions::DynamicDim> dynamic = {},
                                            bool read_loss = false) {
  const Trained eager = train(make, batch, false, steps, {}, read_loss);
  const Trained comp = train(make, batch, true, steps, {.dynamic_dims = dynamic, .name = "model step"}, read_loss);
  if (dynamic.empty()) {
    CHECK(comp.stats.traces == 1);
    // A warm-up call, the trace, then replays (or reruns of the host code with the graph before the read).
    CHECK((read_loss ? comp.stats.prefix_replays : comp.stats.replays) == steps - 2);
  }
  CHECK(comp.stats.graph_breaks == (read_loss ? 1 : 0));
  CHECK(comp.stats.fused_nodes >= 6);  // bias + activation, batch norm's arithmetic, relu's backward, ... (fusion.h)
  CHECK(comp.stats.reused_outputs >= 1);  // elementwise results over dying inputs (memory_plan.h)
  CHECK(comp.stats.arena_bytes > 0);  // intermediates in one block (arena.h)
  for (int i = 0; i < steps; ++i) {
    INFO("loss of step " << i);
    CHECK(equal_bits(eager.losses[static_cast<size_t>(i)], comp.losses[static_cast<size_t>(i)]));
  }
  const StateDict a = eager.model->state_dict(), b = comp.model->state_dict();
  REQUIRE(a.size() == b.size());
  for (const auto& [name, value] : a) {
    INFO(name);
    if (const Tensor* t = std::get_if<Tensor>(&value)) CHECK(equal_bits(*t, b.tensor(name)));
  }
  // The compiled run moved: its parameters are not the initial ones.
  manual_seed(7);
  CHECK_FALSE(equal_bits(make().model->parameters()[0], comp.model->parameters()[0]));
  return comp.stats;
}

MakeBatch images(Shape shape, int64_t classes) {
  return [shape, classes](int step) {
    Generator g(100 + static_cast<uint64_t>(step));
    return std::pair{randn(shape, {}, &g), randint(0, classes, {shape[0]}, {.dtype = kI64}, &g)};
  };
}

Run vision(std::shared_ptr<nn::Module> m) {
  nn::Module* raw = m.get();
  return {m, [raw](const Tensor& x, const Tensor& y) { return cross_entropy((*raw)(x), y); }};
}

// A GPT with dropout (random draws on every step), and its token batches, of length length(step).
const models::GPTConfig kSmallGpt{.vocab_size = 96, .block_size = 16, .n_layer = 2, .n_head = 2, .n_embd = 32,
                                  .dropout = 0.1};

Run small_gpt() {
  auto gpt = models::gpt(kSmallGpt);
  models::GPT* raw = gpt.get();
  return Run{gpt, [raw](const Tensor& idx, const Tensor& tgt) { return raw->loss(idx, tgt); }};
}

MakeBatch gpt_tokens(std::function<int64_t(int)> length) {
  return [length](int step) {
    const models::GPTConfig& c = kSmallGpt;
    const int64_t t = length(step);
    Generator g(300 + static_cast<uint64_t>(step));
    return std::pair{randint(0, c.vocab_size, {2, t}, {.dtype = kI64}, &g),
                     randint(0, c.vocab_size, {2, t}, {.dtype = kI64}, &g)};
  };
}

}  // namespace

TEST_CASE("compiled training equals eager training bitwise: MLP and LeNet-5, 20 steps", "[graph][compile][models]") {
  check_same_training([] { return vision(models::mlp(784, {64}, 10)); }, images({8, 1, 28, 28}, 10));
  check_same_training([] { return vision(models::lenet5()); }, images({4, 1, 28, 28}, 10));
}

TEST_CASE("compiled training equals eager training bitwise: ResNet-18 with batch norm, 20 steps",
          "[graph][compile][models]") {
  const auto stats = check_same_training([] { return vision(models::resnet18(10)); }, images({2, 3, 32, 32}, 10));
  CHECK(stats.recomputed >= 1);  // batch norm's x - mean, recomputed in the backward (passes.h)
}

TEST_CASE("compiled training equals eager training bitwise: a GPT with dropout, 20 steps", "[graph][compile][models]") {
  check_same_training(small_gpt, gpt_tokens([](int) { return 16; }));
}

TEST_CASE("compiled training with dynamic dims equals eager training bitwise: MLP over batch sizes, GPT over "
          "sequence lengths", "[graph][compile][models][dynamic]") {
  // Batch sizes: the warm-up and the trace at 8, traces at 5 and 11 generalise, then graphs made for the others.
  const std::vector<int64_t> batches = {8, 8, 5, 11, 6, 8, 3, 16, 5, 7, 2, 12};
  const MakeBatch images = [&](int step) {
    Generator g(100 + static_cast<uint64_t>(step));
    const int64_t n = batches[static_cast<size_t>(step)];
    return std::pair{randn({n, 1, 28, 28}, {}, &g), randint(0, 10, {n}, {.dtype = kI64}, &g)};
  };
  auto stats = check_same_training([] { return vision(models::mlp(784, {64}, 10)); }, images,
                                   static_cast<int>(batches.size()), {{0, 0}, {1, 0}});
  CHECK(stats.traces == 3);
  CHECK(stats.generalized == 1);
  CHECK(stats.dynamic_graphs == 6);  // 6, 3, 16, 7, 2, 12 (8 and 5 replay their traces)
  // Sequence lengths: attention's dropout draws T^2 counters, so four traces (16, 8, 12, 10) generalise.
  const std::vector<int64_t> lengths = {16, 16, 8, 12, 10, 6, 16, 14, 9, 7, 3, 15};
  stats = check_same_training(small_gpt, gpt_tokens([&](int step) { return lengths[static_cast<size_t>(step)]; }),
                              static_cast<int>(lengths.size()), {{0, 1}, {1, 1}});
  CHECK(stats.traces == 4);
  CHECK(stats.generalized == 1);
  CHECK(stats.dynamic_graphs == 6);  // 6, 14, 9, 7, 3, 15
}

TEST_CASE("compiled training with the loss read every step equals eager training bitwise: ResNet-18 and a GPT",
          "[graph][compile][models]") {
  // The read after the update is a graph break: the whole step before it runs as a graph, whose results the rerun
  // of the host code takes (graph/graph_break.h). Batch norm's running statistics, dropout's draws.
  check_same_training([] { return vision(models::resnet18(10)); }, images({2, 3, 32, 32}, 10), 6, {}, true);
  check_same_training(small_gpt, gpt_tokens([](int) { return 16; }), 8, {}, true);
}
