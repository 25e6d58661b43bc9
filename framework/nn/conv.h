#pragma once
// Convolution layers: Conv1d, Conv2d, ConvTranspose2d. Weights and biases are initialised as torch does:
// kaiming_uniform(a = sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
#include <ds/nn/module.h>
#include <ds/ops/nn_functional.h>

namespace ds::nn {

// Spatial options take one value for all dims or one per dim.
struct ConvLayerOptions {
  Shape stride{1};
  Shape padding{0};
  Shape dilation{1};
  int64_t groups = 1;
  bool bias = true;
  Shape output_padding{0};  // ConvTranspose2d only
};

class ConvNd : public Module {
 public:
  Tensor weight, bias;
  std::string extra_repr() const override;
  void reset_parameters();

 protected:
  // weight shape: (out, in/groups, k...) for conv, (in, out/groups, k...) for transposed conv.
  ConvNd(std::string type, int64_t dims, int64_t in, int64_t out, IntArrayRef kernel, const ConvLayerOptions& o,
         bool transposed);
  int64_t in_, out_;
  Shape kernel_;
  ConvLayerOptions o_;
  bool transposed_;
};

// x: (N, C_in, L) -> (N, C_out, L_out).
class Conv1d : public ConvNd {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, const ConvLayerOptions& options = {});
  Tensor forward(const Tensor& x) override;
};

// x: (N, C_in, H, W) -> (N, C_out, H_out, W_out).
class Conv2d : public ConvNd {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntArrayRef kernel_size, const ConvLayerOptions& options = {});
  Tensor forward(const Tensor& x) override;
};

// x: (N, C_in, H, W) -> (N, C_out, (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1, ...).
class ConvTranspose2d : public ConvNd {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntArrayRef kernel_size,
                  const ConvLayerOptions& options = {});
  Tensor forward(const Tensor& x) override;
};

}  // namespace ds::nn
