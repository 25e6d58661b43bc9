#pragma once
// The elementwise engine of the CPU backend (internal). An op supplies only its math on contiguous arrays of its
// compute type; the engine handles broadcasting (stride 0), arbitrary strides, 16-bit storage (converted to float
// through small buffers) and the split over threads. Contiguous inputs of the compute type are read in place.
#include <array>
#include <cstring>
#include <type_traits>

#include <Eigen/Core>

#include <ds/ops/op_def.h>

#include "parallel.h"

namespace ds::cpu {

// The type an element is computed in: 16-bit floats compute in float, everything else in itself.
template <typename S> struct compute_type { using type = S; };
template <> struct compute_type<Half> { using type = float; };
template <> struct compute_type<BFloat16> { using type = float; };
template <typename S> using compute_t = typename compute_type<S>::type;

template <typename C> using Vec = Eigen::Map<Eigen::Array<C, Eigen::Dynamic, 1>>;
template <typename C> using CVec = Eigen::Map<const Eigen::Array<C, Eigen::Dynamic, 1>>;
template <typename C> Vec<C> vec(C* p, int64_t n) { return Vec<C>(p, n); }
template <typename C> CVec<C> vec(const C* p, int64_t n) { return CVec<C>(p, n); }

inline constexpr int64_t kChunk = 512;

// Whether [a, a + n) and [b, b + n) share an element. A formula that writes its output before it has read all of an
// input (two passes) reads a copy of that input when the output is written over it (an in-place op, the graph
// executor's memory plan); every other formula reads each element before writing it and needs none.
template <typename C> bool overlaps(const C* a, const C* b, int64_t n) { return a < b + n && b < a + n; }

// An N-d iteration space (innermost dimension first, size-1 dimensions dropped, mergeable ones merged) over
// N operands given by byte strides.
template <int N>
struct StridedIter {
  Shape sizes;
  std::array<Shape, N> strides;
  std::array<char*, N> base{};
  int64_t numel = 1;

  // ts[0] is the output, whose shape is the iteration shape; the others broadcast to it.
  StridedIter(const std::array<const Tensor*, N>& ts) {
    const Shape& shape = ts[0]->sizes();
    const size_t nd = shape.size();
    numel = ts[0]->numel();
    for (int k = 0; k < N; ++k) base[k] = static_cast<char*>(ts[k]->data());
    for (size_t i = nd; i-- > 0;) {  // innermost first
      if (shape[i] == 1) continue;
      std::array<int64_t, N> st;
      for (int k = 0; k < N; ++k) {
        const Tensor& t = *ts[k];
        const int64_t off = static_cast<int64_t>(nd) - t.dim();
        const int64_t d = static_cast<int64_t>(i) - off;
        st[k] = (d < 0 || t.sizes()[d] == 1) ? 0 : t.strides()[d] * static_cast<int64_t>(t.element_size());
      }
      if (!sizes.empty()) {
        bool merge = true;
        const size_t last = sizes.size() - 1;
        for (int k = 0; k < N; ++k) merge &= st[k] == strides[k][last] * sizes[last];
        if (merge) {
          sizes[last] *= shape[i];
          continue;
        }
      }
      sizes.push_back(shape[i]);
      for (int k = 0; k < N; ++k) strides[k].push_back(st[k]);
    }
    if (sizes.empty()) {
      sizes.push_back(1);
      for (int k = 0; k < N; ++k) strides[k].push_back(0);
    }
  }

  // Calls f(ptrs, inner_byte_strides, n) for each run of the innermost dimension within [begin, end).
  template <typename F>
  void for_each_run(int64_t begin, int64_t end, F&& f) const {
    const size_t nd = sizes.size();
    Shape idx(nd, 0);
    std::array<char*, N> p = base;
    int64_t r = begin;
    for (size_t d = 0; d < nd; ++d) {
      idx[d] = r % sizes[d];
      r /= sizes[d];
      for (int k = 0; k < N; ++k) p[k] += idx[d] * strides[k][d];
    }
    std::array<int64_t, N> inner;
    for (int k = 0; k < N; ++k) inner[k] = strides[k][0];
    int64_t pos = begin;
    while (pos < end) {
      const int64_t n = std::min(sizes[0] - idx[0], end - pos);
      f(p, inner, n);
      pos += n;
      if (pos >= end) break;
      for (int k = 0; k < N; ++k) p[k] += n * inner[k];
      idx[0] += n;
      for (size_t d = 0; d + 1 < nd && idx[d] == sizes[d]; ++d) {
        for (int k = 0; k < N; ++k) p[k] += strides[k][d + 1] - sizes[d] * strides[k][d];
        idx[d] = 0;
        ++idx[d + 1];
      }
    }
  }
};

// Converting loads and stores between storage type S (any stride, including 0) and compute type C.
template <typename S, typename C>
inline void load(C* dst, const char* src, int64_t stride, int64_t n) {
  if (stride == 0) {
    const C v = static_cast<C>(*reinterpret_cast<const S*>(src));
    for (int64_t i = 0; i < n; ++i) dst[i] = v;
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<C>(*reinterpret_cast<const S*>(src + i * stride));
  }
}
template <typename S, typename C>
inline void store(char* dst, int64_t stride, const C* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) *reinterpret_cast<S*>(dst + i * stride) = static_cast<S>(src[i]);
}

