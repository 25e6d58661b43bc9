// The memory plan's arena (framework/graph/arena.h, memory_plan.h): offsets laid out from lifetimes, checked by hand;
// replays whose intermediates live in one block allocated once per call, bitwise as eager; and the alias sets the
// plan relies on staying right when a pass makes a view read another value.
#include <vector>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "graph_test_util.h"

#include <ds/ds.h>
#include <ds/graph/arena.h>
#include <ds/graph/executor.h>
#include <ds/graph/fusion.h>
#include <ds/graph/memory_plan.h>
#include <ds/graph/passes/passes.h>

using namespace ds;
using namespace ds::graph;
using namespace ds::graph::testing;
using Catch::Matchers::Contains;

TEST_CASE("arena: lay_out places storages whose lifetimes meet apart, and reuses bytes across time",
          "[graph][memory][arena]") {
  // Rounded to 64 bytes: A 128 over nodes 0-2, B 64 over 1-3, C 128 over 3-4, D 64 over 4-5. Largest first: A at 0;
  // C at 0 too (A is dead by node 3); B meets both, so 128; D meets C (node 4) but not B (dead after 3): 128.
  const std::vector<Lifetime> life = {{0, 2, 100}, {1, 3, 64}, {3, 4, 128}, {4, 5, 1}};
  const ArenaLayout layout = lay_out(life);
  CHECK(layout.offsets == std::vector<int64_t>{0, 128, 0, 128});
  CHECK(layout.bytes == 192);  // the peak: A and B alive at once
  // Lifetimes that share a node never share a byte, whatever the order they come in.
  const std::vector<Lifetime> chain = {{0, 1, 64}, {1, 2, 64}, {2, 3, 64}};
  const ArenaLayout c = lay_out(chain);
  CHECK(c.offsets == std::vector<int64_t>{0, 64, 0});
  CHECK(c.bytes == 128);
  CHECK_THROWS_WITH(lay_out(life, 48), Contains("alignment 48 is not a power of two"));
}

TEST_CASE("arena: phases keep an arena from holding the forward's bytes while gradients pile up",
          "[graph][memory][arena]") {
  // Eight nodes. An activation A (640 bytes) lives over all of them; a forward temporary T1 (1280) over nodes 1-2, a
  // backward one T2 (640) over 5-6; a gradient G the program keeps (1000) from node 4 on.
  // One arena (k = 1) holds T1 at 0, A at 1280 and T2 at 0 (it meets A, not T1): 1920 bytes from node 0 to 7, so
  // 2920 at node 4 with G. Two phases (nodes 0-3, 4-7): A crosses and is allocated on its own; T1 has an arena in
  // the first phase, T2 one in the second: the peak is A + G + T2 = 2280 at node 5, as without arenas. Four or
  // more phases leave T1 and T2 out too (they cross), for the same peak, so two (the fewest) are kept.
  const std::vector<Lifetime> candidates = {{0, 7, 640}, {1, 2, 1280}, {5, 6, 640}};
  const std::vector<int32_t> keys = {0, 0, 0};
  const std::vector<Lifetime> others = {{4, 8, 1000}};
  const PhasedArenas p = lay_out_in_phases(candidates, keys, others, 8);
  CHECK(p.phases == 2);
  CHECK(p.arena == std::vector<int32_t>{-1, 0, 1});
  CHECK(p.offsets[1] == 0);
  CHECK(p.offsets[2] == 0);
  CHECK(p.arena_bytes == std::vector<int64_t>{1280, 640});
  CHECK(p.peak == 2280);
  CHECK(p.peak_without == 2280);
  // An arena whose bytes stay reserved past its storages' deaths, at the peak of others: X (128) at node 0, Y (64)
  // at node 1 over X's bytes, G (1000) at node 1. With the arena (128 over nodes 0-1, in every phase cut of 200
  // nodes) node 1 holds 1128; without, 1064. The arena goes back.
  const PhasedArenas dropped = lay_out_in_phases(std::vector<Lifetime>{{0, 0, 128}, {1, 1, 64}},
                                                 std::vector<int32_t>{0, 0}, std::vector<Lifetime>{{1, 1, 1000}}, 200);
  CHECK(dropped.arena == std::vector<int32_t>{-1, -1});
  CHECK(dropped.arena_bytes.empty());
  CHECK(dropped.peak == 1064);
  CHECK(dropped.peak_without == 1064);
  // Storages on two devices never share an arena.
  const PhasedArenas two = lay_out_in_phases(std::vector<Lifetime>{{0, 1, 64}, {0, 1, 64}}, std::vector<int32_t>{0, 1},
                                             {}, 2);
  CHECK(two.arena_bytes == std::vector<int64_t>{64, 64});
  CHECK(two.arena_key == std::vector<int32_t>{0, 1});
}

TEST_CASE("arena: tensor_in_block makes tensors of their own over one block, which they keep alive",
          "[graph][memory][arena]") {
  auto block = IntrusivePtr<Storage>::make(size_t{256}, allocator_for(kCPU));
  Tensor a = tensor_in_block(block, 64, kF32, {4, 4});
  CHECK(a.data() == static_cast<char*>(block->data()) + 64);
  CHECK(a.is_contiguous());
  CHECK(a.impl()->storage().get() != block.get());  // code comparing storages sees no alias with other results
  CHECK_THROWS_WITH(tensor_in_block(block, 200, kF32, {4, 4}), Contains("64 bytes at offset 200"));
  const int32_t refs = block->use_count();
  { const Tensor b = tensor_in_block(block, 0, kF32, {2}); CHECK(block->use_count() == refs + 1); }
  CHECK(block->use_count() == refs);
}

