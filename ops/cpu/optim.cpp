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
  parallel_for(c.out[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T g = maximize ? -gp[i] : gp[i];
      T p = pin[i];
      if (has_wd) {
        if (decoupled) p = p * decay;
        else g = p * l2 + g;
      }
      const T m = mp[i] * b1 + g * one_m_b1;
      const T v = vp[i] * b2 + (g * g) * one_m_b2;
      mp[i] = m;
      vp[i] = v;
      const T denom = std::sqrt(v) / bc2_sqrt + eps;
      pout[i] = p + (m / denom) * neg_step_size;
    }
  });
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
