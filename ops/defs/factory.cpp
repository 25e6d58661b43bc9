// Rows and front functions of the factories (full, arange, linspace, eye, rand, randn, randint) and of copy, the
// strided, dtype-converting copy that to(), clone(), contiguous() and copy_() are made of.
#include <cmath>

#include <ds/ops/dispatch.h>
#include <ds/ops/factory.h>
#include <ds/ops/shape_ops.h>

#include "../cpu/kernels.h"
#include "../detail/cuda_kernel.h"
#include <ds/ops/rng_input.h>
#include "../detail/rules.h"
#include "../detail/samples.h"

namespace ds {
namespace {

// attrs: FullAttrs
void full_rule(const OpCall& c, RuleResult& r) {
  const auto& a = c.attrs.get<FullAttrs>();
  for (int64_t s : a.shape) DS_CHECK(s >= 0, c.name, "negative dimension in shape {}", shape_str(a.shape));
  r.device = a.device;
  r.outs.push_back({a.shape, a.dtype});
}

// attrs: ArangeAttrs
void arange_rule(const OpCall& c, RuleResult& r) {
  const auto& a = c.attrs.get<ArangeAttrs>();
  const double start = a.start, end = a.end, step = a.step;
  DS_CHECK(step != 0, c.name, "step must be nonzero");
  DS_CHECK(std::isfinite(start) && std::isfinite(end), c.name, "start and end must be finite, got {} and {}", start,
           end);
  DS_CHECK((step > 0 && end >= start) || (step < 0 && end <= start), c.name,
           "upper bound and step sign are inconsistent: start {}, end {}, step {}", start, end, step);
  const auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  r.device = a.device;
  r.outs.push_back({Shape{n}, a.dtype});
}

// attrs: LinspaceAttrs
void linspace_rule(const OpCall& c, RuleResult& r) {
  const auto& a = c.attrs.get<LinspaceAttrs>();
  DS_CHECK(a.steps >= 0, c.name, "number of steps must be non-negative, got {}", a.steps);
  r.device = a.device;
  r.outs.push_back({Shape{a.steps}, a.dtype});
}

// attrs: EyeAttrs
void eye_rule(const OpCall& c, RuleResult& r) {
  const auto& a = c.attrs.get<EyeAttrs>();
  DS_CHECK(a.n >= 0 && a.m >= 0, c.name, "n and m must be non-negative, got {} and {}", a.n, a.m);
  r.device = a.device;
  r.outs.push_back({Shape{a.n, a.m}, a.dtype});
}

// rand, randn attrs: RandAttrs; randint: RandintAttrs. Input 0: the Philox state (ops/rng_input.h), always on the
// CPU: the device is the attributes'.
void random_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  rng_input::check(c.in[0], c.name);
  const auto* ri = c.op == OpId::randint ? &c.attrs.get<RandintAttrs>() : nullptr;
  const auto* ra = ri ? nullptr : &c.attrs.get<RandAttrs>();
  const Shape& shape = ri ? ri->shape : ra->shape;
  const DType dt = ri ? ri->dtype : ra->dtype;
  for (int64_t s : shape) DS_CHECK(s >= 0, c.name, "negative dimension in shape {}", shape_str(shape));
  if (ri) {
    DS_CHECK(ri->low < ri->high, c.name, "low ({}) must be less than high ({})", ri->low, ri->high);
    DS_CHECK(dt != kBool, c.name, "cannot draw integers into a bool tensor");
  } else {
    DS_CHECK(is_floating(dt), c.name, "draws floating values; dtype {} is not floating", dtype_name(dt));
  }
  r.device = ri ? ri->device : ra->device;
  r.outs.push_back({shape, dt});
}

// attrs: CopyAttrs
void copy_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  rules::unary(c, r, c.attrs.get<CopyAttrs>().dtype);
}

TensorList copy_vjp(const VjpCtx& c) { return {c.grad[0]}; }

