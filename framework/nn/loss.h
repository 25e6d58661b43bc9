#pragma once
// Losses as modules over the functional losses of ops/nn_functional.h: forward(input, target).
#include <ds/nn/module.h>
#include <ds/ops/nn_functional.h>

namespace ds::nn {

class Loss : public Module {
 public:
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  using Module::forward;

 protected:
  Loss(std::string type, Reduction r) : Module(std::move(type)), reduction_(r) {}
  std::string extra_repr() const override;
  Reduction reduction_;
};

// logits (N, C, ...) against class indices (N, ...) or class probabilities (N, C, ...).
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(Reduction r = Reduction::Mean, int64_t ignore_index = -100, double label_smoothing = 0)
      : Loss("CrossEntropyLoss", r), ignore_index_(ignore_index), smoothing_(label_smoothing) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;

 private:
  int64_t ignore_index_;
  double smoothing_;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(Reduction r = Reduction::Mean, int64_t ignore_index = -100) : Loss("NLLLoss", r), ignore_index_(ignore_index) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;

 private:
  int64_t ignore_index_;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction r = Reduction::Mean) : Loss("MSELoss", r) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Reduction r = Reduction::Mean, Tensor pos_weight = {});
  Tensor forward(const Tensor& input, const Tensor& target) override;
  Tensor pos_weight;
};

}  // namespace ds::nn
