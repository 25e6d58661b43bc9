// The op table driver (STYLE.md rule 1): walks every row, primitive and composite, and checks what the row claims:
// forward values against hand-computed values and float64 references, gradients against finite differences
// (gradcheck, and gradgradcheck where the row asks), every claimed dtype against float64, and the errors bad inputs
// must give. What a row does not claim is printed as "not claimed", never skipped silently.
#include <cmath>
#include <iostream>
#include <sstream>

#include <catch2/catch.hpp>

#include "../test_util.h"

#include <ds/ds.h>
#include <ds/ops/op_def.h>

using namespace ds;

namespace {

std::vector<OpCase> cases_of(const OpDef& d, DType dt) { return d.test.cases ? d.test.cases(dt) : std::vector<OpCase>{}; }

bool has_grad_input(const OpCase& c) {
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (((c.grad_inputs >> i) & 1u) && c.inputs[i].defined() && is_floating(c.inputs[i].dtype())) return true;
  return false;
}

// The case's inputs as float64 leaves; those in grad_inputs require grad.
TensorList f64_inputs(const OpCase& c, bool with_grad) {
  TensorList in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor x = c.inputs[i];
    if (x.defined() && is_floating(x.dtype())) {
      // Keep the layout (non-contiguous samples stay non-contiguous): cast a contiguous base, then re-view.
      Tensor base = x.to(kF64);
      if (!x.is_contiguous() && x.dim() == 2 && x.stride(0) == 1) base = x.t().contiguous().to(kF64).t();
      x = base.detach();
      if (with_grad && ((c.grad_inputs >> i) & 1u)) x.requires_grad_(true);
    }
    in.push_back(x);
  }
  return in;
}

std::string where_(const OpDef& d, const OpCase& c) { return std::string(d.name) + " / " + c.label; }

double tol_for(DType t) {
  switch (t) {
    case DType::f16: return 1e-2;
    case DType::bf16: return 4e-2;
    case DType::f32: return 1e-5;
    case DType::f64: return 1e-12;
    case DType::i64: case DType::i32: case DType::i8: case DType::u8: case DType::b8: return 0;
  }
  return 0;
}

}  // namespace

TEST_CASE("op table: every row is complete and every differentiable op has gradcheck cases", "[ops]") {
  int primitives = 0, differentiable = 0;
  for (const OpDef* d : primitive_defs()) {
    ++primitives;
    INFO("primitive " << d->name);
    CHECK(d->rule != nullptr);
    CHECK((d->kind == OpKind::View) == (d->cpu == nullptr));
  }
  CHECK(primitives == kNumPrimitives);
  for (const OpDef* d : op_rows()) {
    if (!d->differentiable()) continue;
    ++differentiable;
    bool gradchecked = false;
    for (const OpCase& c : cases_of(*d, kF64)) gradchecked |= has_grad_input(c);
    INFO("differentiable op without a gradcheck case in its row: " << d->name);
    CHECK(gradchecked);
  }
  CHECK(kNumPrimitives + kNumComposites >= 100);
  CHECK(differentiable > 80);
}

TEST_CASE("op table: forward values against hand-computed values and float64 references", "[ops]") {
  for (const OpDef* d : op_rows()) {
    for (const OpCase& c : cases_of(*d, kF64)) {
      INFO(where_(*d, c));
      const TensorList in = f64_inputs(c, false);
      const TensorList out = c.fn(in);
      for (size_t k = 0; k < c.expected.size(); ++k) {
        REQUIRE(k < out.size());
        const Tensor want = from_vector(c.expected[k], out[k].sizes().empty() ? IntArrayRef{} : IntArrayRef(out[k].sizes()));
        std::string why;
        DS_CHECK_MSG(all_close(out[k], want.reshape(out[k].sizes()), 1e-9, why), why);
      }
      if ((d->test.ref1 || d->test.ref2) && c.use_reference && out.size() == 1 && out[0].numel() > 0) {
        const Tensor& y = out[0];
        Tensor a = in[0].expand(y.sizes());
        Tensor b = d->test.ref2 && in.size() > 1 ? in[1].expand(y.sizes()) : Tensor();
        bool ok = true;
        std::string why;
        for (int64_t i = 0; i < y.numel() && ok; ++i) {
          const double want = d->test.ref2 ? d->test.ref2(read_element(a, i), read_element(b, i))
                                           : d->test.ref1(read_element(a, i));
          const double got = read_element(y, i);
          if (!(std::isnan(got) && std::isnan(want)) && std::fabs(got - want) > 1e-12 * (1 + std::fabs(want))) {
            ok = false;
            why = "element " + std::to_string(i) + ": got " + std::to_string(got) + ", reference " + std::to_string(want);
          }
        }
        DS_CHECK_MSG(ok, why);
      }
    }
  }
}

