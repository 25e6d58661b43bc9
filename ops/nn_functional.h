#pragma once
// The functional core of neural networks: softmax, dropout and the losses. All are composites over ds ops, so they
// run on every device and differentiate twice.
#include <optional>

#include <ds/core/rng.h>
#include <ds/ops/tensor.h>

namespace ds {

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
