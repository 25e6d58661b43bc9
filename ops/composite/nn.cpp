// The functional core of networks as composites: softmax, log_softmax, dropout and the losses.
#include <cmath>

#include <ds/ops/elementwise.h>
#include <ds/ops/factory.h>
#include <ds/ops/indexing.h>
#include <ds/ops/nn_functional.h>
#include <ds/ops/reduce.h>
#include <ds/ops/shape_ops.h>

#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {

// exp(x - max) / sum: the max is detached because the softmax does not depend on it.
Tensor softmax(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "softmax");
  const Tensor e = exp(x - amax(x, {d}, true).detach());
  return e / sum(e, {d}, true);
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  return x - logsumexp(x, {d}, true);
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  DS_CHECK(p >= 0 && p <= 1, "dropout", "probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  if (p == 1) return x * 0;
  const DType dt = is_floating(x.dtype()) ? x.dtype() : kF32;
  // The mask is drawn in float32 whatever x's dtype, so a seed gives the same mask in every precision.
  const Tensor keep = rand(x.sizes(), {.dtype = kF32, .device = x.device()}, gen) >= p;
  return x * (keep.to(dt) * (1.0 / (1.0 - p)));
}

namespace {

Tensor reduce_loss(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Mean: return mean(loss);
    case Reduction::Sum: return sum(loss);
  }
  return loss;
}

// Checks (N, C, d...) against (N, d...) class indices; returns the per-element log-likelihoods and the mask of
// targets that count (not ignore_index).
struct Picked {
  Tensor nll;   // (N, d...)
  Tensor keep;  // (N, d...) bool
};
Picked pick(const Tensor& log_probs, const Tensor& target, int64_t ignore_index, std::string_view op) {
  DS_CHECK(is_integral(target.dtype()), op, "class-index targets must be integers, got {}", dtype_name(target.dtype()));
  DS_CHECK(log_probs.dim() >= 2 && target.dim() == log_probs.dim() - 1, op,
           "input {} (N, C, ...) does not match target {} (N, ...)", shape_str(log_probs.sizes()),
           shape_str(target.sizes()));
  for (int64_t d = 0; d < target.dim(); ++d)
    DS_CHECK(target.sizes()[d] == log_probs.sizes()[d == 0 ? 0 : d + 1], op,
             "input {} (N, C, ...) does not match target {} (N, ...)", shape_str(log_probs.sizes()),
             shape_str(target.sizes()));
  const int64_t C = log_probs.size(1);
  const Tensor keep = target != ignore_index;
  const Tensor safe = where(keep, target, zeros({}, {.dtype = target.dtype(), .device = target.device()}));
  if (safe.numel() && !safe.device().is_meta()) {  // a meta tensor has no values to check
    const HostReadIsCheck check;  // gather and the fused kernel check the range again
    const int64_t lo = min(safe).item<int64_t>(), hi = max(safe).item<int64_t>();
    DS_CHECK(lo >= 0 && hi < C, op, "target values must be in [0, {}) or ignore_index {}, got {} to {}", C,
             ignore_index, lo, hi);
  }
  const Tensor nll = -gather(log_probs, 1, safe.unsqueeze(1).to(kI64)).squeeze(1);
  return {where(keep, nll, zeros({}, {.dtype = nll.dtype(), .device = nll.device()})), keep};
}

