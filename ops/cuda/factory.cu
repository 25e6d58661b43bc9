// CUDA kernels of the factories and of copy. Each computes what the CPU kernel computes (ops/cpu/factory.cpp):
// arange and linspace in double, random numbers from the same Philox counters, so rand/randn/randint give the same
// values on both devices for a seed (randn up to the last bits of the GPU's log, sqrt and sincos).
#include <ds/core/rng.h>

#include <ds/ops/rng_input.h>
#include "kernels.h"
#include "loops.cuh"

namespace ds::cuda {
namespace {

constexpr int kThreads = 256;

template <typename S>
struct FillOp {
  S v;
  __device__ __forceinline__ compute_t<S> operator()() const { return cvt<compute_t<S>>(v); }
};

struct Identity {
  template <typename C>
  __device__ __forceinline__ C operator()(C a) const { return a; }
};

// out: (n,) contiguous; out[i] = g(i)
template <typename S, typename G>
__global__ void generate_kernel(S* out, int64_t n, G g) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = cvt<S>(g(i));
}

template <typename S, typename G>
void generate(const KernelCtx& c, G g) {
  const Tensor& out = c.out[0];
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(out.device().index);
  launch(c.name, generate_kernel<S, G>, blocks_for(n, kThreads), kThreads, 0, current_stream(out.device().index),
         static_cast<S*>(out.data()), n, g);
}

template <typename C>
struct Arange {
  double start, step;
  __device__ C operator()(int64_t i) const { return static_cast<C>(start + static_cast<double>(i) * step); }
};

// Like torch, the second half counts back from the end so that both ends are exact.
template <typename C>
struct Linspace {
  double start, end, step;
  int64_t n;
  __device__ C operator()(int64_t i) const {
    const double v = (i < n / 2 || n == 1) ? start + step * static_cast<double>(i)
                                           : end - step * static_cast<double>(n - 1 - i);
    return static_cast<C>(v);
  }
};

template <typename C>
struct Eye {
  int64_t m;
  __device__ C operator()(int64_t i) const { return static_cast<C>(i / m == i % m ? 1 : 0); }
};

// Random values: thread t draws Philox counter offset + t and writes its `per` values (elements t*per ...).
enum class Dist { uniform_float, uniform_double, normal, integer };

template <typename S, Dist D>
__global__ void random_kernel(S* out, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range) {
  constexpr int per = (D == Dist::uniform_double || D == Dist::integer) ? 2 : 4;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t first = t * per;
  if (first >= n) return;
  const auto w = philox::draw(seed, offset + static_cast<uint64_t>(t));
  double v[4];
  if constexpr (D == Dist::uniform_float) {
    for (int j = 0; j < 4; ++j) v[j] = philox::to_unit_float(w[j]);
  } else if constexpr (D == Dist::uniform_double) {
    for (int j = 0; j < 2; ++j) v[j] = philox::to_unit_double(w[2 * j], w[2 * j + 1]);
  } else if constexpr (D == Dist::normal) {
    // Box-Muller over word pairs (0,1) and (2,3), as the CPU kernel.
    for (int p = 0; p < 4; p += 2) {
      const double u1 = (static_cast<double>(w[p]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
      const double u2 = static_cast<double>(w[p + 1]) * (1.0 / 4294967296.0);
      const double r = ::sqrt(-2.0 * ::log(u1));
      const double th = 6.283185307179586 * u2;
      v[p] = r * ::cos(th);
      v[p + 1] = r * ::sin(th);
    }
  }
  for (int j = 0; j < per && first + j < n; ++j) {
    if constexpr (D == Dist::integer) {
      const uint64_t x = (static_cast<uint64_t>(w[2 * j]) << 32) | w[2 * j + 1];
      out[first + j] = cvt<S>(static_cast<compute_t<S>>(low + static_cast<int64_t>(x % range)));
    } else if constexpr (D == Dist::uniform_float) {
      out[first + j] = cvt<S>(static_cast<float>(v[j]));
    } else {
      out[first + j] = cvt<S>(v[j]);
    }
  }
}

// Input 0 holds the Philox state (a CPU tensor, read here on the host).
template <typename S, Dist D>
void random(const KernelCtx& c, int64_t low = 0, uint64_t range = 1) {
  const Tensor& out = c.out[0];
  const int64_t n = out.numel();
  if (n == 0) return;
  constexpr int per = (D == Dist::uniform_double || D == Dist::integer) ? 2 : 4;
  const PhiloxState st = rng_input::read(c.in[0]);
  DeviceGuard guard(out.device().index);
  launch(c.name, random_kernel<S, D>, blocks_for((n + per - 1) / per, kThreads), kThreads, 0,
         current_stream(out.device().index), static_cast<S*>(out.data()), n, st.seed, st.offset, low, range);
}

}  // namespace

// out: any shape and strides (full is also fill_)
void full(const KernelCtx& c) {
  const Scalar& value = c.attrs.get<FullAttrs>().value;
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    const C v = value.is_floating() ? static_cast<C>(value.to_double()) : static_cast<C>(value.to_int());
    elementwise<S>(c, FillOp<S>{cvt<S>(v)});
  });
}

