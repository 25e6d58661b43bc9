#pragma once
// Transforms of one example's input (torchvision.transforms on tensors). A transform reads a contiguous f32 example
// and writes its result into separate memory; random ones draw from the example's RandomStream, keyed by
// (seed, epoch, example index), so a loader gives the same augmentations with any number of workers and after a
// resume. The draws each transform makes are part of its contract (tests replay them).
#include <memory>
#include <vector>

#include <ds/data/random_stream.h>
#include <ds/ops/tensor.h>

namespace ds::data {

class Transform {
 public:
  virtual ~Transform() = default;
  // Shape of the output for an example of shape `in` (no batch dim); throws ds::Error for shapes it cannot take.
  virtual Shape output_shape(IntArrayRef in) const = 0;
  // in: contiguous f32 of shape in_shape; out: contiguous f32 of output_shape(in_shape), not overlapping in.
  virtual void apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const = 0;

  // One example as a tensor: x f32 of any layout -> a new contiguous f32 tensor of output_shape(x.sizes()).
  Tensor operator()(const Tensor& x, RandomStream& rng) const;
  // The same with the stream a DataLoader of this seed uses for example `index` in `epoch`.
  Tensor operator()(const Tensor& x, uint64_t seed, int64_t epoch, int64_t index) const;
};
using TransformPtr = std::shared_ptr<const Transform>;

// x: (C, ...) f32 -> (C, ...): (x - mean[c]) / std[c] per channel c. mean and std have C entries, or one entry for
// every channel. No draws.
class Normalize : public Transform {
 public:
  Normalize(std::vector<float> mean, std::vector<float> std);
  Shape output_shape(IntArrayRef in) const override;
  void apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const override;

 private:
  std::vector<float> mean_, inv_std_;
};

// x: (C,H,W) f32 -> (C,h,w): pads H and W by `padding` zeros on each side, then takes the h x w window whose top-left
// corner is (top, left) in the padded image. Draws top = rng.below(H + 2 padding - h + 1), then
// left = rng.below(W + 2 padding - w + 1). The padded image must be at least h x w.
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(int64_t size, int64_t padding = 0) : RandomCrop(size, size, padding) {}
  RandomCrop(int64_t height, int64_t width, int64_t padding);
  Shape output_shape(IntArrayRef in) const override;
  void apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const override;

 private:
  int64_t height_, width_, padding_;
};

// x: (C,H,W) f32 -> (C,H,W): mirrored along W with probability p. Draws u = rng.uniform(); flips when u < p.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Shape output_shape(IntArrayRef in) const override;
  void apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const override;

 private:
  float p_;
};

// Applies transforms in order, all drawing from the one stream of the example.
class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms);
  Shape output_shape(IntArrayRef in) const override;
  void apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const override;

 private:
  std::vector<TransformPtr> transforms_;
};

}  // namespace ds::data