Tensor mean_over_kept(const Tensor& loss, const Tensor& keep, Reduction r) {
  if (r != Reduction::Mean) return reduce_loss(loss, r);
  return sum(loss) / sum(keep.to(loss.dtype()));
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction, int64_t ignore_index) {
  if (log_probs.dim() == 1) return nll_loss(log_probs.unsqueeze(0), target.unsqueeze(0), reduction, ignore_index).squeeze();
  const Picked p = pick(log_probs, target, ignore_index, "nll_loss");
  return mean_over_kept(p.nll, p.keep, reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, int64_t ignore_index,
                     double label_smoothing) {
  DS_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy", "label_smoothing must be in [0, 1], got {}",
           label_smoothing);
  DS_CHECK(is_floating(logits.dtype()), "cross_entropy", "logits must be floating, got {}", dtype_name(logits.dtype()));
  if (logits.dim() == 1) {
    Tensor l = cross_entropy(logits.unsqueeze(0), target.unsqueeze(0), reduction, ignore_index, label_smoothing);
    return reduction == Reduction::None ? l.squeeze(0) : l;
  }
  DS_CHECK(logits.dim() >= 2, "cross_entropy", "logits must be (N, C, ...), got {}", shape_str(logits.sizes()));
  const int64_t C = logits.size(1);
  const double eps = label_smoothing;
  if (is_floating(target.dtype())) {  // class probabilities
    const Tensor lp = log_softmax(logits, 1);
    DS_CHECK(target.sizes() == logits.sizes(), "cross_entropy", "probability targets {} must have the logits' shape {}",
             shape_str(target.sizes()), shape_str(logits.sizes()));
    const Tensor t = eps > 0 ? target * (1 - eps) + eps / static_cast<double>(C) : target;
    return reduce_loss(-sum(t * lp, {1}), reduction);
  }
  DS_CHECK(is_integral(target.dtype()), "cross_entropy", "class-index targets must be integers, got {}",
           dtype_name(target.dtype()));
  bool match = target.dim() == logits.dim() - 1;
  for (int64_t d = 0; match && d < target.dim(); ++d) match = target.size(d) == logits.size(d == 0 ? 0 : d + 1);
  DS_CHECK(match, "cross_entropy", "input {} (N, C, ...) does not match target {} (N, ...)", shape_str(logits.sizes()),
           shape_str(target.sizes()));
  // Class indices: the fused kernel over (rows, C), the class dim moved last; 16-bit logits compute in f32.
  Shape to_last{0};
  for (int64_t d = 2; d < logits.dim(); ++d) to_last.push_back(d);
  to_last.push_back(1);
  Tensor rows = logits.dim() == 2 ? logits : logits.permute(to_last).reshape({-1, C});
  if (is_reduced_float(rows.dtype())) rows = rows.to(kF32);
  const Tensor flat = target.reshape({-1});
  Tensor loss = detail::softmax_cross_entropy(rows, flat, ignore_index, eps)[0].view(target.sizes());
  if (loss.dtype() != logits.dtype()) loss = loss.to(logits.dtype());
  if (reduction != Reduction::Mean) return reduce_loss(loss, reduction);
  return sum(loss) / sum(flat != ignore_index).to(loss.dtype());
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  DS_CHECK(input.sizes() == target.sizes(), "mse_loss", "input {} and target {} differ in shape",
           shape_str(input.sizes()), shape_str(target.sizes()));
  return reduce_loss(square(input - target), reduction);
}

// (1 - y) x + (1 + (w - 1) y) softplus(-x): softplus never overflows, and its gradient (a sigmoid) is exact
// everywhere, including at x = 0 where a |x|-based form would have a kink.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction, const Tensor& pos_weight) {
  DS_CHECK(logits.sizes() == target.sizes(), "bce_with_logits", "logits {} and target {} differ in shape",
           shape_str(logits.sizes()), shape_str(target.sizes()));
  const Tensor soft = softplus(-logits);
  Tensor loss;
  if (pos_weight.defined()) loss = (1 - target) * logits + (1 + (pos_weight - 1) * target) * soft;
  else loss = (1 - target) * logits + soft;
  return reduce_loss(loss, reduction);
}

namespace {
using samples::make1;
using samples::uniform;
Tensor ids(std::vector<int64_t> v, IntArrayRef shape = {}) { return from_vector(v, shape); }
}  // namespace

// clang-format off
DS_COMPOSITE_ROW(softmax) OpDef{.name = "softmax", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim 1", {uniform({3, 4}, dt, -3, 3, 1)}, [](const TensorList& x) { return softmax(x[0], 1); }),
        make1("dim 0 of a transposed tensor", {samples::transposed({3, 4}, dt, -3, 3, 2)}, [](const TensorList& x) { return softmax(x[0], 0); }),
        make1("hand-computed, large logits", {tensor({1000.0, 1000.0}).to(dt)}, [](const TensorList& x) { return softmax(x[0], 0); })};
      v.back().expected = {{0.5, 0.5}};
      return v;
    },
    .gradgrad = true}};
DS_COMPOSITE_ROW(log_softmax) OpDef{.name = "log_softmax", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("dim -1 of [2, 3, 4]", {uniform({2, 3, 4}, dt, -3, 3, 1)}, [](const TensorList& x) { return log_softmax(x[0], -1); }),
        make1("hand-computed", {tensor({0.0, 0.0, 0.0, 0.0}).to(dt)}, [](const TensorList& x) { return log_softmax(x[0], 0); })};
      v.back().expected = {{-std::log(4.0), -std::log(4.0), -std::log(4.0), -std::log(4.0)}};
      return v;
    },
    .gradgrad = true}};