// to_device attrs: ToDeviceAttrs: device (the output's), from (the input's, for the vjp). The input is contiguous
// (the front function makes it so); the kernel of the destination's device copies the bytes.
void to_device_rule(const OpCall& c, RuleResult& r) {
  rules::expect_inputs(c, 1);
  const auto& a = c.attrs.get<ToDeviceAttrs>();
  DS_CHECK(c.in[0].is_contiguous(), c.name, "expects a contiguous input, got shape {} with strides {}",
           shape_str(c.in[0].sizes()), shape_str(c.in[0].strides()));
  DS_CHECK(c.in[0].device() == a.from, c.name, "attribute `from` is {} but the input is on {}", a.from.str(),
           c.in[0].device().str());
  r.device = a.device;
  r.outs.push_back({c.in[0].sizes(), c.in[0].dtype()});
}
// The gradient goes back to the input's device.
TensorList to_device_vjp(const VjpCtx& c) {
  const auto& a = c.attrs.get<ToDeviceAttrs>();
  return {call_op1(OpId::to_device, {c.grad[0].contiguous()}, ToDeviceAttrs{.device = a.from, .from = a.device})};
}
// A copy within the input's device, through the op (the op table runs where there is no GPU); tests/cuda moves
// between devices.
std::vector<OpCase> to_device_cases(DType dt) {
  return {samples::make1("within one device", {samples::uniform({3, 2}, dt, -2, 2, 1)}, [](const TensorList& x) {
    return call_op1(OpId::to_device, {x[0]}, ToDeviceAttrs{.device = x[0].device(), .from = x[0].device()});
  })};
}

std::vector<OpCase> copy_cases(DType dt) {
  return {
      samples::make1("transposed to contiguous", {samples::transposed({3, 4}, dt, -2, 2, 1)},
                     [](const TensorList& x) { return x[0].contiguous(); }),
      samples::make1("to f64 and back", {samples::uniform({5}, dt, -2, 2, 2)},
                     [](const TensorList& x) { return x[0].to(kF64).to(x[0].dtype()); }),
  };
}

std::vector<OpCase> no_cases(DType) { return {}; }

std::vector<BadCase> factory_bad() {
  return {
      samples::bad("negative shape", [] { zeros({2, -1}); }, "negative dimension"),
      samples::bad("arange step 0", [] { arange(0, 5, 0); }, "step must be nonzero"),
      samples::bad("arange wrong direction", [] { arange(5, 0, 1); }, "inconsistent"),
      samples::bad("randint low >= high", [] { randint(3, 3, {2}); }, "must be less than"),
      samples::bad("rand of integers", [] { rand({2}, {.dtype = kI64}); }, "not floating"),
  };
}


// Reserves the Philox counters the op draws (per_counter values each) and passes their state as input 0.
Tensor random(OpId op, IntArrayRef shape, TensorOptions opts, Generator* gen, uint64_t per_counter,
              const Attrs& attrs) {
  Generator& g = gen ? *gen : default_generator();
  const uint64_t n = static_cast<uint64_t>(numel_of(shape));
  Tensor t = call_op1(op, {rng_input::draw(g, (n + per_counter - 1) / per_counter)}, attrs);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor finish(Tensor t, const TensorOptions& o) {
  if (o.requires_grad) t.requires_grad_(true);
  return t;
}

}  // namespace

DS_PRIMITIVE_ROW(full){.name = "full", .attrs = &attrs_schema<FullAttrs>, .rule = full_rule, .cpu = cpu::full,
                       .cuda = DS_CUDA_KERNEL(full), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes,
                       .strided_out = true, .test = {.cases = no_cases, .bad = factory_bad}};
DS_PRIMITIVE_ROW(arange){.name = "arange", .attrs = &attrs_schema<ArangeAttrs>, .rule = arange_rule,
                         .cpu = cpu::arange, .cuda = DS_CUDA_KERNEL(arange), .cpu_dtypes = kAllTypes,
                         .cuda_dtypes = kAllTypes};
DS_PRIMITIVE_ROW(linspace){.name = "linspace", .attrs = &attrs_schema<LinspaceAttrs>, .rule = linspace_rule,
                           .cpu = cpu::linspace, .cuda = DS_CUDA_KERNEL(linspace),
                           .cpu_dtypes = kFloatTypes | kIntTypes, .cuda_dtypes = kFloatTypes | kIntTypes};
DS_PRIMITIVE_ROW(eye){.name = "eye", .attrs = &attrs_schema<EyeAttrs>, .rule = eye_rule, .cpu = cpu::eye,
                      .cuda = DS_CUDA_KERNEL(eye), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes};
