#pragma once
// TensorDataset: examples are the rows (first dim) of an inputs tensor and a targets tensor, as
// torch.utils.data.TensorDataset(inputs, targets).
#include <ds/data/dataset.h>

namespace ds::data {

class TensorDataset : public Dataset {
 public:
  // inputs: (N, ...) any dtype; targets: (N, ...) any dtype (e.g. (N,) i64 class indices). Both on the CPU with the
  // same N; they are made contiguous once here.
  TensorDataset(Tensor inputs, Tensor targets);

  int64_t size() const override { return inputs_.size(0); }
  // Views of row `index` of inputs and targets (share the dataset's memory).
  Example get(int64_t index) const override;
  SampleSpec spec() const override { return spec_; }
  void read_into(int64_t index, const SampleSpec& spec, void* input, void* target) const override;

  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
  SampleSpec spec_;
  size_t input_row_bytes_ = 0, target_row_bytes_ = 0;
};

}  // namespace ds::data
