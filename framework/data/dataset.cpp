#include <ds/data/dataset.h>

#include <cstring>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

namespace ds::data {

void check_index(int64_t index, int64_t size, const char* component) {
  DS_CHECK(index >= 0 && index < size, component, "index {} out of range for a dataset of {} examples", index, size);
}

SampleSpec Dataset::spec() const {
  DS_CHECK(size() > 0, "dataset", "an empty dataset has no example to take the sample shapes from");
  const Example e = get(0);
  DS_CHECK(e.input.defined() && e.target.defined(), "dataset", "example 0 has an undefined input or target");
  return {e.input.sizes(), e.input.dtype(), e.target.sizes(), e.target.dtype()};
}

namespace {
// Copies a CPU tensor of the expected shape and dtype into dst as contiguous bytes.
void copy_checked(const Tensor& t, const Shape& shape, DType dtype, void* dst, int64_t index, const char* what) {
  DS_CHECK(t.defined() && t.is_cpu(), "dataset", "example {}: the {} is undefined or not on the CPU", index, what);
  DS_CHECK(t.sizes() == shape && t.dtype() == dtype, "dataset",
           "example {}: {} of shape {} {} differs from the dataset's {} {} (every example must have the same shapes "
           "and dtypes)",
           index, what, t.sizes(), dtype_name(t.dtype()), shape, dtype_name(dtype));
  const Tensor c = t.contiguous();
  std::memcpy(dst, c.data(), c.nbytes());
}
}  // namespace

void Dataset::read_into(int64_t index, const SampleSpec& s, void* input, void* target) const {
  const Example e = get(index);
  copy_checked(e.input, s.input_shape, s.input_dtype, input, index, "input");
  copy_checked(e.target, s.target_shape, s.target_dtype, target, index, "target");
}

Batch collate(std::span<const Example> examples) {
  DS_CHECK(!examples.empty(), "collate", "no examples to stack");
  const Example& first = examples[0];
  Shape in_shape{static_cast<int64_t>(examples.size())}, tgt_shape{static_cast<int64_t>(examples.size())};
  for (int64_t d : first.input.sizes()) in_shape.push_back(d);
  for (int64_t d : first.target.sizes()) tgt_shape.push_back(d);
  Batch b{empty(in_shape, {.dtype = first.input.dtype()}), empty(tgt_shape, {.dtype = first.target.dtype()}), {}};
  auto* in = static_cast<std::byte*>(b.input.data());
  auto* tgt = static_cast<std::byte*>(b.target.data());
  const size_t in_bytes = first.input.nbytes(), tgt_bytes = first.target.nbytes();
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto idx = static_cast<int64_t>(i);
    copy_checked(examples[i].input, first.input.sizes(), first.input.dtype(), in + i * in_bytes, idx, "input");
    copy_checked(examples[i].target, first.target.sizes(), first.target.dtype(), tgt + i * tgt_bytes, idx, "target");
  }
  return b;
}

}  // namespace ds::data
