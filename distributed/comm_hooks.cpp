// Communication hooks: plain mean, 16-bit compression with an agreed scale, int8 reduce-scatter + all-gather with
// error feedback. The compressed ones run as one job on the communication thread (CPU tensors): the casts and
// (de)quantisation overlap backward like the communication itself.
#include "comm_hooks.h"

#include <cmath>
#include <mutex>
#include <vector>

#include <ds/core/detail/check.h>
#include <ds/core/half.h>

#include "detail/backend.h"

namespace ds::dist {
namespace {

// The bucket's values as float (f32 buckets in place; f64 buckets through a copy), written back by store().
struct FloatView {
  explicit FloatView(const Tensor& t) : t_(t), n_(t.numel()) {
    if (t.dtype() == kF32) {
      p_ = static_cast<float*>(t.data());
    } else {
      DS_CHECK(t.dtype() == kF64, "comm_hook", "compression needs f32 or f64 gradients, got {}", dtype_name(t.dtype()));
      copy_.resize(static_cast<size_t>(n_));
      const double* d = static_cast<const double*>(t.data());
      for (int64_t i = 0; i < n_; ++i) copy_[static_cast<size_t>(i)] = static_cast<float>(d[i]);
      p_ = copy_.data();
    }
  }
  float* data() { return p_; }
  int64_t size() const { return n_; }
  void store() {
    if (t_.dtype() != kF64) return;
    double* d = static_cast<double*>(t_.data());
    for (int64_t i = 0; i < n_; ++i) d[i] = p_[i];
  }

 private:
  Tensor t_;
  int64_t n_;
  float* p_ = nullptr;
  std::vector<float> copy_;
};

void check_bucket(const Tensor& grad, const std::string& hook) {
  DS_CHECK(grad.is_cpu(), "comm_hook", "{} compression runs on CPU tensors; this bucket is on {} (use the plain "
           "allreduce hook with NCCL)", hook, grad.device().str());
  DS_CHECK(grad.dtype() == kF32 || grad.dtype() == kF64, "comm_hook",
           "{} compression needs f32 or f64 gradients, got {}", hook, dtype_name(grad.dtype()));
}

// max |x|; infinity when any value is not finite (so that a max over ranks propagates it).
float abs_max(const float* x, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (!(a <= 3.4e38f)) return INFINITY;
    m = std::max(m, a);
  }
  return m;
}

class AllreduceHook final : public CommHook {
 public:
  std::string name() const override { return "allreduce"; }
  WorkPtr reduce(ProcessGroup& group, int, const Tensor& grad) override { return group.allreduce(grad, ReduceOp::kAvg); }
};

class HalfHook final : public CommHook {
 public:
  explicit HalfHook(DType dtype) : dtype_(dtype) {
    DS_CHECK(dtype == kF16 || dtype == kBF16, "comm_hook", "16-bit compression is f16 or bf16, not {}",
             dtype_name(dtype));
  }
  std::string name() const override { return dtype_ == kF16 ? "fp16" : "bf16"; }

  WorkPtr reduce(ProcessGroup& group, int, const Tensor& grad) override {
    check_bucket(grad, name());
    const DType dt = dtype_;
    return group.run_job(name() + "_compressed_allreduce", grad, [grad, dt](detail::Comm& comm) {
      FloatView g(grad);
      const int64_t n = g.size();
      const int ranks = comm.size();
      float m = abs_max(g.data(), n);
      comm.allreduce(&m, 1, kF32, ReduceOp::kMax);
      if (!std::isfinite(m)) {  // every rank sees the same m and skips the same way
        for (int64_t i = 0; i < n; ++i) g.data()[i] = NAN;
        g.store();
        return;
      }
      // The sum of `ranks` scaled values stays below `limit`: 2^15 for f16 (max 65504), 2^100 for bf16.
      const double limit = dt == kF16 ? 32768.0 : std::ldexp(1.0, 100);
      double scale = 1;
      if (m > 0) scale = std::ldexp(1.0, std::clamp(static_cast<int>(std::floor(std::log2(limit / (ranks * m)))),
                                                    -100, 100));
      std::vector<uint16_t> h(static_cast<size_t>(n));
      const float s = static_cast<float>(scale);
      for (int64_t i = 0; i < n; ++i)
        h[static_cast<size_t>(i)] = dt == kF16 ? ds::detail::float_to_half_bits(g.data()[i] * s)
                                               : ds::detail::float_to_bf16_bits(g.data()[i] * s);
      comm.allreduce(h.data(), n, dt, ReduceOp::kSum);
      const double inv = 1.0 / (scale * ranks);
      for (int64_t i = 0; i < n; ++i) {
        const float v = dt == kF16 ? ds::detail::half_bits_to_float(h[static_cast<size_t>(i)])
                                   : ds::detail::bf16_bits_to_float(h[static_cast<size_t>(i)]);
        g.data()[i] = static_cast<float>(v * inv);
      }
      g.store();
    });
  }

