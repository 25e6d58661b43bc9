// Typed attributes (ops/attrs.h, ops/op_attrs.h) and what call_op enforces from the rows: the attribute struct a row
// names, the dtypes it claims per device; per-call values (RNG state, learning rate, step) are inputs, not attributes.
#include <algorithm>
#include <string>

#include <catch2/catch.hpp>

#include <ds/ds.h>
#include <ds/ops/dispatch.h>
#include <ds/ops/op_def.h>

using namespace ds;

TEST_CASE("attrs: a struct prints, compares and hashes by its named fields", "[ops][attrs]") {
  const Attrs a = ReduceAttrs{.dims = {0, 2}, .keepdim = false};
  CHECK(a.str() == "dims=[0, 2], keepdim=false");
  CHECK(a.size() == 2);
  CHECK(a.name(1) == "keepdim");
  CHECK(std::get<bool>(a.value(1)) == false);
  CHECK(a.get<ReduceAttrs>().dims == Shape{0, 2});
  CHECK(a.get_if<DimAttrs>() == nullptr);

  const Attrs same = ReduceAttrs{.dims = {0, 2}, .keepdim = false};
  const Attrs other = ReduceAttrs{.dims = {0, 2}, .keepdim = true};
  CHECK(a == same);
  CHECK(a.hash() == same.hash());
  CHECK_FALSE(a == other);
  CHECK(a.hash() != other.hash());
  CHECK_FALSE(Attrs(DimAttrs{.dim = 0}) == Attrs(DimsAttrs{.dims = {0}}));
  CHECK(Attrs() == Attrs());
  CHECK(Attrs().str().empty());

  // Optional fields print as none; a Scalar keeps whether it was an integer.
  CHECK(Attrs(ClampAttrs{.min = 0.5, .max = std::nullopt}).str() == "min=0.5, max=none");
  CHECK(Attrs(FullAttrs{.shape = {2}, .value = Scalar(int64_t{3}), .dtype = kI64, .device = kCPU}).str() ==
        "shape=[2], value=3, dtype=int64, device=cpu");
  CHECK(Attrs(PadAttrs{.pads = {1, 1}, .mode = PadMode::Reflect, .value = 0}).str() ==
        "pads=[1, 1], mode=1, value=0");
  // Reading as another struct is an internal error naming both.
  CHECK_THROWS_WITH(a.get<DimAttrs>(), Catch::Contains("ReduceAttrs") && Catch::Contains("DimAttrs"));
}

TEST_CASE("attrs: copies and moves keep the value (shapes spill to the heap past 6 dims)", "[ops][attrs]") {
  const Shape big{1, 2, 3, 4, 5, 6, 7, 8};
  Attrs a = AsStridedAttrs{.sizes = big, .strides = big, .offset = 3};
  Attrs b = a;
  Attrs c = std::move(a);
  CHECK(b == c);
  CHECK(c.get<AsStridedAttrs>().sizes == big);
  Attrs d;
  d = b;
  CHECK(d.get<AsStridedAttrs>().offset == 3);
  d = Attrs(DimAttrs{.dim = 1});
  CHECK(d.get<DimAttrs>().dim == 1);
}

TEST_CASE("attrs: every row's struct round-trips through named values", "[ops][attrs]") {
  int rows = 0;
  for (const OpDef* def : primitive_defs()) {
    if (!def->attrs) continue;
    INFO(def->name);
    const Attrs defaults = Attrs::from_values(*def->attrs, {});
    CHECK(defaults.schema() == def->attrs);
    CHECK(defaults.size() == def->attrs->names.size());
    std::vector<std::pair<std::string, Attr>> values;
    for (size_t i = 0; i < defaults.size(); ++i) values.emplace_back(std::string(defaults.name(i)), defaults.value(i));
    CHECK(Attrs::from_values(*def->attrs, values) == defaults);
    ++rows;
  }
  CHECK(rows >= 35);

  // A real call's values: set by name, read back by field.
  const std::vector<std::pair<std::string, Attr>> conv = {
      {"stride", Shape{2, 2}}, {"padding", Shape{1, 0}}, {"groups", int64_t{4}}};
  const Attrs c = Attrs::from_values(attrs_schema<Conv2dAttrs>, conv);
  CHECK(c.get<Conv2dAttrs>().stride == Shape{2, 2});
  CHECK(c.get<Conv2dAttrs>().padding == Shape{1, 0});
  CHECK(c.get<Conv2dAttrs>().dilation == Shape{1, 1});
  CHECK(c.get<Conv2dAttrs>().groups == 4);
  // An integer is accepted for a double field and kept as one in a Scalar; a shape is neither.
  const std::vector<std::pair<std::string, Attr>> p = {{"alpha", int64_t{3}}};
  CHECK(Attrs::from_values(attrs_schema<IndexAddAttrs>, p).get<IndexAddAttrs>().alpha == 3.0);
  const std::vector<std::pair<std::string, Attr>> e = {{"exponent", int64_t{3}}};
  CHECK(Attrs::from_values(attrs_schema<PowScalarAttrs>, e).get<PowScalarAttrs>().exponent.is_integral());
  const std::vector<std::pair<std::string, Attr>> unknown = {{"dims", Shape{0}}, {"keep", true}};
  CHECK_THROWS_WITH(Attrs::from_values(attrs_schema<ReduceAttrs>, unknown),
                    Catch::Contains("ReduceAttrs has no attribute 'keep'") && Catch::Contains("dims, keepdim"));
  const std::vector<std::pair<std::string, Attr>> wrong = {{"dims", true}};
  CHECK_THROWS_WITH(Attrs::from_values(attrs_schema<ReduceAttrs>, wrong),
                    Catch::Contains("attribute 'dims' of ReduceAttrs cannot hold the value true"));
}

