#include <ds/models/nlp/generate.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <ds/core/detail/check.h>
#include <ds/core/grad_mode.h>
#include <ds/ops/factory.h>
#include <ds/ops/shape_ops.h>

namespace ds::models {

int64_t sample_token(const Tensor& logits, const SamplingOptions& o, Generator& gen) {
  DS_CHECK(logits.dim() == 1 && logits.numel() > 0 && is_floating(logits.dtype()), "sample_token",
           "expects logits (V) of a floating dtype, got {} {}", shape_str(logits.sizes()), dtype_name(logits.dtype()));
  DS_CHECK(o.temperature >= 0 && o.top_k >= 0 && o.top_p > 0 && o.top_p <= 1, "sample_token",
           "temperature {} and top_k {} must be >= 0 and top_p {} in (0, 1]", o.temperature, o.top_k, o.top_p);
  const std::vector<double> z = logits.to(kF64).contiguous().tolist<double>();
  std::vector<int64_t> order(z.size());
  std::iota(order.begin(), order.end(), 0);
  // Most likely first; NaN logits sort last and are never drawn.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const double x = z[static_cast<size_t>(a)], y = z[static_cast<size_t>(b)];
    return std::isnan(y) ? !std::isnan(x) : x > y;
  });
  if (o.temperature == 0) return order.front();
  size_t keep = order.size();
  if (o.top_k > 0) keep = std::min(keep, static_cast<size_t>(o.top_k));
  const double top = z[static_cast<size_t>(order[0])];
  std::vector<double> p(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) {
    const double zi = z[static_cast<size_t>(order[i])];
    p[i] = std::isnan(zi) ? 0 : std::exp((zi - top) / o.temperature);
    total += p[i];
  }
  if (o.top_p < 1) {  // the smallest prefix whose probability reaches top_p (at least one token)
    double cum = 0;
    size_t n = 0;
    while (n < keep && cum < o.top_p * total) cum += p[n++];
    keep = std::max<size_t>(n, 1);
    total = std::accumulate(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
  }
  DS_CHECK(total > 0 && std::isfinite(total), "sample_token", "the logits hold no finite value to sample from");
  const double u = rand({1}, {.dtype = kF64}, &gen).item<double>() * total;
  double cum = 0;
  for (size_t i = 0; i < keep; ++i)
    if ((cum += p[i]) > u) return order[i];
  return order[keep - 1];
}

std::vector<int64_t> generate(GPT& model, std::vector<int64_t> prompt, int64_t max_new_tokens,
                              const SamplingOptions& o, Generator& gen, const std::function<void(int64_t)>& on_token) {
  DS_CHECK(!prompt.empty(), "generate", "needs a prompt of at least one token");
  DS_CHECK(max_new_tokens >= 0, "generate", "max_new_tokens must be >= 0, got {}", max_new_tokens);
  const int64_t V = model.config().vocab_size, ctx = model.config().block_size;
  for (int64_t t : prompt) DS_CHECK(t >= 0 && t < V, "generate", "prompt token {} is outside the vocabulary [0, {})", t, V);
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(prompt.size()), ctx);
    const std::vector<int64_t> window(prompt.end() - n, prompt.end());
    const Tensor idx = from_vector(window, {1, n}, {.dtype = kI64});
    const Tensor logits = model.forward(idx).select(0, 0).select(0, n - 1);
    const int64_t next = sample_token(logits, o, gen);
    prompt.push_back(next);
    if (on_token) on_token(next);
  }
  model.train(was_training);
  return prompt;
}

}  // namespace ds::models