 private:
  DType dtype_;
};

// Quantises x (n values, n a multiple of chunk) to q with one scale per chunk, max |x| / 127; residual (when given)
// receives x - dequantised. A chunk holding a non-finite value gets a NaN scale (it dequantises to NaN) and a zero
// residual, so that a bad step does not poison the next ones.
void quantize(const float* x, int8_t* q, float* scales, float* residual, int64_t n, int64_t chunk) {
  for (int64_t c = 0; c * chunk < n; ++c) {
    const float* xc = x + c * chunk;
    const float m = abs_max(xc, chunk);
    const float s = std::isfinite(m) ? m / 127.0f : NAN;
    scales[c] = s;
    for (int64_t i = 0; i < chunk; ++i) {
      int8_t v = 0;
      if (s > 0) v = static_cast<int8_t>(std::clamp(std::nearbyint(xc[i] / s), -127.0f, 127.0f));
      q[c * chunk + i] = v;
      if (residual) residual[c * chunk + i] = std::isfinite(s) ? xc[i] - static_cast<float>(v) * s : 0.0f;
    }
  }
}

class Int8Hook final : public CommHook {
 public:
  explicit Int8Hook(int64_t chunk) : chunk_(chunk) {
    DS_CHECK(chunk >= 8 && chunk <= (1 << 16), "comm_hook", "int8 chunk {} is outside [8, 65536]", chunk);
  }
  std::string name() const override { return "int8"; }

  WorkPtr reduce(ProcessGroup& group, int bucket, const Tensor& grad) override {
    check_bucket(grad, name());
    const int64_t n = grad.numel(), ranks = group.size(), chunk = chunk_;
    // Blocks of B values per rank, B a multiple of the chunk; the padding is zeros.
    const int64_t block = (n + ranks * chunk - 1) / (ranks * chunk) * chunk;
    State& st = state(bucket, block * ranks, block);
    return group.run_job("int8_compressed_allreduce", grad, [grad, &st, n, ranks, chunk, block](detail::Comm& comm) {
      FloatView g(grad);
      const int64_t padded = block * ranks, nchunks = padded / chunk, bchunks = block / chunk;
      std::vector<float> e(static_cast<size_t>(padded), 0.0f);
      for (int64_t i = 0; i < n; ++i) e[static_cast<size_t>(i)] = g.data()[i] + st.residual[static_cast<size_t>(i)];
      std::vector<int8_t> q(static_cast<size_t>(padded)), rq(static_cast<size_t>(padded));
      std::vector<float> s(static_cast<size_t>(nchunks)), rs(static_cast<size_t>(nchunks));
      quantize(e.data(), q.data(), s.data(), st.residual.data(), padded, chunk);
      // Reduce-scatter: block j of every rank to rank j, then dequantise and average here.
      comm.all_to_all(q.data(), rq.data(), block, kI8);
      comm.all_to_all(s.data(), rs.data(), bchunks, kF32);
      std::vector<float> avg(static_cast<size_t>(block), 0.0f);
      for (int64_t r = 0; r < ranks; ++r)
        for (int64_t i = 0; i < block; ++i)
          avg[static_cast<size_t>(i)] += static_cast<float>(rq[static_cast<size_t>(r * block + i)]) *
                                         rs[static_cast<size_t>(r * bchunks + i / chunk)];
      for (int64_t i = 0; i < block; ++i)
        avg[static_cast<size_t>(i)] = avg[static_cast<size_t>(i)] / static_cast<float>(ranks) +
                                      st.block_residual[static_cast<size_t>(i)];
      std::vector<int8_t> q2(static_cast<size_t>(block));
      std::vector<float> s2(static_cast<size_t>(bchunks));
      quantize(avg.data(), q2.data(), s2.data(), st.block_residual.data(), block, chunk);
      // All-gather the averaged blocks.
      comm.allgather_v(q2.data(), rq.data(), std::vector<int64_t>(static_cast<size_t>(ranks), block), kI8);
      comm.allgather_v(s2.data(), rs.data(), std::vector<int64_t>(static_cast<size_t>(ranks), bchunks), kF32);
      for (int64_t i = 0; i < n; ++i)
        g.data()[i] = static_cast<float>(rq[static_cast<size_t>(i)]) * rs[static_cast<size_t>(i / chunk)];
      g.store();
    });
  }

 private:
  // Error feedback of one bucket: the residual of this rank's whole gradient and of the block it averages.
  struct State {
    std::vector<float> residual, block_residual;
  };
  State& state(int bucket, int64_t padded, int64_t block) {
    std::lock_guard lock(mu_);
    State& st = states_[bucket];
    if (static_cast<int64_t>(st.residual.size()) != padded) st.residual.assign(static_cast<size_t>(padded), 0.0f);
    if (static_cast<int64_t>(st.block_residual.size()) != block)
      st.block_residual.assign(static_cast<size_t>(block), 0.0f);
    return st;
  }

  int64_t chunk_;
  std::mutex mu_;
  std::map<int, State> states_;  // std::map: references stay valid as buckets are added
};

}  // namespace

std::shared_ptr<CommHook> allreduce_hook() { return std::make_shared<AllreduceHook>(); }
std::shared_ptr<CommHook> half_compression_hook(DType dtype) { return std::make_shared<HalfHook>(dtype); }
std::shared_ptr<CommHook> int8_compression_hook(int64_t chunk) { return std::make_shared<Int8Hook>(chunk); }

std::shared_ptr<CommHook> comm_hook_by_name(const std::string& name) {
  if (name == "none" || name == "allreduce") return allreduce_hook();
  if (name == "fp16" || name == "fp16_quantize") return half_compression_hook(kF16);
  if (name == "bf16") return half_compression_hook(kBF16);
  if (name == "int8") return int8_compression_hook();
  DS_FAIL("comm_hook", "unknown compression '{}' (known: none, fp16 (or fp16_quantize), bf16, int8)", name);
}

}  // namespace ds::dist
