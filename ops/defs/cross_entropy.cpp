// Rows of softmax_cross_entropy, the fused kernel behind cross_entropy with class-index targets: one pass per row
// computes the logsumexp and the (label-smoothed) loss, and softmax_cross_entropy_backward writes
// (softmax - smoothed one-hot) * grad in one pass from the saved logsumexp. Measured on GPT-mini (./ds bench models
// --profile): the composite's log_softmax, gather, where and their backward made eight passes over the (B*T, vocab)
// logits. The vjp calls the fused backward; the vjp_graph, which the engine takes when the backward is recorded
// (create_graph), is the formula in ds ops.
//   logits: (N, C) f32/f64   target: (N) int64 in [0, C) or ignore_index -> loss (N) (0 where ignored), lse (N)
// Attrs: CrossEntropyAttrs (ignore_index, label_smoothing).
#include <ds/ops/dispatch.h>
#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

void check_logits_target(const OpCall& c, const Tensor& logits, const Tensor& target) {
  DS_CHECK(logits.dim() == 2 && (logits.dtype() == kF32 || logits.dtype() == kF64), c.name,
           "expects logits (N, C) of f32 or f64, got {} {}", shape_str(logits.sizes()), dtype_name(logits.dtype()));
  DS_CHECK(target.dim() == 1 && target.size(0) == logits.size(0) && target.dtype() == kI64, c.name,
           "expects int64 targets (N) for logits {}, got {} {}", shape_str(logits.sizes()), shape_str(target.sizes()),
           dtype_name(target.dtype()));
  const double eps = c.attrs.get<CrossEntropyAttrs>().label_smoothing;
  DS_CHECK(eps >= 0 && eps <= 1, c.name, "label_smoothing must be in [0, 1], got {}", eps);
}

void cross_entropy_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 2);
  check_logits_target(c, c.in[0], c.in[1]);
  r.device = c.in[0].device();
  r.outs.push_back({Shape{c.in[0].size(0)}, c.in[0].dtype()});  // loss per row
  r.outs.push_back({Shape{c.in[0].size(0)}, c.in[0].dtype()});  // logsumexp per row
}

// in: grad (N), logits, target, lse -> dlogits (N, C)
void cross_entropy_backward_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 4);
  check_logits_target(c, c.in[1], c.in[2]);
  r.device = c.in[1].device();
  r.outs.push_back({c.in[1].sizes(), c.in[1].dtype()});
}

TensorList cross_entropy_vjp(const VjpCtx& c) {
  const Tensor dlogits =
      call_op1(OpId::softmax_cross_entropy_backward, {c.grad[0].contiguous(), c.in[0], c.in[1], c.out[1]}, c.attrs);
  return {dlogits, Tensor()};
}

// Recorded backward: (softmax - (1 - eps) one_hot - eps / C) * g, zero on ignored rows, in ds ops.
TensorList cross_entropy_vjp_graph(const VjpCtx& c) {
  const Tensor &g = c.grad[0], &logits = c.in[0], &target = c.in[1];
  const auto& a = c.attrs.get<CrossEntropyAttrs>();
  const int64_t C = logits.size(1);
  const double eps = a.label_smoothing;
  const Tensor keep = target != a.ignore_index;
  const Tensor safe = where(keep, target, zeros({}, {.dtype = kI64}));
  const Tensor d = softmax(logits, 1) - one_hot(safe, C).to(logits.dtype()) * (1 - eps) - eps / static_cast<double>(C);
  return {d * (g * keep.to(g.dtype())).unsqueeze(1), Tensor()};
}

using samples::uniform;

Tensor per_row(const TensorList& x, int64_t ignore, double eps) {
  return call_op(OpId::softmax_cross_entropy, {x[0], x[1]},
                 CrossEntropyAttrs{.ignore_index = ignore, .label_smoothing = eps})[0];
}

std::vector<OpCase> cases(DType dt) {
  const Tensor t = tensor({2, 0, 4, 1});
  const Tensor t_ignored = tensor({2, -100, 4, -100});
  auto v = std::vector<OpCase>{
      samples::make1("(4, 5) logits", {uniform({4, 5}, dt, -3, 3, 1), t}, [](const TensorList& x) { return per_row(x, -100, 0); }, 0b01),
      samples::make1("ignore_index rows", {uniform({4, 5}, dt, -3, 3, 2), t_ignored}, [](const TensorList& x) { return per_row(x, -100, 0); }, 0b01),
      samples::make1("label smoothing 0.2", {uniform({4, 5}, dt, -3, 3, 3), t}, [](const TensorList& x) { return per_row(x, -100, 0.2); }, 0b01),
      samples::make1("large logits (stable logsumexp)", {uniform({4, 5}, dt, 500, 600, 4), t}, [](const TensorList& x) { return per_row(x, -100, 0); }, 0b01),
      samples::make1("transposed logits", {samples::transposed({4, 5}, dt, -3, 3, 5), t}, [](const TensorList& x) { return per_row(x, -100, 0); }, 0b01),
      // logits (0, ln 3) and target 1: lse = ln 4, loss = ln 4 - ln 3
      samples::make1("hand-computed", {tensor({{0.0, std::log(3.0)}}, TensorOptions{.dtype = dt}), tensor({1})},
                     [](const TensorList& x) { return per_row(x, -100, 0); }, 0b01)};
  v.back().expected = {{std::log(4.0 / 3.0)}};
  return v;
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(softmax_cross_entropy) OpDef{.name = "softmax_cross_entropy",
    .attrs = &attrs_schema<CrossEntropyAttrs>, .rule = cross_entropy_rule, .cpu = cpu::softmax_cross_entropy,
    .cuda = DS_CUDA_KERNEL(softmax_cross_entropy), .cpu_dtypes = {kF32, kF64}, .cuda_dtypes = {kF32, kF64},
    .autocast = AutocastClass::F32, .vjp = cross_entropy_vjp, .vjp_graph = cross_entropy_vjp_graph, .save_in = 0b11,
    .save_out = 0b10, .test = {
    .cases = cases,
    .bad = [] { return std::vector<BadCase>{
      samples::bad("target out of range", [] { cross_entropy(ones({2, 3}), tensor({0, 3})); }, "target values must be in [0, 3)"),
      samples::bad("target shape", [] { cross_entropy(ones({2, 3}), tensor({0})); }, "does not match target")}; },
    .gradgrad = true}};
// Its kernels run in the logits' dtype (input 1).
DS_PRIMITIVE_ROW(softmax_cross_entropy_backward) OpDef{.name = "softmax_cross_entropy_backward",
    .attrs = &attrs_schema<CrossEntropyAttrs>, .rule = cross_entropy_backward_rule,
    .cpu = cpu::softmax_cross_entropy_backward, .cuda = DS_CUDA_KERNEL(softmax_cross_entropy_backward),
    .cpu_dtypes = {kF32, kF64}, .cuda_dtypes = {kF32, kF64}, .dtype_input = 1,
    .out_reuses_in = 0b10};  // each logit is read once, just before its gradient is written in its place
// clang-format on

namespace detail {
std::vector<Tensor> softmax_cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                          double label_smoothing) {
  const TensorList r = call_op(OpId::softmax_cross_entropy, {logits, target.to(kI64)},
                               CrossEntropyAttrs{.ignore_index = ignore_index, .label_smoothing = label_smoothing});
  return {r[0], r[1]};
}
}  // namespace detail

}  // namespace ds
