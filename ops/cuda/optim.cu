// CUDA kernel of adam_step, the fused Adam/AdamW update, with the CPU kernel's order of operations
// (ops/cpu/optim.cpp): p, g, m, v (one shape, contiguous) -> p'; m and v are updated in place. One pass reads p, g,
// m, v and writes p, m, v, four elements per thread. lr and step are inputs 4 and 5, 0-d CPU tensors read on the host.
#include <cmath>

#include "kernels.h"
#include "loops.cuh"
#include "math.cuh"

namespace ds::cuda {
namespace {

template <typename T>
struct AdamScalars {
  T b1, one_m_b1, b2, one_m_b2, eps, decay, l2, neg_step_size, bc2_sqrt;
  bool decoupled, maximize, has_wd;
};

template <typename T>
__global__ void adam_kernel(const T* pin, const T* gp, T* mp, T* vp, T* pout, int64_t n, AdamScalars<T> s) {
  const int64_t base = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 4;
#pragma unroll
  for (int u = 0; u < 4; ++u) {
    const int64_t i = base + u;
    if (i >= n) return;
    T g = s.maximize ? -gp[i] : gp[i];
    T p = pin[i];
    if (s.has_wd) {
      if (s.decoupled) p = p * s.decay;
      else g = p * s.l2 + g;
    }
    const T mm = mp[i] * s.b1 + g * s.one_m_b1;
    const T vv = vp[i] * s.b2 + (g * g) * s.one_m_b2;
    mp[i] = mm;
    vp[i] = vv;
    const T denom = m::sqrt(vv) / s.bc2_sqrt + s.eps;
    pout[i] = p + (mm / denom) * s.neg_step_size;
  }
}

}  // namespace

// attrs: AdamAttrs; in: p, g, m, v, lr (0-d f64 CPU), step (0-d i64 CPU)
void adam_step(const KernelCtx& c) {
  const auto& a = c.attrs.get<AdamAttrs>();
  const double lr = *c.in[4].data_ptr<double>(), t = static_cast<double>(*c.in[5].data_ptr<int64_t>());
  const int64_t n = c.out[0].numel();
  if (n == 0) return;
  const int dev = c.out[0].device().index;
  DeviceGuard guard(dev);
  const auto run = [&](auto tag) {
    using T = decltype(tag);
    const double beta1 = a.beta1, beta2 = a.beta2, wd = a.weight_decay;
    // Bias corrections in double from the closed form, as on the CPU (and in torch).
    const AdamScalars<T> s{T(beta1), T(1 - beta1), T(beta2), T(1 - beta2), T(a.eps), T(1 - lr * wd), T(wd),
                           T(-(lr / (1 - std::pow(beta1, t)))), T(std::sqrt(1 - std::pow(beta2, t))), a.decoupled,
                           a.maximize, wd != 0};
    launch(c.name, adam_kernel<T>, blocks_for((n + 3) / 4, 256), 256, 0, current_stream(dev),
           static_cast<const T*>(c.in[0].data()), static_cast<const T*>(c.in[1].data()),
           static_cast<T*>(const_cast<void*>(c.in[2].data())), static_cast<T*>(const_cast<void*>(c.in[3].data())),
           static_cast<T*>(c.out[0].data()), n, s);
  };
  switch (c.in[0].dtype()) {
    case DType::f32: return run(float{});
    case DType::f64: return run(double{});
    default: throw_no_dtype(c.name, c.in[0].dtype());
  }
}

}  // namespace ds::cuda
