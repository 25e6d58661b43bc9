// Row and front function of adam_step, the fused Adam/AdamW update (ops/optimizer_ops.h). Not differentiable: an
// optimizer step runs outside autograd. Measured on `./ds bench train`: the unfused update (13 elementwise ops,
// 5 temporaries) was the largest part of the MLP's step; the fused pass reads p, g, m, v once and writes p, m, v.
#include <ds/ops/dispatch.h>
#include <ds/ops/factory.h>
#include <ds/ops/optimizer_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// A 0-d CPU tensor of dtype dt, as lr and step travel (inputs, so a traced step replays with new values).
bool host_scalar(const Tensor& t, DType dt) { return t.defined() && t.dim() == 0 && t.dtype() == dt && t.is_cpu(); }
std::string describe(const Tensor& t) {
  return t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.sizes()) + " on " + t.device().str()
                     : std::string("none");
}

// attrs: AdamAttrs. in: p, g, m, v, lr (0-d float64 CPU), step (0-d int64 CPU) -> out: p (in place).
void adam_step_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 6);
  const Tensor& p = c.in[0];
  DS_CHECK(is_floating(p.dtype()), c.name, "expects floating tensors, got {}", dtype_name(p.dtype()));
  for (size_t i = 1; i < 4; ++i) {
    const Tensor& t = c.in[i];
    DS_CHECK(t.sizes() == p.sizes() && t.dtype() == p.dtype() && t.device() == p.device(), c.name,
             "param {} {} and input {} {} {} differ in shape, dtype or device", shape_str(p.sizes()),
             dtype_name(p.dtype()), i, shape_str(t.sizes()), dtype_name(t.dtype()));
  }
  for (size_t i = 0; i < 4; ++i)
    DS_CHECK(c.in[i].is_contiguous(), c.name, "expects contiguous tensors; input {} {} is strided", i,
             shape_str(c.in[i].sizes()));
  DS_CHECK(host_scalar(c.in[4], kF64), c.name, "expects lr (input 4) as a 0-d float64 CPU tensor, got {}",
           describe(c.in[4]));
  DS_CHECK(host_scalar(c.in[5], kI64), c.name, "expects step (input 5) as a 0-d int64 CPU tensor, got {}",
           describe(c.in[5]));
  const int64_t step = *c.in[5].data_ptr<int64_t>();
  DS_CHECK(step >= 1, c.name, "step must be at least 1, got {}", step);
  r.device = p.device();
  r.outs.push_back({p.sizes(), p.dtype()});
}

using samples::uniform;

// Runs the op on copies, so the shared sample inputs stay as they are; returns p, m, v after one update.
TensorList step_copy(const TensorList& x, const AdamStepOptions& o) {
  Tensor p = x[0].clone(), m = x[2].clone(), v = x[3].clone();
  adam_step_(p, x[1], m, v, o);
  return {p, m, v};
}

std::vector<OpCase> adam_cases(DType dt) {
  auto in = [&](uint64_t seed) {
    return TensorList{uniform({3, 5}, dt, -1, 1, seed), uniform({3, 5}, dt, -1, 1, seed + 1),
                      uniform({3, 5}, dt, -0.1, 0.1, seed + 2), uniform({3, 5}, dt, 0, 0.01, seed + 3)};
  };
  auto v = std::vector<OpCase>{
      samples::make("AdamW, step 3", in(1), [](const TensorList& x) {
        return step_copy(x, {.lr = 0.01, .weight_decay = 0.1, .step = 3, .decoupled = true});
      }),
      samples::make("Adam with L2 and maximize, step 1", in(5), [](const TensorList& x) {
        return step_copy(x, {.lr = 0.1, .beta1 = 0.8, .weight_decay = 0.01, .step = 1, .maximize = true});
      }),
      // p = 1, g = 0.5, m = v = 0, lr 0.1, eps 0: m = 0.05, v = 0.00025, p = 1 - 0.1/0.1 * 0.05/0.5 = 0.9
      samples::make("hand-computed first step", {full({1}, 1.0, {.dtype = dt}), full({1}, 0.5, {.dtype = dt}),
                                                 zeros({1}, {.dtype = dt}), zeros({1}, {.dtype = dt})},
                    [](const TensorList& x) { return step_copy(x, {.lr = 0.1, .eps = 0, .step = 1}); })};
  v.back().expected = {{0.9}, {0.05}, {0.00025}};
  return v;
}

std::vector<BadCase> adam_bad() {
  return {samples::bad("shapes differ", [] {
            Tensor p = ones({2}), m = zeros({2}), v = zeros({2});
            adam_step_(p, ones({3}), m, v, {});
          }, "differ in shape"),
          samples::bad("strided state", [] {
            Tensor p = ones({2, 2}), m = zeros({2, 2}).t(), v = zeros({2, 2});
            adam_step_(p, ones({2, 2}), m, v, {});
          }, "contiguous"),
          samples::bad("step 0", [] {
            Tensor p = ones({2}), m = zeros({2}), v = zeros({2});
            adam_step_(p, ones({2}), m, v, {.step = 0});
          }, "step must be at least 1")};
}

}  // namespace

// clang-format off
DS_PRIMITIVE_ROW(adam_step) OpDef{.name = "adam_step", .attrs = &attrs_schema<AdamAttrs>, .rule = adam_step_rule,
    .cpu = cpu::adam_step, .cuda = DS_CUDA_KERNEL(adam_step), .cpu_dtypes = {kF32, kF64}, .cuda_dtypes = {kF32, kF64},
    .mutates = 0b1100, .strided_out = true, .test = {.cases = adam_cases, .bad = adam_bad}};
// clang-format on

void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStepOptions& o) {
  Tensor lr(empty_base({}, kF64, kCPU)), step(empty_base({}, kI64, kCPU));
  *lr.data_ptr<double>() = o.lr;
  *step.data_ptr<int64_t>() = o.step;
  adam_step_(param, grad, exp_avg, exp_avg_sq, lr, step, o);
}

void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const Tensor& lr,
                const Tensor& step, const AdamStepOptions& o) {
  const Tensor ins[] = {param, grad, exp_avg, exp_avg_sq, lr, step};
  const AdamAttrs attrs{.beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
                        .decoupled = o.decoupled, .maximize = o.maximize};
  call_op_inplace(OpId::adam_step, param, ins, attrs, "adam_step");
  exp_avg.impl()->storage()->bump_version();
  exp_avg_sq.impl()->storage()->bump_version();
}

}  // namespace ds
