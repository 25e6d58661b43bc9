#pragma once
// The functional core of neural networks: convolutions, pooling, normalisation, resizing, softmax, dropout and
// the losses. conv2d (and its two backward halves) and max_pool2d are primitives; the rest are composites over ds
// ops, so they run on every device and differentiate twice.
#include <optional>
#include <vector>

#include <ds/core/rng.h>
#include <ds/ops/tensor.h>

namespace ds {

// ---- attention
struct AttentionOptions {
  Tensor attn_mask;             // broadcasts to (..., L, S): bool (true = may attend, as in torch) or float (added
                                // to the scores); no gradient flows into it
  double dropout_p = 0.0;       // on the attention weights, applied whenever > 0 (pass 0 in eval mode, as in torch)
  bool is_causal = false;       // query i attends to keys j <= i (top-left aligned); excludes attn_mask
  std::optional<double> scale;  // default 1 / sqrt(E)
  Generator* generator = nullptr;
};
// softmax(q k^T * scale + mask) v, with dropout on the weights. q: (B, H, L, E) or (N, L, E), k: (..., S, E),
// v: (..., S, Ev) -> (..., L, Ev). Never forms the (L, S) score matrix: memory is a block per thread, and the
// backward recomputes the weights from the saved logsumexp (FlashAttention-2's scheme). A query row with no key to
// attend to gives zeros.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o = {});
namespace detail {
// The same without dropout as plain ds ops (softmax of the full score matrix): the tests' reference, and twice
// differentiable.
Tensor scaled_dot_product_attention_math(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o = {});
// layer_norm in ds ops (mean, centring, rsqrt of the variance): the fused primitive's reference in the tests.
Tensor layer_norm_math(const Tensor& x, IntArrayRef normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                       double eps = 1e-5);
// The fused primitive behind cross_entropy with class indices: {loss per row (0 where ignored), logsumexp per row}
// of logits (N, C) f32/f64 against target (N).
std::vector<Tensor> softmax_cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                          double label_smoothing);
}  // namespace detail

// ---- convolution. Spatial options take one value for both dims or (h, w).
struct ConvOptions {
  Shape stride{1};
  Shape padding{0};
  Shape dilation{1};
  int64_t groups = 1;
};
// x: (N, C, H, W) or (C, H, W), weight: (O, C/groups, kh, kw), bias: (O) or undefined -> (N, O, Ho, Wo),
// Ho = (H + 2 padding - dilation (kh - 1) - 1) / stride + 1.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const ConvOptions& options = {});
// x: (N, C, L) or (C, L), weight: (O, C/groups, k) -> (N, O, Lo); options take one value each.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const ConvOptions& options = {});
struct ConvTransposeOptions {
  Shape stride{1};
  Shape padding{0};
  Shape output_padding{0};
  Shape dilation{1};
  int64_t groups = 1;
};
// x: (N, C_in, H, W), weight: (C_in, C_out/groups, kh, kw) -> (N, C_out, Ho, Wo),
// Ho = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1. The adjoint of conv2d.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        const ConvTransposeOptions& options = {});

// ---- pooling over (N, C, H, W) or (C, H, W).
struct PoolOptions {
  Shape stride{};   // empty: the kernel size
  Shape padding{0};
  Shape dilation{1};  // max_pool2d only
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg_pool2d only
  std::optional<int64_t> divisor_override{};  // avg_pool2d only
};
struct MaxPoolResult {
  Tensor values;
  Tensor indices;  // int64, flat index into each H*W plane
};
MaxPoolResult max_pool2d_with_indices(const Tensor& x, IntArrayRef kernel_size, const PoolOptions& options = {});
Tensor max_pool2d(const Tensor& x, IntArrayRef kernel_size, const PoolOptions& options = {});
Tensor avg_pool2d(const Tensor& x, IntArrayRef kernel_size, const PoolOptions& options = {});
// Averages over windows [floor(i H / out), ceil((i + 1) H / out)), torch's adaptive windows.
Tensor adaptive_avg_pool2d(const Tensor& x, IntArrayRef output_size);

// ---- normalisation. Undefined weight/bias mean no affine part.
// x: (N, C, ...). training: normalise with the batch statistics and update running_mean / running_var in place
// (momentum, unbiased variance), when given; eval: normalise with them.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, bool training = true, double momentum = 0.1, double eps = 1e-5);
// Normalises over the trailing dims `normalized_shape`; weight and bias have that shape.
Tensor layer_norm(const Tensor& x, IntArrayRef normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// x: (N, C, ...), statistics over groups of C / num_groups channels; weight, bias: (C).
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

// ---- resizing of (N, C, H, W) images, as torch.nn.functional.interpolate.
enum class InterpolateMode { Nearest, Bilinear };
struct InterpolateOptions {
  Shape size{};                       // (h, w) or one value; or
  std::vector<double> scale_factor{};  // one value or (h, w): output = floor(input * scale)
  InterpolateMode mode = InterpolateMode::Nearest;
  bool align_corners = false;  // bilinear only
};
Tensor interpolate(const Tensor& x, const InterpolateOptions& options);

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Zeroes elements with probability p and scales the rest by 1 / (1 - p) when training; the identity otherwise.
Tensor dropout(const Tensor& x, double p, bool training = true, Generator* gen = nullptr);

enum class Reduction { None, Mean, Sum };

// Cross-entropy of logits (N, C) or (N, C, d1, ...) against class indices (N) / (N, d1, ...) (int64), with
// ignore_index (excluded from the mean) and label smoothing; or against class probabilities of the logits' shape.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean,
                     int64_t ignore_index = -100, double label_smoothing = 0.0);
// Negative log-likelihood of log-probabilities (N, C, ...) at class indices (N, ...).
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean,
                int64_t ignore_index = -100);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// Binary cross-entropy on logits, computed stably; pos_weight (broadcast over the last dim) weighs positives.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean,
                       const Tensor& pos_weight = Tensor());

}  // namespace ds
