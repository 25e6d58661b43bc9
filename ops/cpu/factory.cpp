// CPU kernels of the factories and of copy.
#include <cmath>

#include <ds/core/rng.h>

#include <ds/ops/rng_input.h>
#include "kernels.h"
#include "loops.h"

namespace ds::cpu {

// out: any shape, any strides (full is also fill_)
void full(const KernelCtx& c) {
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    using C = compute_t<S>;
    const Scalar& value = c.attrs.get<FullAttrs>().value;
    const C v = value.is_floating() ? static_cast<C>(value.to_double()) : static_cast<C>(value.to_int());
    map_elementwise<S, S, 0>(c, [v](int64_t n, C* o) { std::fill(o, o + n, v); });
  });
}

// out: (n,) contiguous; value i is start + i * step computed in double, then converted
void arange(const KernelCtx& c) {
  const auto& a = c.attrs.get<ArangeAttrs>();
  const double start = a.start, step = a.step;
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    S* o = static_cast<S*>(c.out[0].data());
    const int64_t n = c.out[0].numel();
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<S>(static_cast<compute_t<S>>(start + static_cast<double>(i) * step));
  });
}

// out: (steps,); like torch, the second half is computed from the end so both ends are exact
void linspace(const KernelCtx& c) {
  const auto& a = c.attrs.get<LinspaceAttrs>();
  const double start = a.start, end = a.end;
  const int64_t n = a.steps;
  const double step = n > 1 ? (end - start) / static_cast<double>(n - 1) : 0.0;
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    S* o = static_cast<S*>(c.out[0].data());
    for (int64_t i = 0; i < n; ++i) {
      const double v = (i < n / 2 || n == 1) ? start + step * static_cast<double>(i)
                                             : end - step * static_cast<double>(n - 1 - i);
      o[i] = static_cast<S>(static_cast<compute_t<S>>(v));
    }
  });
}

// out: (n, m)
void eye(const KernelCtx& c) {
  const int64_t n = c.out[0].size(0), m = c.out[0].size(1);
  visit_all(c.out[0].dtype(), [&](auto tag) {
    using S = decltype(tag);
    S* o = static_cast<S*>(c.out[0].data());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) o[i * m + j] = static_cast<S>(static_cast<compute_t<S>>(i == j ? 1 : 0));
  });
}

namespace {
// Element i of a random tensor uses Philox counter offset + i / k, word i % k: k = 4 values per counter, or 2 for
// f64 uniforms and integers (two 32-bit words each). The front function reserves counters with the same k; input 0
// holds their Philox state.
template <typename S, typename G>
void fill_random(const KernelCtx& c, int per_counter, G&& gen) {
  const PhiloxState st = rng_input::read(c.in[0]);
  const uint64_t seed = st.seed, offset = st.offset;
  S* o = static_cast<S*>(c.out[0].data());
  parallel_for(c.out[0].numel(), 16384, [&](int64_t b, int64_t e) {
    int64_t i = b;
    while (i < e) {
      const uint64_t ctr = static_cast<uint64_t>(i / per_counter);
      const auto w = philox::draw(seed, offset + ctr);
      for (int64_t j = i % per_counter; j < per_counter && i < e; ++j, ++i) o[i] = static_cast<S>(gen(w, static_cast<int>(j)));
    }
  });
}
}  // namespace

void rand(const KernelCtx& c) {
  visit_float(c.out[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    if constexpr (std::is_same_v<S, double>) {
      fill_random<S>(c, 2, [](const std::array<uint32_t, 4>& w, int j) {
        return philox::to_unit_double(w[2 * j], w[2 * j + 1]);
      });
    } else {
      fill_random<S>(c, 4, [](const std::array<uint32_t, 4>& w, int j) { return philox::to_unit_float(w[j]); });
    }
  });
}

// Box-Muller over word pairs (0,1) and (2,3): element j of a counter takes the cos or sin branch of its pair. Both
// branches of a pair come from one log, sqrt and sincos (the per-element form cost 60 ns a value, which made a
// GPT-2's initialisation take seconds).
void randn(const KernelCtx& c) {
  visit_float(c.out[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    const PhiloxState st = rng_input::read(c.in[0]);
    const uint64_t seed = st.seed, offset = st.offset;
    S* o = static_cast<S*>(c.out[0].data());
    parallel_for(c.out[0].numel(), 16384, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e;) {
        const auto w = philox::draw(seed, offset + static_cast<uint64_t>(i / 4));
        double v[4];
        for (int p = 0; p < 4; p += 2) {
          const double u1 = (static_cast<double>(w[p]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
          const double u2 = static_cast<double>(w[p + 1]) * (1.0 / 4294967296.0);
          const double r = std::sqrt(-2.0 * std::log(u1));
          const double th = 6.283185307179586 * u2;
          v[p] = r * std::cos(th);
          v[p + 1] = r * std::sin(th);
        }
        for (int64_t j = i % 4; j < 4 && i < e; ++j, ++i) o[i] = static_cast<S>(v[j]);
      }
    });
  });
}

// Two words per element give 64 random bits; the modulo bias is below 2^-32 for any range ds allows.
void randint(const KernelCtx& c) {
  const auto& a = c.attrs.get<RandintAttrs>();
  const int64_t low = a.low, high = a.high;
  const auto range = static_cast<uint64_t>(high - low);
  visit_number(c.out[0].dtype(), c.name, [&](auto tag) {
    using S = decltype(tag);
    fill_random<S>(c, 2, [=](const std::array<uint32_t, 4>& w, int j) {
      const uint64_t x = (static_cast<uint64_t>(w[2 * j]) << 32) | w[2 * j + 1];
      return static_cast<compute_t<S>>(low + static_cast<int64_t>(x % range));
    });
  });
}

// in: contiguous, on any device -> out: contiguous on the CPU
void to_device(const KernelCtx& c) {
  copy_bytes(c.out[0].data(), c.out[0].device(), c.in[0].data(), c.in[0].device(), c.in[0].nbytes());
}

// out: any strides; in: any strides and dtype, broadcast to out
void copy(const KernelCtx& c) {
  const DType src = c.in[0].dtype(), dst = c.out[0].dtype();
  visit_all(dst, [&](auto otag) {
    using SO = decltype(otag);
    visit_all(src, [&](auto itag) {
      using SI = decltype(itag);
      using OC = compute_t<SO>;
      using IC = compute_t<SI>;
      map_elementwise<SO, SI, 1>(c, [](int64_t n, OC* o, const IC* a) {
        if constexpr (std::is_same_v<OC, bool>) {
          for (int64_t i = 0; i < n; ++i) o[i] = a[i] != IC(0);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i] = static_cast<OC>(a[i]);
        }
      });
    });
  });
}

}  // namespace ds::cpu
