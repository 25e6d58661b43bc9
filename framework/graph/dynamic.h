#pragma once
// Dynamic dims: one graph for every size of a dimension, made from traces of the same program at a few sizes.
//
// C++ host code computes shapes with plain integers, so a trace sees a size only as the numbers it became: a reshape
// to {B * T, C}, the count a mean divides by, a random draw's counter span, each value's sizes and strides. The IR
// holds no symbols; instead the traces at several sizes s are compared number by number, and every number that
// differs is fitted as a polynomial of s of degree at most 2 with rational coefficients. A fit counts only once a
// trace it was not made from confirms it: numbers affine in s need three traces, quadratic ones (attention's T x T)
// four. Host scalars (x * 2.0, a mean's count) reach the graph as small captured constants, whose elements are
// numbers as well. The fitted graph then gives the graph at another size without tracing; a size where some number
// is not an integer (a counter span that rounds up) is not given, and ds::compile traces that size on its own.
//
// Traces that differ in anything else cannot be generalised, and fit() names the node and the attribute:
// other ops or inputs (host control flow that depends on the size), other captured tensors (made on the host from
// other numbers; small constants with the same bits, such as the scalars host code wraps, count as one), a
// floating-point number that is not an integer (batch norm's n / (n - 1) running-variance factor), a number that is
// no such polynomial, a random draw whose counter span stayed equal while what it draws for changed size. Host code
// that clamps or rounds a size (std::min(T, max_len), B / 8 * 8) is not seen: traces that all fall on one step of
// such a function fit the wrong polynomial beyond it (DS_COMPILE_VERIFY compares replays with eager runs).
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ds/graph/ir.h>

namespace ds::graph {

// a(s) = (c2 s^2 + c1 s + c0) / den, den > 0.
struct SizePolynomial {
  int64_t c2 = 0, c1 = 0, c0 = 0, den = 1;
  // The value at s; nullopt when it is not an integer there.
  std::optional<int64_t> at(int64_t s) const;
  std::string str() const;  // "(3*s^2 + s - 4)/2"
  bool operator==(const SizePolynomial&) const = default;
};

enum class FitResult { Done, NeedMore, Impossible };

// The polynomial of lowest degree (0, 1, 2) through the first points that every other point confirms: Done when at
// least one point beyond those it was made from confirmed it, NeedMore when none was left to, Impossible when no
// degree up to 2 passes through them all. The sizes must differ.
FitResult fit_size_polynomial(std::span<const std::pair<int64_t, int64_t>> points, SizePolynomial& out);

class DynamicGraph {
 public:
  struct Sample {
    int64_t size;
    const Graph* graph;  // a trace before the passes
  };
  // Fits `samples` (traces of one program at distinct sizes): Done sets `out`; NeedMore and Impossible set `why`
  // ("node 12 (view): attribute shape[0] is 96, 56, 72 at sizes 12, 7, 9: ...").
  static FitResult fit(std::span<const Sample> samples, std::optional<DynamicGraph>& out, std::string& why);

  // The graph at size s: the first sample's, every fitted number evaluated at s. nullopt where one is not an integer
  // or a size or stride would be negative.
  std::optional<Graph> at(int64_t s) const;
  // How many numbers of the graph depend on the size.
  size_t fitted_numbers() const { return patches_.size(); }
  // The sizes the fit was made from.
  const std::vector<int64_t>& sample_sizes() const { return sizes_; }

 private:
  // Where a number lives in the graph.
  struct Place {
    enum Kind : uint8_t { AttrNumber, AttrShape, ValueSize, ValueStride, ValueOffset, RngCounters, Constant } kind;
    int32_t at = 0;     // node (Attr*), value (Value*), draw (RngCounters) or captured tensor (Constant)
    int32_t field = 0;  // attribute field (Attr*)
    int32_t entry = 0;  // shape entry (AttrShape), dimension (ValueSize, ValueStride), element (Constant)
    bool as_double = false;  // an AttrNumber whose field holds a double
  };
  struct Patch {
    Place where;
    SizePolynomial p;
  };
  Graph base_;
  std::vector<int64_t> sizes_;
  std::vector<Patch> patches_;
  friend struct DynamicFitter;  // dynamic.cpp
};

}  // namespace ds::graph
