#pragma once
// The dataset interface (torch.utils.data.Dataset, map-style): a size and an example per index. Every example of a
// dataset has the same shapes and dtypes (its SampleSpec), so a batch is a memcpy of examples into one
// preallocated tensor (see read_into and DataLoader).
#include <cstdint>
#include <span>
#include <vector>

#include <ds/ops/tensor.h>

namespace ds::data {

// One example: input (e.g. (C,H,W) f32) and target (e.g. () i64 class index).
struct Example {
  Tensor input;
  Tensor target;
};

// A batch of B examples: input (B, *input_shape), target (B, *target_shape), and the dataset indices they came from.
struct Batch {
  Tensor input;
  Tensor target;
  std::vector<int64_t> indices;
};

// Shapes and dtypes of one example (without the batch dim).
struct SampleSpec {
  Shape input_shape;
  DType input_dtype = kF32;
  Shape target_shape;
  DType target_dtype = kI64;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example `index` in [0, size()), as CPU tensors (may be views of the dataset's memory: do not modify them).
  // Must be safe to call from several threads at once.
  virtual Example get(int64_t index) const = 0;
  // The shapes and dtypes every example has. Default: those of get(0) (an error for an empty dataset).
  virtual SampleSpec spec() const;
  // Writes example `index` as contiguous bytes laid out as `spec` (which the caller took from spec() once): the
  // input to `input`, the target to `target`. Default: get(index), checked against spec, then copied. Datasets
  // override it to skip the temporary tensors. Must be safe to call from several threads at once.
  virtual void read_into(int64_t index, const SampleSpec& spec, void* input, void* target) const;
};

// Stacks examples (all of the same shapes and dtypes) into a batch: input (B, ...), target (B, ...).
Batch collate(std::span<const Example> examples);

// Throws "[component] index i out of range for a dataset of n examples" unless 0 <= index < size.
void check_index(int64_t index, int64_t size, const char* component);

}  // namespace ds::data
