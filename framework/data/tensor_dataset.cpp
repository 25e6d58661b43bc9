#include <ds/data/tensor_dataset.h>

#include <cstring>

#include <ds/core/detail/check.h>

namespace ds::data {

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) {
  DS_CHECK(inputs.defined() && targets.defined(), "tensor_dataset", "inputs and targets must be defined");
  DS_CHECK(inputs.dim() >= 1 && targets.dim() >= 1, "tensor_dataset",
           "inputs {} and targets {} need a first (example) dim", inputs.sizes(), targets.sizes());
  DS_CHECK(inputs.size(0) == targets.size(0), "tensor_dataset", "inputs {} and targets {} differ in their first dim",
           inputs.sizes(), targets.sizes());
  DS_CHECK(inputs.is_cpu() && targets.is_cpu(), "tensor_dataset", "inputs and targets must be CPU tensors");
  // Detached: a dataset is data, never part of an autograd graph.
  inputs_ = inputs.detach().contiguous();
  targets_ = targets.detach().contiguous();
  spec_ = {Shape(inputs_.sizes().begin() + 1, inputs_.sizes().end()), inputs_.dtype(),
           Shape(targets_.sizes().begin() + 1, targets_.sizes().end()), targets_.dtype()};
  const int64_t n = inputs_.size(0);
  input_row_bytes_ = n == 0 ? 0 : inputs_.nbytes() / static_cast<size_t>(n);
  target_row_bytes_ = n == 0 ? 0 : targets_.nbytes() / static_cast<size_t>(n);
}

Example TensorDataset::get(int64_t index) const {
  check_index(index, size(), "tensor_dataset");
  return {inputs_.select(0, index), targets_.select(0, index)};
}

void TensorDataset::read_into(int64_t index, const SampleSpec&, void* input, void* target) const {
  check_index(index, size(), "tensor_dataset");
  const auto i = static_cast<size_t>(index);
  std::memcpy(input, static_cast<const std::byte*>(inputs_.data()) + i * input_row_bytes_, input_row_bytes_);
  std::memcpy(target, static_cast<const std::byte*>(targets_.data()) + i * target_row_bytes_, target_row_bytes_);
}

}  // namespace ds::data
