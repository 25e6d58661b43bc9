// Learning-rate schedulers against their closed forms and against the values torch.optim.lr_scheduler prints
// (torch 2.x, an SGD with lr 0.1; the numbers are pasted here, the test never runs Python).
#include <cmath>
#include <numbers>

#include <catch2/catch.hpp>

#include "../test_util.h"
#include "optim_test_util.h"

using namespace ds;
using namespace ds::optim;
using namespace optim_test;
using Catch::Matchers::Contains;

namespace {

// Group 0's lr right after construction and after each of `n` steps.
std::vector<double> lrs(Optimizer& opt, LRScheduler& sched, int n) {
  std::vector<double> out = {opt.param_groups()[0].lr()};
  for (int i = 0; i < n; ++i) {
    sched.step();
    out.push_back(opt.param_groups()[0].lr());
    CHECK(sched.last_lr()[0] == out.back());
  }
  return out;
}

void check_lrs(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("step " << i);
    CHECK(got[i] == Approx(expected[i]).epsilon(1e-12).margin(1e-15));
  }
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ds::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("StepLR, MultiStepLR and ExponentialLR match torch", "[optim]") {
  Tensor p = param({1});
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  {
    StepLR s(opt, 3, 0.5);
    check_lrs(lrs(opt, s, 10), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125});
  }
  opt.param_groups()[0].set_lr(0.1);
  {
    MultiStepLR s(opt, {5, 2, 5}, 0.3);  // unsorted, 5 twice: gamma^2 at step 5
    check_lrs(lrs(opt, s, 8), {0.1, 0.1, 0.03, 0.03, 0.03, 0.0027, 0.0027, 0.0027, 0.0027});
  }
  opt.param_groups()[0].set_lr(0.1);
  {
    ExponentialLR s(opt, 0.9);
    check_lrs(lrs(opt, s, 6), {0.1, 0.09, 0.081, 0.0729, 0.06561, 0.059049, 0.0531441});
    // A closed form, so no drift however long the run: exactly base * gamma^t.
    for (int i = 0; i < 994; ++i) s.step();
    CHECK(s.last_epoch() == 1000);
    CHECK(s.last_lr()[0] == 0.1 * std::pow(0.9, 1000.0));
    CHECK(s.lr_at(0, 7) == 0.1 * std::pow(0.9, 7.0));
  }
}

TEST_CASE("CosineAnnealingLR matches torch, past t_max too", "[optim]") {
  Tensor p = param({1});
  SGD opt({p}, {.lr = 0.1});
  CosineAnnealingLR s(opt, 10, 0.01);
  check_lrs(lrs(opt, s, 14),
            {0.1, 0.09779754323328192, 0.09140576474687263, 0.08145033635316129, 0.06890576474687264,
             0.05500000000000001, 0.04109423525312737, 0.028549663646838717, 0.01859423525312737,
             0.012202456766718092, 0.01, 0.012202456766718092, 0.0185942352531274, 0.028549663646838794,
             0.04109423525312751});
}

TEST_CASE("OneCycleLR matches torch (cos, and linear three-phase)", "[optim]") {
  Tensor p = param({1});
  SGD opt({p}, {.lr = 123});  // replaced by max_lr / div_factor at construction
  OneCycleLR s(opt, 0.1, 20);
  check_lrs(lrs(opt, s, 20),
            {0.0040000000000000036, 0.013167184270002533, 0.037167184270002526, 0.06683281572999747,
             0.09083281572999748, 0.1, 0.09874640062350874, 0.09504846320134738, 0.089091617757105,
             0.0811745653949763, 0.07169430017913009, 0.06112620219362893, 0.0500002, 0.03887419780637107,
             0.028306099820869922, 0.0188258346050237, 0.010908782242895003, 0.004951936798652629,
             0.0012539993764912555, 4e-07, 0.0012539993764912555});
  CHECK_THAT(error_of([&] { s.step(); }),
             Contains("[OneCycleLR] tried to step 21 times; the schedule has total_steps = 20"));
  CHECK(s.last_epoch() == 20);  // the refused step changed nothing

  Tensor q = param({1});
  SGD opt2({q}, {.lr = 0.1});
  OneCycleLR s2(opt2, std::vector<double>{0.2}, 10,
                {.pct_start = 0.25, .anneal = OneCycleOptions::Anneal::Linear, .div_factor = 10,
                 .final_div_factor = 100, .three_phase = true});
  check_lrs(lrs(opt2, s2, 10), {0.02, 0.14, 0.14, 0.01999999999999999, 0.0167, 0.0134, 0.0101,
                                0.0068000000000000005, 0.0034999999999999996, 0.0001999999999999988,
                                -0.003100000000000002});
}

