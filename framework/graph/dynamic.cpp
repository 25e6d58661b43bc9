#include "dynamic.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

namespace ds::graph {

namespace {

using i128 = __int128;

i128 abs128(i128 x) { return x < 0 ? -x : x; }
i128 gcd128(i128 a, i128 b) {
  a = abs128(a);
  b = abs128(b);
  while (b) {
    const i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// An exact fraction n / d with d > 0, reduced.
struct Frac {
  i128 n = 0, d = 1;
  static Frac of(i128 n, i128 d) {
    if (d < 0) n = -n, d = -d;
    const i128 g = gcd128(n, d);
    return g > 1 ? Frac{n / g, d / g} : Frac{n, d};
  }
  Frac operator+(Frac o) const { return of(n * o.d + o.n * d, d * o.d); }
  Frac operator-(Frac o) const { return of(n * o.d - o.n * d, d * o.d); }
  Frac operator*(Frac o) const { return of(n * o.n, d * o.d); }
  Frac operator/(Frac o) const { return of(n * o.d, d * o.n); }
};
Frac frac(int64_t v) { return {v, 1}; }

bool fits_int64(i128 v) { return v >= INT64_MIN && v <= INT64_MAX; }

// The polynomial through the first k points (k = 1, 2, 3: Newton's divided differences), over one denominator.
std::optional<SizePolynomial> through(std::span<const std::pair<int64_t, int64_t>> p, size_t k) {
  Frac c0 = frac(p[0].second), c1, c2;
  if (k >= 2) {
    const Frac f01 = (frac(p[1].second) - frac(p[0].second)) / frac(p[1].first - p[0].first);
    c1 = f01;
    c0 = c0 - f01 * frac(p[0].first);
    if (k >= 3) {
      const Frac f12 = (frac(p[2].second) - frac(p[1].second)) / frac(p[2].first - p[1].first);
      const Frac f012 = (f12 - f01) / frac(p[2].first - p[0].first);
      c2 = f012;
      c1 = c1 - f012 * frac(p[0].first + p[1].first);
      c0 = c0 + f012 * frac(p[0].first) * frac(p[1].first);
    }
  }
  const i128 den = c0.d / gcd128(c0.d, c1.d) * c1.d;
  const i128 lcm = den / gcd128(den, c2.d) * c2.d;
  const i128 n2 = c2.n * (lcm / c2.d), n1 = c1.n * (lcm / c1.d), n0 = c0.n * (lcm / c0.d);
  if (!fits_int64(n2) || !fits_int64(n1) || !fits_int64(n0) || !fits_int64(lcm)) return std::nullopt;
  return SizePolynomial{static_cast<int64_t>(n2), static_cast<int64_t>(n1), static_cast<int64_t>(n0),
                        static_cast<int64_t>(lcm)};
}

i128 numerator_at(const SizePolynomial& p, int64_t s) {
  return (static_cast<i128>(p.c2) * s + p.c1) * s + p.c0;
}

}  // namespace

std::optional<int64_t> SizePolynomial::at(int64_t s) const {
  const i128 n = numerator_at(*this, s);
  if (n % den != 0 || !fits_int64(n / den)) return std::nullopt;
  return static_cast<int64_t>(n / den);
}

std::string SizePolynomial::str() const {
  std::string s;
  auto term = [&](int64_t c, const char* x) {
    if (c == 0) return;
    const int64_t m = c < 0 ? -c : c;
    if (s.empty()) s += c < 0 ? "-" : "";
    else s += c < 0 ? " - " : " + ";
    if (m != 1 || !*x) s += fmt::format("{}", m);
    if (m != 1 && *x) s += "*";
    s += x;
  };
  term(c2, "s^2");
  term(c1, "s");
  term(c0, "");
  if (s.empty()) s = "0";
  return den == 1 ? s : fmt::format("({})/{}", s, den);
}

FitResult fit_size_polynomial(std::span<const std::pair<int64_t, int64_t>> points, SizePolynomial& out) {
  DS_CHECK(!points.empty(), "graph", "fit_size_polynomial needs a point");
  for (size_t k = 1; k <= 3 && k <= points.size(); ++k) {
    std::optional<SizePolynomial> p = through(points, k);
    if (!p) return FitResult::Impossible;
    bool all = true;
    for (size_t i = k; i < points.size() && all; ++i)
      all = numerator_at(*p, points[i].first) == static_cast<i128>(points[i].second) * p->den;
    if (!all) continue;
    out = *p;
    return points.size() > k ? FitResult::Done : FitResult::NeedMore;
  }
  return FitResult::Impossible;
}

// Walks the samples' graphs side by side: what must be equal is compared, the numbers are fitted.
struct DynamicFitter {
  std::span<const DynamicGraph::Sample> samples;
  std::vector<DynamicGraph::Patch>& patches;
  std::string& why;
  FitResult result = FitResult::Done;

  const Graph& g(size_t k) const { return *samples[k].graph; }
  size_t n() const { return samples.size(); }

  std::string sizes_str() const {
    std::string s;
    for (size_t k = 0; k < n(); ++k) s += fmt::format("{}{}", k ? ", " : "", samples[k].size);
    return s;
  }
  std::string node_str(size_t i) const {
    return fmt::format("node {} ({})", i, op_def(g(0).nodes()[i].op).name);
  }
  bool differ(std::string what) {
    why = fmt::format("the traces at sizes {} differ: {}", sizes_str(), what);
    result = FitResult::Impossible;
    return false;
  }
  // Every sample gives the same `get(k)`.
  template <typename F>
  bool same(F get, const std::function<std::string()>& what) {
    for (size_t k = 1; k < n(); ++k)
      if (!(get(k) == get(0))) return differ(what());
    return true;
  }

  bool number(DynamicGraph::Place where, const std::vector<int64_t>& vs, const std::function<std::string()>& what) {
    std::vector<std::pair<int64_t, int64_t>> points;
    for (size_t k = 0; k < n(); ++k) points.emplace_back(samples[k].size, vs[k]);
    SizePolynomial p;
    const FitResult r = fit_size_polynomial(points, p);
    auto values = [&] {
      std::string s;
      for (size_t k = 0; k < n(); ++k) s += fmt::format("{}{}", k ? ", " : "", vs[k]);
      return s;
    };
    if (r == FitResult::Impossible) {
      why = fmt::format("{} is {} at sizes {}: not a polynomial of the size of degree 2 or less", what(), values(),
                        sizes_str());
      result = FitResult::Impossible;
      return false;
    }
    if (r == FitResult::NeedMore && result == FitResult::Done) {
      why = fmt::format("{} is {} at sizes {}: one more trace confirms {}", what(), values(), sizes_str(), p.str());
      result = FitResult::NeedMore;
    }
    if (p.c1 != 0 || p.c2 != 0) patches.push_back({where, p});
    return true;
  }

  // Captured tensor c: the same tensor in every trace, or small constants of one type whose elements are numbers
  // (the scalars host code wraps as 0-d tensors are new objects in every call). A tensor that requires grad is a
  // parameter and is never matched with another.
  bool captured(size_t c) {
    const Tensor& a = g(0).captured()[c];
    bool identical = true;
    for (size_t k = 1; k < n(); ++k) identical = identical && g(k).captured()[c].impl() == a.impl();
    if (identical) return true;
    std::vector<std::vector<double>> values;
    for (size_t k = 0; k < n(); ++k) {
      const Tensor& b = g(k).captured()[c];
      if (b.requires_grad() || b.numel() > kSmallConstant || b.dtype() != a.dtype() || b.device() != a.device() ||
          b.sizes() != a.sizes())
        return differ(fmt::format("captured tensor {} ({} {}) is another tensor in the trace at size {} (another "
                                  "parameter, or one the function made on the host?)", c, dtype_name(a.dtype()),
                                  shape_str(a.sizes()), samples[k].size));
      values.push_back(b.to(kCPU).to(kF64).contiguous().tolist<double>());
    }
    for (size_t e = 0; e < values[0].size(); ++e) {
      std::vector<double> xs;
      for (const auto& v : values) xs.push_back(v[e]);
      auto what = [this, c, e, &a] {
        return fmt::format("captured constant {} ({} {}), element {}", c, dtype_name(a.dtype()), shape_str(a.sizes()),
                           e);
      };
      if (!floating_number({DynamicGraph::Place::Constant, int32_t(c), 0, int32_t(e), true}, xs, what)) return false;
    }
    return true;
  }
  static constexpr int64_t kSmallConstant = 16;

  // A number held as a double: fitted when it differs between the traces and is an integer in each.
  bool floating_number(DynamicGraph::Place where, const std::vector<double>& xs,
                       const std::function<std::string()>& what) {
    auto bits = [](double x) { return std::bit_cast<uint64_t>(x); };
    bool constant = true;
    for (double x : xs) constant = constant && bits(x) == bits(xs[0]);
    if (constant) return true;
    std::vector<int64_t> vs;
    for (double d : xs) {
      if (!(std::fabs(d) < 9.0e15 && d == std::nearbyint(d))) {
        why = fmt::format("{} is {} at sizes {}: a floating-point number that depends on the size (only integers are "
                          "fitted)", what(), fmt::join(xs, ", "), sizes_str());
        result = FitResult::Impossible;
        return false;
      }
      vs.push_back(static_cast<int64_t>(d));
    }
    return number(where, vs, what);
  }

  // Whether a node reading RNG state v makes an output whose sizes differ between the traces.
  bool draws_for_varying(ValueId v) const {
    for (const Node& node : g(0).nodes()) {
      bool reads = false;
      for (ValueId x : node.inputs) reads = reads || x == v;
      if (!reads) continue;
      for (ValueId out : node.outputs)
        for (size_t k = 1; k < n(); ++k)
          if (g(k).value(out).sizes != g(0).value(out).sizes) return true;
    }
    return false;
  }

  bool attrs(size_t i) {
    const Attrs& a0 = g(0).nodes()[i].attrs;
    if (!same([&](size_t k) { return g(k).nodes()[i].attrs.schema(); }, [&] { return node_str(i) + "'s attributes"; }))
      return false;
    for (size_t f = 0; f < a0.size(); ++f) {
      std::vector<Attr> xs;
      for (size_t k = 0; k < n(); ++k) xs.push_back(g(k).nodes()[i].attrs.value(f));
      auto what = [&, f](std::string entry) {
        return [this, i, f, entry, &a0] {
          return fmt::format("{}: attribute {}{}", node_str(i), a0.name(f), entry);
        };
      };
      if (!same([&](size_t k) { return xs[k].index(); }, what(" (its type)"))) return false;
      using P = DynamicGraph::Place;
      if (std::holds_alternative<int64_t>(xs[0])) {
        std::vector<int64_t> vs;
        for (const Attr& x : xs) vs.push_back(std::get<int64_t>(x));
        if (!number({P::AttrNumber, int32_t(i), int32_t(f), 0, false}, vs, what(""))) return false;
      } else if (std::holds_alternative<double>(xs[0])) {
        std::vector<double> vs;
        for (const Attr& x : xs) vs.push_back(std::get<double>(x));
        if (!floating_number({P::AttrNumber, int32_t(i), int32_t(f), 0, true}, vs, what(""))) return false;
      } else if (std::holds_alternative<Shape>(xs[0])) {
        if (!same([&](size_t k) { return std::get<Shape>(xs[k]).size(); }, what(" (its length)"))) return false;
        for (size_t e = 0; e < std::get<Shape>(xs[0]).size(); ++e) {
          std::vector<int64_t> vs;
          for (const Attr& x : xs) vs.push_back(std::get<Shape>(x)[e]);
          if (!number({P::AttrShape, int32_t(i), int32_t(f), int32_t(e), false}, vs, what(fmt::format("[{}]", e))))
            return false;
        }
      } else if (!same([&](size_t k) { return xs[k]; }, what(""))) {
        return false;
      }
    }
    return true;
  }

  bool value(ValueId v) {
    auto val = [&](size_t k) -> const Value& { return g(k).value(v); };
    auto name = [this, v](const char* part, size_t d) {
      return [this, v, part, d] {
        const Value& x = g(0).value(v);
        const std::string of = x.kind == ValueKind::Result ? "output of " + node_str(static_cast<size_t>(x.node))
                               : x.kind == ValueKind::Input ? fmt::format("argument {}", x.index)
                               : x.kind == ValueKind::Captured ? fmt::format("captured tensor {}", x.index)
                                                                 : fmt::format("random state {}", x.index);
        return fmt::format("value %{} ({}): {}[{}]", v, of, part, d);
      };
    };
    auto kind = [&](size_t k) {
      const Value& x = val(k);
      return std::tuple(x.kind, x.dtype, x.device, x.node, x.index, x.alias, x.sizes.size(), x.strides.size());
    };
    if (!same(kind, [&] { return fmt::format("value %{} (its kind, type, rank or alias set)", v); })) return false;
    using P = DynamicGraph::Place;
    for (size_t d = 0; d < val(0).sizes.size(); ++d) {
      std::vector<int64_t> sz, st;
      for (size_t k = 0; k < n(); ++k) sz.push_back(val(k).sizes[d]), st.push_back(val(k).strides[d]);
      if (!number({P::ValueSize, v, 0, int32_t(d)}, sz, name("sizes", d))) return false;
      if (!number({P::ValueStride, v, 0, int32_t(d)}, st, name("strides", d))) return false;
    }
    // (An argument's storage offset is its own in every call: arguments are bound anew, a batch may be a narrow()
    // of a larger tensor anywhere in it.)
    if (val(0).kind == ValueKind::Input) return true;
    std::vector<int64_t> off;
    for (size_t k = 0; k < n(); ++k) off.push_back(val(k).offset);
    return number({P::ValueOffset, v, 0, 0}, off, name("offset", 0));
  }

  bool run() {
    auto count = [&](const char* what, auto get) {
      return same(get, [what] { return fmt::format("the number of {}", what); });
    };
    if (!count("nodes", [&](size_t k) { return g(k).nodes().size(); }) ||
        !count("values", [&](size_t k) { return g(k).num_values(); }) ||
        !count("arguments", [&](size_t k) { return g(k).inputs(); }) ||
        !count("outputs", [&](size_t k) { return g(k).outputs(); }) ||
        !count("random draws", [&](size_t k) { return g(k).rng().size(); }) ||
        !count("host actions", [&](size_t k) { return g(k).actions().size(); }) ||
        !count("trailing actions", [&](size_t k) { return g(k).trailing_actions(); }))
      return false;
    if (!count("captured tensors", [&](size_t k) { return g(k).captured().size(); })) return false;
    for (size_t c = 0; c < g(0).captured().size(); ++c)
      if (!captured(c)) return false;
    for (size_t a = 0; a < g(0).actions().size(); ++a) {
      auto act = [&](size_t k) {
        const Action& x = g(k).actions()[a];
        return std::tuple(static_cast<bool>(x.host), x.leaf, x.grad);
      };
      if (!same(act, [a] { return fmt::format("action {}", a); })) return false;
    }
    for (size_t r = 0; r < g(0).rng().size(); ++r) {
      if (!same([&](size_t k) { return g(k).rng()[r].generator; },
                [r] { return fmt::format("random draw {} (its generator)", r); }))
        return false;
      std::vector<int64_t> vs;
      for (size_t k = 0; k < n(); ++k) vs.push_back(static_cast<int64_t>(g(k).rng()[r].counters));
      if (!number({DynamicGraph::Place::RngCounters, int32_t(r)}, vs,
                  [r] { return fmt::format("random draw {}: counters", r); }))
        return false;
      // A span that rounds up (ceil(numel / 4)) can be equal at the traced sizes and not at others: a draw whose
      // counters did not change while what it draws for did is refused, not fitted as a constant.
      bool constant = true;
      for (int64_t v : vs) constant = constant && v == vs[0];
      if (constant && draws_for_varying(g(0).rng_values()[r]))
        return differ(fmt::format("random draw {} reserved {} counters at every traced size while the tensor it "
                                  "draws for changed size (a span that rounds up; trace sizes further apart)", r,
                                  vs[0]));
    }
    for (size_t i = 0; i < g(0).nodes().size(); ++i) {
      // Their bodies were traced at each size, and the attribute numbers them: no number to fit.
      const OpId op = g(0).nodes()[i].op;
      if (op == OpId::cond || op == OpId::while_loop)
        return differ(node_str(i) + " is control flow, whose bodies are traced at each size");
      auto shape = [&](size_t k) {
        const Node& x = g(k).nodes()[i];
        return std::tuple(x.op, std::vector<ValueId>(x.inputs.begin(), x.inputs.end()),
                          std::vector<ValueId>(x.outputs.begin(), x.outputs.end()), x.target, x.actions);
      };
      if (!same(shape, [&] { return node_str(i) + " (its op, inputs, outputs or actions)"; }) || !attrs(i))
        return false;
    }
    for (size_t v = 0; v < g(0).num_values(); ++v)
      if (!value(static_cast<ValueId>(v))) return false;
    return true;
  }
};

FitResult DynamicGraph::fit(std::span<const Sample> samples, std::optional<DynamicGraph>& out, std::string& why) {
  DS_CHECK(samples.size() >= 2, "graph", "fitting a dynamic graph needs two traces or more, got {}", samples.size());
  for (size_t k = 0; k < samples.size(); ++k) {
    DS_CHECK(samples[k].graph->host_reads().empty(), "graph", "the trace at size {} has a graph break: {}",
             samples[k].size, samples[k].graph->host_read_str());
    for (size_t j = 0; j < k; ++j)
      DS_CHECK(samples[j].size != samples[k].size, "graph", "two traces at size {}", samples[k].size);
  }
  DynamicGraph d;
  DynamicFitter f{samples, d.patches_, why};
  f.run();
  if (f.result != FitResult::Done) return f.result;
  d.base_ = *samples[0].graph;
  for (const Sample& s : samples) d.sizes_.push_back(s.size);
  out = std::move(d);
  return FitResult::Done;
}

std::optional<Graph> DynamicGraph::at(int64_t s) const {
  Graph g = base_;
  std::vector<std::pair<std::string, Attr>> fields;
  size_t i = 0;
  while (i < patches_.size()) {
    const Place& w = patches_[i].where;
    std::optional<int64_t> v = patches_[i].p.at(s);
    if (!v) return std::nullopt;
    if (w.kind == Place::AttrNumber || w.kind == Place::AttrShape) {
      // Every patch of this node's attributes at once (the fitter made them in node order).
      Node& node = g.mutable_nodes()[static_cast<size_t>(w.at)];
      fields.clear();
      for (size_t f = 0; f < node.attrs.size(); ++f) fields.emplace_back(node.attrs.name(f), node.attrs.value(f));
      for (; i < patches_.size() && patches_[i].where.at == w.at &&
             (patches_[i].where.kind == Place::AttrNumber || patches_[i].where.kind == Place::AttrShape);
           ++i) {
        const Place& x = patches_[i].where;
        std::optional<int64_t> y = patches_[i].p.at(s);
        if (!y) return std::nullopt;
        Attr& a = fields[static_cast<size_t>(x.field)].second;
        if (x.kind == Place::AttrShape) std::get<Shape>(a)[static_cast<size_t>(x.entry)] = *y;
        else a = x.as_double ? Attr(static_cast<double>(*y)) : Attr(*y);
      }
      node.attrs = Attrs::from_values(*node.attrs.schema(), fields);
      continue;
    }
    if (w.kind == Place::Constant) {
      // Every patched element of this constant at once: a new tensor (the traced one may be in use elsewhere).
      Tensor& t = g.mutable_captured()[static_cast<size_t>(w.at)];
      std::vector<double> xs = t.to(kCPU).to(kF64).contiguous().tolist<double>();
      for (; i < patches_.size() && patches_[i].where.kind == Place::Constant && patches_[i].where.at == w.at; ++i) {
        std::optional<int64_t> y = patches_[i].p.at(s);
        if (!y) return std::nullopt;
        xs[static_cast<size_t>(patches_[i].where.entry)] = static_cast<double>(*y);
      }
      const bool wrapped = t.impl()->is_wrapped_number();  // (simplify and folding recognise host numbers by it)
      t = from_host_bytes(xs.data(), xs.size(), kF64, IntArrayRef(t.sizes()),
                          {.dtype = t.dtype(), .device = t.device()});
      t.impl()->set_wrapped_number(wrapped);
      continue;
    }
    if (*v < 0) return std::nullopt;
    if (w.kind == Place::RngCounters) {
      g.mutable_rng()[static_cast<size_t>(w.at)].counters = static_cast<uint64_t>(*v);
    } else {
      Value& x = g.mutable_value(w.at);
      if (w.kind == Place::ValueSize) x.sizes[static_cast<size_t>(w.entry)] = *v;
      else if (w.kind == Place::ValueStride) x.strides[static_cast<size_t>(w.entry)] = *v;
      else x.offset = *v;
    }
    ++i;
  }
  return g;
}

}  // namespace ds::graph
