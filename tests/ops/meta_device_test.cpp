// The meta device (framework/core/device.h): tensors with metadata and no memory. Ops give the shapes and dtypes
// their CPU kernels give, without allocating; autograd computes gradients' shapes; a model moved to meta trains a
// step that way; reading a value is a clear error, and so is an op that would read a meta tensor on another device.
#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/models/vision/lenet.h>

#include "../test_util.h"

using namespace ds;
using Catch::Matchers::Contains;

namespace {

void check_meta_like(const Tensor& meta, const Tensor& cpu) {
  CHECK(meta.device() == kMeta);
  CHECK(meta.data() == nullptr);
  CHECK(meta.sizes() == cpu.sizes());
  CHECK(meta.strides() == cpu.strides());
  CHECK(meta.dtype() == cpu.dtype());
}

}  // namespace

TEST_CASE("meta: factories and ops give the CPU's shapes, strides and dtypes without memory", "[ops][meta]") {
  CHECK(Device("meta") == kMeta);
  CHECK(kMeta.str() == "meta");
  const int64_t live = cpu_allocator().stats().live_bytes;
  const Tensor a = randn({64, 1000}, {.device = kMeta});
  const Tensor b = zeros({1000, 32}, {.dtype = kF64, .device = kMeta});
  const Tensor y = matmul(a, b.to(kF32));
  CHECK(cpu_allocator().stats().live_bytes == live);  // no memory for any of them
  CHECK(y.device() == kMeta);
  CHECK(y.sizes() == Shape{64, 32});
  CHECK(b.dtype() == kF64);

  // The same calls on the CPU, small enough to run: every output's metadata matches.
  const Tensor x = randn({2, 3, 12, 12}), w = randn({5, 3, 3, 3}), bias = randn({5});
  const Tensor xm = x.to(kMeta), wm = w.to(kMeta), bm = bias.to(kMeta);
  check_meta_like(xm, x);
  check_meta_like(conv2d(xm, wm, bm, {.stride = {2, 2}, .padding = {1, 1}}),
                  conv2d(x, w, bias, {.stride = {2, 2}, .padding = {1, 1}}));
  check_meta_like(softmax(xm, 1), softmax(x, 1));
  check_meta_like(xm.permute({0, 2, 3, 1}), x.permute({0, 2, 3, 1}));  // a view keeps the strides
  check_meta_like(sum(xm, {1, 2}, true), sum(x, {1, 2}, true));
  check_meta_like(xm.permute({0, 2, 3, 1}).contiguous(), x.permute({0, 2, 3, 1}).contiguous());
  check_meta_like(max_pool2d(relu(xm), {2, 2}), max_pool2d(relu(x), {2, 2}));
  Tensor inplace = zeros({4}, {.device = kMeta});
  inplace.add_(ones({4}, {.device = kMeta}));
  CHECK(inplace.device() == kMeta);
}

TEST_CASE("meta: a model moved to meta runs forward and backward, giving every gradient's shape", "[ops][meta]") {
  auto model = models::lenet5();
  model->to(kMeta);
  const int64_t live = cpu_allocator().stats().live_bytes;
  const Tensor x = randn({16, 1, 28, 28}, {.device = kMeta});
  const Tensor labels = zeros({16}, {.dtype = kI64, .device = kMeta});
  const Tensor loss = cross_entropy((*model)(x), labels);
  CHECK(loss.device() == kMeta);
  CHECK(loss.dim() == 0);
  loss.backward();
  for (const Tensor& p : model->parameters()) {
    REQUIRE(p.grad().defined());
    CHECK(p.grad().device() == kMeta);
    CHECK(p.grad().sizes() == p.sizes());
  }
  // What the step made holds no memory (what stays alive here: the saved graph is gone after backward).
  CHECK(cpu_allocator().stats().live_bytes == live);
}

TEST_CASE("meta: reading values is a clear error; printing shows the metadata", "[ops][meta]") {
  const Tensor m = ones({2, 3}, {.device = kMeta});
  CHECK_THROWS_WITH(m.sum().item<float>(), Contains("a meta tensor (shape []) has no value to read"));
  CHECK_THROWS_WITH(m.tolist<float>(), Contains("a meta tensor (shape [2, 3]) has no values to read"));
  CHECK_THROWS_WITH(m.to(kCPU), Contains("would read a meta tensor (float32 [2, 3])"));
  CHECK_THROWS_WITH(m + ones({2, 3}), Contains("expected all tensors on one device, got meta and cpu"));
  CHECK_THAT(m.str(), Contains("<6 elements on meta>") && Contains("device='meta'"));
  CHECK_THROWS_WITH(Device("metal"), Contains("expected cpu, cuda, cuda:N or meta"));
  CHECK(one_hot(zeros({3}, {.dtype = kI64, .device = kMeta}), 5).sizes() == Shape{3, 5});
  // as_strided's backward sizes its scratch storage from the views' metadata, not from values.
  Tensor x = ones({3, 4}, {.device = kMeta}).requires_grad_(true);
  x.as_strided({2, 2}, {1, 4}, 1).sum().backward();
  CHECK(x.grad().sizes() == Shape{3, 4});
  CHECK_THROWS_WITH(one_hot(zeros({3}, {.dtype = kI64, .device = kMeta})), Contains("pass num_classes"));
  // A host number with a meta tensor is fine: it is a wrapped number, as with CUDA tensors.
  CHECK((m * 2.0).device() == kMeta);
}