TEST_CASE("WarmupDecayLR: linear warmup, then cosine, linear or no decay to min_lr", "[optim]") {
  Tensor p = param({1});
  SGD opt({p}, {.lr = 0.1});
  using Decay = WarmupDecayLR::Decay;
  // The cosine decay k eighths of the way from 0.1 to 0.01.
  const auto cosine = [](int k) { return 0.01 + 0.09 * (1 + std::cos(k * std::numbers::pi / 8)) / 2; };
  {
    WarmupDecayLR s(opt, 4, 12, Decay::Cosine, 0.01);
    // Warmup 0, 0.025, ... 0.1 at step 4; decay over the 8 steps to 12; held at 0.01 after.
    check_lrs(lrs(opt, s, 15), {0, 0.025, 0.05, 0.075, 0.1, cosine(1), cosine(2), cosine(3), 0.055, cosine(5),
                                cosine(6), cosine(7), 0.01, 0.01, 0.01, 0.01});
  }
  opt.param_groups()[0].set_lr(0.1);
  {
    WarmupDecayLR s(opt, 4, 12, Decay::Linear, 0.01);
    check_lrs(lrs(opt, s, 13), {0, 0.025, 0.05, 0.075, 0.1, 0.08875, 0.0775, 0.06625, 0.055, 0.04375, 0.0325,
                                0.02125, 0.01, 0.01});
  }
  opt.param_groups()[0].set_lr(0.1);
  {
    WarmupDecayLR s(opt, 2, 0, Decay::Constant);
    check_lrs(lrs(opt, s, 4), {0, 0.05, 0.1, 0.1, 0.1});
  }
  opt.param_groups()[0].set_lr(0.1);
  {
    WarmupDecayLR s(opt, 0, 10, Decay::Cosine);  // no warmup: Hugging Face's cosine schedule, min_lr 0
    CHECK(s.last_lr()[0] == 0.1);
    CHECK(s.lr_at(0, 5) == Approx(0.05).epsilon(1e-12));
    CHECK(s.lr_at(0, 10) == 0);
  }
}

TEST_CASE("schedulers drive every group from its own base lr", "[optim]") {
  Tensor a = param({1}), b = param({2});
  Adam opt({ParamGroup({a}), ParamGroup({b}, {{"lr", 0.01}})}, {.lr = 0.1});
  StepLR s(opt, 2, 0.1);
  CHECK(s.base_lrs() == std::vector<double>{0.1, 0.01});
  s.step();
  s.step();
  CHECK(opt.param_groups()[0].lr() == Approx(0.01).epsilon(1e-15));
  CHECK(opt.param_groups()[1].lr() == Approx(0.001).epsilon(1e-15));
  CHECK(s.last_lr().size() == 2);

  Tensor c = param({3}), d = param({4});
  SGD opt2({ParamGroup({c}), ParamGroup({d})}, {.lr = 1});
  OneCycleLR s2(opt2, std::vector<double>{0.5, 0.05}, 10);
  CHECK(opt2.param_groups()[0].lr() == Approx(0.02));
  CHECK(opt2.param_groups()[1].lr() == Approx(0.002));

  opt.add_param_group(ParamGroup({param({5})}));
  CHECK_THAT(error_of([&] { s.step(); }),
             Contains("[StepLR] the optimizer has 3 parameter groups, but the scheduler was made for 2"));
}

