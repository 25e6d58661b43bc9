#pragma once
// Generated data sets for tests and demos: small, seeded, reproducible on every machine (they draw from
// RandomStream, not from the global generator), each returned as a TensorDataset. Example i depends only on
// (seed, i), and labels cycle through the classes (example i has class i % num_classes).
#include <cstdint>

#include <ds/data/tensor_dataset.h>

namespace ds::data {

// Gaussian blobs: class k is centred at a point drawn uniformly in [-4, 4]^dim, examples spread around it with
// standard deviation `spread`. input: (dim,) f32; target: () i64 in [0, num_classes).
TensorDataset make_blobs(int64_t n, int64_t num_classes, int64_t dim, uint64_t seed, float spread = 1.0f);

// Interleaved spirals in the plane (the CS231n toy problem): class k's arm winds from the origin to radius 1,
// its angle jittered by `noise`. Not linearly separable. input: (2,) f32; target: () i64.
TensorDataset make_spirals(int64_t n, int64_t num_classes, uint64_t seed, float noise = 0.2f);

// Image-like data for convolutional nets: class k has a fixed template (a few Gaussian bumps of random place, sign
// and width per channel); an example is its class template shifted by up to `max_shift` pixels in each direction
// (zero fill), plus Gaussian noise of standard deviation `noise`. input: (C,H,W) f32; target: () i64.
TensorDataset make_pattern_images(int64_t n, int64_t num_classes, int64_t channels, int64_t height, int64_t width,
                                  uint64_t seed, float noise = 0.3f, int64_t max_shift = 2);

}  // namespace ds::data
