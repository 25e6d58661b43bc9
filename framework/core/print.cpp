// PyTorch-style printing of tensors: common precision 4, scientific notation when the magnitudes call for it,
// columns aligned, large tensors summarised with "...".
#include <cmath>
#include <ostream>
#include <vector>

#include <fmt/format.h>

#include "tensor_base.h"

namespace ds {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int kLineWidth = 80;

struct Formatter {
  DType dtype;
  bool int_mode = false;  // a float tensor whose values are all integers: "1.", "2."
  bool sci_mode = false;
  size_t width = 1;

  std::string format(double v) const {
    if (dtype == kBool) return v != 0 ? "True" : "False";
    if (is_integral(dtype)) return fmt::format("{}", static_cast<int64_t>(v));
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (sci_mode) return fmt::format("{:.4e}", v);
    if (int_mode) return fmt::format("{:.0f}.", v);
    return fmt::format("{:.4f}", v);
  }
};

// The indices printed along one dimension: all of them, or the first and last kEdgeItems with a gap (-1).
std::vector<int64_t> shown(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  if (summarize && n > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(-1);
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

void collect(const TensorBase& t, bool summarize, size_t d, int64_t linear, int64_t stride_prod,
             std::vector<double>& out) {
  // Walks the shown elements in row-major order; linear is the logical index of the current prefix.
  if (d == static_cast<size_t>(t.dim())) {
    out.push_back(read_element(t, linear));
    return;
  }
  const int64_t n = t.sizes()[d];
  const int64_t inner = stride_prod / std::max<int64_t>(n, 1);
  for (int64_t i : shown(n, summarize)) {
    if (i < 0) continue;
    collect(t, summarize, d + 1, linear + i * inner, inner, out);
  }
}

void render(const TensorBase& t, const Formatter& f, bool summarize, size_t d, int64_t linear, int64_t stride_prod,
            size_t indent, std::string& s) {
  if (t.dim() == 0) {
    s += f.format(read_element(t, 0));
    return;
  }
  const int64_t n = t.sizes()[d];
  const int64_t inner = stride_prod / std::max<int64_t>(n, 1);
  const bool last = d + 1 == static_cast<size_t>(t.dim());
  s += '[';
  size_t col = indent + 1;
  bool first = true;
  for (int64_t i : shown(n, summarize)) {
    if (!first) {
      if (last) {
        s += ',';
        ++col;
      } else {
        s += ',';
        s.append(t.dim() - d - 1, '\n');
        s.append(indent + 1, ' ');
      }
    }
    if (last) {
      std::string item = i < 0 ? " ..." : f.format(read_element(t, linear + i * inner));  // torch pads it too
      if (item.size() < f.width && i >= 0) item.insert(0, f.width - item.size(), ' ');
      if (!first) {
        if (col + 1 + item.size() > kLineWidth) {
          s += '\n';
          s.append(indent + 1, ' ');
          col = indent + 1;
        } else {
          s += ' ';
          ++col;
        }
      }
      s += item;
      col += item.size();
    } else if (i < 0) {
      s += "...";
    } else {
      render(t, f, summarize, d + 1, linear + i * inner, inner, indent + 1, s);
    }
    first = false;
  }
  s += ']';
}

}  // namespace

std::string TensorBase::str() const {
  if (!defined()) return "tensor(undefined)";
  if (!device().is_meta()) report_host_read(*this, "printing");
  std::string suffix;
  if (dtype() != kF32 && dtype() != kI64 && dtype() != kBool) suffix += fmt::format(", dtype={}", dtype_name(dtype()));
  if (!is_cpu()) suffix += fmt::format(", device='{}'", device().str());
  if (const AutogradMeta* m = impl()->autograd(); m && m->grad_fn) {
    suffix += fmt::format(", grad_fn=<{}>", m->grad_fn->name());
  } else if (requires_grad()) {
    suffix += ", requires_grad=True";
  }
  if (numel() == 0) {
    std::string body = "tensor([]";
    if (dim() != 1) body += fmt::format(", size=({})", fmt::join(sizes(), ", "));
    return body + suffix + ")";
  }
  if (!is_cpu()) return fmt::format("tensor(<{} elements on {}>{})", numel(), device().str(), suffix);

  const bool summarize = numel() > kSummarizeAbove;
  std::vector<double> vals;
  collect(*this, summarize, 0, 0, numel(), vals);

  Formatter f{dtype()};
  if (is_floating(dtype())) {
    double amax = 0, amin = INFINITY;
    bool all_int = true, any_finite = false;
    for (double v : vals) {
      if (!std::isfinite(v)) continue;
      any_finite = true;
      all_int = all_int && v == std::nearbyint(v);
      const double a = std::fabs(v);
      amax = std::max(amax, a);
      if (a > 0) amin = std::min(amin, a);
    }
    if (any_finite) {
      f.int_mode = all_int && amax < 1e8;
      f.sci_mode = amax > 1e8 || (!all_int && (amin < 1e-4 || (amin < INFINITY && amax / amin > 1000.0)));
    }
  }
  for (double v : vals) f.width = std::max(f.width, f.format(v).size());

  std::string s = "tensor(";
  render(*this, f, summarize, 0, 0, numel(), 7, s);
  return s + suffix + ")";
}

std::ostream& operator<<(std::ostream& os, const TensorBase& t) { return os << t.str(); }

}  // namespace ds