TEST_CASE("op table: gradcheck of every differentiable op, contiguous, broadcast and strided inputs", "[ops][autograd]") {
  int checked = 0;
  for (const OpDef* d : op_rows()) {
    if (!d->differentiable()) continue;
    for (const OpCase& c : cases_of(*d, kF64)) {
      if (!has_grad_input(c)) continue;
      INFO(where_(*d, c));
      const TensorList in = f64_inputs(c, true);
      const GradcheckResult r = gradcheck(c.fn, in, {.eps = 1e-6, .atol = d->test.atol, .rtol = d->test.rtol});
      DS_CHECK_MSG(r.ok, r.message);
      ++checked;
    }
  }
  CHECK(checked > 150);
}

TEST_CASE("op table: gradgradcheck where the row asks for it", "[ops][autograd]") {
  int checked = 0;
  for (const OpDef* d : op_rows()) {
    if (!d->differentiable() || !d->test.gradgrad) continue;
    for (const OpCase& c : cases_of(*d, kF64)) {
      if (!has_grad_input(c)) continue;
      INFO(where_(*d, c));
      const TensorList in = f64_inputs(c, true);
      const GradcheckResult r = gradgradcheck(c.fn, in, {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3});
      DS_CHECK_MSG(r.ok, r.message);
      ++checked;
    }
  }
  CHECK(checked > 40);
}

TEST_CASE("op table: every claimed CPU dtype matches float64", "[ops]") {
  std::ostringstream not_claimed;
  for (const OpDef* d : op_rows()) {
    std::string missing;
    for (int t = 0; t < kNumDTypes; ++t) {
      const auto dt = static_cast<DType>(t);
      if (!d->cpu_dtypes.has(dt)) {
        missing += " " + std::string(dtype_name(dt));
        continue;
      }
      if (dt == kF64) continue;
      for (const OpCase& c : cases_of(*d, dt)) {
        INFO(where_(*d, c) << " in " << dtype_name(dt));
        const TensorList out = c.fn(c.inputs);
        TensorList ref_in;
        for (const Tensor& x : c.inputs) ref_in.push_back(x.defined() && x.dtype() == dt && is_floating(dt) ? x.to(kF64) : x);
        const TensorList ref = c.fn(ref_in);
        REQUIRE(out.size() == ref.size());
        for (size_t k = 0; k < out.size(); ++k) {
          if (is_integral(out[k].dtype(), true) && is_floating(ref[k].dtype())) continue;  // e.g. indices vs values
          std::string why;
          const double tol = std::max(tol_for(out[k].dtype()), tol_for(dt));
          DS_CHECK_MSG(all_close(out[k], ref[k], tol, why), why);
        }
      }
    }
    if (!missing.empty()) not_claimed << "  " << d->name << ": not claimed on CPU:" << missing << "\n";
  }
  std::cout << "dtypes an op does not claim (its row says so; not tested):\n" << not_claimed.str();
}

TEST_CASE("op table: bad inputs give a ds::Error that names the problem", "[ops]") {
  int checked = 0;
  for (const OpDef* d : op_rows()) {
    if (!d->test.bad) continue;
    for (const BadCase& b : d->test.bad()) {
      INFO(d->name << " / " << b.label);
      CHECK_THROWS_WITH(b.fn(), Catch::Matchers::Contains(b.message));
      try {
        b.fn();
      } catch (const ds::Error& e) {
        CHECK(std::string(e.what()).rfind("[", 0) == 0);  // "[op] ..."
      } catch (...) {
        FAIL("not a ds::Error");
      }
      ++checked;
    }
  }
  CHECK(checked > 40);
}