TEST_CASE("call_op refuses attributes of another struct, naming both", "[ops][attrs]") {
  const Tensor x = ones({2, 3});
  CHECK_THROWS_WITH(call_op1(OpId::sum, {x}, DimAttrs{.dim = 0}),
                    Catch::Contains("[sum] takes attributes ReduceAttrs but was called with DimAttrs"));
  CHECK_THROWS_WITH(call_op1(OpId::exp, {x}, DimAttrs{.dim = 0}),
                    Catch::Contains("[exp] takes attributes (none) but was called with DimAttrs"));
  CHECK_THROWS_WITH(call_op1(OpId::sum, {x}), Catch::Contains("was called with (none)"));
  // The right struct runs.
  CHECK(call_op1(OpId::sum, {x}, ReduceAttrs{.dims = {1}, .keepdim = false}).tolist<float>() ==
        std::vector<float>{3, 3});
}

TEST_CASE("call_op refuses a dtype the row does not claim for the device, naming what it runs", "[ops][attrs]") {
  const Tensor p = ones({3}, {.dtype = kF16});
  Tensor param = p.clone(), m = zeros({3}, {.dtype = kF16}), v = zeros({3}, {.dtype = kF16});
  CHECK_THROWS_WITH(adam_step_(param, p, m, v, {.lr = 0.1, .step = 1}),
                    Catch::Contains("[adam_step] does not support float16 on cpu") && Catch::Contains("float32 float64"));
  // Every primitive with a kernel claims something on the CPU; one that names a CUDA kernel claims CUDA dtypes.
  for (const OpDef* def : primitive_defs()) {
    if (def->kind != OpKind::Primitive) continue;
    INFO(def->name);
    CHECK(def->cpu != nullptr);
    CHECK_FALSE(def->cpu_dtypes.empty());
    if (def->cuda) CHECK_FALSE(def->cuda_dtypes.empty());  // (a CPU-only build names no CUDA kernels)
  }
}

TEST_CASE("per-call values are inputs: the RNG state, the learning rate and the step", "[ops][attrs]") {
  auto has_field = [](OpId op, std::string_view name) {
    const AttrSchema* s = op_def(op).attrs;
    return s && std::find(s->names.begin(), s->names.end(), name) != s->names.end();
  };
  for (OpId op : {OpId::rand, OpId::randn, OpId::randint, OpId::scaled_dot_product_attention}) {
    CHECK_FALSE(has_field(op, "seed"));
    CHECK_FALSE(has_field(op, "offset"));
  }
  CHECK_FALSE(has_field(OpId::adam_step, "lr"));
  CHECK_FALSE(has_field(OpId::adam_step, "step"));

  // The same state tensor gives the same draw; another offset another one.
  Tensor state(empty_base({2}, kI64, kCPU));
  state.data_ptr<int64_t>()[0] = 1234;
  state.data_ptr<int64_t>()[1] = 0;
  const RandAttrs a{.shape = {5}, .dtype = kF32, .device = kCPU};
  const Tensor r1 = call_op1(OpId::rand, {state}, a), r2 = call_op1(OpId::rand, {state}, a);
  CHECK(r1.tolist<float>() == r2.tolist<float>());
  state.data_ptr<int64_t>()[1] = 7;
  CHECK(call_op1(OpId::rand, {state}, a).tolist<float>() != r1.tolist<float>());
  CHECK_THROWS_WITH(call_op1(OpId::rand, {ones({2})}, a), Catch::Contains("[rand] expects its Philox state"));

  // adam_step: the learning rate and the step come in as 0-d CPU tensors.
  const Tensor g = full({2}, 0.5);
  Tensor param = ones({2}), m = zeros({2}), v = zeros({2});
  const Tensor lr = full({}, 0.1, {.dtype = kF64}), step = full({}, 1, {.dtype = kI64});
  const Tensor ins[] = {param, g, m, v, lr, step};
  call_op_inplace(OpId::adam_step, param, ins, AdamAttrs{}, "adam_step");
  // Step 1 of Adam moves each weight by lr (m_hat / sqrt(v_hat) = sign(g)).
  const auto p = param.tolist<float>();
  CHECK(p[0] == Approx(0.9).epsilon(1e-6));
  CHECK(p[1] == Approx(0.9).epsilon(1e-6));
}
