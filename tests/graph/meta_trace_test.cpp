// A training step traced on the meta device (framework/core/device.h) without running a kernel: the same graph as
// the trace of the real step, op for op and shape for shape, so its memory plan is the real step's, and the
// executor replays it on meta (shapes only).
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/graph/executor.h>
#include <ds/graph/memory_plan.h>
#include <ds/graph/trace.h>
#include <ds/models/vision/resnet.h>

#include "../test_util.h"

using namespace ds;
using namespace ds::graph;

namespace {

// ResNet-18's training step (forward, cross-entropy, backward, AdamW), traced on `device`. The model and the
// optimizer stay alive with the graph: its host effects (the optimizer's step counts) refer to them.
struct Traced {
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<optim::AdamW> opt;
  Graph graph;
};

Traced trace_step(Device device) {
  manual_seed(3);
  Traced r;
  r.model = models::resnet18(10);
  r.model->to(device);
  r.opt = std::make_unique<optim::AdamW>(r.model->parameters(), optim::AdamWOptions{.lr = 1e-3});
  const Tensor x = randn({4, 3, 32, 32}, {.device = device});
  const Tensor y = zeros({4}, {.dtype = kI64, .device = device});
  Tracer t(std::vector<Tensor>{x, y});
  const Tensor loss = cross_entropy((*r.model)(x), y);
  loss.backward();
  r.opt->step();
  r.opt->zero_grad();
  const Tensor out = loss.detach();
  r.graph = t.finish({&out, 1});
  return r;
}

}  // namespace

TEST_CASE("meta: a training step traced on meta is the real step's graph, and so is its memory plan",
          "[graph][meta]") {
  const int64_t live = cpu_allocator().stats().live_bytes;
  const Traced traced_meta = trace_step(kMeta);
  const int64_t meta_bytes = cpu_allocator().stats().live_bytes - live;
  const Traced traced_cpu = trace_step(kCPU);
  const Graph &meta = traced_meta.graph, &cpu = traced_cpu.graph;
  for (size_t i = 0; i < std::min(meta.nodes().size(), cpu.nodes().size()); ++i)
    if (meta.nodes()[i].op != cpu.nodes()[i].op) {
      FAIL_CHECK("node " << i << ": meta " << op_name(meta.nodes()[i].op) << ", cpu " << op_name(cpu.nodes()[i].op));
      break;
    }
  REQUIRE(meta.nodes().size() == cpu.nodes().size());
  for (size_t i = 0; i < cpu.nodes().size(); ++i) {
    INFO("node " << i << " " << op_name(cpu.nodes()[i].op));
    REQUIRE(meta.nodes()[i].op == cpu.nodes()[i].op);
    for (size_t k = 0; k < cpu.nodes()[i].outputs.size(); ++k) {
      const Value &a = meta.value(meta.nodes()[i].outputs[k]), &b = cpu.value(cpu.nodes()[i].outputs[k]);
      CHECK(a.sizes == b.sizes);
      CHECK(a.strides == b.strides);
      CHECK(a.dtype == b.dtype);
      CHECK((a.device == kMeta || (a.device == kCPU && a.sizes.empty())));  // host numbers stay on the CPU
    }
  }
  const MemoryPlan pm = plan_memory(meta), pc = plan_memory(cpu);
  CHECK(pm.peak_bytes == pc.peak_bytes);
  CHECK(pm.peak_bytes > 10'000'000);  // ResNet-18's gradients alone are 44.7 MB
  CHECK(pm.reused == pc.reused);
  for (const MemoryPlan::Arena& a : pm.arenas) CHECK(a.device == kCPU);  // meta results hold no memory to lay out
  // The meta model and trace held no tensor memory (the graph keeps the meta parameters it captured).
  CHECK(meta_bytes < 1'000'000);

  // The executor runs the meta graph: every node's rule, no kernel.
  const TensorList out = execute(meta, std::vector<Tensor>{randn({4, 3, 32, 32}, {.device = kMeta}),
                                                           zeros({4}, {.dtype = kI64, .device = kMeta})});
  REQUIRE(out.size() == 1);
  CHECK(out[0].device() == kMeta);
  CHECK(out[0].dim() == 0);
}