TEST_CASE("scheduler arguments are checked", "[optim]") {
  Tensor p = param({1});
  SGD opt({p}, {.lr = 0.1});
  CHECK_THAT(error_of([&] { StepLR(opt, 0); }), Contains("[StepLR] step_size must be positive, got 0"));
  CHECK_THAT(error_of([&] { CosineAnnealingLR(opt, -3); }), Contains("[CosineAnnealingLR] t_max must be positive"));
  CHECK_THAT(error_of([&] { WarmupDecayLR(opt, 10, 10); }),
             Contains("[WarmupDecayLR] total_steps (10) must exceed warmup_steps (10)"));
  CHECK_THAT(error_of([&] { WarmupDecayLR(opt, -1, 10); }), Contains("warmup_steps must be non-negative"));
  CHECK_THAT(error_of([&] { WarmupDecayLR(opt, 1, 10, WarmupDecayLR::Decay::Linear, 0.5); }),
             Contains("[WarmupDecayLR] min_lr 0.5 exceeds the lr 0.1 of parameter group 0"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, std::vector<double>{0.1, 0.2}, 10); }),
             Contains("[OneCycleLR] got 2 max_lrs for 1 parameter groups"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, 0.1, 10, {.pct_start = 1.5}); }), Contains("pct_start must be in [0, 1]"));
  CHECK_THAT(error_of([&] { OneCycleLR(opt, 0.1, 0); }), Contains("total_steps must be positive"));
}

TEST_CASE("a scheduler's state dict resumes its schedule", "[optim]") {
  Tensor p = param({1}), q = param({1});
  SGD opt({p}, {.lr = 0.1}), opt2({q}, {.lr = 0.1});
  CosineAnnealingLR s(opt, 10, 0.001);
  for (int i = 0; i < 4; ++i) s.step();
  const StateDict sd = s.state_dict();
  CHECK(sd.integer("last_epoch") == 4);
  CHECK(sd.real("base_lrs.0") == 0.1);
  CHECK(sd.real("last_lr.0") == s.last_lr()[0]);

  CosineAnnealingLR s2(opt2, 10, 0.001);
  s2.load_state_dict(sd);
  CHECK(s2.last_epoch() == 4);
  CHECK(s2.last_lr() == s.last_lr());
  for (int i = 0; i < 3; ++i) {
    s.step();
    s2.step();
    CHECK(opt.param_groups()[0].lr() == opt2.param_groups()[0].lr());
  }

  StateDict bad = sd;
  bad.erase("last_epoch");
  CHECK_THAT(error_of([&] { s2.load_state_dict(bad); }),
             Contains("[CosineAnnealingLR] load_state_dict: missing key 'last_epoch'"));
  bad = sd;
  bad.set("base_lrs.1", 0.2);
  bad.set("last_lr.1", 0.2);
  CHECK_THAT(error_of([&] { s2.load_state_dict(bad); }),
             Contains("unexpected key 'base_lrs.1' (the optimizer has 1 parameter groups)"));
  bad = sd;
  bad.set("last_lr.0", std::string("high"));
  CHECK_THAT(error_of([&] { s2.load_state_dict(bad); }), Contains("key 'last_lr.0' holds a text"));
  Tensor r = param({1}), t = param({1});
  SGD two({ParamGroup({r}), ParamGroup({t})}, {.lr = 0.1});
  StepLR s3(two, 2);
  CHECK_THAT(error_of([&] { s3.load_state_dict(sd); }), Contains("[StepLR] load_state_dict: missing key 'base_lrs.1'"));
  CHECK(s2.last_epoch() == 7);  // the failed loads changed nothing
}
