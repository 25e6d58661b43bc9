// CPU kernel of adam_step: in p, g, m, v (one shape, contiguous), lr and step (0-d CPU tensors, f64 and i64) -> out
// p'; m and v are updated in place (the row documents this exception to "kernels write only their outputs"). One
// pass, elementwise, in the order of operations of ds::optim::Adam's unfused update; scalars are cast to T as the
// unfused ops cast wrapped numbers.
#include <cmath>

#include "helpers.h"
#include "kernels.h"
#include "parallel.h"

namespace ds::cpu {
namespace {

enum { kNoDecay, kDecoupled, kL2 };  // how weight decay enters the update

template <typename T>
void adam(const KernelCtx& c) {
  const auto& a = c.attrs.get<AdamAttrs>();
  const double lr = *c.in[4].data_ptr<double>(), beta1 = a.beta1, beta2 = a.beta2, wd = a.weight_decay;
  const double t = static_cast<double>(*c.in[5].data_ptr<int64_t>());
  const bool decoupled = a.decoupled, maximize = a.maximize, has_wd = wd != 0;
  const T b1 = T(beta1), one_m_b1 = T(1 - beta1), b2 = T(beta2), one_m_b2 = T(1 - beta2), eps = T(a.eps);
  const T decay = T(1 - lr * wd), l2 = T(wd);
  // Bias corrections in double from the closed form, as the unfused update (and torch) do on the host.
  const T neg_step_size = T(-(lr / (1 - std::pow(beta1, t))));
  const T bc2_sqrt = T(std::sqrt(1 - std::pow(beta2, t)));
  const T* pin = static_cast<const T*>(c.in[0].data());
  const T* gp = static_cast<const T*>(c.in[1].data());
  T* mp = static_cast<T*>(const_cast<void*>(c.in[2].data()));
  T* vp = static_cast<T*>(const_cast<void*>(c.in[3].data()));
  T* pout = static_cast<T*>(c.out[0].data());
  // The options are template arguments so that the loop has no branch and vectorises (with sqrt inlined: this file
  // is built with -fno-math-errno).
  auto run = [&]<bool kMaximize, int kDecay>() {
    parallel_for(c.out[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
      // Locals, not captures: the compiler must know that the stores to m and v do not move these pointers.
      const T* __restrict gl = gp;
      const T* __restrict pl = pin;
      T* __restrict ml = mp;
      T* __restrict vl = vp;
      T* __restrict ol = pout;
      const T d = decay, w = l2, c1 = b1, c1m = one_m_b1, c2 = b2, c2m = one_m_b2, bc = bc2_sqrt, e = eps;
      const T ns = neg_step_size;
      for (int64_t i = lo; i < hi; ++i) {
        T g = kMaximize ? -gl[i] : gl[i];
        T p = pl[i];
        if constexpr (kDecay == kDecoupled) p = p * d;
        if constexpr (kDecay == kL2) g = p * w + g;
        const T m = ml[i] * c1 + g * c1m;
        const T v = vl[i] * c2 + (g * g) * c2m;
        ml[i] = m;
        vl[i] = v;
        const T denom = std::sqrt(v) / bc + e;
        ol[i] = p + (m / denom) * ns;
      }
    });
  };
  const int mode = !has_wd ? kNoDecay : decoupled ? kDecoupled : kL2;
  if (maximize) {
    if (mode == kNoDecay) run.template operator()<true, kNoDecay>();
    else if (mode == kDecoupled) run.template operator()<true, kDecoupled>();
    else run.template operator()<true, kL2>();
  } else {
    if (mode == kNoDecay) run.template operator()<false, kNoDecay>();
    else if (mode == kDecoupled) run.template operator()<false, kDecoupled>();
    else run.template operator()<false, kL2>();
  }
}

}  // namespace

void adam_step(const KernelCtx& c) {
  switch (c.in[0].dtype()) {
    case DType::f32: return adam<float>(c);
    case DType::f64: return adam<double>(c);
    case DType::f16: case DType::bf16: case DType::i64: case DType::i32: case DType::i8: case DType::u8:
    case DType::b8: break;
  }
  throw_error(c.name, std::string("has no CPU kernel for dtype ") + std::string(dtype_name(c.in[0].dtype())));
}

}  // namespace ds::cpu