// out[i] = f(in0[i], in1[i], ...) over broadcast, strided operands. Storage types: SO for the output, SI for every
// input (rules cast inputs to one dtype). f(n, OC* out, const IC* in...) works on contiguous compute-type arrays.
template <typename SO, typename SI, int NIn, typename F>
void map_elementwise(const KernelCtx& c, F&& f) {
  using OC = compute_t<SO>;
  using IC = compute_t<SI>;
  constexpr int N = NIn + 1;
  std::array<const Tensor*, N> ts;
  ts[0] = &c.out[0];
  for (int k = 0; k < NIn; ++k) ts[k + 1] = &c.in[k];
  // Fast path: every operand contiguous, of the same shape and of its compute type (most calls).
  if constexpr (std::is_same_v<SO, OC> && std::is_same_v<SI, IC>) {
    bool flat = c.out[0].is_contiguous();
    for (int k = 0; k < NIn && flat; ++k) flat = c.in[k].is_contiguous() && c.in[k].sizes() == c.out[0].sizes();
    if (flat) {
      OC* o = static_cast<OC*>(c.out[0].data());
      const IC* in[NIn > 0 ? NIn : 1];
      for (int k = 0; k < NIn; ++k) in[k] = static_cast<const IC*>(c.in[k].data());
      parallel_for_aligned(c.out[0].numel(), kGrain, kChunk, [&](int64_t b, int64_t e) {
        if constexpr (NIn == 0) f(e - b, o + b);
        else if constexpr (NIn == 1) f(e - b, o + b, in[0] + b);
        else if constexpr (NIn == 2) f(e - b, o + b, in[0] + b, in[1] + b);
        else f(e - b, o + b, in[0] + b, in[1] + b, in[2] + b);
      });
      return;
    }
  }
  const StridedIter<N> it(ts);
  if (it.numel == 0) return;

  auto body = [&](int64_t begin, int64_t end) {
    alignas(64) OC obuf[kChunk];
    alignas(64) IC ibuf[NIn > 0 ? NIn : 1][kChunk];
    it.for_each_run(begin, end, [&](const std::array<char*, N>& p, const std::array<int64_t, N>& st, int64_t n) {
      for (int64_t off = 0; off < n; off += kChunk) {
        const int64_t m = std::min(kChunk, n - off);
        const IC* in[NIn > 0 ? NIn : 1];
        for (int k = 0; k < NIn; ++k) {
          const char* src = p[k + 1] + off * st[k + 1];
          if constexpr (std::is_same_v<SI, IC>) {
            if (st[k + 1] == static_cast<int64_t>(sizeof(SI))) {
              in[k] = reinterpret_cast<const IC*>(src);
              continue;
            }
          }
          load<SI, IC>(ibuf[k], src, st[k + 1], m);
          in[k] = ibuf[k];
        }
        char* dst = p[0] + off * st[0];
        const bool direct = std::is_same_v<SO, OC> && st[0] == static_cast<int64_t>(sizeof(SO));
        OC* o = direct ? reinterpret_cast<OC*>(dst) : obuf;
        if constexpr (NIn == 0) f(m, o);
        else if constexpr (NIn == 1) f(m, o, in[0]);
        else if constexpr (NIn == 2) f(m, o, in[0], in[1]);
        else f(m, o, in[0], in[1], in[2]);
        if (!direct) store<SO, OC>(dst, st[0], obuf, m);
      }
    });
  };
  parallel_for_aligned(it.numel, kGrain, kChunk, body);
}

// Dispatch helpers over the storage dtype.
template <typename F>
void visit_float(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::f16: return f(Half{});
    case DType::bf16: return f(BFloat16{});
    case DType::i64: case DType::i32: case DType::i8: case DType::u8: case DType::b8: break;
  }
  throw_error(op, std::string("has no CPU kernel for dtype ") + std::string(dtype_name(t)));
}
template <typename F>
void visit_number(DType t, std::string_view op, F&& f) {  // floats and integers, not bool
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::f16: return f(Half{});
    case DType::bf16: return f(BFloat16{});
    case DType::i64: return f(int64_t{});
    case DType::i32: return f(int32_t{});
    case DType::i8: return f(int8_t{});
    case DType::u8: return f(uint8_t{});
    case DType::b8: break;
  }
  throw_error(op, "has no CPU kernel for dtype bool");
}
template <typename F>
void visit_all(DType t, F&& f) {
  visit_dtype(t, std::forward<F>(f));
}

}  // namespace ds::cpu
