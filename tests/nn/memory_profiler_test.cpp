// The memory profiler (nn/memory_profiler.h): bytes attributed to ops and modules on a model whose allocations are
// known, the peak and where it happened, the report, and that everything is switched off again afterwards.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/nn/nn.h>

#include "../test_util.h"

using namespace ds;

TEST_CASE("MemoryProfiler attributes a Linear layer's output bytes to its ops and the module", "[profiler][nn]") {
  auto fc = nn::make<nn::Linear>(1000, 1000);
  Tensor x = randn({64, 1000});
  constexpr int64_t out_bytes = 64 * 1000 * 4;
  nn::MemoryProfiler prof(fc);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = (*fc)(x);
  }
  prof.stop();
  // linear = matmul(x, weight.t()) + bias: each op allocates one (64, 1000) f32 output.
  const auto mm = prof.op("matmul");
  CHECK(mm.calls == 1);
  CHECK(mm.allocated_bytes == out_bytes);
  CHECK(prof.op("add").allocated_bytes == out_bytes);
  const auto m = prof.module("Linear");
  CHECK(m.calls == 1);
  CHECK(m.allocated_bytes == 2 * out_bytes);
  CHECK(m.self_bytes == 2 * out_bytes);
  // The matmul output is freed once the add has run; the peak has both alive.
  CHECK(prof.peak_bytes() - prof.start_live_bytes() == 2 * out_bytes);
  CHECK(prof.peak_op() == "add");
  CHECK(prof.peak_module() == "Linear");
  CHECK_FALSE(prof.peak_in_backward());
  CHECK(prof.live_bytes() - prof.start_live_bytes() == out_bytes);  // y
}

TEST_CASE("MemoryProfiler names modules by path, covers backward, and reports the peak", "[profiler][nn]") {
  manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Linear>(100, 200), nn::make<nn::ReLU>(), nn::make<nn::Linear>(200, 10)});
  Tensor x = randn({32, 100});
  std::string report;
  {
    nn::MemoryProfiler prof(model);
    (*model)(x).sum().backward();
    report = prof.report();
    INFO(report);  // shown when a check below fails
    CHECK(prof.module("Sequential").calls == 1);
    CHECK(prof.module("0 (Linear)").allocated_bytes == 2 * 32 * 200 * 4);
    CHECK(prof.module("1 (ReLU)").allocated_bytes >= 32 * 200 * 4);
    CHECK(prof.module("2 (Linear)").allocated_bytes == 2 * 32 * 10 * 4);
    const auto seq = prof.module("Sequential");
    CHECK(seq.allocated_bytes == prof.module("0 (Linear)").allocated_bytes +
                                     prof.module("1 (ReLU)").allocated_bytes +
                                     prof.module("2 (Linear)").allocated_bytes);
    CHECK(seq.self_bytes == 0);
    // Backward ran ops too (no module is on the stack then): their gradients are counted.
    int64_t total = 0;
    for (const auto& o : prof.op_stats()) total += o.allocated_bytes;
    CHECK(total > seq.allocated_bytes);
    CHECK(prof.peak_bytes() > prof.start_live_bytes());
    CHECK(prof.peak_in_backward());  // the weight gradients come on top of the saved activations
    CHECK_THAT(report, Catch::Matchers::Contains("peak live: ") && Catch::Matchers::Contains("during backward") &&
                           Catch::Matchers::Contains(std::to_string(prof.peak_bytes()) + " bytes") &&
                           Catch::Matchers::Contains("top ops by bytes") &&
                           Catch::Matchers::Contains("top modules by bytes") &&
                           Catch::Matchers::Contains("0 (Linear)") && Catch::Matchers::Contains("matmul"));
  }
  // Off again: a second profiler may start, and the dispatcher's hooks are gone.
  CHECK_FALSE(dispatch_state().profiling);
  CHECK(dispatch_hooks().profile_begin == nullptr);
  nn::MemoryProfiler again;
  CHECK_THROWS_WITH(nn::MemoryProfiler(), Catch::Matchers::Contains("[MemoryProfiler]"));
}

TEST_CASE("MemoryProfiler sees a checkpoint's recomputation, and ModuleScope for other signatures",
          "[profiler][checkpoint][nn]") {
  manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      nn::make<nn::Linear>(16, 16), nn::make<nn::ReLU>(), nn::make<nn::Linear>(16, 4)});
  Tensor x = randn({8, 16});
  nn::MemoryProfiler prof(model);
  {
    nn::GradientCheckpointGuard guard;
    (*model)(x).sum().backward();
  }
  // Children 0 and 1 ran twice (forward without grad, recomputed in backward); the last child ran plainly once.
  CHECK(prof.module("0 (Linear)").calls == 2);
  CHECK(prof.module("1 (ReLU)").calls == 2);
  CHECK(prof.module("2 (Linear)").calls == 1);

  auto extra = nn::make<nn::Identity>();
  {
    nn::ModuleScope scope(*extra);
    Tensor t = zeros({10});
  }
  CHECK(prof.module("Identity").calls == 1);
  CHECK(prof.module("Identity").allocated_bytes == 40);
}
