// Row and front function of matmul, the one GEMM primitive: a (..., m, k) @ b (..., k, n) -> (..., m, n), batch
// dims broadcast. The 1-d cases of torch.matmul are views around it.
#include <ds/ops/dispatch.h>
#include <ds/ops/factory.h>
#include <ds/ops/linalg.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

void matmul_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 2);
  const Tensor &a = c.in[0], &b = c.in[1];
  DS_CHECK(a.dim() >= 2 && b.dim() >= 2, c.name, "{} @ {}: both operands need at least 2 dimensions",
           shape_str(a.sizes()), shape_str(b.sizes()));
  const int64_t k1 = a.sizes().back(), k2 = b.sizes()[b.dim() - 2];
  DS_CHECK(k1 == k2, c.name, "{} @ {}: inner dimensions {} and {} differ", shape_str(a.sizes()), shape_str(b.sizes()),
           k1, k2);
  const DType t = rules::result_type(c.in);
  DS_CHECK(is_floating(t), c.name, "{} @ {}: {} tensors are not supported (floating types only)",
           shape_str(a.sizes()), shape_str(b.sizes()), dtype_name(t));
  Shape batch = broadcast_shapes(IntArrayRef(a.sizes().data(), a.dim() - 2), IntArrayRef(b.sizes().data(), b.dim() - 2),
                                 c.name);
  batch.push_back(a.sizes()[a.dim() - 2]);
  batch.push_back(b.sizes().back());
  r.device = rules::common_device(c);
  r.outs.push_back({std::move(batch), t});
  r.casts.assign(2, t);
}

TensorList matmul_vjp(const VjpCtx& c) {
  TensorList g(2);
  if (c.needs_grad(0)) g[0] = matmul(c.grad[0], c.in[1].mT());
  if (c.needs_grad(1)) {
    // The gradient takes b's layout (as torch's mm_mat2_backward): for b = w.t() (a Linear layer), the product is
    // computed as (grad^T a)^T, so that after the transpose's vjp w's gradient is contiguous and the optimizer
    // reads it in one pass. The GEMM reads strided operands in place, so either form costs the same.
    const Tensor& b = c.in[1];
    const bool b_col_major = c.in[0].dim() == 2 && b.dim() == 2 && b.strides()[0] == 1 && b.strides()[1] != 1;
    g[1] = b_col_major ? matmul(c.grad[0].mT(), c.in[0]).mT() : matmul(c.in[0].mT(), c.grad[0]);
  }
  return g;
}

using samples::make1;
using samples::uniform;

std::vector<OpCase> matmul_cases(DType dt) {
  auto mmf = [](const TensorList& x) { return matmul(x[0], x[1]); };
  auto v = std::vector<OpCase>{
      make1("2-d @ 2-d", {uniform({3, 4}, dt, -1, 1, 1), uniform({4, 2}, dt, -1, 1, 2)}, mmf),
      make1("transposed operands", {samples::transposed({3, 4}, dt, -1, 1, 3), samples::transposed({4, 5}, dt, -1, 1, 4)}, mmf),
      make1("strided operand", {samples::strided({3, 4}, dt, -1, 1, 5), uniform({4, 2}, dt, -1, 1, 6)}, mmf),
      make1("batch broadcast [2, 1, 3, 4] @ [3, 4, 2]", {uniform({2, 1, 3, 4}, dt, -1, 1, 7), uniform({3, 4, 2}, dt, -1, 1, 8)}, mmf),
      make1("1-d @ 2-d", {uniform({4}, dt, -1, 1, 9), uniform({4, 3}, dt, -1, 1, 10)}, mmf),
      make1("2-d @ 1-d", {uniform({3, 4}, dt, -1, 1, 11), uniform({4}, dt, -1, 1, 12)}, mmf),
      make1("1-d @ 1-d", {uniform({5}, dt, -1, 1, 13), uniform({5}, dt, -1, 1, 14)}, mmf),
      make1("3-d @ 1-d", {uniform({2, 3, 4}, dt, -1, 1, 15), uniform({4}, dt, -1, 1, 16)}, mmf),
      make1("1-d @ 3-d", {uniform({3}, dt, -1, 1, 17), uniform({2, 3, 4}, dt, -1, 1, 18)}, mmf),
      make1("hand-computed", {tensor({{1.0, 2.0}, {3.0, 4.0}}).to(dt), tensor({{5.0, 6.0}, {7.0, 8.0}}).to(dt)}, mmf),
  };
  v.back().expected = {{19, 22, 43, 50}};
  return v;
}

std::vector<BadCase> matmul_bad() {
  return {samples::bad("inner dims", [] { matmul(ones({2, 3}), ones({4, 5})); },
                       "[2, 3] @ [4, 5]: inner dimensions 3 and 4 differ"),
          samples::bad("batch dims", [] { matmul(ones({2, 3, 4}), ones({3, 4, 5})); }, "cannot be broadcast"),
          samples::bad("0-d operand", [] { matmul(ones({}), ones({3})); }, "0-d"),
          samples::bad("integers", [] { matmul(ones({2, 2}, {.dtype = kI64}), ones({2, 2}, {.dtype = kI64})); },
                       "floating types only"),
          samples::bad("mm of 3-d", [] { mm(ones({2, 2, 2}), ones({2, 2})); }, "2-d"),
          samples::bad("bmm batch", [] { bmm(ones({2, 2, 3}), ones({3, 3, 2})); }, "batch sizes")};
}

}  // namespace

DS_PRIMITIVE_ROW(matmul) OpDef{.name = "matmul", .rule = matmul_rule, .cpu = cpu::matmul,
                               .cuda = DS_CUDA_KERNEL(matmul), .cuda_dtypes = kFloatTypes,
                               .autocast = AutocastClass::LowPrecision, .vjp = matmul_vjp, .save_in = 3,
                               .test = {.cases = matmul_cases, .bad = matmul_bad, .gradgrad = true}};

Tensor matmul(const Tensor& a, const Tensor& b) {
  DS_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul", "{} @ {}: 0-d operands are not allowed", shape_str(a.sizes()),
           shape_str(b.sizes()));
  if (a.dim() == 1 && b.dim() == 1)
    return call_op1(OpId::matmul, {a.unsqueeze(0), b.unsqueeze(1)}).reshape({});
  if (a.dim() == 1) return call_op1(OpId::matmul, {a.unsqueeze(0), b}).squeeze(-2);
  if (b.dim() == 1) return call_op1(OpId::matmul, {a, b.unsqueeze(1)}).squeeze(-1);
  if (a.dim() > 2 && b.dim() == 2 && a.size(-1) == b.size(0)) {  // (a mismatch is reported on the original shapes)
    // (..., n, k) @ (k, m) folds a's batch dims into rows, as torch does: one GEMM, and b's gradient one GEMM over
    // all rows instead of one per batch entry plus a sum (measured on GPT-mini's Linear layers: a tenth of the step).
    Shape out(a.sizes().begin(), a.sizes().end());
    out.back() = b.size(1);
    return call_op1(OpId::matmul, {a.reshape({-1, a.size(-1)}), b}).view(out);
  }
  return call_op1(OpId::matmul, {a, b});
}

}  // namespace ds