TEST_CASE("arena: a replay makes its intermediates in one block allocated once, bitwise as eager",
          "[graph][memory][arena]") {
  auto f = [](const std::vector<Tensor>& x) {
    const Tensor h = relu(matmul(x[0], x[1]));  // [64, 128]; relu takes the dying matmul result
    const Tensor y = matmul(h, x[2]);            // [64, 32]
    return TensorList{sum(y, {1}) * 2.0};
  };
  const std::vector<Tensor> xs{randn_of({64, 100}, 1), randn_of({100, 128}, 2), randn_of({128, 32}, 3)};
  const Graph g = trace_of(xs, f);
  const MemoryPlan plan = plan_memory(g);
  const MemoryPlan no_arena = plan_memory(g, nullptr, {.arena = false});
  INFO(plan.str());
  REQUIRE_FALSE(plan.arenas.empty());
  int64_t results = 0;
  for (const MemoryPlan::Arena& a : plan.arenas) {
    CHECK(a.device == kCPU);
    results += a.results;
  }
  CHECK(results == plan.placed);
  CHECK(plan.placed >= 1);
  CHECK(plan.arena_peak_bytes <= plan.peak_bytes_without);
  CHECK_THAT(plan.str(), Contains(" arena"));
  CHECK(no_arena.placed == 0);
  CHECK(no_arena.arenas.empty());

  auto allocs = [] { return cpu_allocator().stats().num_allocs; };
  ExecStats with, without;
  const int64_t live_before = cpu_allocator().stats().live_bytes;
  int64_t a0 = allocs();
  const Tensor got = execute(g, xs, &with, false, nullptr, &plan)[0];
  const int64_t with_allocs = allocs() - a0;
  // Nothing but the output is left: the arena went back when the call's last intermediate did.
  CHECK(cpu_allocator().stats().live_bytes - live_before == got.nbytes());
  a0 = allocs();
  const Tensor plain = execute(g, xs, &without, false, nullptr, &no_arena)[0];
  const int64_t without_allocs = allocs() - a0;
  CHECK(with.arena_outputs == plan.placed);
  CHECK(without.arena_outputs == 0);
  // One block per arena instead of one allocation per placed result.
  CHECK(without_allocs - with_allocs == plan.placed - static_cast<int64_t>(plan.arenas.size()));
  CHECK(equal_bits(got, f(xs)[0]));
  CHECK(equal_bits(plain, got));
}

TEST_CASE("arena: a fused group's output that later nodes read is made in the arena", "[graph][memory][arena]") {
  auto f = [](const std::vector<Tensor>& x) { return TensorList{sum(relu(x[0] * x[1] + x[2]), {1})}; };
  const std::vector<Tensor> xs{randn_of({32, 500}, 4), randn_of({32, 500}, 5), randn_of({32, 500}, 6)};
  const Graph g = trace_of(xs, f);
  const FusionPlan fusion = plan_fusion(g);
  REQUIRE(fusion.groups.size() == 1);
  const MemoryPlan plan = plan_memory(g, &fusion);
  REQUIRE(plan.group_place.size() == 1);
  CHECK(plan.group_place[0] == std::vector<std::pair<int32_t, int64_t>>{{0, 0}});
  CHECK(plan.arenas.size() == 1);
  ExecStats st;
  const Tensor got = execute(g, xs, &st, false, &fusion, &plan)[0];
  CHECK(st.arena_outputs == 1);
  CHECK(equal_bits(got, f(xs)[0]));
}

TEST_CASE("arena: common subexpressions merged under a view keep the view in the kept value's alias set",
          "[graph][memory][arena]") {
  // b is a's twin: CSE makes b's view read a. The view must join a's alias set, or a would look dead after c and its
  // storage would be written over (by c's reuse or the arena) while the view is still to be read.
  auto f = [](const std::vector<Tensor>& x) {
    const Tensor a = exp(x[0]);
    const Tensor b = exp(x[0]);
    const Tensor c = a * 3.0;
    const Tensor v = b.view({1000, 64});
    const Tensor d = (c + 1.0).view({1000, 64});
    return TensorList{d + v};
  };
  const std::vector<Tensor> xs{randn_of({64, 1000}, 7)};
  Graph g = trace_of(xs, f);
  REQUIRE(eliminate_common_subexpressions(g) == 1);
  g.verify();  // a view outside its base's alias set is a broken invariant
  const Node* view = nullptr;
  for (const Node& n : g.nodes())
    if (n.op == OpId::view && g.value(n.inputs[0]).sizes == Shape{64, 1000}) view = &n;
  REQUIRE(view != nullptr);
  CHECK(g.value(view->outputs[0]).alias == g.value(view->inputs[0]).alias);
  for (const MemoryPlanOptions o : {MemoryPlanOptions{}, MemoryPlanOptions{.reuse = true, .arena = false},
                                    MemoryPlanOptions{.reuse = false, .arena = true}}) {
    const MemoryPlan plan = plan_memory(g, nullptr, o);
    CHECK(equal_bits(execute(g, xs, nullptr, false, nullptr, &plan)[0], f(xs)[0]));
  }
}
