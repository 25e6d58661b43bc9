// Rows of cond and while_loop (ops/control_flow.h), the registry of their bodies, and their kernels, which run a
// body as the op's work. The row samples build bodies from plain functions with hand-written vjps; ds::cond and
// ds::while_loop (framework/graph/control_flow.h) build them from traced graphs.
#include <ds/ops/control_flow.h>

#include <mutex>

#include <ds/core/grad_mode.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {

namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<const ControlFlowBodies>> bodies;
};
Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: graphs may outlive static teardown
  return *r;
}

std::string meta_str(const OutMeta& m) { return fmt::format("{} {}", dtype_name(m.dtype), shape_str(m.sizes)); }

// The inputs against what the bodies were made for; returns the device they run on.
Device check_inputs(std::string_view op, const ControlFlowBodies& b, std::span<const Tensor> in) {
  const std::span<const OutMeta> want = b.inputs();
  DS_CHECK(in.size() == want.size(), op, "its bodies take {} inputs, got {}", want.size(), in.size());
  const Device device = b.device() ? *b.device() : in.empty() ? kCPU : in[0].device();
  for (size_t i = 0; i < in.size(); ++i) {
    const Tensor& t = in[i];
    DS_CHECK(t.defined() && t.sizes() == want[i].sizes && t.dtype() == want[i].dtype && t.device() == device, op,
             "input {} is {}, but its bodies were made for {} on {}", i,
             t.defined() ? fmt::format("{} {} on {}", dtype_name(t.dtype()), shape_str(t.sizes()), t.device().str())
                         : std::string("undefined"),
             meta_str(want[i]), device.str());
  }
  return device;
}

// Runs body `index` as the op's work: its ops are not traced (they are inside this op) and record no autograd
// (the op's vjp is its gradient). `want`: the outputs it must make, if checked.
TensorList run_body(std::string_view op, const ControlFlowBodies& b, int index, std::span<const Tensor> in,
                    std::optional<std::span<const OutMeta>> want) {
  NoGradGuard no_grad;
  DispatchState& st = dispatch_state();
  struct Restore {
    DispatchState& s;
    bool tracing;
    ~Restore() { s.tracing = tracing; }
  } restore{st, st.tracing};
  st.tracing = false;
  TensorList r = b.run(index, in);
  if (!want) return r;
  DS_CHECK(r.size() == want->size(), op, "body {} made {} outputs, expected {}", index, r.size(), want->size());
  for (size_t k = 0; k < r.size(); ++k)
    DS_CHECK(r[k].defined() && r[k].sizes() == (*want)[k].sizes && r[k].dtype() == (*want)[k].dtype, op,
             "body {} made output {} as {}, expected {}", index, k,
             r[k].defined() ? fmt::format("{} {}", dtype_name(r[k].dtype()), shape_str(r[k].sizes())) : "undefined",
             meta_str((*want)[k]));
  return r;
}

// The kernel's outputs from a body's results (untraced, as the body's ops).
void copy_out(std::span<Tensor> out, const TensorList& r) {
  NoGradGuard no_grad;
  DispatchState& st = dispatch_state();
  const bool tracing = st.tracing;
  st.tracing = false;
  for (size_t k = 0; k < out.size(); ++k) out[k].copy_(r[k]);
  st.tracing = tracing;
}

// in: pred (one element, any device), then the bodies' inputs -> the branch's outputs.
void cond_rule(const OpCall& c, RuleResult& r) {
  DS_CHECK(!c.in.empty(), c.name, "expects the predicate, then the branches' inputs");
  const ControlFlowBodies& b = control_flow_bodies(c.attrs.get<ControlFlowAttrs>().bodies);
  DS_CHECK(c.in[0].defined() && c.in[0].numel() == 1, c.name, "the predicate must be a tensor of one element, got {}",
           c.in[0].defined() ? shape_str(c.in[0].sizes()) : std::string("an undefined tensor"));
  r.device = check_inputs(c.name, b, c.in.subspan(1));
  r.outs = SmallVec<OutMeta, 2>(b.outputs());
}

void cond_kernel(const KernelCtx& c) {
  const ControlFlowBodies& b = control_flow_bodies(c.attrs.get<ControlFlowAttrs>().bodies);
  copy_out(c.out, run_body(c.name, b, truth_of(c.in[0], c.name) ? 0 : 1, c.in.subspan(1), b.outputs()));
}

TensorList cond_vjp(const VjpCtx& c) {
  const ControlFlowBodies& b = control_flow_bodies(c.attrs.get<ControlFlowAttrs>().bodies);
  TensorList g = b.vjp(c.in[0], c.in.subspan(1), c.grad);
  DS_CHECK(g.size() + 1 == c.in.size(), "cond", "the branch's vjp gave {} gradients for {} inputs", g.size(),
           c.in.size() - 1);
  TensorList out{Tensor()};  // the predicate's
  for (Tensor& t : g) out.push_back(std::move(t));
  return out;
}