void arange(const KernelCtx& c) {
  const auto& a = c.attrs.get<ArangeAttrs>();
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    generate<S>(c, Arange<compute_t<S>>{a.start, a.step});
  });
}

void linspace(const KernelCtx& c) {
  const auto& a = c.attrs.get<LinspaceAttrs>();
  const double start = a.start, end = a.end;
  const int64_t n = a.steps;
  const double step = n > 1 ? (end - start) / static_cast<double>(n - 1) : 0.0;
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    generate<S>(c, Linspace<compute_t<S>>{start, end, step, n});
  });
}

void eye(const KernelCtx& c) {
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    generate<S>(c, Eye<compute_t<S>>{c.out[0].size(1)});
  });
}

void rand(const KernelCtx& c) {
  visit_float(c.out[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    if constexpr (std::is_same_v<S, double>) random<S, Dist::uniform_double>(c);
    else random<S, Dist::uniform_float>(c);
  });
}

void randn(const KernelCtx& c) {
  visit_float(c.out[0].dtype(), c.name, [&](auto tag) { random<decltype(tag), Dist::normal>(c); });
}

void randint(const KernelCtx& c) {
  const auto& a = c.attrs.get<RandintAttrs>();
  const int64_t low = a.low, high = a.high;
  visit_number(c.out[0].dtype(), c.name, [&](auto tag) {
    random<decltype(tag), Dist::integer>(c, low, static_cast<uint64_t>(high - low));
  });
}

// in: contiguous, on the CPU or any GPU -> out: contiguous on this GPU
void to_device(const KernelCtx& c) {
  copy_bytes(c.out[0].data(), c.out[0].device(), c.in[0].data(), c.in[0].device(), c.in[0].nbytes());
}

// out: any strides; in: any strides and dtype (or a CPU scalar), broadcast to out
void copy(const KernelCtx& c) {
  visit_all(c.out[0].dtype(), [&](auto otag) {
    using SO = decltype(otag);
    visit_all(c.in[0].dtype(), [&](auto itag) {
      using SI = decltype(itag);
      elementwise<SO, SI>(c, Identity{});
    });
  });
}

void copy_into(const Tensor& src, const Tensor& dst) {
  const Tensor in[1] = {src};
  Tensor outs[1] = {dst};
  const Attrs attrs = CopyAttrs{dst.dtype()};
  copy(KernelCtx{OpId::copy, "copy", in, outs, attrs});
}

Tensor contiguous_copy(const Tensor& t) {
  if (t.is_contiguous()) return t;
  const Tensor dst(empty_base(t.sizes(), t.dtype(), t.device()));
  copy_into(t, dst);
  return dst;
}

}  // namespace ds::cuda