// Input 0 is the Philox state (int64): the kernel's type is output 0's.
DS_PRIMITIVE_ROW(rand){.name = "rand", .attrs = &attrs_schema<RandAttrs>, .rule = random_rule, .cpu = cpu::rand,
                       .cuda = DS_CUDA_KERNEL(rand), .cpu_dtypes = kFloatTypes, .cuda_dtypes = kFloatTypes,
                       .dtype_input = -1};
DS_PRIMITIVE_ROW(randn){.name = "randn", .attrs = &attrs_schema<RandAttrs>, .rule = random_rule, .cpu = cpu::randn,
                        .cuda = DS_CUDA_KERNEL(randn), .cpu_dtypes = kFloatTypes, .cuda_dtypes = kFloatTypes,
                        .dtype_input = -1};
DS_PRIMITIVE_ROW(randint){.name = "randint", .attrs = &attrs_schema<RandintAttrs>, .rule = random_rule,
                          .cpu = cpu::randint, .cuda = DS_CUDA_KERNEL(randint), .cpu_dtypes = kFloatTypes | kIntTypes,
                          .cuda_dtypes = kFloatTypes | kIntTypes, .dtype_input = -1};
DS_PRIMITIVE_ROW(copy){.name = "copy", .attrs = &attrs_schema<CopyAttrs>, .rule = copy_rule, .cpu = cpu::copy,
                       .cuda = DS_CUDA_KERNEL(copy), .cpu_dtypes = kAllTypes, .cuda_dtypes = kAllTypes,
                       .vjp = copy_vjp, .strided_out = true, .test = {.cases = copy_cases, .gradgrad = true}};

DS_PRIMITIVE_ROW(to_device){.name = "to_device", .attrs = &attrs_schema<ToDeviceAttrs>, .rule = to_device_rule,
                            .cpu = cpu::to_device, .cuda = DS_CUDA_KERNEL(to_device), .cpu_dtypes = kAllTypes,
                            .cuda_dtypes = kAllTypes, .vjp = to_device_vjp,
                            .test = {.cases = to_device_cases, .gradgrad = true}};

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  return call_op1(OpId::to_device, {x.contiguous()}, ToDeviceAttrs{.device = device, .from = x.device()});
}

Tensor empty(IntArrayRef shape, TensorOptions opts) {
  for (int64_t s : shape) DS_CHECK(s >= 0, "empty", "negative dimension in shape {}", shape_str(shape));
  return finish(Tensor(empty_base(shape, opts.dtype, opts.device)), opts);
}

Tensor full(IntArrayRef shape, Scalar value, TensorOptions opts) {
  return finish(call_op1(OpId::full, {},
                         FullAttrs{.shape = shape.vec(), .value = value, .dtype = opts.dtype, .device = opts.device}),
                opts);
}
Tensor zeros(IntArrayRef shape, TensorOptions opts) { return full(shape, 0, opts); }
Tensor ones(IntArrayRef shape, TensorOptions opts) { return full(shape, 1, opts); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, Scalar v) { return full(t.sizes(), v, {.dtype = t.dtype(), .device = t.device()}); }

Tensor arange(Scalar end, std::optional<TensorOptions> opts) { return arange(0, end, 1, opts); }
Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<TensorOptions> opts) {
  const bool ints = !start.is_floating() && !end.is_floating() && !step.is_floating();
  TensorOptions o = opts.value_or(TensorOptions{.dtype = ints ? kI64 : kF32});
  return finish(call_op1(OpId::arange, {},
                         ArangeAttrs{.start = start.to_double(), .end = end.to_double(), .step = step.to_double(),
                                     .dtype = o.dtype, .device = o.device}),
                o);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  return finish(call_op1(OpId::linspace, {},
                         LinspaceAttrs{.start = start, .end = end, .steps = steps, .dtype = opts.dtype,
                                       .device = opts.device}),
                opts);
}

Tensor eye(int64_t n, std::optional<int64_t> m, TensorOptions opts) {
  return finish(
      call_op1(OpId::eye, {}, EyeAttrs{.n = n, .m = m.value_or(n), .dtype = opts.dtype, .device = opts.device}), opts);
}

