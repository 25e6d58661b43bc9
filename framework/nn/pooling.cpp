#include <ds/nn/pooling.h>

#include <ds/core/detail/check.h>

namespace ds::nn {
namespace {
std::string value(const Shape& s) {
  if (s.size() == 1) return std::to_string(s[0]);
  return fmt::format("({}, {})", s[0], s[1]);
}
}  // namespace

MaxPool2d::MaxPool2d(IntArrayRef kernel_size, const PoolOptions& o)
    : Module("MaxPool2d"), kernel_(kernel_size.begin(), kernel_size.end()), o_(o) {}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_, o_); }
std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", value(kernel_),
                     value(o_.stride.empty() ? kernel_ : o_.stride), value(o_.padding), value(o_.dilation),
                     o_.ceil_mode ? "True" : "False");
}

AvgPool2d::AvgPool2d(IntArrayRef kernel_size, const PoolOptions& o)
    : Module("AvgPool2d"), kernel_(kernel_size.begin(), kernel_size.end()), o_(o) {}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel_, o_); }
std::string AvgPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", value(kernel_), value(o_.stride.empty() ? kernel_ : o_.stride),
                     value(o_.padding));
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(IntArrayRef output_size)
    : Module("AdaptiveAvgPool2d"), size_(output_size.begin(), output_size.end()) {}
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, size_); }
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + value(size_); }

}  // namespace ds::nn
