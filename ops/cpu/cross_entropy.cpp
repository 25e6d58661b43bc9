// CPU kernels of softmax_cross_entropy and its backward. logits: (N, C) rows (a contiguous copy when strided),
// target (N) int64. Rows run in parallel. A target outside [0, C) that is not ignore_index is an error, checked
// before any work.
#include <Eigen/Core>

#include <algorithm>
#include <cmath>

#include <ds/core/detail/check.h>

#include "helpers.h"
#include "kernels.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

template <typename T>
using Row = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

void check_targets(const KernelCtx& c, const Tensor& target, int64_t C) {
  const int64_t* t = static_cast<const int64_t*>(target.data());
  const int64_t ignore = c.attrs.get<CrossEntropyAttrs>().ignore_index;
  for (int64_t i = 0; i < target.numel(); ++i)
    DS_CHECK((t[i] >= 0 && t[i] < C) || t[i] == ignore, c.name,
             "target values must be in [0, {}) or ignore_index {}, got {} at row {}", C, ignore, t[i], i);
}

template <typename T>
void forward(const KernelCtx& c) {
  const Tensor x = contiguous_copy(c.in[0]), target = contiguous_copy(c.in[1]);
  const auto& a = c.attrs.get<CrossEntropyAttrs>();
  const int64_t N = x.size(0), C = x.size(1), ignore = a.ignore_index;
  check_targets(c, target, C);
  const T eps = static_cast<T>(a.label_smoothing);
  const T* px = static_cast<const T*>(x.data());
  const int64_t* pt = static_cast<const int64_t*>(target.data());
  T *loss = static_cast<T*>(c.out[0].data()), *lse = static_cast<T*>(c.out[1].data());
  parallel_for(N, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const Row<T> row(px + i * C, C);
      const T m = row.maxCoeff();
      const T l = m + std::log((row - m).exp().sum());
      lse[i] = l;
      if (pt[i] == ignore) {
        loss[i] = T(0);
        continue;
      }
      const T nll = l - row[pt[i]];
      // Smoothing spreads eps over every class: (1 - eps) nll + eps * mean over classes of (lse - x_c).
      loss[i] = eps > 0 ? (T(1) - eps) * nll + eps * (l - row.sum() / static_cast<T>(C)) : nll;
    }
  });
}

template <typename T>
void backward(const KernelCtx& c) {
  const Tensor g = contiguous_copy(c.in[0]), x = contiguous_copy(c.in[1]), target = contiguous_copy(c.in[2]);
  const Tensor lse = contiguous_copy(c.in[3]);
  const auto& a = c.attrs.get<CrossEntropyAttrs>();
  const int64_t N = x.size(0), C = x.size(1), ignore = a.ignore_index;
  const T eps = static_cast<T>(a.label_smoothing), off = eps / static_cast<T>(C);
  const T *pg = static_cast<const T*>(g.data()), *px = static_cast<const T*>(x.data()), *pl = static_cast<const T*>(lse.data());
  const int64_t* pt = static_cast<const int64_t*>(target.data());
  T* dx = static_cast<T*>(c.out[0].data());
  parallel_for(N, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> d(dx + i * C, C);
      if (pt[i] == ignore) {
        d.setZero();
        continue;
      }
      d = ((Row<T>(px + i * C, C) - pl[i]).exp() - off) * pg[i];
      d[pt[i]] -= (T(1) - eps) * pg[i];
    }
  });
}

}  // namespace

void softmax_cross_entropy(const KernelCtx& c) {
  if (c.in[0].dtype() == kF64) forward<double>(c);
  else forward<float>(c);
}

void softmax_cross_entropy_backward(const KernelCtx& c) {
  if (c.in[1].dtype() == kF64) backward<double>(c);
  else backward<float>(c);
}

}  // namespace ds::cpu
