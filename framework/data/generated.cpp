#include <ds/data/generated.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <ds/core/detail/check.h>
#include <ds/data/random_stream.h>
#include <ds/ops/factory.h>

namespace ds::data {

namespace {
// Streams of a generated set: example i draws from (seed, epoch 0, i); per-class constants (centres, templates)
// from (seed, epoch -1, class).
RandomStream example_stream(uint64_t seed, int64_t i) { return RandomStream::for_sample(seed, 0, i); }
RandomStream class_stream(uint64_t seed, int64_t k) { return RandomStream::for_sample(seed, -1, k); }

void check_sizes(int64_t n, int64_t num_classes, const char* component) {
  DS_CHECK(n >= 0 && num_classes >= 1, component, "need n >= 0 and num_classes >= 1, got n = {}, num_classes = {}", n,
           num_classes);
}

Tensor class_labels(int64_t n, int64_t num_classes) {
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = i % num_classes;
  return from_vector(labels, {n});
}
}  // namespace

TensorDataset make_blobs(int64_t n, int64_t num_classes, int64_t dim, uint64_t seed, float spread) {
  check_sizes(n, num_classes, "make_blobs");
  DS_CHECK(dim >= 1, "make_blobs", "dim must be >= 1, got {}", dim);
  std::vector<float> centres(static_cast<size_t>(num_classes * dim));
  for (int64_t k = 0; k < num_classes; ++k) {
    RandomStream rng = class_stream(seed, k);
    for (int64_t d = 0; d < dim; ++d) centres[static_cast<size_t>(k * dim + d)] = 8.0f * rng.uniform() - 4.0f;
  }
  std::vector<float> x(static_cast<size_t>(n * dim));
  for (int64_t i = 0; i < n; ++i) {
    RandomStream rng = example_stream(seed, i);
    const int64_t k = i % num_classes;
    for (int64_t d = 0; d < dim; ++d)
      x[static_cast<size_t>(i * dim + d)] = centres[static_cast<size_t>(k * dim + d)] + spread * rng.normal();
  }
  return TensorDataset(from_vector(x, {n, dim}), class_labels(n, num_classes));
}

TensorDataset make_spirals(int64_t n, int64_t num_classes, uint64_t seed, float noise) {
  check_sizes(n, num_classes, "make_spirals");
  std::vector<float> x(static_cast<size_t>(n * 2));
  for (int64_t i = 0; i < n; ++i) {
    RandomStream rng = example_stream(seed, i);
    const int64_t k = i % num_classes;
    const float r = rng.uniform();  // radius in [0, 1): where on its arm the point lies
    const float theta = 6.2831853f * static_cast<float>(k) / static_cast<float>(num_classes) + 4.0f * r +
                        noise * rng.normal();
    x[static_cast<size_t>(2 * i)] = r * std::sin(theta);
    x[static_cast<size_t>(2 * i + 1)] = r * std::cos(theta);
  }
  return TensorDataset(from_vector(x, {n, 2}), class_labels(n, num_classes));
}

TensorDataset make_pattern_images(int64_t n, int64_t num_classes, int64_t channels, int64_t height, int64_t width,
                                  uint64_t seed, float noise, int64_t max_shift) {
  check_sizes(n, num_classes, "make_pattern_images");
  DS_CHECK(channels >= 1 && height >= 1 && width >= 1 && max_shift >= 0, "make_pattern_images",
           "need C, H, W >= 1 and max_shift >= 0, got ({}, {}, {}), max_shift {}", channels, height, width, max_shift);
  const int64_t plane = height * width, image = channels * plane;
  // Templates: (num_classes, C, H, W), three bumps per channel.
  std::vector<float> templates(static_cast<size_t>(num_classes * image), 0.0f);
  const float extent = static_cast<float>(std::min(height, width));
  for (int64_t k = 0; k < num_classes; ++k) {
    RandomStream rng = class_stream(seed, k);
    for (int64_t c = 0; c < channels; ++c) {
      float* t = templates.data() + k * image + c * plane;
      for (int bump = 0; bump < 3; ++bump) {
        const float cy = rng.uniform() * static_cast<float>(height), cx = rng.uniform() * static_cast<float>(width);
        const float sign = rng.uniform() < 0.5f ? -1.0f : 1.0f;
        const float sigma = (0.1f + 0.15f * rng.uniform()) * extent;
        for (int64_t y = 0; y < height; ++y)
          for (int64_t xx = 0; xx < width; ++xx) {
            const float dy = static_cast<float>(y) - cy, dx = static_cast<float>(xx) - cx;
            t[y * width + xx] += sign * std::exp(-(dy * dy + dx * dx) / (2.0f * sigma * sigma));
          }
      }
    }
  }
  std::vector<float> x(static_cast<size_t>(n * image));
  for (int64_t i = 0; i < n; ++i) {
    RandomStream rng = example_stream(seed, i);
    const float* t = templates.data() + (i % num_classes) * image;
    const int64_t sy = rng.below(2 * max_shift + 1) - max_shift, sx = rng.below(2 * max_shift + 1) - max_shift;
    float* out = x.data() + i * image;
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < height; ++y)
        for (int64_t xx = 0; xx < width; ++xx) {
          const int64_t ty = y - sy, tx = xx - sx;
          const bool inside = ty >= 0 && ty < height && tx >= 0 && tx < width;
          out[c * plane + y * width + xx] = (inside ? t[c * plane + ty * width + tx] : 0.0f) + noise * rng.normal();
        }
  }
  return TensorDataset(from_vector(x, {n, channels, height, width}), class_labels(n, num_classes));
}

}  // namespace ds::data
