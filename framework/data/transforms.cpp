#include <ds/data/transforms.h>

#include <algorithm>
#include <cstring>

#include <ds/core/detail/check.h>
#include <ds/ops/factory.h>

namespace ds::data {

Tensor Transform::operator()(const Tensor& x, RandomStream& rng) const {
  DS_CHECK(x.defined() && x.is_cpu() && x.dtype() == kF32, "transform", "needs a CPU f32 tensor, got {} {}",
           x.defined() ? dtype_name(x.dtype()) : "undefined", x.defined() ? x.sizes() : Shape{});
  const Tensor in = x.contiguous();
  Tensor out = empty(output_shape(in.sizes()));
  apply(in.data_ptr<float>(), in.sizes(), out.data_ptr<float>(), rng);
  return out;
}

Tensor Transform::operator()(const Tensor& x, uint64_t seed, int64_t epoch, int64_t index) const {
  RandomStream rng = RandomStream::for_sample(seed, epoch, index);
  return (*this)(x, rng);
}

namespace {
// (C,H,W) of an image-like example; names the transform in the error.
struct Chw {
  int64_t c, h, w;
};
Chw image_dims(IntArrayRef in, const char* component) {
  DS_CHECK(in.size() == 3, component, "needs an example of shape (C,H,W), got {}", in);
  return {in[0], in[1], in[2]};
}
}  // namespace

// ---- Normalize

Normalize::Normalize(std::vector<float> mean, std::vector<float> std) : mean_(std::move(mean)) {
  DS_CHECK(!mean_.empty() && mean_.size() == std.size(), "normalize",
           "mean ({} values) and std ({} values) must be non-empty and of the same length", mean_.size(), std.size());
  for (float s : std) {
    DS_CHECK(s > 0, "normalize", "std values must be positive, got {}", s);
    inv_std_.push_back(1.0f / s);
  }
}

Shape Normalize::output_shape(IntArrayRef in) const {
  DS_CHECK(!in.empty(), "normalize", "needs an example of shape (C, ...), got a scalar");
  DS_CHECK(mean_.size() == 1 || static_cast<int64_t>(mean_.size()) == in[0], "normalize",
           "{} channel means for an example of shape {} ({} channels)", mean_.size(), in, in[0]);
  return in.vec();
}

void Normalize::apply(const float* in, IntArrayRef in_shape, float* out, RandomStream&) const {
  const int64_t channels = in_shape[0], inner = numel_of(in_shape) / std::max<int64_t>(channels, 1);
  for (int64_t c = 0; c < channels; ++c) {
    const size_t k = mean_.size() == 1 ? 0 : static_cast<size_t>(c);
    const float m = mean_[k], s = inv_std_[k];
    const float* src = in + c * inner;
    float* dst = out + c * inner;
    for (int64_t i = 0; i < inner; ++i) dst[i] = (src[i] - m) * s;
  }
}

// ---- RandomCrop

RandomCrop::RandomCrop(int64_t height, int64_t width, int64_t padding)
    : height_(height), width_(width), padding_(padding) {
  DS_CHECK(height >= 1 && width >= 1 && padding >= 0, "random_crop",
           "needs a size >= 1 and padding >= 0, got {}x{} with padding {}", height, width, padding);
}

Shape RandomCrop::output_shape(IntArrayRef in) const {
  const Chw d = image_dims(in, "random_crop");
  DS_CHECK(d.h + 2 * padding_ >= height_ && d.w + 2 * padding_ >= width_, "random_crop",
           "a {}x{} crop does not fit in an example of shape {} padded by {}", height_, width_, in, padding_);
  return {d.c, height_, width_};
}

void RandomCrop::apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const {
  const Chw d = image_dims(in_shape, "random_crop");
  const int64_t p = padding_, h = height_, w = width_;
  const int64_t top = rng.below(d.h + 2 * p - h + 1), left = rng.below(d.w + 2 * p - w + 1);
  // Output column x reads input column left + x - p; the columns in [x0, x1) fall inside the input.
  const int64_t x0 = std::clamp<int64_t>(p - left, 0, w), x1 = std::clamp<int64_t>(d.w + p - left, x0, w);
  for (int64_t c = 0; c < d.c; ++c) {
    for (int64_t y = 0; y < h; ++y) {
      float* dst = out + (c * h + y) * w;
      const int64_t sy = top + y - p;
      if (sy < 0 || sy >= d.h) {
        std::fill(dst, dst + w, 0.0f);
        continue;
      }
      const float* src = in + (c * d.h + sy) * d.w + (left - p + x0);
      std::fill(dst, dst + x0, 0.0f);
      std::memcpy(dst + x0, src, static_cast<size_t>(x1 - x0) * sizeof(float));
      std::fill(dst + x1, dst + w, 0.0f);
    }
  }
}

// ---- RandomHorizontalFlip

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(static_cast<float>(p)) {
  DS_CHECK(p >= 0 && p <= 1, "random_horizontal_flip", "p must be in [0, 1], got {}", p);
}

Shape RandomHorizontalFlip::output_shape(IntArrayRef in) const {
  image_dims(in, "random_horizontal_flip");
  return in.vec();
}

void RandomHorizontalFlip::apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const {
  const Chw d = image_dims(in_shape, "random_horizontal_flip");
  const bool flip = rng.uniform() < p_;
  const int64_t rows = d.c * d.h;
  if (!flip) {
    std::memcpy(out, in, static_cast<size_t>(rows * d.w) * sizeof(float));
    return;
  }
  for (int64_t r = 0; r < rows; ++r)
    std::reverse_copy(in + r * d.w, in + (r + 1) * d.w, out + r * d.w);
}

// ---- Compose

Compose::Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (const TransformPtr& t : transforms_) DS_CHECK(t != nullptr, "compose", "a transform in the list is null");
}

Shape Compose::output_shape(IntArrayRef in) const {
  Shape s = in.vec();
  for (const TransformPtr& t : transforms_) s = t->output_shape(s);
  return s;
}

void Compose::apply(const float* in, IntArrayRef in_shape, float* out, RandomStream& rng) const {
  if (transforms_.empty()) {
    std::memcpy(out, in, static_cast<size_t>(numel_of(in_shape)) * sizeof(float));
    return;
  }
  // Intermediate results alternate between two buffers; the last transform writes to out.
  std::vector<float> buffers[2];
  const float* cur = in;
  Shape shape = in_shape.vec();
  for (size_t i = 0; i + 1 < transforms_.size(); ++i) {
    Shape next = transforms_[i]->output_shape(shape);
    std::vector<float>& buf = buffers[i % 2];
    buf.resize(static_cast<size_t>(numel_of(next)));
    transforms_[i]->apply(cur, shape, buf.data(), rng);
    cur = buf.data();
    shape = std::move(next);
  }
  transforms_.back()->apply(cur, shape, out, rng);
}

}  // namespace ds::data
