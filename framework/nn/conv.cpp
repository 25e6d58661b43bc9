#include <ds/nn/conv.h>

#include <cmath>

#include <ds/core/detail/check.h>
#include <ds/nn/init.h>
#include <ds/ops/factory.h>

namespace ds::nn {
namespace {
// One value per spatial dim: (k) -> (k, k) for 2-d.
Shape per_dim(IntArrayRef v, int64_t dims, const std::string& type, const char* what) {
  DS_CHECK(v.size() == 1 || static_cast<int64_t>(v.size()) == dims, type, "{} takes 1 or {} values, got {}", what,
           dims, shape_str(v));
  return v.size() == 1 ? Shape(static_cast<size_t>(dims), v[0]) : Shape(v.begin(), v.end());
}
std::string tuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

ConvNd::ConvNd(std::string type, int64_t dims, int64_t in, int64_t out, IntArrayRef kernel, const ConvLayerOptions& o,
               bool transposed)
    : Module(type), in_(in), out_(out), o_(o), transposed_(transposed) {
  DS_CHECK(in > 0 && out > 0, type, "channel counts must be positive, got {} and {}", in, out);
  DS_CHECK(o.groups > 0 && in % o.groups == 0 && out % o.groups == 0, type,
           "in_channels {} and out_channels {} must be divisible by groups={}", in, out, o.groups);
  kernel_ = per_dim(kernel, dims, type, "kernel_size");
  o_.stride = per_dim(o.stride, dims, type, "stride");
  o_.padding = per_dim(o.padding, dims, type, "padding");
  o_.dilation = per_dim(o.dilation, dims, type, "dilation");
  o_.output_padding = per_dim(o.output_padding, dims, type, "output_padding");
  Shape w = transposed ? Shape{in, out / o.groups} : Shape{out, in / o.groups};
  for (int64_t k : kernel_) w.push_back(k);
  weight = empty(w);
  register_parameter("weight", weight);
  if (o.bias) bias = empty({out});
  register_parameter("bias", bias);
  reset_parameters();
}

void ConvNd::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::fans(weight).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

// torch's format: "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))".
std::string ConvNd::extra_repr() const {
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", in_, out_, tuple(kernel_), tuple(o_.stride));
  auto nonzero = [](const Shape& v) { return std::any_of(v.begin(), v.end(), [](int64_t x) { return x != 0; }); };
  auto not_one = [](const Shape& v) { return std::any_of(v.begin(), v.end(), [](int64_t x) { return x != 1; }); };
  if (nonzero(o_.padding)) s += ", padding=" + tuple(o_.padding);
  if (transposed_ && nonzero(o_.output_padding)) s += ", output_padding=" + tuple(o_.output_padding);
  if (not_one(o_.dilation)) s += ", dilation=" + tuple(o_.dilation);
  if (o_.groups != 1) s += fmt::format(", groups={}", o_.groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t kernel_size, const ConvLayerOptions& o)
    : ConvNd("Conv1d", 1, in, out, {kernel_size}, o, false) {}

Tensor Conv1d::forward(const Tensor& x) {
  return conv1d(x, weight, bias, {.stride = o_.stride, .padding = o_.padding, .dilation = o_.dilation, .groups = o_.groups});
}

Conv2d::Conv2d(int64_t in, int64_t out, IntArrayRef kernel_size, const ConvLayerOptions& o)
    : ConvNd("Conv2d", 2, in, out, kernel_size, o, false) {}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, {.stride = o_.stride, .padding = o_.padding, .dilation = o_.dilation, .groups = o_.groups});
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, IntArrayRef kernel_size, const ConvLayerOptions& o)
    : ConvNd("ConvTranspose2d", 2, in, out, kernel_size, o, true) {}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias,
                          {.stride = o_.stride, .padding = o_.padding, .output_padding = o_.output_padding,
                           .dilation = o_.dilation, .groups = o_.groups});
}

}  // namespace ds::nn