DS_COMPOSITE_ROW(dropout) OpDef{.name = "dropout", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) { return std::vector<OpCase>{
        make1("p 0.3, seeded", {uniform({4, 5}, dt, -1, 1, 1)}, [](const TensorList& x) {
          Generator g(42);
          return dropout(x[0], 0.3, true, &g); })}; },
    .bad = [] { return std::vector<BadCase>{samples::bad("p > 1", [] { dropout(ones({2}), 1.5); }, "must be in [0, 1]")}; }}};
DS_COMPOSITE_ROW(cross_entropy) OpDef{.name = "cross_entropy", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("indices", {uniform({4, 5}, dt, -2, 2, 1), ids({0, 4, 2, 2})},
              [](const TensorList& x) { return cross_entropy(x[0], x[1]); }, 1),
        make1("ignore_index and label smoothing", {uniform({4, 3}, dt, -2, 2, 2), ids({2, -100, 0, 1})},
              [](const TensorList& x) { return cross_entropy(x[0], x[1], Reduction::Mean, -100, 0.1); }, 1),
        make1("(N, C, d) with sum", {uniform({2, 3, 2}, dt, -2, 2, 3), ids({0, 2, 1, 1}, {2, 2})},
              [](const TensorList& x) { return cross_entropy(x[0], x[1], Reduction::Sum); }, 1),
        make1("probability targets", {uniform({2, 3}, dt, -2, 2, 4), softmax(uniform({2, 3}, dt, -1, 1, 5), 1)},
              [](const TensorList& x) { return cross_entropy(x[0], x[1]); }),
        make1("hand-computed", {tensor({{0.0, 0.0}, {0.0, std::log(3.0)}}, TensorOptions{.dtype = kF64}).to(dt), ids({0, 1})},
              [](const TensorList& x) { return cross_entropy(x[0], x[1], Reduction::None); }, 1)};
      v.back().expected = {{std::log(2.0), std::log(4.0 / 3.0)}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{
      samples::bad("target out of range", [] { cross_entropy(ones({2, 3}), ids({0, 3})); }, "must be in [0, 3)"),
      samples::bad("shape mismatch", [] { cross_entropy(ones({2, 3}), ids({0, 1, 2})); }, "does not match target")}; },
    .gradgrad = true}};
DS_COMPOSITE_ROW(nll_loss) OpDef{.name = "nll_loss", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("indices with ignore", {uniform({3, 4}, dt, -2, 0, 1), ids({1, 3, 1})},
              [](const TensorList& x) { return nll_loss(x[0], x[1], Reduction::Mean, 3); }, 1),
        make1("hand-computed", {tensor({{-1.0, -2.0}, {-3.0, -4.0}}).to(dt), ids({1, 0})},
              [](const TensorList& x) { return nll_loss(x[0], x[1]); }, 1)};
      v.back().expected = {{2.5}};
      return v;
    }}};
DS_COMPOSITE_ROW(mse_loss) OpDef{.name = "mse_loss", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("mean", {uniform({3, 4}, dt, -2, 2, 1), uniform({3, 4}, dt, -2, 2, 2)}, [](const TensorList& x) { return mse_loss(x[0], x[1]); }),
        make1("hand-computed sum", {tensor({1.0, 2.0}).to(dt), tensor({0.0, 4.0}).to(dt)},
              [](const TensorList& x) { return mse_loss(x[0], x[1], Reduction::Sum); })};
      v.back().expected = {{5}};
      return v;
    },
    .bad = [] { return std::vector<BadCase>{samples::bad("shapes", [] { mse_loss(ones({2}), ones({3})); }, "differ in shape")}; },
    .gradgrad = true}};
DS_COMPOSITE_ROW(bce_with_logits) OpDef{.name = "bce_with_logits", .kind = OpKind::Composite, .test = {
    .cases = [](DType dt) {
      auto v = std::vector<OpCase>{
        make1("mean", {uniform({3, 4}, dt, -3, 3, 1), uniform({3, 4}, dt, 0, 1, 2)}, [](const TensorList& x) { return bce_with_logits(x[0], x[1]); }),
        make1("pos_weight", {uniform({2, 3}, dt, -3, 3, 3), uniform({2, 3}, dt, 0, 1, 4), uniform({3}, dt, 0.5, 2, 5)},
              [](const TensorList& x) { return bce_with_logits(x[0], x[1], Reduction::Sum, x[2]); }),
        make1("hand-computed, large logits stay finite", {tensor({0.0, 100.0, -100.0}).to(dt), tensor({1.0, 1.0, 1.0}).to(dt)},
              [](const TensorList& x) { return bce_with_logits(x[0], x[1], Reduction::None); })};
      v.back().expected = {{std::log(2.0), 0.0, 100.0}};
      return v;
    }}};
// clang-format on

}  // namespace ds