// in: the carried values -> the carried values once the condition is false.
void while_rule(const OpCall& c, RuleResult& r) {
  DS_CHECK(!c.in.empty(), c.name, "expects at least one carried value");
  const ControlFlowBodies& b = control_flow_bodies(c.attrs.get<ControlFlowAttrs>().bodies);
  r.device = check_inputs(c.name, b, c.in);
  r.outs = SmallVec<OutMeta, 2>(b.outputs());
}

void while_kernel(const KernelCtx& c) {
  const ControlFlowBodies& b = control_flow_bodies(c.attrs.get<ControlFlowAttrs>().bodies);
  TensorList carried(c.in);
  for (;;) {
    const TensorList p = run_body(c.name, b, 0, carried, std::nullopt);
    DS_CHECK(p.size() == 1, c.name, "the condition made {} outputs, expected one", p.size());
    if (!truth_of(p[0], c.name)) break;
    carried = run_body(c.name, b, 1, carried, b.outputs());
  }
  copy_out(c.out, carried);
}

// ---- samples: bodies from plain functions, with hand-written vjps.
using Body = std::function<TensorList(std::span<const Tensor>)>;
using Vjp = std::function<TensorList(int branch, std::span<const Tensor> in, std::span<const Tensor> grads)>;

struct FunctionBodies final : ControlFlowBodies {
  std::vector<Body> bodies;
  Vjp vjp_of;
  std::vector<OutMeta> in, out;
  TensorList run(int index, std::span<const Tensor> x) const override { return bodies[static_cast<size_t>(index)](x); }
  std::span<const OutMeta> inputs() const override { return in; }
  std::span<const OutMeta> outputs() const override { return out; }
  std::optional<Device> device() const override { return std::nullopt; }
  TensorList vjp(const Tensor& pred, std::span<const Tensor> x, std::span<const Tensor> g) const override {
    return vjp_of(truth_of(pred, "cond") ? 0 : 1, x, g);
  }
};

Tensor or_zeros(const Tensor& g, const Tensor& like) { return g.defined() ? g : zeros_like(like); }

// cond(pred, x, w): true -> (x * x * w, x + w), false -> (x - w, x * 2).
int64_t sample_cond(DType dt, const Shape& shape) {
  auto b = std::make_shared<FunctionBodies>();
  b->bodies = {[](std::span<const Tensor> v) { return TensorList{v[0] * v[0] * v[1], v[0] + v[1]}; },
               [](std::span<const Tensor> v) { return TensorList{v[0] - v[1], v[0] * 2.0}; }};
  b->vjp_of = [](int branch, std::span<const Tensor> v, std::span<const Tensor> gs) {
    const Tensor g0 = or_zeros(gs[0], v[0]), g1 = or_zeros(gs[1], v[0]);
    if (branch == 0) return TensorList{v[0] * v[1] * g0 * 2.0 + g1, v[0] * v[0] * g0 + g1};
    return TensorList{g0 + g1 * 2.0, neg(g0)};
  };
  b->in = b->out = {OutMeta{shape, dt}, OutMeta{shape, dt}};
  return register_control_flow(std::move(b));
}

// while_loop(x, n): while n < 3: (x * 1.5 + 1, n + 1).
int64_t sample_while(DType dt) {
  auto b = std::make_shared<FunctionBodies>();
  b->bodies = {[](std::span<const Tensor> v) { return TensorList{lt(v[1], 3)}; },
               [](std::span<const Tensor> v) { return TensorList{v[0] * 1.5 + 1.0, v[1] + 1}; }};
  b->in = b->out = {OutMeta{{2}, dt}, OutMeta{{}, kI64}};
  return register_control_flow(std::move(b));
}

// The sample cond on (pred, x, w), with bodies made for x's dtype and shape.
TensorList call_cond(const TensorList& x) {
  return call_op(OpId::cond, x, ControlFlowAttrs{sample_cond(x[1].dtype(), Shape(x[1].sizes()))});
}

