#include "gradcheck.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>
#include <ds/ops/shape_ops.h>

#include "engine.h"

namespace ds {
namespace {

double* element_ptr(const Tensor& t, int64_t linear) {
  int64_t off = 0, rem = linear;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (rem % t.sizes()[d]) * t.strides()[d];
    rem /= t.sizes()[d];
  }
  return static_cast<double*>(t.data()) + off;
}

// The floating outputs, flattened into one vector of doubles.
std::vector<double> flat_outputs(const TensorList& outs) {
  std::vector<double> v;
  for (const Tensor& o : outs) {
    if (!o.defined() || !is_floating(o.dtype())) continue;
    const Tensor c = o.detach().to(kF64).contiguous();
    const double* p = c.data_ptr<double>();
    v.insert(v.end(), p, p + c.numel());
  }
  return v;
}

}  // namespace

GradcheckResult gradcheck(const TensorFn& fn, const TensorList& inputs, GradcheckOptions opts) {
  std::vector<int> checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    DS_CHECK(x.dtype() == kF64 && x.is_cpu(), "gradcheck", "input {} must be a float64 CPU tensor, got {} on {}", i,
             dtype_name(x.dtype()), x.device().str());
    checked.push_back(static_cast<int>(i));
  }
  TensorList outs;
  {
    EnableGradGuard grad_on;
    outs = fn(inputs);
  }
  std::vector<Tensor> float_outs;
  for (const Tensor& o : outs)
    if (o.defined() && is_floating(o.dtype())) float_outs.push_back(o);
  int64_t n_out = 0;
  for (const Tensor& o : float_outs) n_out += o.numel();

  // Numerical Jacobian: num[k][e * n_out + o] for checked input k.
  std::vector<std::vector<double>> num(checked.size());
  for (size_t k = 0; k < checked.size(); ++k) {
    const Tensor& x = inputs[checked[k]];
    num[k].assign(static_cast<size_t>(x.numel() * n_out), 0.0);
    for (int64_t e = 0; e < x.numel(); ++e) {
      double* p = element_ptr(x, e);
      const double orig = *p;
      std::vector<double> plus, minus;
      {
        NoGradGuard no_grad;
        *p = orig + opts.eps;
        plus = flat_outputs(fn(inputs));
        *p = orig - opts.eps;
        minus = flat_outputs(fn(inputs));
        *p = orig;
      }
      for (int64_t o = 0; o < n_out; ++o)
        num[k][static_cast<size_t>(e * n_out + o)] = (plus[o] - minus[o]) / (2 * opts.eps);
    }
  }

  // Analytical Jacobian, one output element at a time.
  std::vector<std::vector<double>> ana(checked.size());
  for (size_t k = 0; k < checked.size(); ++k) ana[k].assign(num[k].size(), 0.0);
  std::vector<Tensor> roots, wrt;
  std::vector<size_t> root_of;  // index into float_outs
  for (size_t j = 0; j < float_outs.size(); ++j)
    if (float_outs[j].requires_grad()) {
      roots.push_back(float_outs[j]);
      root_of.push_back(j);
    }
  for (int k : checked) wrt.push_back(inputs[k]);
  if (!roots.empty() && !wrt.empty()) {
    int64_t base = 0;
    std::vector<int64_t> offset(float_outs.size());
    for (size_t j = 0; j < float_outs.size(); ++j) {
      offset[j] = base;
      base += float_outs[j].numel();
    }
    for (size_t r = 0; r < roots.size(); ++r) {
      const Tensor& y = roots[r];
      for (int64_t o = 0; o < y.numel(); ++o) {
        std::vector<Tensor> seeds;
        for (size_t q = 0; q < roots.size(); ++q) seeds.push_back(zeros(roots[q].sizes(), {.dtype = roots[q].dtype()}));
        seeds[r].reshape({-1}).narrow(0, o, 1).fill_(1.0);
        const std::vector<Tensor> g = grad(roots, wrt, seeds, true, false, true);
        for (size_t k = 0; k < checked.size(); ++k) {
          if (!g[k].defined()) continue;
          const Tensor gc = g[k].to(kF64).contiguous();
          const double* gp = gc.data_ptr<double>();
          for (int64_t e = 0; e < gc.numel(); ++e)
            ana[k][static_cast<size_t>(e * n_out + offset[root_of[r]] + o)] = gp[e];
        }
      }
    }
  }

  GradcheckResult res;
  res.max_error = -INFINITY;
  for (size_t k = 0; k < checked.size(); ++k) {
    const int64_t n_el = inputs[checked[k]].numel();
    for (int64_t e = 0; e < n_el; ++e)
      for (int64_t o = 0; o < n_out; ++o) {
        const size_t at = static_cast<size_t>(e * n_out + o);
        const double a = ana[k][at], n = num[k][at];
        const double excess = std::fabs(a - n) - (opts.atol + opts.rtol * std::fabs(n));
        if (excess > res.max_error || std::isnan(excess)) {
          res.max_error = std::isnan(excess) ? INFINITY : excess;
          res.input = checked[k];
          res.input_element = e;
          res.output_element = o;
          res.analytical = a;
          res.numerical = n;
        }
      }
  }
  res.ok = res.max_error <= 0 || res.input < 0;
  if (res.input >= 0)
    res.message = fmt::format("worst: d output[{}] / d input {}[{}] (shape {}): analytical {:.10g}, numerical {:.10g} "
                              "(atol {}, rtol {})",
                              res.output_element, res.input, res.input_element,
                              shape_str(inputs[res.input].sizes()), res.analytical, res.numerical, opts.atol,
                              opts.rtol);
  else
    res.message = "no input requires grad";
  return res;
}

GradcheckResult gradgradcheck(const TensorFn& fn, const TensorList& inputs, GradcheckOptions opts) {
  TensorList outs;
  {
    EnableGradGuard grad_on;
    outs = fn(inputs);
  }
  // A random gradient for each differentiable output; part of the checked inputs.
  TensorList all = inputs;
  std::vector<size_t> x_idx;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) x_idx.push_back(i);
  Generator gen(1234);
  for (const Tensor& o : outs)
    if (o.defined() && is_floating(o.dtype()) && o.requires_grad()) {
      all.push_back(randn(o.sizes(), {.dtype = kF64}, &gen).requires_grad_(true));
    }
  const size_t n_in = inputs.size();
  auto g = [&fn, n_in, x_idx](const TensorList& args) {
    EnableGradGuard grad_on;
    const TensorList xs(args.begin(), args.begin() + n_in);
    const TensorList ys = fn(xs);
    std::vector<Tensor> roots, seeds, wrt;
    size_t s = n_in;
    for (const Tensor& y : ys)
      if (y.defined() && is_floating(y.dtype()) && y.requires_grad()) {
        roots.push_back(y);
        seeds.push_back(args[s++]);
      }
    for (size_t i : x_idx) wrt.push_back(xs[i]);
    TensorList out;
    if (roots.empty()) return out;
    const std::vector<Tensor> gs = grad(roots, wrt, seeds, true, true, true);
    for (size_t k = 0; k < gs.size(); ++k) out.push_back(gs[k].defined() ? gs[k] : zeros_like(wrt[k]));
    return out;
  };
  return gradcheck(g, all, opts);
}

}  // namespace ds
