#include <ds/nn/loss.h>

namespace ds::nn {

std::string Loss::extra_repr() const {
  switch (reduction_) {
    case Reduction::None: return "reduction='none'";
    case Reduction::Sum: return "reduction='sum'";
    case Reduction::Mean: break;
  }
  return "";
}

Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return cross_entropy(input, target, reduction_, ignore_index_, smoothing_);
}
Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  return nll_loss(input, target, reduction_, ignore_index_);
}
Tensor MSELoss::forward(const Tensor& input, const Tensor& target) { return mse_loss(input, target, reduction_); }

BCEWithLogitsLoss::BCEWithLogitsLoss(Reduction r, Tensor pw) : Loss("BCEWithLogitsLoss", r), pos_weight(std::move(pw)) {
  register_buffer("pos_weight", pos_weight);
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return bce_with_logits(input, target, reduction_, pos_weight);
}

}  // namespace ds::nn
