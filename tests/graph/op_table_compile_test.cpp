// Every row of the op table through ds::compile: each sample of each op (primitive and composite) is traced, then
// replayed on new inputs of the same layout, and the replay must equal an eager run on those inputs bitwise (the
// same kernels run in the same order; the passes only drop work whose result is known). Forward values, and the
// gradients ds::grad computes of a weighted sum of the outputs, in float64 and float32. A sample whose host code
// reads data (a graph break) reruns its host code, taking the results of the calls before the read from a graph
// (graph/graph_break.h): those are listed, and compared like the others.
#include <iostream>
#include <optional>
#include <set>

#include <catch2/catch.hpp>

#include "../test_util.h"

#include <ds/ds.h>
#include <ds/graph/compile.h>
#include <ds/ops/op_def.h>

using namespace ds;

namespace {

// A fresh tensor with x's sizes, strides and storage offset (expanded and transposed samples keep their layout, so
// the replay's guards hold), holding x * scale (x itself for integers), detached.
Tensor same_layout(const Tensor& x, double scale) {
  if (!x.defined()) return x;
  int64_t extent = x.storage_offset() + 1;
  for (int64_t d = 0; d < x.dim(); ++d) extent += (x.size(d) - 1) * x.stride(d);
  if (x.numel() == 0) extent = x.storage_offset();
  const Tensor base = zeros({extent}, {.dtype = x.dtype(), .device = x.device()});
  Tensor y = base.as_strided(x.sizes(), x.strides(), x.storage_offset());
  NoGradGuard no_grad;
  y.copy_(is_floating(x.dtype()) ? x.detach() * scale : x.detach());
  return y.detach();
}

struct Sample {
  const OpDef* def;
  const OpCase* c;
  bool grads;  // also differentiate

  // The case's inputs as fresh tensors (values scaled), the floating ones in grad_inputs requiring grad when grads.
  TensorList inputs(double scale) const {
    TensorList in;
    for (size_t i = 0; i < c->inputs.size(); ++i) {
      Tensor x = same_layout(c->inputs[i], scale);
      if (grads && x.defined() && is_floating(x.dtype()) && ((c->grad_inputs >> i) & 1u)) x.requires_grad_(true);
      in.push_back(x);
    }
    return in;
  }

  // The function compiled: the case's outputs and, when grads, the gradients of sum_k sum(out_k * w_k) (w_k fixed,
  // made inside, so a constant of the graph) with respect to the inputs that require grad.
  TensorList run(std::span<const Tensor> defined_args, const TensorList& layout) const {
    TensorList full;
    size_t next = 0;
    for (const Tensor& x : layout) full.push_back(x.defined() ? defined_args[next++] : Tensor());
    const TensorList out = c->fn(full);
    TensorList result;
    for (const Tensor& o : out)
      if (o.defined()) result.push_back(o);
    if (!grads) return result;
    Tensor loss;
    for (const Tensor& o : result) {
      if (!o.requires_grad() || !is_floating(o.dtype())) continue;
      const Tensor w = cos(arange(o.numel(), TensorOptions{.dtype = o.dtype()})).reshape(o.sizes());
      const Tensor term = sum(o * w);
      loss = loss.defined() ? loss + term : term;
    }
    std::vector<Tensor> leaves;
    for (const Tensor& x : full)
      if (x.defined() && x.requires_grad()) leaves.push_back(x);
    if (!loss.defined() || leaves.empty()) return result;
    for (const Tensor& g : grad({loss}, leaves, {}, false, false, true))
      if (g.defined()) result.push_back(g);
    return result;
  }

  std::string where() const {
    return std::string(def->name) + " / " + c->label + (grads ? " (gradients)" : " (forward)");
  }
};

TensorList defined_only(const TensorList& xs) {
  TensorList out;
  for (const Tensor& x : xs)
    if (x.defined()) out.push_back(x);
  return out;
}

struct Tally {
  int compared = 0, unsupported = 0;
  int64_t fused_nodes = 0;  // nodes the replays ran inside fused groups
  int64_t reused = 0;       // results the forward replays wrote over dying inputs (memory_plan.h)
  std::set<std::string> breaks;
};

void check_sample(const Sample& s, Tally& tally) {
  INFO(s.where());
  // Forward samples run without autograd, as inference would, so their replays run fused groups (fusion.h).
  std::optional<NoGradGuard> no_grad;
  if (!s.grads) no_grad.emplace();
  const TensorList layout = s.inputs(1.0);
  CompiledFunction f = compile([&](std::span<const Tensor> args) { return s.run(args, layout); },
                               {.warmup = 0, .name = s.where()});
  try {
    f(defined_only(s.inputs(1.0)));
  } catch (const Error& e) {
    // A row that does not claim float32 says so (the float64 pass covers it).
    if (s.c->inputs.empty() || std::string(e.what()).find("does not support") == std::string::npos) throw;
    ++tally.unsupported;
    return;
  }
  const bool broke = f.stats().graph_breaks > 0;
  if (broke) tally.breaks.insert(std::string(s.def->name) + ": " + f.last_graph()->host_read_str());
  const graph::Graph& g = *f.last_graph();
  std::vector<PhiloxState> rng;
  for (const graph::RngDraw& d : g.rng()) rng.push_back(d.generator->state());
  const TensorList eager_in = s.inputs(0.9);
  const TensorList want = s.run(defined_only(eager_in), layout);
  for (size_t i = g.rng().size(); i-- > 0;) g.rng()[i].generator->set_state(rng[i]);  // the replay draws the same
  const TensorList got = f(defined_only(s.inputs(0.9)));
  REQUIRE((broke ? f.stats().prefix_replays : f.stats().replays) == 1);
  REQUIRE(got.size() == want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    INFO("output " << k << " of " << got.size());
    CHECK(equal_bits(got[k].detach(), want[k].detach()));
  }
  ++tally.compared;
  if (!s.grads) {  // replays with autograd run node by node, each result in fresh storage
    tally.fused_nodes += f.stats().fused_nodes;
    tally.reused += f.stats().reused_outputs;
  }
}

void check_dtype(DType dtype, int min_compared) {
  Tally tally;
  for (const OpDef* d : op_rows()) {
    if (!d->test.cases) continue;
    const std::vector<OpCase> cases = d->test.cases(dtype);
    for (const OpCase& c : cases) {
      check_sample({d, &c, false}, tally);
      if (d->differentiable()) check_sample({d, &c, true}, tally);
    }
  }
  std::cout << "op table through ds::compile (" << dtype_name(dtype) << "): " << tally.compared
            << " samples replayed bitwise (" << tally.fused_nodes << " nodes in fused groups, " << tally.reused
            << " results written over dying inputs), " << tally.unsupported
            << " not claimed in this dtype; graph breaks (the part before the read replayed, compared too):";
  for (const std::string& b : tally.breaks) std::cout << "\n  " << b;
  std::cout << (tally.breaks.empty() ? " none\n" : "\n");
  CHECK(tally.compared >= min_compared);
  CHECK(tally.fused_nodes >= 100);
  CHECK(tally.reused >= 20);
}

}  // namespace

TEST_CASE("op table through ds::compile: every sample replays bitwise, forward and gradients, float64",
          "[graph][compile][ops]") {
  check_dtype(kF64, 300);
}

TEST_CASE("op table through ds::compile: every sample replays bitwise, forward and gradients, float32",
          "[graph][compile][ops]") {
  check_dtype(kF32, 300);
}