Tensor rand(IntArrayRef shape, TensorOptions opts, Generator* gen) {
  return random(OpId::rand, shape, opts, gen, opts.dtype == kF64 ? 2 : 4,
                RandAttrs{.shape = shape.vec(), .dtype = opts.dtype, .device = opts.device});
}
Tensor randn(IntArrayRef shape, TensorOptions opts, Generator* gen) {
  return random(OpId::randn, shape, opts, gen, 4,
                RandAttrs{.shape = shape.vec(), .dtype = opts.dtype, .device = opts.device});
}
Tensor randint(int64_t low, int64_t high, IntArrayRef shape, TensorOptions opts, Generator* gen) {
  return random(OpId::randint, shape, opts, gen, 2,
                RandintAttrs{.shape = shape.vec(), .dtype = opts.dtype, .device = opts.device, .low = low,
                             .high = high});
}
Tensor rand_like(const Tensor& t, Generator* gen) {
  return rand(t.sizes(), {.dtype = t.dtype(), .device = t.device()}, gen);
}
Tensor randn_like(const Tensor& t, Generator* gen) {
  return randn(t.sizes(), {.dtype = t.dtype(), .device = t.device()}, gen);
}

Tensor from_host_bytes(const void* data, size_t count, DType src, std::optional<IntArrayRef> shape, TensorOptions opts) {
  Shape s = shape ? shape->vec() : Shape{static_cast<int64_t>(count)};
  DS_CHECK(numel_of(s) == static_cast<int64_t>(count), "from_vector", "{} values do not fill shape {}", count,
           shape_str(s));
  Tensor host(empty_base(s, src, kCPU));
  if (count) std::memcpy(host.data(), data, count * itemsize(src));
  Tensor t = host;
  if (opts.dtype != src) t = t.to(opts.dtype);
  if (opts.device != kCPU) t = t.to(opts.device);
  return finish(t, opts);
}

namespace {
void flatten_nested(const NestedValues& v, size_t depth, Shape& shape, std::vector<double>& out,
                    NestedValues::Kind& kind) {
  if (v.is_scalar()) {
    DS_CHECK(depth == shape.size() || shape.empty() || depth == shape.size(), "tensor",
             "ragged nested list: a number appears at depth {} where lists of depth {} were seen", depth, shape.size());
    if (static_cast<int>(v.kind()) > static_cast<int>(kind)) kind = v.kind();
    out.push_back(v.value());
    return;
  }
  const auto n = static_cast<int64_t>(v.children().size());
  if (shape.size() == depth) shape.push_back(n);
  else DS_CHECK(shape[depth] == n, "tensor", "ragged nested list: lists of length {} and {} at depth {}", shape[depth],
                n, depth);
  for (const NestedValues& c : v.children()) flatten_nested(c, depth + 1, shape, out, kind);
}
}  // namespace

Tensor tensor(NestedValues values, std::optional<TensorOptions> opts) {
  Shape shape;
  std::vector<double> flat;
  NestedValues::Kind kind = NestedValues::Kind::Bool;
  flatten_nested(values, 0, shape, flat, kind);
  DS_CHECK(numel_of(shape) == static_cast<int64_t>(flat.size()), "tensor", "ragged nested list for shape {}",
           shape_str(shape));
  const DType natural = kind == NestedValues::Kind::Float ? kF32 : kind == NestedValues::Kind::Int ? kI64 : kBool;
  if (flat.empty() && !values.is_scalar()) {
    TensorOptions o = opts.value_or(TensorOptions{});
    return empty(shape, o);
  }
  Tensor t = from_host_bytes(flat.data(), flat.size(), kF64, IntArrayRef(shape), {.dtype = kF64});
  TensorOptions o = opts.value_or(TensorOptions{.dtype = natural});
  return finish(t.to(o.dtype).to(o.device), o);
}

Tensor scalar_tensor(Scalar value, TensorOptions opts) { return full({}, value, opts); }

Tensor from_blob(void* data, IntArrayRef shape, DType dtype) {
  const size_t nbytes = static_cast<size_t>(numel_of(shape)) * itemsize(dtype);
  auto storage = IntrusivePtr<Storage>::make(data, nbytes, kCPU, nullptr, nullptr);
  return Tensor(IntrusivePtr<TensorImpl>::make(std::move(storage), dtype, shape.vec(), contiguous_strides(shape), 0));
}

}  // namespace ds