std::vector<OpCase> cond_cases(DType dt) {
  if (!is_floating(dt)) return {};  // (the bodies' dtypes are theirs; the samples' differentiable ones float)
  auto in = [&](bool p, uint64_t seed) {
    return TensorList{full({}, p, {.dtype = kBool}), samples::uniform({2, 3}, dt, -1, 1, seed),
                      samples::uniform({2, 3}, dt, -1, 1, seed + 1)};
  };
  std::vector<OpCase> v{samples::make("true branch", in(true, 1), call_cond, 0b110),
                        samples::make("false branch", in(false, 3), call_cond, 0b110)};
  // x = 2, w = 3: (12, 5) when true; (-1, 4) when false.
  auto scalar = [&](bool p) {
    return TensorList{full({1}, p ? 7.0 : 0.0, {.dtype = dt}), full({1}, 2.0, {.dtype = dt}),
                      full({1}, 3.0, {.dtype = dt})};
  };
  v.push_back(samples::make("hand-computed, a nonzero number as the predicate", scalar(true), call_cond, 0b110));
  v.back().expected = {{12}, {5}};
  v.push_back(samples::make("hand-computed, zero as the predicate", scalar(false), call_cond, 0b110));
  v.back().expected = {{-1}, {4}};
  return v;
}

std::vector<BadCase> cond_bad() {
  return {samples::bad("a predicate of two elements", [] {
            call_cond({ones({2}, {.dtype = kBool}), ones({2, 3}), ones({2, 3})});
          }, "the predicate must be a tensor of one element"),
          samples::bad("inputs of another shape", [] {
            call_op(OpId::cond, {ones({}, {.dtype = kBool}), ones({3}), ones({3})},
                    ControlFlowAttrs{sample_cond(kF32, {2, 3})});
          }, "input 0 is float32 [3] on cpu, but its bodies were made for float32 [2, 3]"),
          samples::bad("an unknown body number", [] { call_op(OpId::while_loop, {ones({1})}, ControlFlowAttrs{0}); },
                       "no control-flow bodies numbered 0")};
}

std::vector<OpCase> while_cases(DType dt) {
  if (!is_floating(dt)) return {};
  TensorList in{full({2}, 2.0, {.dtype = dt}), zeros({}, {.dtype = kI64})};
  auto v = std::vector<OpCase>{samples::make(
      "three iterations, hand-computed", in,
      [](const TensorList& x) {
        return call_op(OpId::while_loop, x, ControlFlowAttrs{sample_while(x[0].dtype())});
      }, 0)};
  v.back().expected = {{11.5, 11.5}, {3}};  // 2 -> 4 -> 7 -> 11.5
  return v;
}

}  // namespace

TensorList ControlFlowBodies::vjp(const Tensor&, std::span<const Tensor>, std::span<const Tensor>) const {
  DS_FAIL("control flow", "these bodies have no gradient (while_loop is not differentiable)");
}

int64_t register_control_flow(std::shared_ptr<const ControlFlowBodies> bodies) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.bodies.push_back(std::move(bodies));
  return static_cast<int64_t>(r.bodies.size());
}

const ControlFlowBodies& control_flow_bodies(int64_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  DS_CHECK(id >= 1 && id <= static_cast<int64_t>(r.bodies.size()), "control flow",
           "no control-flow bodies numbered {} (ds::cond and ds::while_loop make them)", id);
  return *r.bodies[static_cast<size_t>(id - 1)];
}

bool truth_of(const Tensor& pred, std::string_view op) {
  DS_CHECK(pred.defined() && pred.numel() == 1, op, "the predicate must be a tensor of one element, got {}",
           pred.defined() ? shape_str(pred.sizes()) : std::string("an undefined tensor"));
  HostReadIsCheck check;  // the op reads it as its work, not the program
  return pred.item<double>() != 0;
}

// The kernels run ops, so they serve every device the build has, and every dtype (the one checked is input 0's:
// the predicate, or the first carried value).
#if DS_HAVE_CUDA
constexpr KernelFn kCondCuda = cond_kernel, kWhileCuda = while_kernel;
constexpr DTypeSet kCudaTypes = kAllTypes;
#else
constexpr KernelFn kCondCuda = nullptr, kWhileCuda = nullptr;
constexpr DTypeSet kCudaTypes = {};
#endif

// clang-format off
DS_PRIMITIVE_ROW(cond) OpDef{.name = "cond", .attrs = &attrs_schema<ControlFlowAttrs>, .rule = cond_rule,
    .cpu = cond_kernel, .cuda = kCondCuda, .cpu_dtypes = kAllTypes, .cuda_dtypes = kCudaTypes, .dtype_input = 0,
    .vjp = cond_vjp, .save_in = ~0u, .test = {.cases = cond_cases, .bad = cond_bad}};
DS_PRIMITIVE_ROW(while_loop) OpDef{.name = "while_loop", .attrs = &attrs_schema<ControlFlowAttrs>,
    .rule = while_rule, .cpu = while_kernel, .cuda = kWhileCuda, .cpu_dtypes = kAllTypes, .cuda_dtypes = kCudaTypes,
    .dtype_input = 0, .test = {.cases = while_cases}};
// clang-format on

}  // namespace ds
